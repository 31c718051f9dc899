"""The device's GBCS side of a firmware update: what it checks of an image and of CS06, in the
order GBCS gives (MAC, signature, counter, then the date-time, then the image held and its
hash: gbcs-domain 1.4, GBCS CS06 steps 1-4), and what it reports.

Images and commands a real DCC would never send (signed by someone else, relabelled, without
the Access Control Broker's MAC, replayed) go in on the direct hub path, past the DCC's own
checks, so that the device's own refusal is what is tested.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from hanbench import Bench, BenchDevice, Outcome
from hanbench.dcc.errors import InboxTimeout
from hanbench.gbcs.cs06 import Accepted, ActivationResult, read_activate_firmware_response
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import profile_for
from hanbench.gbcs.roles import CS06_DEVICE_TYPES
from hanbench.suites.device.steps import (
    Status, cs06, deliver, needs, quiet_s, read, relabelled, wait_s, watching,
)

# Marked for strict mode too: a suite run from the installed package has no ini to set auto mode.
pytestmark = pytest.mark.asyncio


async def holding(bench: Bench, device: BenchDevice, image_bytes: bytes) -> tuple[UpgradeImage, int]:
    """``device`` (an ESME, GSME or HCALCS, else the test skips) holding the image under test:
    the image, and the version the device ran before."""
    needs(device, CS06_DEVICE_TYPES, "only an ESME, GSME or HCALCS takes CS06")
    image = read(device, image_bytes)
    before = device.state.running_version
    with watching(bench) as log:
        end = await deliver(bench, device, image, log)
    assert end.status == Status.SUCCESS, f"the device refused the image under test ({end.status!r})"
    return image, before


@pytest.mark.clause("GBCS 11.2.6 Firmware Distribution Receipt Alert 0x8F72: the calculated hash")
async def test_the_receipt_alert_carries_the_hash_the_device_calculated(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    needs(device_under_test, CS06_DEVICE_TYPES, "a PPMID reports with CS09 instead, an IHD raises no GBCS alert")
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    assert end.status == Status.SUCCESS
    alert = await bench.supplier_of(device_under_test).wait_alert(0x8F72, device=device_under_test,
                                                                  timeout=wait_s(bench))
    assert alert.calculated_hash == read(device_under_test, image_under_test).manufacturer_image_hash


@pytest.mark.clause("GBCS CS06: activation by the Supplier's command, MAC'd by the ACB")
async def test_cs06_runs_the_held_image_and_the_device_reports_its_version(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    image, _ = await holding(bench, device_under_test, image_under_test)
    supplier = bench.supplier_of(device_under_test)
    result = await supplier.activate_firmware(device_under_test, image.manufacturer_image_hash)
    assert result.outcome is Outcome.ACTIVATED, result
    assert device_under_test.state.running_version == image.header.file_version
    assert device_under_test.state.running_hash == image.manufacturer_image_hash


@pytest.mark.clause("GBCS 11.2.6 / SR 11.1: the Supplier's signature on the image; 0x8F1C and INVALID_IMAGE")
async def test_an_image_signed_by_another_party_is_refused_with_invalid_image_and_0x8f1c(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    if not profile_for(device_under_test.type).signed:
        pytest.skip(f"{device_under_test.name} takes unsigned SR 11.4 images")
    supplier = bench.supplier_of(device_under_test)
    impostor = bench.other_supplier(supplier)
    forged = read(device_under_test, image_under_test).signed(bench.dcc.keystore.private_key(impostor.id))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, forged, log)
    assert end.status == Status.INVALID_IMAGE, f"ended the upgrade with {end.status!r}"
    assert device_under_test.state.held_hash is None
    if device_under_test.type in CS06_DEVICE_TYPES:
        await supplier.wait_alert(0x8F1C, device=device_under_test, timeout=wait_s(bench))


@pytest.mark.clause("GBCS 11.2.2-11.2.4: the signed Manufacturer Image, not the OTA header, says what it is")
async def test_a_relabelled_header_is_refused_and_changes_nothing_the_device_reports(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    before = device_under_test.state.running_version
    lie = relabelled(read(device_under_test, image_under_test), file_version=0xFFFFFFFE)
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, lie, log)
    assert end.status == Status.INVALID_IMAGE, f"took an image whose header names another version ({end.status!r})"
    state = device_under_test.state
    assert state.held_version is None and state.running_version == before, \
        f"reports held {state.held_version}, running {state.running_version}"


@pytest.mark.clause("GBCS 6.2.4 / CS06 step 1: the ACB's MAC checked first")
async def test_a_cs06_without_the_acbs_mac_is_refused(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    image, before = await holding(bench, device_under_test, image_under_test)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(cs06(bench, device_under_test, image.manufacturer_image_hash,
                                                           mac=False)), quiet_s(bench))
    await bench.supplier_of(device_under_test).wait_alert(0x8F3D, device=device_under_test, timeout=quiet_s(bench))
    assert device_under_test.state.running_version == before, "acted on a command nobody authenticated"


@pytest.mark.clause("GBCS CS06 step 3: the originator counter above the last one accepted")
async def test_a_cs06_under_a_counter_already_used_is_refused(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    image, before = await holding(bench, device_under_test, image_under_test)
    first = cs06(bench, device_under_test, bytes(32))  # authentic and answered: the hash does not match
    await asyncio.wait_for(bench.hub.send_command(first), wait_s(bench))
    replay = cs06(bench, device_under_test, image.manufacturer_image_hash, counter=first.originator_counter)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(replay), quiet_s(bench))
    assert device_under_test.state.running_version == before, "acted on a replayed counter"


async def scheduled(bench: Bench, device: BenchDevice, image_bytes: bytes) -> tuple[UpgradeImage, int, dt.datetime]:
    """:func:`holding`, and the held image's activation accepted for two hours ahead: the image,
    the version the device ran before, and the activation's date-time."""
    image, before = await holding(bench, device, image_bytes)
    at = (bench.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    accepted = await bench.supplier_of(device).activate_firmware(device, image.manufacturer_image_hash, at=at)
    assert accepted.outcome is Outcome.ACTIVATION_SCHEDULED, accepted
    return image, before, at


@pytest.mark.emu  # switching the device off and on is the emulator's control
@pytest.mark.clause("GBCS CS06 step 2: a future-dated activation kept over a power cycle")
async def test_a_future_dated_activation_survives_a_power_cycle(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    image, before, at = await scheduled(bench, device_under_test, image_under_test)
    await bench.advance(3600)
    await bench.emulator.power_cycle(device_under_test.config, off_s=600)
    assert device_under_test.state.pending_activation_at == at, "the activation was not kept over the power cycle"
    await bench.sleep_until(at + dt.timedelta(hours=1))
    assert device_under_test.state.running_version != before, "the future-dated activation never fired"
    assert device_under_test.state.running_hash == image.manufacturer_image_hash


@pytest.mark.emu  # switching the device off and on is the emulator's control
@pytest.mark.clause("GBCS CS06: a future-dated activation cancelled (99991231235959Z) never runs, power cycled or not")
async def test_a_cancelled_future_dated_activation_never_runs(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    image, before, at = await scheduled(bench, device_under_test, image_under_test)
    supplier = bench.supplier_of(device_under_test)
    cancelled = await supplier.activate_firmware(device_under_test, image.manufacturer_image_hash, cancel=True)
    assert cancelled.outcome is Outcome.ACTIVATION_CANCELLED, cancelled
    await bench.advance(3600)
    await bench.emulator.power_cycle(device_under_test.config, off_s=600)
    await bench.sleep_until(at + dt.timedelta(hours=1))
    state = device_under_test.state
    assert state.running_version == before, f"the cancelled activation ran: now running {state.running_version}"
    assert state.pending_activation_at is None, f"an activation is pending for {state.pending_activation_at}"
    assert state.held_hash == image.manufacturer_image_hash, "the held image went with the cancelled activation"
    fired = [a.code for a in supplier.alerts() if a.device == device_under_test.id and a.code in ("0x8F66", "0x8F67")]
    assert fired == [], f"the cancelled activation raised {fired}"


#: What a device says to a CS06 it drops (failed authentication): no response, alert 0x8F3D.
DROPPED = "dropped, alert 0x8F3D"
ACCEPTED = "accepted (NULL)"


async def said(bench: Bench, device: BenchDevice, command: GbcsMessage) -> str:
    """What ``device`` made of ``command``: its response code, :data:`ACCEPTED`, or :data:`DROPPED`."""
    try:
        response = await asyncio.wait_for(bench.hub.send_command(command), quiet_s(bench))
    except TimeoutError:
        try:
            await bench.supplier_of(device).wait_alert(0x8F3D, device=device, timeout=quiet_s(bench))
        except InboxTimeout:
            return "dropped without alert 0x8F3D"
        return DROPPED
    answer = read_activate_firmware_response(response)
    return ACCEPTED if isinstance(answer, Accepted) else answer.code.name


@pytest.mark.clause("GBCS CS06 steps 1-4: the MAC, signature, counter, then the date-time, then image held and hash")
async def test_cs06_failing_two_checks_is_answered_by_the_first_in_gbcs_order(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    """Each command fails two checks; a device checking in another order answers the second.
    The MAC and the signature both drop the command with 0x8F3D, so their order shows only
    against the checks after them."""
    needs(device_under_test, CS06_DEVICE_TYPES, "only an ESME, GSME or HCALCS takes CS06")
    dut, wrong = device_under_test, bytes(32)
    answers: dict[str, tuple[str, str]] = {}
    if dut.state.held_hash is None:
        answers["no image held, then the hash"] = (await said(bench, dut, cs06(bench, dut, wrong)),
                                                   ActivationResult.NO_IMAGE_HELD.name)
    image, before = await holding(bench, dut, image_under_test)
    used = cs06(bench, dut, wrong)
    answers["the hash alone"] = (await said(bench, dut, used), ActivationResult.HASH_MISMATCH.name)
    later = (bench.now() + dt.timedelta(days=1)).replace(microsecond=0)
    cases = {
        "the MAC, then the hash": (cs06(bench, dut, wrong, mac=False), DROPPED),
        "the signature, then the hash": (cs06(bench, dut, wrong, signed=False), DROPPED),
        "the counter, then the hash": (cs06(bench, dut, wrong, counter=used.originator_counter), DROPPED),
        "the counter, then the date-time": (cs06(bench, dut, image.manufacturer_image_hash,
                                                 counter=used.originator_counter, execution=later), DROPPED),
        "the date-time, then the hash": (cs06(bench, dut, wrong, execution=later), ACCEPTED),
    }
    for case, (command, expected) in cases.items():
        answers[case] = (await said(bench, dut, command), expected)
    wrong_order = [f"{case}: {got}, where GBCS's order gives {expected}"
                   for case, (got, expected) in answers.items() if got != expected]
    assert not wrong_order, "failing two checks, the device answered the later one:\n" + "\n".join(wrong_order)
    assert dut.state.running_version == before
    # The accepted date-time case left an activation of a wrong hash pending a day ahead: a
    # device that outlives the test (a lab board) must not raise its alert in another test.
    await bench.supplier_of(dut).activate_firmware(dut, wrong, cancel=True)


@pytest.mark.clause("SR 11.4: a PPMID runs its image at once and reports with CS09 (0x8F8B)")
async def test_a_ppmid_runs_its_image_at_once_and_reports_it_with_cs09(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    needs(device_under_test, frozenset({DeviceType.PPMID}), "only a PPMID takes SR 11.4")
    image = read(device_under_test, image_under_test)
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image, log)
    assert end.status == Status.SUCCESS
    cs09 = await bench.supplier_of(device_under_test).wait_alert(0x8F8B, device=device_under_test,
                                                                 timeout=wait_s(bench))
    assert cs09.firmware_version == image.header.file_version == device_under_test.state.running_version
