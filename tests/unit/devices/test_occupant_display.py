"""The display side of SECMP0056: which data a notice clears, when, and which notices it refuses."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import zigpy.types as t
from zigpy.zcl import foundation

from hanbench.clock import BenchClock
from hanbench.devices.occupant_display import Notice, OccupantDisplay
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT, ConsumerData, DisplayedData, SupplierData
from hanbench.radio.device_management import (
    PUBLISH_CHANGE_OF_TENANCY, TENANCY_CONTROL, Change, ProposedChangeControl,
)
from hanbench.radio.zcl_frames import header, read_header

pytestmark = pytest.mark.looptime

EPOCH = dt.datetime(2030, 1, 15, 9, 0, tzinfo=dt.UTC)
C = ProposedChangeControl


def _display() -> OccupantDisplay:
    return OccupantDisplay(BenchClock(EPOCH))


@pytest.mark.parametrize(("control", "left"), [
    (C.CLEAR_IHD_DATA_CONSUMER, DisplayedData(ConsumerData(), PREVIOUS_OCCUPANT.supplier)),
    (C.CLEAR_IHD_DATA_SUPPLIER, DisplayedData(PREVIOUS_OCCUPANT.consumer, SupplierData())),
    (C.CLEAR_IHD_DATA_CONSUMER | C.CLEAR_IHD_DATA_SUPPLIER, DisplayedData()),
    (C.PRE_SNAPSHOTS | C.RESET_CREDIT_REGISTER, PREVIOUS_OCCUPANT),
])
async def test_the_control_bits_say_which_half_is_cleared(control: ProposedChangeControl, left: DisplayedData) -> None:
    display = _display()
    changes: list[DisplayedData] = []
    display.on_change(changes.append)
    assert display.take(Notice(Change.SUPPLIER, 1, control, None)) == foundation.Status.SUCCESS
    assert display.shown == left
    assert changes == ([] if left == PREVIOUS_OCCUPANT else [left]), "listeners hear of a change, and only then"


def test_the_halves_know_when_they_are_empty() -> None:
    assert not PREVIOUS_OCCUPANT.consumer.empty and not PREVIOUS_OCCUPANT.supplier.empty
    assert DisplayedData().consumer.empty and DisplayedData().supplier.empty


async def test_a_notice_for_now_clears_at_once() -> None:
    display = _display()
    assert display.take(Notice(Change.TENANCY, 1, TENANCY_CONTROL, None)) == foundation.Status.SUCCESS
    assert display.shown.consumer.empty and display.shown.supplier == PREVIOUS_OCCUPANT.supplier


async def test_a_notice_for_later_clears_at_its_implementation_time() -> None:
    display = _display()
    at = display.clock.now() + dt.timedelta(hours=1)
    assert display.take(Notice(Change.TENANCY, 1, TENANCY_CONTROL, at)) == foundation.Status.SUCCESS
    await asyncio.sleep(3599)
    assert display.shown == PREVIOUS_OCCUPANT, "the tenant has not moved out yet"
    await asyncio.sleep(2)
    assert display.shown.consumer.empty


async def test_a_notice_already_due_clears_at_once() -> None:
    display = _display()
    display.take(Notice(Change.SUPPLIER, 1, C.CLEAR_IHD_DATA_CONSUMER | C.CLEAR_IHD_DATA_SUPPLIER,
                        display.clock.now() - dt.timedelta(days=1)))
    assert display.shown == DisplayedData()


async def test_a_replayed_or_older_notice_is_refused_and_clears_nothing() -> None:
    display = _display()
    display.take(Notice(Change.TENANCY, 10, C(0), None))
    assert display.take(Notice(Change.TENANCY, 10, TENANCY_CONTROL, None)) == foundation.Status.INVALID_VALUE
    assert display.take(Notice(Change.SUPPLIER, 9, TENANCY_CONTROL, None)) == foundation.Status.INVALID_VALUE
    assert display.shown == PREVIOUS_OCCUPANT and len(display.notices) == 1


async def test_a_later_notice_cancelled_with_the_device_never_clears() -> None:
    display = _display()
    display.take(Notice(Change.TENANCY, 1, TENANCY_CONTROL, display.clock.now() + dt.timedelta(minutes=5)))
    display.cancel()
    await asyncio.sleep(600)
    assert display.shown == PREVIOUS_OCCUPANT


async def test_only_the_publish_commands_from_the_server_side_are_taken() -> None:
    display = _display()
    command = PUBLISH_CHANGE_OF_TENANCY.schema(
        provider_id=0, issuer_event_id=5, tariff_type=0, implementation_date_time=t.UTCTime(0),
        proposed_tenancy_change_control=TENANCY_CONTROL)
    packet = t.ZigbeePacket()
    to_client = read_header(header(1, PUBLISH_CHANGE_OF_TENANCY.id, server_to_client=True,
                                   disable_default_response=False))
    to_server = read_header(header(1, PUBLISH_CHANGE_OF_TENANCY.id, server_to_client=False,
                                   disable_default_response=False))
    unknown = read_header(header(1, 0x05, server_to_client=True, disable_default_response=False))
    assert await display.handle_command(packet, to_server, command) == foundation.Status.UNSUP_CLUSTER_COMMAND
    assert await display.handle_command(packet, unknown, command) == foundation.Status.UNSUP_CLUSTER_COMMAND
    assert display.shown == PREVIOUS_OCCUPANT
    assert await display.handle_command(packet, to_client, command) == foundation.Status.SUCCESS
    assert display.shown.consumer.empty and display.notices[0].issuer_event_id == 5
