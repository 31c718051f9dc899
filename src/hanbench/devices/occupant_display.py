"""What an IHD or PPMID shows of the occupant, and how it forgets a previous one (SECMP0056).

An In-Home Display and a Prepayment Interface Device keep what they have shown: the
occupant's consumption history, the messages and top-ups addressed to them, the supplier's
prices and contact details. SECMP0056 (seed 003): unless these devices are told of a Change
of Tenancy or Change of Supplier, a new tenant sees the previous tenant's data. The bench's
CH tells them with the Device Management cluster's PublishChangeOfTenancy and
PublishChangeOfSupplier (:mod:`hanbench.radio.device_management`, which says why those);
:class:`OccupantDisplay` is the device side, the same for IHD and PPMID:

* the Proposed Change Control bits say what to clear of what it shows
  (:class:`~hanbench.gbcs.occupant_data.DisplayedData`): *Clear IHD Data - Consumer* (bit 9)
  the consumer's half, *Clear IHD Data - Supplier* (bit 10) the supplier's; a notice with
  neither clears nothing (the sender asked for nothing);
* an implementation date/time of 0, or one already past, applies at once; a later one is
  kept and applied then (an IHD that was told ahead of the move);
* the issuer event ID must be newer than the last notice's: an older or repeated one is a
  replay and is refused with Default Response INVALID_VALUE, and nothing is cleared;
* the device's firmware (what it runs, the image it holds, a pending activation) is never
  touched: a new occupant keeps the device, and its firmware state is the Supplier's.

The emulated devices start *lived in*: they show
:data:`~hanbench.gbcs.occupant_data.PREVIOUS_OCCUPANT`, a week of a previous tenant's data,
so that what a notice clears is there to see. :meth:`OccupantDisplay.on_change` tells a
listener (the twin's board) each time a notice changes what it shows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation

from hanbench.clock import BenchClock
from hanbench.gbcs.gbz import from_utc_seconds
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT, DisplayedData
from hanbench.listeners import Listeners
from hanbench.radio.device_management import (
    PUBLISH_CHANGE_OF_SUPPLIER,
    PUBLISH_CHANGE_OF_TENANCY,
    Change,
    DeviceManagement,
    ProposedChangeControl,
)
from hanbench.radio.zcl_frames import ZclHeader

LOGGER = logging.getLogger(__name__)



@dataclass(frozen=True)
class Notice:
    """A change of tenancy or supplier as the device read it off the air."""

    change: Change
    issuer_event_id: int
    control: ProposedChangeControl
    implementation: dt.datetime | None  # None: at once


class OccupantDisplay:
    """The occupant data of one IHD or PPMID, and its handler for the Device Management cluster.

    Put :meth:`handle_command` in the node's handlers for :class:`DeviceManagement`.
    ``shown`` starts as ``initial``; ``notices`` keeps every notice the device took, in order.
    """

    cluster_id = DeviceManagement.cluster_id

    def __init__(self, clock: BenchClock, initial: DisplayedData = PREVIOUS_OCCUPANT) -> None:
        self.clock = clock
        self.shown = initial
        self.notices: list[Notice] = []
        self._last_event_id: int | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._listeners: Listeners[Callable[[DisplayedData], None]] = Listeners()

    async def handle_command(self, packet: t.ZigbeePacket, header: ZclHeader, command: Any) -> foundation.Status:
        """A Device Management command from the CH: a Publish clears (now or at its time)."""
        notice = self.read(header, command)
        if notice is None:
            return foundation.Status.UNSUP_CLUSTER_COMMAND
        return self.take(notice)

    def read(self, header: ZclHeader, command: Any) -> Notice | None:
        """The notice a Publish command carries; None for any other command."""
        if not header.server_to_client:
            return None
        if header.command_id == PUBLISH_CHANGE_OF_TENANCY.id:
            return Notice(Change.TENANCY, command.issuer_event_id, command.proposed_tenancy_change_control,
                          _when(command.implementation_date_time))
        if header.command_id == PUBLISH_CHANGE_OF_SUPPLIER.id:
            return Notice(Change.SUPPLIER, command.issuer_event_id, command.provider_change_control,
                          _when(command.provider_change_implementation_time))
        return None

    def take(self, notice: Notice) -> foundation.Status:
        """Apply ``notice`` now or at its implementation time; INVALID_VALUE for a replay."""
        if self._last_event_id is not None and notice.issuer_event_id <= self._last_event_id:
            LOGGER.warning("change of %s with issuer event %d refused: not newer than %d",
                           notice.change, notice.issuer_event_id, self._last_event_id)
            return foundation.Status.INVALID_VALUE
        self._last_event_id = notice.issuer_event_id
        self.notices.append(notice)
        delay_s = 0.0 if notice.implementation is None else (notice.implementation - self.clock.now()).total_seconds()
        if delay_s <= 0:
            self._clear(notice.control)
        else:
            self.cancel()
            self._pending = asyncio.get_running_loop().call_later(delay_s, self._clear, notice.control)
        return foundation.Status.SUCCESS

    def _clear(self, control: ProposedChangeControl) -> None:
        self._pending = None
        cleared = self.shown.cleared(consumer=bool(control & ProposedChangeControl.CLEAR_IHD_DATA_CONSUMER),
                                     supplier=bool(control & ProposedChangeControl.CLEAR_IHD_DATA_SUPPLIER))
        if cleared != self.shown:
            self.shown = cleared
            self._listeners(cleared)

    def on_change(self, listener: Callable[[DisplayedData], None]) -> Callable[[], None]:
        """Call ``listener`` with what the display shows each time a notice changes it; returns a remover."""
        return self._listeners.add(listener)

    def cancel(self) -> None:
        """Forget a notice that waits for its implementation time (the device is going away)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def _when(utc_time: int) -> dt.datetime | None:
    """A ZCL UTCTime as a date-time; 0 means at once."""
    return None if utc_time == 0 else from_utc_seconds(utc_time)
