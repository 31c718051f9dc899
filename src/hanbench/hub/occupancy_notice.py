"""The CH tells the IHDs and PPMIDs it serves of a change of tenancy or supplier (SECMP0056).

The CH sends each IHD and PPMID in its device log the Device Management cluster's
PublishChangeOfTenancy or PublishChangeOfSupplier (:mod:`hanbench.radio.device_management`
says why these commands), unicast, asking for a Default Response. The display answers
SUCCESS once it has taken the notice (it clears the previous occupant's data then, or at the
implementation time); the CH hands back one :class:`NoticeReceipt` per display, so the DCC
can tell the user which display has been told and which has not (off, out of range, or
refusing the notice).

One notice is one event: every display gets the same issuer event ID, taken from the UTC
clock as GB does (RTDS GCS09's issuer event ID is 2015-01-01 in seconds since 2000) and kept
above the last one this CH used, so two notices in the same second still differ and a
display can refuse a replay of an older one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import zigpy.exceptions
from zigpy.application import ControllerApplication
from zigpy.zcl import ClusterType, foundation

from hanbench.clock import BenchClock
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.gbz import utc_seconds
from hanbench.radio.addresses import eui64_of
from hanbench.radio.device_management import (
    IMMEDIATELY,
    NO_PROVIDER_ID,
    PUBLISH_CHANGE_OF_SUPPLIER,
    PUBLISH_CHANGE_OF_TENANCY,
    SUPPLIER_CONTROL,
    TENANCY_CONTROL,
    UNSPECIFIED_TARIFF,
    Change,
    DeviceManagement,
)

LOGGER = logging.getLogger(__name__)

#: The device types that show the occupant's data and are told of a change.
DISPLAY_TYPES = frozenset({DeviceType.IHD, DeviceType.PPMID})


@dataclass(frozen=True)
class OccupancyChange:
    """What the CH is to announce: a change of tenancy, or of supplier to ``new_supplier``
    (named by its DCC user name; the display shows it as the proposed provider)."""

    change: Change
    new_supplier: str = ""

    @classmethod
    def tenancy(cls) -> OccupancyChange:
        return cls(Change.TENANCY)

    @classmethod
    def supplier(cls, name: str) -> OccupancyChange:
        return cls(Change.SUPPLIER, name)


@dataclass(frozen=True)
class NoticeReceipt:
    """What came of the notice for one display: ``delivered`` once it answered SUCCESS."""

    device: EntityId
    delivered: bool
    detail: str


class OccupancyNotifier:
    """Sends the notices of one CH (on ``app``) and numbers their events."""

    def __init__(self, app: ControllerApplication, clock: BenchClock) -> None:
        self.app = app
        self.clock = clock
        self._last_event_id = 0

    def next_event_id(self) -> int:
        """The issuer event ID of the next notice: the UTC second, above the last one used."""
        now = utc_seconds(self.clock.now())
        self._last_event_id = max(now, self._last_event_id + 1)
        return self._last_event_id

    async def publish(self, change: OccupancyChange, displays: Iterable[EntityId]) -> tuple[NoticeReceipt, ...]:
        """Tell every display in ``displays`` of ``change``, all at once; one receipt each."""
        event_id = self.next_event_id()
        return tuple(await asyncio.gather(*(self._tell(d, change, event_id) for d in displays)))

    async def _tell(self, device: EntityId, change: OccupancyChange, event_id: int) -> NoticeReceipt:
        on_air = self.app.devices.get(eui64_of(device))
        if on_air is None:
            return NoticeReceipt(device, False, "not on the CH's network")
        try:
            management = on_air.find_cluster(DeviceManagement.cluster_id, ClusterType.Client)
        except ValueError:
            return NoticeReceipt(device, False, "has no Device Management client cluster")
        if change.change is Change.TENANCY:
            command, fields = PUBLISH_CHANGE_OF_TENANCY, {
                "provider_id": NO_PROVIDER_ID, "issuer_event_id": event_id, "tariff_type": UNSPECIFIED_TARIFF,
                "implementation_date_time": IMMEDIATELY, "proposed_tenancy_change_control": TENANCY_CONTROL}
        else:
            command, fields = PUBLISH_CHANGE_OF_SUPPLIER, {
                "current_provider_id": NO_PROVIDER_ID, "issuer_event_id": event_id,
                "tariff_type": UNSPECIFIED_TARIFF, "proposed_provider_id": NO_PROVIDER_ID,
                "provider_change_implementation_time": IMMEDIATELY, "provider_change_control": SUPPLIER_CONTROL,
                "proposed_provider_name": change.new_supplier.encode(), "proposed_provider_contact_details": b""}
        try:
            rsp = await management.client_command(command.id, **fields, expect_reply=True,
                                                  disable_default_response=False)
        except (zigpy.exceptions.DeliveryError, TimeoutError) as exc:
            LOGGER.info("change of %s not delivered to %s: %s", change.change, device, exc)
            return NoticeReceipt(device, False, f"not delivered: {exc}")
        status = getattr(rsp, "status", None)
        if status != foundation.Status.SUCCESS:
            name = status.name if isinstance(status, foundation.Status) else repr(rsp)
            return NoticeReceipt(device, False, f"refused it with Default Response {name}")
        return NoticeReceipt(device, True, f"told of the change of {change.change} (issuer event {event_id})")
