"""Typed records of what the DCC knows: users, devices, pending images, alerts, inbox messages.

The inventory hands these out instead of database rows, so the DCC, the alert routing and
the portfolio report all read the same immutable facts and never SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import DeviceStatus, DeviceSuppliers, RefusalRule, Role

MAX_FIRMWARE_VERSION = 0xFFFFFFFF


def firmware_version_from_bytes(raw: bytes) -> int:
    """A GBCS firmware version octet string (4 bytes, big-endian) as the integer the inventory keeps."""
    if not 1 <= len(raw) <= 4:
        raise MessageFormatError(f"a firmware version is 1 to 4 bytes, got {len(raw)}: {raw.hex()}")
    return int.from_bytes(raw, "big")


def format_firmware_version(version: int | None) -> str:
    """The way DUIS writes a firmware version: eight hex digits (``0123ABCD``); ``-`` when unknown."""
    return "-" if version is None else f"{version:08X}"


class UpdateState(enum.StrEnum):
    """Where a device's latest firmware update stands, as the DCC has learnt from SRs and alerts."""

    NONE = "none"                       # no update since the device was added
    DISTRIBUTED = "distributed"         # the CH stored the image for this device
    TRANSFERRED = "transferred"         # the CH reports the transfer succeeded (CCS08 0x8F8A)
    RECEIVED = "received"               # the device verified the image (0x8F72)
    ACTIVATION_SCHEDULED = "activation_scheduled"  # a future-dated CS06 was accepted
    ACTIVATED = "activated"             # the device runs the image
    FAILED = "failed"                   # something said no; update_detail says what

    @property
    def needs_action(self) -> bool:
        return self is UpdateState.FAILED


@dataclass(frozen=True)
class User:
    """A DCC User: its entity ID, a name for people, and its User Roles."""

    entity_id: EntityId
    name: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class PendingImage:
    """An image distributed to a device and not yet activated on it."""

    hash: bytes
    file_version: int
    since: datetime
    distributed_by: EntityId


@dataclass(frozen=True)
class Device(DeviceSuppliers):
    """One device of the Smart Metering Inventory (its supplier rule: :class:`DeviceSuppliers`)."""

    entity_id: EntityId
    type: DeviceType
    ch: EntityId | None
    status: DeviceStatus
    import_supplier: EntityId | None
    export_supplier: EntityId | None
    gas_supplier: EntityId | None
    firmware_version: int | None
    ppmid_variant: PpmidVariant | None  # a PPMID's (PPMID) or an Alt HAN bridge's (B1..B4); None otherwise
    activation_response_missing: bool
    update_state: UpdateState
    update_detail: str
    pending: PendingImage | None

    @property
    def needs_action(self) -> bool:
        """A failed update, or an activation whose response never came back."""
        return self.update_state.needs_action or self.activation_response_missing


class AlertOrigin(enum.StrEnum):
    """Who raised an alert: a HAN device, the Comms Hub itself, or the DCC."""

    DEVICE = "device"
    CH = "ch"
    DCC = "dcc"


@dataclass(frozen=True)
class AlertRecord:
    """One alert as the DCC recorded it; ``code`` is ``0x8F72``-style or a DCC alert (``N60``)."""

    id: int
    received_at: datetime
    origin: AlertOrigin
    code: str
    device: EntityId | None
    sender: EntityId | None
    hash: bytes | None
    firmware_version: int | None
    detail: str
    raw: bytes | None


@dataclass(frozen=True)
class InboxMessage:
    """An alert as delivered to one user, numbered in that user's own sequence."""

    user: EntityId
    seq: int
    alert: AlertRecord


@dataclass(frozen=True)
class TargetDecision:
    """What the DCC decided for one target device of a request, and what came of it."""

    device: EntityId
    accepted: bool
    rule: RefusalRule | None
    message: str
    outcome: str


@dataclass(frozen=True)
class LoggedRequest:
    """One Service Request as the SR log keeps it."""

    id: int
    at: datetime
    user: EntityId
    request: str
    detail: str
    targets: tuple[TargetDecision, ...]
