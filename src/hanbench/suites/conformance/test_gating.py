"""Nothing activates without a valid CS06 from the device's supplier, and bad images are refused."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, cs06, distribute, image_signed_by, quiet_s, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule
from hanbench.bench.events import ActivationFired


@pytest.mark.asyncio
async def test_wrong_hash_answers_2_and_the_old_version_keeps_running(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    await distribute(bench, supplier, esme)
    result = await supplier.activate_firmware(esme, bytes(32))
    assert result.outcome is Outcome.ACTIVATION_FAILED
    assert "HASH_MISMATCH" in result.message
    assert result.firmware_version == OLD
    assert esme.state.running_version == OLD
    assert esme.state.held_version == NEW


@pytest.mark.asyncio
async def test_cs06_from_another_supplier_is_refused_by_the_dcc_and_by_the_device(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    refused = await supplier_b.activate_firmware(esme, alert.calculated_hash)
    assert refused.refusal is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
    # Past the DCC, straight to the CH: the device must refuse the foreign signature itself.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(cs06(bench, supplier_b, esme, alert.calculated_hash)),
                               quiet_s(bench))
    await supplier.wait_alert(0x8F3D, device=esme, timeout=quiet_s(bench))
    assert esme.state.running_version == OLD


@pytest.mark.emu
@pytest.mark.asyncio
async def test_without_cs06_nothing_activates_for_days(bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    await distribute(bench, supplier, esme)
    await bench.advance(10 * 24 * 3600)
    assert esme.state.running_version == OLD
    assert esme.state.held_version == NEW


@pytest.mark.asyncio
async def test_image_signed_by_the_wrong_party_is_refused_by_the_dcc_and_by_the_device(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice) -> None:
    image = image_signed_by(bench, esme, supplier_b)
    result = await supplier.update_firmware(image.to_bytes(), [esme])
    assert result.refused == {esme.id: RefusalRule.IMAGE_NOT_SIGNED_BY_SUPPLIER}
    await bench.hub.distribute(image, [esme.id])  # the direct hub path, past the DCC's check
    await supplier.wait_alert(0x8F1C, device=esme, timeout=receipt_wait_s(bench))
    assert esme.state.held_version is None
    assert esme.state.running_version == OLD


@pytest.mark.asyncio
async def test_replayed_cs06_is_refused(bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    command = cs06(bench, supplier, esme, bytes(32))  # authentic, answered: hash mismatch
    await bench.hub.send_command(command)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(command), quiet_s(bench))
    await supplier.wait_alert(0x8F3D, device=esme, timeout=quiet_s(bench))
    result = await supplier.activate_firmware(esme, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED, "a fresh counter still works after the replay"


@pytest.mark.emu  # waits six hours of bench time for the execution date-time
@pytest.mark.asyncio
async def test_future_dated_activation_fires_at_its_date_time(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    at = (bench.now() + dt.timedelta(hours=6)).replace(microsecond=0)
    result = await supplier.activate_firmware(esme, alert.calculated_hash, at=at)
    assert result.outcome is Outcome.ACTIVATION_SCHEDULED
    assert esme.state.pending_activation_at == at
    await bench.sleep_until(at - dt.timedelta(seconds=1))
    assert esme.state.running_version == OLD
    await supplier.wait_alert(0x8F66, device=esme, timeout=60)
    fired = await bench.events.wait_for(
        lambda e: isinstance(e, ActivationFired) and e.device == esme.id, 0, since=bench.opened_seq)
    assert fired.at == at
    assert esme.state.running_version == NEW


@pytest.mark.emu  # waits past an execution date-time two hours away
@pytest.mark.asyncio
async def test_cancellation_prevents_a_future_dated_activation(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    at = bench.now() + dt.timedelta(hours=2)
    await supplier.activate_firmware(esme, alert.calculated_hash, at=at)
    result = await supplier.activate_firmware(esme, alert.calculated_hash, cancel=True)
    assert result.outcome is Outcome.ACTIVATION_CANCELLED
    assert esme.state.pending_activation_at is None
    await bench.sleep_until(at + dt.timedelta(minutes=5))
    assert esme.state.running_version == OLD
