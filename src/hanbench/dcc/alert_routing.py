"""Who receives which alert: the routing rules, as data, and the DCC's own alerts N60 / N61.

Every alert about a device reaches the device's responsible supplier (seed 000: Suppliers
must keep getting the firmware download alert their automation relies on). Under a policy
whose ``update_alerts_to_distributor`` is set (``mp207``, business requirement 5), the user
who distributed the device's pending image - an RSA - also receives the alerts that update
triggers: receipt, transfer, the DCC's delivery alerts and the outcome of a future-dated
activation of it. Alerts with no update behind them (0x819D, generic alerts) go to the
supplier only, and a user never gets the same alert twice.

N60 / N61: SECMP0007 introduced DCC Alerts N60 and N61 to confirm that ESME/GSME firmware was
delivered or failed to be; which is which is not public (gbcs-domain.md 1.6). The bench's
choice: N60 = delivered (raised from CCS08 0x8F8A), N61 = delivery failed (from CCS08 0x8F89).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hanbench.dcc.records import Device
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import Policy


class DccAlert(enum.StrEnum):
    """Alerts the DCC raises itself (the bench's reading of N60 / N61, see the module docstring)."""

    FIRMWARE_DELIVERED = "N60"
    FIRMWARE_DELIVERY_FAILED = "N61"


@dataclass(frozen=True)
class AlertDelivery:
    """The DCC put an alert about ``device`` in ``user``'s inbox.

    ``code`` is typed as the alert was read: a GBCS alert code (an :class:`AlertCode`, or
    the bare number of one no enum names) or one of the DCC's own alerts.
    """

    user: EntityId
    device: EntityId
    code: AlertCode | int | DccAlert


def code_text(code: AlertCode | DccAlert | int) -> str:
    """How the inventory and reports spell an alert code: ``0x8F72`` or ``N60``."""
    if isinstance(code, DccAlert):
        return code.value
    return f"0x{int(code):04X}"


class Audience(enum.Enum):
    """A recipient of an alert, in terms of the device it is about."""

    SUPPLIER = "the device's responsible supplier"
    DISTRIBUTOR = "the user who distributed the device's pending image"


_UPDATE = frozenset({Audience.SUPPLIER, Audience.DISTRIBUTOR})
_SUPPLIER = frozenset({Audience.SUPPLIER})

ROUTES: Mapping[str, frozenset[Audience]] = MappingProxyType({
    code_text(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL): _UPDATE,
    code_text(AlertCode.FIRMWARE_VERIFICATION_FAILED): _UPDATE,
    code_text(AlertCode.FIRMWARE_TRANSFER_SUCCESS): _UPDATE,
    code_text(AlertCode.FIRMWARE_TRANSFER_FAIL): _UPDATE,
    code_text(DccAlert.FIRMWARE_DELIVERED): _UPDATE,
    code_text(DccAlert.FIRMWARE_DELIVERY_FAILED): _UPDATE,
    code_text(AlertCode.FUTURE_DATED_COMMAND_ACTIONED): _UPDATE,
    code_text(AlertCode.FUTURE_DATED_COMMAND_NOT_ACTIONED): _UPDATE,
    code_text(AlertCode.READ_FIRMWARE_VERSION_ALERT): _SUPPLIER,
    code_text(AlertCode.GSME_COMMAND_NOT_RETRIEVED): _SUPPLIER,
})
"""Alert code -> audiences; any code not listed goes to :data:`DEFAULT_ROUTE`."""

DEFAULT_ROUTE = _SUPPLIER


def recipients(code: str, device: Device | None, policy: Policy) -> list[EntityId]:
    """The users who receive alert ``code`` about ``device`` under ``policy``, each once, supplier first.

    Must be asked before the alert changes the device's record: an activation clears the
    pending image and with it the distributor.
    """
    if device is None:
        return []
    found: list[EntityId] = []
    audiences = ROUTES.get(code, DEFAULT_ROUTE)
    if device.responsible_supplier is not None:
        found.append(device.responsible_supplier)
    if (Audience.DISTRIBUTOR in audiences and policy.update_alerts_to_distributor
            and device.pending is not None and device.pending.distributed_by not in found):
        found.append(device.pending.distributed_by)
    return found


DELIVERY_ALERT_DEVICE_TYPES = frozenset({DeviceType.ESME, DeviceType.GSME})
"""The device types N60 / N61 are raised for (SECMP0007: ESME and GSME)."""
