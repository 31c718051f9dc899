"""Service Requests as users submit them to the DCC, and the typed result the DCC hands back.

The request records are the DUIS bodies of SR 11.1-11.4, 8.4 and 3.2 with the XML taken away:
an image and a device list, a device, a device and a hash. The result says, per target device, whether the
DCC accepted it (and if not, which rule refused it) and what came of it.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from hanbench.dcc.hub_port import NoticeReceipt
from hanbench.errors import BadInput
from hanbench.gbcs.cs06 import HASH_LENGTH
from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import RefusalRule, ServiceRequest


def _targets(devices: Sequence[EntityId | str]) -> tuple[EntityId, ...]:
    if isinstance(devices, (str, bytes, EntityId)):
        raise BadInput("the device list must be a list of entity IDs, not a single one")
    parsed = tuple(EntityId.parse(d) for d in devices)
    if not parsed:
        raise BadInput("the device list is empty")
    if len(set(parsed)) != len(parsed):
        raise BadInput("the device list names a device more than once")
    return parsed


@dataclass(frozen=True)
class _ImageRequest:
    """An image and the devices to distribute it to (the body of 11.1 and 11.4)."""

    service_request: ClassVar[ServiceRequest]
    image: bytes
    devices: tuple[EntityId, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.image, bytes):
            raise BadInput("the image must be bytes")
        object.__setattr__(self, "devices", _targets(self.devices))

    @property
    def targets(self) -> tuple[EntityId, ...]:
        return self.devices


@dataclass(frozen=True)
class UpdateFirmware(_ImageRequest):
    """SR 11.1: distribute a signed OTA Upgrade Image to ESME, GSME or HCALCS devices."""

    service_request: ClassVar[ServiceRequest] = ServiceRequest.UPDATE_FIRMWARE


@dataclass(frozen=True)
class UpdatePpmidFirmware(_ImageRequest):
    """SR 11.4: distribute an image to a PPMID, which activates it on arrival (CS09 reports it)."""

    service_request: ClassVar[ServiceRequest] = ServiceRequest.UPDATE_PPMID_FIRMWARE


@dataclass(frozen=True)
class _DeviceRequest:
    """A request addressed to one device (the body of 11.2, 11.3, 8.4 and 3.2 starts so)."""

    service_request: ClassVar[ServiceRequest]
    device: EntityId

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", EntityId.parse(self.device))

    @property
    def targets(self) -> tuple[EntityId, ...]:
        return (self.device,)


@dataclass(frozen=True)
class ReadFirmwareVersion(_DeviceRequest):
    """SR 11.2: read the version a device runs (allowed on suspended devices too)."""

    service_request: ClassVar[ServiceRequest] = ServiceRequest.READ_FIRMWARE_VERSION


@dataclass(frozen=True)
class ActivateFirmware(_DeviceRequest):
    """SR 11.3: activate the image with ``firmware_hash`` now, at ``execution``, or cancel (``cancel=True``)
    a pending future-dated activation."""

    service_request: ClassVar[ServiceRequest] = ServiceRequest.ACTIVATE_FIRMWARE
    firmware_hash: bytes
    execution: datetime | None = None
    cancel: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.firmware_hash, bytes) or len(self.firmware_hash) != HASH_LENGTH:
            raise BadInput(f"a firmware hash is {HASH_LENGTH} bytes (SHA-256 of the Manufacturer Image)")
        if self.cancel and self.execution is not None:
            raise BadInput("a cancellation carries no execution date-time of its own")
        if self.execution is not None and self.execution.tzinfo is None:
            raise BadInput(f"execution date-time {self.execution} needs a time zone")


@dataclass(frozen=True)
class UpdateInventory(_DeviceRequest):
    """SR 8.4 Update Inventory: correct ``device``'s PPMID variant in the Smart Metering Inventory
    (MP170, as MP125 did for the ESME variant): a PPMID that is in fact an Alt HAN bridge, or a
    bridge of another type. The DCC changes its records; nothing is sent to the device."""

    service_request: ClassVar[ServiceRequest] = ServiceRequest.UPDATE_INVENTORY
    ppmid_variant: PpmidVariant

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.ppmid_variant, PpmidVariant):
            object.__setattr__(self, "ppmid_variant", PpmidVariant.parse(str(self.ppmid_variant)))


@dataclass(frozen=True)
class RestrictAccessForChangeOfTenancy(_DeviceRequest):
    """SR 3.2 Restrict Access For Change Of Tenancy, addressed to the meter (ESME: GBCS ECS12; GSME,
    whose GPF GCS09 addresses): a new occupant moves in. The DCC has the meter's CH tell the
    premises' IHDs and PPMIDs, which clear the previous occupant's data (SECMP0056); the result
    carries one :class:`NoticeReceipt` per display.

    The bench sends no ECS12 or GCS09 to the meter itself: its emulated meters keep no
    consumption history to restrict, and the CH (whose GPF GCS09 reaches) is where the notice
    starts either way.
    """

    service_request: ClassVar[ServiceRequest] = ServiceRequest.RESTRICT_ACCESS_FOR_CHANGE_OF_TENANCY


Request = (UpdateFirmware | UpdatePpmidFirmware | ReadFirmwareVersion | ActivateFirmware | UpdateInventory
           | RestrictAccessForChangeOfTenancy)


class Outcome(enum.StrEnum):
    """What came of a Service Request for one device."""

    REFUSED = "refused"
    DISTRIBUTED = "distributed"                 # the CH stored the image for the device
    NOT_STORED = "not_stored"                   # the CH failed to store it, or its image rules discarded it
    ACTIVATED = "activated"
    ACTIVATION_FAILED = "activation_failed"     # the device answered with a failure code
    ACTIVATION_SCHEDULED = "activation_scheduled"
    ACTIVATION_CANCELLED = "activation_cancelled"
    VERSION_READ = "version_read"
    RESPONSE_MISSING = "response_missing"       # no response within the DCC's wait
    NOT_DELIVERED = "not_delivered"             # the CH could not hand it over, or its queue expired first
    INVENTORY_UPDATED = "inventory_updated"     # SR 8.4: the DCC corrected its records
    BAD_RESPONSE = "bad_response"               # a response that is malformed or does not verify
    OCCUPANTS_NOTIFIED = "occupants_notified"   # SR 3.2: every IHD and PPMID at the premises took the notice


@dataclass(frozen=True)
class TargetResult:
    """The DCC's decision and the outcome for one target device."""

    device: EntityId
    refusal: RefusalRule | None
    message: str
    outcome: Outcome
    firmware_version: int | None = None
    notices: tuple[NoticeReceipt, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class RequestResult:
    """What :meth:`Dcc.submit` returns: one :class:`TargetResult` per target, in request order."""

    request_id: int
    service_request: ServiceRequest
    user: EntityId
    targets: tuple[TargetResult, ...]

    @property
    def accepted(self) -> tuple[EntityId, ...]:
        return tuple(t.device for t in self.targets if t.accepted)

    @property
    def refused(self) -> dict[EntityId, RefusalRule]:
        return {t.device: t.refusal for t in self.targets if t.refusal is not None}

    def target(self, device: EntityId | str) -> TargetResult:
        wanted = EntityId.parse(device)
        for t in self.targets:
            if t.device == wanted:
                return t
        raise BadInput(f"request {self.request_id} has no target {wanted}")


Submit = Callable[[Request], Awaitable[RequestResult]]
"""How a user's requests reach the DCC (``Dcc.submit`` as that user; the bench passes one that
also publishes them on the event stream)."""
