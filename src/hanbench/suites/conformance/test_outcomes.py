"""Every request ends in an outcome the user sees, and the faults a lab has are survived.

An image the CH would never offer is refused by the DCC with the rule that refused it, and,
past the DCC, discarded by the CH with CCS08 response code 1; a device that never takes its
image ends in CCS08 response code 3; a CS06 for another device is refused with 0x8F3D; one
dated in the past reports what the device did. A future-dated activation survives a power
cycle of the device and a transfer a restart of the CH (docs/architecture.md, "Where every
request ends").
"""

from __future__ import annotations

import datetime as dt

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, cs06, distribute, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule
from hanbench.bench.events import ActivationFired, BlockProgress, TransferFinished
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.image import parse_image


async def transfer_failed(bench: Bench, supplier: BenchUser, device: BenchDevice, result: TransferResult,
                          timeout: float) -> None:
    """The CH's CCS08 failure with ``result`` and the DCC's N61 reached the supplier; the device needs action."""
    ccs08 = await supplier.wait_alert(0x8F89, device=device, timeout=timeout)
    assert ccs08.detail.startswith(result.name), ccs08
    await supplier.wait_alert("N61", device=device, timeout=timeout)
    assert bench.dcc.inventory.device(device.id).needs_action


@pytest.mark.asyncio
async def test_an_image_for_another_device_type_is_refused_by_the_dcc_and_discarded_by_the_ch(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    gsme_image = bench.image(gsme, NEW)
    result = await supplier.update_firmware(gsme_image, [esme])
    assert result.refused == {esme.id: RefusalRule.IMAGE_NOT_FOR_DEVICE_TYPE}
    assert "a gsme image" in result.target(esme.id).message
    await bench.hub.distribute(parse_image(gsme_image), [esme.id])  # past the DCC: the CH answers
    await transfer_failed(bench, supplier, esme, TransferResult.IMAGE_DISCARDED, receipt_wait_s(bench))
    assert esme.state.held_version is None


@pytest.mark.asyncio
@pytest.mark.parametrize("device_type", ["esme", "gsme"])
async def test_a_downgrade_is_refused_by_the_dcc_and_discarded_by_the_ch_at_the_devices_query(
        bench: Bench, supplier: BenchUser, device_type: str) -> None:
    device = bench.device(device_type)
    alert = await distribute(bench, supplier, device)
    assert (await supplier.activate_firmware(device, alert.calculated_hash)).outcome is Outcome.ACTIVATED
    older = bench.image(device, OLD)  # validly signed, and older than what the device now runs
    result = await supplier.update_firmware(older, [device])
    assert result.refused == {device.id: RefusalRule.IMAGE_NOT_NEWER}
    await bench.hub.distribute(parse_image(older), [device.id])  # past the DCC
    await transfer_failed(bench, supplier, device, TransferResult.IMAGE_DISCARDED, receipt_wait_s(bench))
    assert device.state.running_version == NEW and device.state.held_version is None


@pytest.mark.emu  # loses 90% of the frames on the air
@pytest.mark.asyncio
async def test_a_transfer_that_never_starts_ends_in_ccs08_file_transfer_failure(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    bench.emulator.set_link_loss(esme.config, 0.9)
    result = await supplier.update_firmware(bench.image(esme, NEW), [esme])
    assert result.target(esme.id).outcome is Outcome.DISTRIBUTED
    await transfer_failed(bench, supplier, esme, TransferResult.FILE_TRANSFER_FAILURE,
                          bench.config.timing.target_wait_s + 3600)
    assert esme.state.held_version is None


@pytest.mark.asyncio
async def test_a_cs06_for_another_device_is_refused_with_0x8F3D(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    for_the_gsme = cs06(bench, supplier, gsme, alert.calculated_hash)
    await bench.comms_hub.tunnels.send(esme.id, for_the_gsme)  # the CH's tunnel to the ESME, past its routing
    await supplier.wait_alert(0x8F3D, device=esme, timeout=receipt_wait_s(bench))
    assert esme.state.running_version == OLD and esme.state.held_version == NEW


@pytest.mark.asyncio
async def test_a_cs06_dated_in_the_past_reports_the_activation_the_device_carried_out_at_once(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    result = await supplier.activate_firmware(esme, alert.calculated_hash, at=bench.now() - dt.timedelta(hours=1))
    assert result.outcome is Outcome.ACTIVATED and result.firmware_version == NEW, result
    assert "had passed" in result.message
    assert esme.state.running_version == NEW and esme.state.pending_activation_at is None
    await supplier.wait_alert(0x8F66, device=esme, timeout=receipt_wait_s(bench))


@pytest.mark.emu  # power cycles a device, and waits hours of bench time
@pytest.mark.asyncio
@pytest.mark.parametrize(("off_at", "off_for"), [(dt.timedelta(hours=1), dt.timedelta(minutes=10)),
                                                 (dt.timedelta(hours=1, minutes=55), dt.timedelta(minutes=10))],
                         ids=["off-before-its-date-time", "off-across-its-date-time"])
async def test_a_future_dated_activation_survives_a_power_cycle_and_fires_exactly_once(
        bench: Bench, supplier: BenchUser, esme: BenchDevice, off_at: dt.timedelta, off_for: dt.timedelta) -> None:
    alert = await distribute(bench, supplier, esme)
    at = (bench.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    assert (await supplier.activate_firmware(esme, alert.calculated_hash, at=at)).outcome \
        is Outcome.ACTIVATION_SCHEDULED
    await bench.sleep_until(at - dt.timedelta(hours=2) + off_at)
    await bench.emulator.power_cycle(esme.config, off_s=off_for.total_seconds())
    fires_at = max(at, bench.now())
    if bench.now() < at:
        assert esme.state.pending_activation_at == at, "kept in non-volatile memory"
    await bench.sleep_until(at + dt.timedelta(hours=1))
    fired = [e for e in bench.events.history
             if isinstance(e, ActivationFired) and e.device == esme.id and e.seq > bench.opened_seq]
    assert len(fired) == 1 and fired[0].at == fires_at
    assert esme.state.running_version == NEW and esme.state.pending_activation_at is None
    await supplier.wait_alert(0x8F66, device=esme, timeout=60)
    assert [a.code for a in supplier.alerts() if a.device == esme.id and a.code in ("0x8F66", "0x8F67")] == ["0x8F66"]


@pytest.mark.emu  # restarts the CH in the middle of a transfer
@pytest.mark.asyncio
@pytest.mark.parametrize("device_type", ["esme", "gsme"])
async def test_a_transfer_survives_a_restart_of_the_comms_hub(
        bench: Bench, supplier: BenchUser, device_type: str) -> None:
    device = bench.device(device_type)
    mark = bench.events.last_seq
    await supplier.update_firmware(bench.image(device, NEW), [device])
    await bench.events.wait_for(lambda e: isinstance(e, BlockProgress) and e.device == device.id,
                                receipt_wait_s(bench), since=mark)
    await bench.emulator.restart_hub(down_s=60)
    alert = await supplier.wait_alert(0x8F72, device=device, timeout=receipt_wait_s(bench))
    finished = await bench.events.wait_for(lambda e: isinstance(e, TransferFinished) and e.device == device.id,
                                           receipt_wait_s(bench), since=mark)
    assert finished.result is TransferResult.SUCCESS
    assert (await supplier.activate_firmware(device, alert.calculated_hash)).outcome is Outcome.ACTIVATED
    assert device.state.running_version == NEW
