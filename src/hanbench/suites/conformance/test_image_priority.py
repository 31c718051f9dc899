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
