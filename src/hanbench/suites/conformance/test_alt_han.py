"""Alt HAN bridges (MP170, seed 002) under the working group's two options.

Each test runs the bench's bridges under the option it names (``alt_han_option``), so one
Alt HAN premises (``bench/althan.toml``) shows both: what the Supplier sees on the SMI, what
it sends, how the firmware reaches every bridge (real ZCL OTA frames, bridge to bridge), and
what the DCC, the alerts and the portfolio report say when one bridge fails. The failure is
the one the working group feared under option B: the Supplier packaged the wrong firmware
for Bridge 3 (Bridge 2's in its place).
"""

from __future__ import annotations

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule
from hanbench.dcc.report import portfolio
from hanbench.gbcs.althan_bundle import package_image
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.image import parse_image

pytestmark = [pytest.mark.clause("MP170: Alt HAN firmware"), pytest.mark.emu]  # the bridges' wait is hours of bench time

CS09 = 0x8F8B


def bridge_wait_s(bench: Bench) -> float:
    """Long enough for every bridge behind an orchestrator to have answered or been given up."""
    return bench.config.alt_han.orchestration_wait_s + receipt_wait_s(bench)


def wrong_b3(bench: Bench) -> dict[PpmidVariant, bytes]:
    """A package whose Bridge 3 part is Bridge 2's firmware: the Supplier packaged it wrongly."""
    return {PpmidVariant.B3: bench.image("b2", NEW)}


def bridges_on_smi(bench: Bench, supplier: BenchUser) -> dict[str, str]:
    """The bridges the supplier's portfolio shows, entity ID -> PPMID variant."""
    report = portfolio(bench.dcc.inventory, supplier.id)
    return {line.device.entity_id.duis: line.device.ppmid_variant.value for line in report.lines
            if line.device.type is DeviceType.ALT_HAN and line.device.ppmid_variant is not None}


def alerts_naming(supplier: BenchUser, device: BenchDevice) -> list[str]:
    return [alert.code for alert in supplier.alerts() if alert.device == device.id]


@pytest.mark.alt_han_option("A")
@pytest.mark.asyncio
async def test_option_a_suppliers_see_bridges_1_to_3_and_bridge_3_updates_bridge_4(
        bench: Bench, supplier: BenchUser, b1: BenchDevice, b2: BenchDevice, b3: BenchDevice,
        b4: BenchDevice) -> None:
    assert bridges_on_smi(bench, supplier) == {b1.id.duis: "B1", b2.id.duis: "B2", b3.id.duis: "B3"}
    refused = await supplier.update_ppmid_firmware(bench.image(b4, NEW), [b4])
    assert refused.refused == {b4.id: RefusalRule.UNKNOWN_DEVICE}, "Bridge 4 is not on the SMI under option A"
    result = await supplier.update_ppmid_firmware(bench.bridge_package(b3, NEW), [b3])
    assert result.target(b3.id).outcome is Outcome.DISTRIBUTED
    cs09 = await supplier.wait_alert(CS09, device=b3, timeout=bridge_wait_s(bench))
    assert (cs09.detail, cs09.firmware_version) == ("SUCCESS", NEW)
    assert (b3.state.running_version, b4.state.running_version) == (NEW, NEW), "B4's firmware came through B3"
    assert b4.id not in bench.comms_hub.devices, "the CH never hears of Bridge 4"  # type: ignore[attr-defined]
    assert alerts_naming(supplier, b4) == []


@pytest.mark.alt_han_option("A")
@pytest.mark.asyncio
async def test_option_a_a_bridge_3_failure_names_bridge_3(
        bench: Bench, supplier: BenchUser, b3: BenchDevice, b4: BenchDevice) -> None:
    await supplier.update_ppmid_firmware(bench.bridge_package(b3, NEW, wrong_b3(bench)), [b3])
    cs09 = await supplier.wait_alert(CS09, device=b3, timeout=bridge_wait_s(bench))
    assert cs09.detail == "FAILURE" and cs09.device == b3.id
    assert (b3.state.running_version, b4.state.running_version) == (OLD, NEW)
    (line,) = [line for line in portfolio(bench.dcc.inventory, supplier.id).needing_action]
    assert line.device.entity_id == b3.id and line.device.ppmid_variant is PpmidVariant.B3


@pytest.mark.alt_han_option("B")
@pytest.mark.asyncio
async def test_option_b_a_bridge_3_failure_is_bridge_1s_failure_and_nothing_names_bridge_3(
        bench: Bench, supplier: BenchUser, b1: BenchDevice, b2: BenchDevice, b3: BenchDevice,
        b4: BenchDevice) -> None:
    """Seed 002: "the Supplier would only receive a failure response but would not be able to
    identify which Device failed"."""
    assert bridges_on_smi(bench, supplier) == {b1.id.duis: "B1"}, "under option B Suppliers see Bridge 1 only"
    for hidden in (b2, b3, b4):
        refused = await supplier.update_ppmid_firmware(bench.image(hidden, NEW), [hidden])
        assert refused.refused == {hidden.id: RefusalRule.UNKNOWN_DEVICE}
    result = await supplier.update_ppmid_firmware(bench.bridge_package(b1, NEW, wrong_b3(bench)), [b1])
    assert result.target(b1.id).outcome is Outcome.DISTRIBUTED
    cs09 = await supplier.wait_alert(CS09, device=b1, timeout=bridge_wait_s(bench))
    assert cs09.detail == "FAILURE" and cs09.device == b1.id
    assert [b.state.running_version for b in (b1, b2, b3, b4)] == [NEW, NEW, OLD, NEW], \
        "one bridge failed, the others updated"
    assert all(alerts_naming(supplier, b) == [] for b in (b2, b3, b4)), "no alert names Bridge 3 (or 2, or 4)"
    assert bench.dcc.inventory.find_device(b3.id) is None, "the DCC does not know Bridge 3"
    (line,) = portfolio(bench.dcc.inventory, supplier.id).needing_action
    assert line.device.entity_id == b1.id, "the report can only point at Bridge 1"


@pytest.mark.alt_han_option("B")
@pytest.mark.asyncio
async def test_option_b_bridge_1_updates_every_bridge_on_site_from_one_package(
        bench: Bench, supplier: BenchUser, b1: BenchDevice, b2: BenchDevice, b3: BenchDevice,
        b4: BenchDevice) -> None:
    await supplier.update_ppmid_firmware(bench.bridge_package(b1, NEW), [b1])
    cs09 = await supplier.wait_alert(CS09, device=b1, timeout=bridge_wait_s(bench))
    assert (cs09.detail, cs09.firmware_version) == ("SUCCESS", NEW)
    assert [b.state.running_version for b in (b1, b2, b3, b4)] == [NEW] * 4
    assert [a.code for a in supplier.alerts()] == ["0x8F8A", "0x8F8B"], \
        "one transfer to Bridge 1 (CCS08), one CS09: the Supplier hears of Bridge 1 only"


@pytest.mark.alt_han_option("A")
@pytest.mark.asyncio
async def test_a_package_not_signed_by_the_supplier_is_refused_whole(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, b3: BenchDevice, b4: BenchDevice) -> None:
    parts = {PpmidVariant.B3: parse_image(bench.image(b3, NEW), signed=False),
             PpmidVariant.B4: parse_image(bench.image(b4, NEW), signed=False)}
    forged = package_image(parts, PpmidVariant.B3, bench.dcc.keystore.private_key(supplier_b.id))
    await supplier.update_ppmid_firmware(forged.to_bytes(), [b3])
    cs09 = await supplier.wait_alert(CS09, device=b3, timeout=receipt_wait_s(bench))
    assert cs09.detail == "FAILURE"
    await bench.emulator.wake(b4.config)
    assert b4.state.held_version is None and b4.state.running_version == OLD, "nothing of a forged package is handed on"
    assert b3.state.running_version == OLD


@pytest.mark.alt_han_option("A")
@pytest.mark.asyncio
async def test_a_bridges_ppmid_variant_is_corrected_after_commissioning(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, b2: BenchDevice) -> None:
    """MP170: the PPMIDVariant must be changeable once the device is commissioned (as MP125 did for
    the ESME variant): SR 8.4 by the device's supplier; the portfolio shows what the DCC now holds."""
    refused = await rsa.update_inventory(b2, "PPMID")
    assert refused.refusal is RefusalRule.ROLE_NOT_ALLOWED
    wrong = await supplier.update_inventory(b2, "PPMID")
    assert wrong.outcome is Outcome.INVENTORY_UPDATED
    assert b2.id.duis not in bridges_on_smi(bench, supplier), "recorded as a PPMID proper now"
    right = await supplier.update_inventory(b2, PpmidVariant.B2)
    assert right.outcome is Outcome.INVENTORY_UPDATED and bridges_on_smi(bench, supplier)[b2.id.duis] == "B2"
    await supplier.update_ppmid_firmware(bench.image(b2, NEW), [b2])
    cs09 = await supplier.wait_alert(CS09, device=b2, timeout=receipt_wait_s(bench))
    assert (cs09.detail, b2.state.running_version) == ("SUCCESS", NEW)
