"""SECMP0056 over the virtual air: the CH's PublishChangeOfTenancy / PublishChangeOfSupplier
reach the emulated IHD and PPMID as real ZCL frames, and what each display answers comes back
as the CH's receipt."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from hanbench.clock import BenchClock
from hanbench.devices.firmware import Firmware
from hanbench.devices.ihd import Ihd
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT, ConsumerData, DisplayedData, SupplierData
from hanbench.devices.ppmid import Ppmid
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType as D
from hanbench.hub.occupancy_notice import OccupancyChange, OccupancyNotifier
from hanbench.radio.device_management import Change, ProposedChangeControl
from han_premises import CH, ENTITIES, premises

pytestmark = pytest.mark.looptime


def _displays(p) -> tuple[Ihd, Ppmid]:  # type: ignore[no-untyped-def]
    ihd, ppmid = p.devices[D.IHD], p.devices[D.PPMID]
    assert isinstance(ihd, Ihd) and isinstance(ppmid, Ppmid)
    return ihd, ppmid


async def test_a_change_of_tenancy_reaches_every_display_and_clears_the_consumer_data_only() -> None:
    async with premises([D.ESME, D.IHD, D.PPMID, D.HCALCS]) as p:
        ihd, ppmid = _displays(p)
        receipts = await p.hub.publish_occupancy_change(ENTITIES[D.ESME], OccupancyChange.tenancy())
        assert [(r.device, r.delivered) for r in receipts] == [(ENTITIES[D.IHD], True), (ENTITIES[D.PPMID], True)]
        for display in (ihd.display, ppmid.display):
            assert display.shown == DisplayedData(ConsumerData(), PREVIOUS_OCCUPANT.supplier)
            (notice,) = display.notices
            assert notice.change is Change.TENANCY and notice.implementation is None
            assert notice.control == ProposedChangeControl.CLEAR_IHD_DATA_CONSUMER


async def test_a_change_of_supplier_clears_consumer_and_supplier_data_and_leaves_the_firmware() -> None:
    async with premises([D.ESME, D.IHD, D.PPMID]) as p:
        ihd, ppmid = _displays(p)
        ihd.firmware.hold(Firmware(2, b"\x11" * 32))
        before = [(d.firmware.running, d.firmware.held) for d in (ihd, ppmid)]
        receipts = await p.hub.publish_occupancy_change(CH, OccupancyChange.supplier("OTHERSUPPLIER"))
        assert all(r.delivered for r in receipts) and len(receipts) == 2
        for device in (ihd, ppmid):
            assert device.display.shown == DisplayedData(ConsumerData(), SupplierData())
            assert device.display.notices[-1].change is Change.SUPPLIER
        assert [(d.firmware.running, d.firmware.held) for d in (ihd, ppmid)] == before


async def test_an_ihd_switches_to_its_held_image_at_the_upgrade_time_it_had_before_the_notice() -> None:
    """The pending activation (the CH's upgrade time) survives a change of tenancy."""
    async with premises([D.ESME, D.IHD]) as p:
        ihd = p.devices[D.IHD]
        assert isinstance(ihd, Ihd)
        ihd.firmware.hold(Firmware(2, b"\x22" * 32))
        ihd.run_held_after(2, 600)
        await p.hub.publish_occupancy_change(CH, OccupancyChange.tenancy())
        assert ihd.display.shown.consumer.empty and ihd.firmware.running.file_version != 2
        await asyncio.sleep(601)
        assert ihd.firmware.running == Firmware(2, b"\x22" * 32)


async def test_each_notice_is_a_newer_event_so_two_in_a_row_both_count() -> None:
    async with premises([D.ESME, D.IHD]) as p:
        ihd = p.devices[D.IHD]
        assert isinstance(ihd, Ihd)
        first = await p.hub.publish_occupancy_change(CH, OccupancyChange.tenancy())
        second = await p.hub.publish_occupancy_change(CH, OccupancyChange.supplier("B"))
        assert first[0].delivered and second[0].delivered
        ids = [n.issuer_event_id for n in ihd.display.notices]
        assert ids[0] < ids[1]


async def test_a_display_that_refuses_the_notice_is_named_with_its_status() -> None:
    """A notice numbered below the last one the display took (a replay, or a sender whose clock
    went back a day) is refused with INVALID_VALUE, which the receipt names."""
    async with premises([D.ESME, D.IHD]) as p:
        ihd = p.devices[D.IHD]
        assert isinstance(ihd, Ihd)
        await p.hub.publish_occupancy_change(CH, OccupancyChange.supplier("B"))
        behind = OccupancyNotifier(p.app, BenchClock(p.clock.now() - dt.timedelta(days=1)))
        (receipt,) = await behind.publish(OccupancyChange.tenancy(), [ENTITIES[D.IHD]])
        assert not receipt.delivered and "INVALID_VALUE" in receipt.detail
        assert [n.change for n in ihd.display.notices] == [Change.SUPPLIER]


async def test_a_display_off_the_air_is_not_delivered_and_keeps_its_data() -> None:
    async with premises([D.ESME, D.IHD, D.PPMID]) as p:
        ihd, ppmid = _displays(p)
        await ihd.power_off()
        receipts = {r.device: r for r in await p.hub.publish_occupancy_change(CH, OccupancyChange.tenancy())}
        assert not receipts[ENTITIES[D.IHD]].delivered and "not delivered" in receipts[ENTITIES[D.IHD]].detail
        assert receipts[ENTITIES[D.PPMID]].delivered
        assert ihd.display.shown == PREVIOUS_OCCUPANT


async def test_a_device_the_ch_does_not_serve_is_bad_input() -> None:
    async with premises([D.ESME]) as p:
        with pytest.raises(BadInput, match="device log"):
            await p.hub.publish_occupancy_change(ENTITIES[D.GSME], OccupancyChange.tenancy())


async def test_a_premises_without_displays_has_no_receipts() -> None:
    async with premises([D.ESME]) as p:
        assert await p.hub.publish_occupancy_change(CH, OccupancyChange.tenancy()) == ()
