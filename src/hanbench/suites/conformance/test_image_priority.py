"""The CH's image priority, as seed 002 (MP170 working group, July 2022) states it.

Each test sends two images whose slot on the CH is shared and checks what the seed says
happens: which image the CH keeps, which it discards, and that the discard reaches the user
who sent the lost image as CCS08 (0x8F89) with response code 1 "image discarded". The two
Service Requests go in together, as two suppliers' systems would send them: the CH stores
both before any device can fetch the first, so the outcome is the rules', not a race with
the air.
"""

from __future__ import annotations

import asyncio

import pytest

from hanbench.suites.conformance.flows import NEW, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RequestResult

pytestmark = pytest.mark.clause("MP170 WG: CH image priority")

CCS08_FAIL = 0x8F89


async def send(bench: Bench, user: BenchUser, device: BenchDevice) -> RequestResult:
    """The Service Request that distributes the NEW sample image to ``device``: 11.4 for a PPMID, 11.1 otherwise."""
    image = bench.image(device, NEW)
    if device.type.value == "ppmid":
        return await user.update_ppmid_firmware(image, [device])
    return await user.update_firmware(image, [device])


async def assert_discarded(bench: Bench, sender: BenchUser, lost: BenchDevice) -> None:
    """``sender`` finds CCS08 "image discarded" about ``lost`` in its inbox."""
    alert = await sender.wait_alert(CCS08_FAIL, device=lost, timeout=receipt_wait_s(bench))
    assert alert.detail == "IMAGE_DISCARDED", alert


@pytest.mark.asyncio
@pytest.mark.parametrize("first", ["ppmid", "hcalcs"])
async def test_the_ppmid_and_a_hcalcs_overwrite_each_other(
        bench: Bench, supplier: BenchUser, ppmid: BenchDevice, hcalcs: BenchDevice, first: str) -> None:
    """Seed 002: "the PPMID and a HCALCS would overwrite each other"."""
    lost, kept = (ppmid, hcalcs) if first == "ppmid" else (hcalcs, ppmid)
    results = await asyncio.gather(send(bench, supplier, lost), send(bench, supplier, kept))
    assert [r.targets[0].outcome for r in results] == [Outcome.DISTRIBUTED, Outcome.DISTRIBUTED]
    await assert_discarded(bench, supplier, lost)
    if kept is ppmid:
        cs09 = await supplier.wait_alert(0x8F8B, device=ppmid, timeout=receipt_wait_s(bench))
        assert cs09.firmware_version == NEW
    else:
        await supplier.wait_alert(0x8F72, device=hcalcs, timeout=receipt_wait_s(bench))
        assert hcalcs.state.held_version == NEW
    assert lost.state.held_version is None and lost.state.running_version != NEW


async def send_bridge(bench: Bench, user: BenchUser, bridge: BenchDevice) -> RequestResult:
    """SR 11.4 with what ``user`` sends ``bridge`` under the premises' MP170 option."""
    return await user.update_ppmid_firmware(bench.bridge_package(bridge, NEW), [bridge])


@pytest.mark.asyncio
async def test_the_gsme_overwrites_an_image_waiting_for_the_alt_han_device(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, gsme: BenchDevice, b1: BenchDevice) -> None:
    """Seed 002: "the GSME has priority so would overwrite an image waiting for the Alt HAN Device".
    The GSME's image comes from the supplier's RSA (MP207): the CCS08 goes to whoever sent the lost image."""
    bridge, meter = await asyncio.gather(send_bridge(bench, supplier, b1), send(bench, rsa, gsme))
    assert bridge.targets[0].outcome is Outcome.DISTRIBUTED and meter.targets[0].outcome is Outcome.DISTRIBUTED
    await assert_discarded(bench, supplier, b1)
    assert not [a for a in rsa.alerts() if a.device == b1.id], "the RSA sent no image to the bridge"
    await supplier.wait_alert(0x8F72, device=gsme, timeout=receipt_wait_s(bench))
    assert gsme.state.held_version == NEW and b1.state.running_version != NEW


@pytest.mark.asyncio
async def test_an_image_for_the_alt_han_device_sent_while_the_gsmes_waits_is_itself_discarded(
        bench: Bench, supplier: BenchUser, gsme: BenchDevice, b1: BenchDevice) -> None:
    """The GSME's priority, the other way round: the bridge's image cannot displace it."""
    meter, bridge = await asyncio.gather(send(bench, supplier, gsme), send_bridge(bench, supplier, b1))
    assert meter.targets[0].outcome is Outcome.DISTRIBUTED
    assert bridge.targets[0].outcome is Outcome.NOT_STORED, bridge
    await assert_discarded(bench, supplier, b1)
    await supplier.wait_alert(0x8F72, device=gsme, timeout=receipt_wait_s(bench))


@pytest.mark.asyncio
@pytest.mark.parametrize("other", ["ppmid", "hcalcs"])
async def test_the_alt_han_device_mirrors_the_ppmids_priorities(
        bench: Bench, supplier: BenchUser, ppmid: BenchDevice, hcalcs: BenchDevice, b1: BenchDevice,
        other: str) -> None:
    """Seed 002: "the Alt HAN Device, acting as a PPMID, will mirror all priorities the PPMID has":
    it overwrites, and is overwritten by, the PPMID's and the HCALCS's images as the PPMID is."""
    device = bench.device(other)
    await asyncio.gather(send_bridge(bench, supplier, b1), send(bench, supplier, device))
    await assert_discarded(bench, supplier, b1)
    await asyncio.gather(send(bench, supplier, device), send_bridge(bench, supplier, b1))
    await assert_discarded(bench, supplier, device)
    cs09 = await supplier.wait_alert(0x8F8B, device=b1, timeout=receipt_wait_s(bench))
    assert cs09.detail == "SUCCESS"
