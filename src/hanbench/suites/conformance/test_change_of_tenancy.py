"""SECMP0056: after a change of tenancy or supplier, the IHD and PPMID show nothing of the
previous occupant, and keep their firmware.

SR 3.2 Restrict Access For Change Of Tenancy (from the meter's supplier) and every change of
supplier have the CH send the premises' IHDs and PPMIDs the Device Management cluster's
PublishChangeOfTenancy / PublishChangeOfSupplier (:mod:`hanbench.radio.device_management`).
The emulated displays start lived in (a previous tenant's week, :data:`PREVIOUS_OCCUPANT`),
and ``device.display`` reads what a display shows: off the emulated device on emu, from the
board's ``state`` (control protocol 1.3) on twin and lab, where a display must start with a
previous occupant's data for these tests to mean anything. Only the display out of reach
needs the emulator's link loss.
"""

from __future__ import annotations

import pytest

from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule
from hanbench.gbcs.occupant_data import PREVIOUS_OCCUPANT, SupplierData
from hanbench.suites.conformance.flows import NEW

pytestmark = pytest.mark.clause("SECMP0056: IHD/PPMID told of a change of tenancy or supplier; DUIS SR 3.2")


@pytest.mark.asyncio
async def test_sr_3_2_from_the_meters_supplier_is_taken_by_every_ihd_and_ppmid(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, ihd: BenchDevice, ppmid: BenchDevice) -> None:
    result = await bench.change_tenancy(esme, supplier)
    assert result.outcome is Outcome.OCCUPANTS_NOTIFIED, result
    assert {(n.device, n.delivered) for n in result.notices} >= {(ihd.id, True), (ppmid.id, True)}


@pytest.mark.asyncio
async def test_sr_3_2_is_refused_to_a_user_who_may_not_send_it(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, rsa: BenchUser, other_user: BenchUser,
        esme: BenchDevice, ihd: BenchDevice) -> None:
    """Only the meter's own supplier restricts access for a new tenant; an SR 3.2 names a meter."""
    assert (await rsa.restrict_access_for_change_of_tenancy(esme)).refusal is RefusalRule.ROLE_NOT_ALLOWED
    assert (await other_user.restrict_access_for_change_of_tenancy(esme)).refusal is RefusalRule.ROLE_NOT_ALLOWED
    foreign = await supplier_b.restrict_access_for_change_of_tenancy(esme)
    assert foreign.refusal is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE and foreign.outcome is Outcome.REFUSED
    assert foreign.notices == (), "nothing reaches the premises"
    to_display = await supplier.restrict_access_for_change_of_tenancy(ihd)
    assert to_display.refusal is RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE


@pytest.mark.asyncio
async def test_a_refused_sr_3_2_leaves_the_displays_as_they_were(
        bench: Bench, supplier_b: BenchUser, esme: BenchDevice, ihd: BenchDevice, ppmid: BenchDevice) -> None:
    await supplier_b.restrict_access_for_change_of_tenancy(esme)
    assert ihd.display == PREVIOUS_OCCUPANT and ppmid.display == PREVIOUS_OCCUPANT


@pytest.mark.asyncio
async def test_after_a_change_of_tenancy_the_ihd_and_ppmid_show_none_of_the_previous_tenants_data(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, ihd: BenchDevice, ppmid: BenchDevice) -> None:
    assert not ihd.display.consumer.empty and not ppmid.display.consumer.empty, "the displays start lived in"
    firmware = {d.id: d.state for d in (ihd, ppmid)}
    result = await bench.change_tenancy(esme, supplier)
    assert result.outcome is Outcome.OCCUPANTS_NOTIFIED, result
    for display in (ihd, ppmid):
        assert display.display.consumer.empty, f"{display.name} still shows the previous tenant's data"
        assert display.display.supplier == PREVIOUS_OCCUPANT.supplier, "the supplier has not changed"
        assert display.state == firmware[display.id]


@pytest.mark.asyncio
async def test_after_a_change_of_supplier_the_displays_forget_the_occupant_and_supplier_and_keep_their_firmware(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, ihd: BenchDevice, ppmid: BenchDevice) -> None:
    updated = await supplier.update_ppmid_firmware(bench.image(ppmid, NEW), [ppmid])
    assert updated.target(ppmid.id).outcome is Outcome.DISTRIBUTED
    await supplier.wait_alert(0x8F8B, device=ppmid)
    assert ppmid.state.running_version == NEW
    firmware = {d.id: d.state for d in (ihd, ppmid)}
    # Any device of the premises changing supplier sends the notice; the IHD's own change needs no
    # CS02b, so the test is about the displays alone.
    await bench.change_supplier(ihd, supplier_b)
    for display in (ihd, ppmid):
        assert display.display.consumer.empty, f"{display.name} still shows the previous tenant's data"
        assert display.display.supplier == SupplierData(), f"{display.name} still shows the old supplier"
        assert display.state == firmware[display.id], "a change of supplier leaves the firmware alone"


@pytest.mark.emu
@pytest.mark.asyncio
async def test_an_ihd_out_of_reach_is_named_and_keeps_its_data(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, ihd: BenchDevice, ppmid: BenchDevice) -> None:
    bench.emulator.set_link_loss(ihd.config, 1.0)
    result = await bench.change_tenancy(esme, supplier)
    assert result.outcome is Outcome.NOT_DELIVERED, result
    receipts = {n.device: n for n in result.notices}
    assert not receipts[ihd.id].delivered and str(ihd.id) in result.message, result.message
    assert receipts[ppmid.id].delivered and ppmid.display.consumer.empty
    assert ihd.display == PREVIOUS_OCCUPANT, "the IHD never heard of it: the supplier must try again"
    bench.emulator.set_link_loss(ihd.config, 0.0)
    again = await bench.change_tenancy(esme, supplier)
    assert again.outcome is Outcome.OCCUPANTS_NOTIFIED and ihd.display.consumer.empty
