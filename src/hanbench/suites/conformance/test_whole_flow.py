"""Each device type through the whole flow: distribution, receipt alert, activation."""

from __future__ import annotations

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, distribute, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome
from hanbench.bench.events import ActivationImmediate, AlertDelivered, ImageNotifySent, TransferStarted
from hanbench.bench.session_events import DccAlertDelivered
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.image import parse_image


@pytest.mark.asyncio
@pytest.mark.parametrize("device_type", ["esme", "hcalcs"])
async def test_awake_meter_class_device_updates_and_activates_by_cs06(
        bench: Bench, supplier: BenchUser, device_type: str) -> None:
    device = bench.device(device_type)
    alert = await distribute(bench, supplier, device)
    assert device.state.running_version == OLD, "nothing activates before CS06"
    delivered = [(e.alert_code, e.user) for e in bench.events.history
                 if isinstance(e, AlertDelivered) and e.seq > bench.opened_seq and e.device == device.id]
    assert (0x8F72, supplier.id) in delivered, "every inbox delivery is on the event stream, by its code"
    if device.type is DeviceType.ESME:  # the DCC's own N60 (from CCS08) is delivered too, by name
        n60 = await bench.events.wait_for(lambda e: isinstance(e, DccAlertDelivered) and e.device == device.id,
                                          receipt_wait_s(bench), since=bench.opened_seq)
        assert (n60.alert_code, n60.user) == ("N60", supplier.id)
    result = await supplier.activate_firmware(device, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED and result.firmware_version == NEW
    assert device.state.running_version == NEW
    assert device.state.running_hash == alert.calculated_hash
    assert device.state.held_version is None


@pytest.mark.emu  # the GSME must sleep through the second after the SR: only virtual time says when it wakes
@pytest.mark.asyncio
async def test_gsme_receives_its_image_only_through_its_wake_cycle(
        bench: Bench, supplier: BenchUser, gsme: BenchDevice) -> None:
    mark = bench.events.last_seq
    await supplier.update_firmware(bench.image(gsme, NEW), [gsme])
    await bench.advance(1)
    assert gsme.state.held_version is None, "a sleeping GSME cannot have been sent anything yet"
    alert = await supplier.wait_alert(0x8F72, device=gsme, timeout=receipt_wait_s(bench))
    seen = [e for e in bench.events.history if e.seq > mark and getattr(e, "device", None) == gsme.id]
    assert not any(isinstance(e, ImageNotifySent) for e in seen), "the CH sets the mirror flag, never notifies"
    assert any(isinstance(e, TransferStarted) for e in seen)
    result = await supplier.activate_firmware(gsme, alert.calculated_hash)  # queued until the next wake
    assert result.outcome is Outcome.ACTIVATED
    assert gsme.state.running_version == NEW


@pytest.mark.asyncio
async def test_ppmid_activates_by_itself_and_reports_with_cs09(
        bench: Bench, supplier: BenchUser, ppmid: BenchDevice) -> None:
    result = await supplier.update_ppmid_firmware(bench.image(ppmid, NEW), [ppmid])
    assert result.target(ppmid.id).outcome is Outcome.DISTRIBUTED
    cs09 = await supplier.wait_alert(0x8F8B, device=ppmid, timeout=receipt_wait_s(bench))
    assert cs09.firmware_version == NEW
    assert ppmid.state.running_version == NEW
    activated = await bench.events.wait_for(
        lambda e: isinstance(e, ActivationImmediate) and e.device == ppmid.id, 0, since=bench.opened_seq)
    assert activated.file_version == NEW


@pytest.mark.asyncio
async def test_ihd_is_activated_by_the_comms_hub(bench: Bench, ihd: BenchDevice) -> None:
    # No Service Request reaches an IHD (SECMP0007): its image arrives through the CH, which
    # activates it after a good transfer. The image goes in by the direct hub path.
    await bench.hub.distribute(parse_image(bench.image(ihd, NEW)), [ihd.id])
    activated = await bench.events.wait_for(
        lambda e: isinstance(e, ActivationImmediate) and e.device == ihd.id, receipt_wait_s(bench))
    assert activated.file_version == NEW
    assert ihd.state.running_version == NEW
