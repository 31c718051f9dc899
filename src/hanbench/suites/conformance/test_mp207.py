"""MP207: an appointed RSA may distribute firmware to ESME/GSME, never activate it.

The business requirements (seed 001) each have a test here, over real frames on the active
bench: 1, an RSA appointed by the device's supplier distributes to ESME and GSME only;
2, the DCC validates the appointment (an RSA not appointed, or whose supplier lost the
device, is refused); 3, activation stays with the supplier and nothing an RSA, an Other
User or another supplier may not send reaches the device; 5, the RSA receives the alerts its
update triggers while the supplier keeps receiving every one (seed 000). Under the
``baseline`` policy (DUIS before MP207) no RSA distributes at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, emu_bench_file, quiet_s, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Event, NotOnBench, Outcome, RefusalRule, open_bench
from hanbench.bench.events import ActivationEvent, CommandEvent, RequestRefused, TransferStarted
from hanbench.gbcs.roles import Role

def require_mp207(bench: Bench) -> None:
    if bench.config.policy.name != "mp207":
        pytest.skip(f"needs a bench under policy mp207; active bench is {bench.config.policy.name}")


@contextmanager
def watching(bench: Bench) -> Iterator[list[Event]]:
    """Every event published while the block runs (the stream's history is bounded)."""
    seen: list[Event] = []
    unsubscribe = bench.events.subscribe(seen.append)
    try:
        yield seen
    finally:
        unsubscribe()


def reached(events: list[Event], device: BenchDevice) -> list[Event]:
    """Events that show something arriving at ``device``: a transfer, a command or an activation."""
    return [e for e in events if isinstance(e, (TransferStarted, CommandEvent, ActivationEvent))
            and e.device == device.id]


def codes_about(user: BenchUser, device: BenchDevice) -> list[str]:
    """The codes of the alerts about ``device`` in ``user``'s inbox this session."""
    return [a.code for a in user.alerts() if a.device == device.id]


def last_alert_id(bench: Bench, device: BenchDevice) -> int:
    """The newest alert the DCC recorded about ``device`` (its database outlives sessions)."""
    return max((a.id for a in bench.dcc.inventory.alerts(device.id)), default=0)


def user_or_skip(find: Callable[[], BenchUser]) -> BenchUser:
    try:
        return find()
    except NotOnBench as exc:
        pytest.skip(str(exc))


@pytest.mark.asyncio
@pytest.mark.parametrize("device_type", ["esme", "gsme"])
async def test_rsa_distributes_supplier_activates_and_both_get_the_update_alerts(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, device_type: str) -> None:
    require_mp207(bench)
    device = bench.device(device_type)
    before = last_alert_id(bench, device)
    result = await rsa.update_firmware(bench.image(device, NEW), [device])
    assert result.target(device.id).outcome is Outcome.DISTRIBUTED
    pending = bench.dcc.inventory.device(device.id).pending
    assert pending is not None and pending.distributed_by == rsa.id

    to_supplier = await supplier.wait_alert(0x8F72, device=device, timeout=receipt_wait_s(bench))
    to_rsa = await rsa.wait_alert(0x8F72, device=device, timeout=0)
    assert to_rsa.calculated_hash == to_supplier.calculated_hash == device.state.held_hash
    for user in (supplier, rsa):  # the CH's CCS08 and the DCC's N60 it drives
        await user.wait_alert(0x8F8A, device=device, timeout=receipt_wait_s(bench))
        await user.wait_alert("N60", device=device, timeout=receipt_wait_s(bench))

    activated = await supplier.activate_firmware(device, to_supplier.calculated_hash)
    assert activated.outcome is Outcome.ACTIVATED
    assert device.state.running_version == NEW
    recorded = [a.code for a in bench.dcc.inventory.alerts(device.id) if a.id > before]
    assert sorted(codes_about(supplier, device)) == sorted(recorded), "the supplier gets every alert of the update"
    assert set(codes_about(rsa, device)) == {"0x8F72", "0x8F8A", "N60"}


@pytest.mark.asyncio
async def test_an_rsa_activation_is_refused_and_nothing_reaches_the_device(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, esme: BenchDevice) -> None:
    require_mp207(bench)
    await rsa.update_firmware(bench.image(esme, NEW), [esme])
    alert = await rsa.wait_alert(0x8F72, device=esme, timeout=receipt_wait_s(bench))
    with watching(bench) as seen:
        now = await rsa.activate_firmware(esme, alert.calculated_hash)
        dated = await rsa.activate_firmware(esme, alert.calculated_hash, at=bench.now() + dt.timedelta(hours=2))
        await bench.advance(quiet_s(bench))
    for refused in (now, dated):
        assert refused.refusal is RefusalRule.ROLE_NOT_ALLOWED
        assert refused.outcome is Outcome.REFUSED and "11.3" in refused.message
    assert [e.rule for e in seen if isinstance(e, RequestRefused)] == ["role_not_allowed"] * 2
    assert reached(seen, esme) == []
    assert (esme.state.running_version, esme.state.held_version, esme.state.pending_activation_at) == (OLD, NEW, None)
    assert (await supplier.activate_firmware(esme, alert.calculated_hash)).outcome is Outcome.ACTIVATED


@pytest.mark.asyncio
async def test_an_rsa_not_appointed_by_the_supplier_is_refused(
        bench: Bench, supplier: BenchUser, rsa: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    require_mp207(bench)
    stranger = user_or_skip(lambda: bench.user_with(Role.RSA, besides=[rsa]))
    with watching(bench) as seen:
        for device in (esme, gsme):
            result = await stranger.update_firmware(bench.image(device, NEW), [device])
            assert result.refused == {device.id: RefusalRule.RSA_NOT_APPOINTED}
            assert supplier.id.duis in result.target(device.id).message
        await bench.advance(quiet_s(bench))
    assert reached(seen, esme) == reached(seen, gsme) == []
    assert esme.state.held_version is None and gsme.state.held_version is None
    assert stranger.alerts() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("device_type", "rule"), [
    ("hcalcs", RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE),   # 11.1 covers it, but not for an RSA
    ("ppmid", RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE),    # its firmware goes by 11.4, which activates by itself
    ("ihd", RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE),      # no firmware SR reaches an IHD
])
async def test_an_rsa_may_distribute_to_esme_and_gsme_only(
        bench: Bench, rsa: BenchUser, device_type: str, rule: RefusalRule) -> None:
    require_mp207(bench)
    if not bench.has_device(device_type):
        pytest.skip(f"needs a {device_type} on the bench")
    device = bench.device(device_type)
    with watching(bench) as seen:
        result = await rsa.update_firmware(bench.image(device, NEW), [device])
        await bench.advance(quiet_s(bench))
    assert result.refused == {device.id: rule}
    assert reached(seen, device) == []
    assert device.state.held_version is None and device.state.running_version == OLD


@pytest.mark.asyncio
async def test_an_rsa_may_not_send_the_ppmid_update_either(bench: Bench, rsa: BenchUser, ppmid: BenchDevice) -> None:
    require_mp207(bench)
    result = await rsa.update_ppmid_firmware(bench.image(ppmid, NEW), [ppmid])
    assert result.refused == {ppmid.id: RefusalRule.ROLE_NOT_ALLOWED}
    await bench.advance(quiet_s(bench))
    assert ppmid.state.running_version == OLD


@pytest.mark.asyncio
async def test_an_other_user_cannot_distribute_or_activate(
        bench: Bench, other_user: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    with watching(bench) as seen:
        result = await other_user.update_firmware(bench.image(esme, NEW), [esme])
        activation = await other_user.activate_firmware(esme, bytes(32))
        await bench.advance(quiet_s(bench))
    assert result.refused == {esme.id: RefusalRule.ROLE_NOT_ALLOWED}
    assert activation.refusal is RefusalRule.ROLE_NOT_ALLOWED
    assert reached(seen, esme) == [] and esme.state.held_version is None


@pytest.mark.asyncio
async def test_supplier_b_cannot_touch_the_suppliers_devices(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice, gsme: BenchDevice) -> None:
    with watching(bench) as seen:
        for device in (esme, gsme):
            # The supplier's own image: the DCC refuses the sender before it looks at the signature.
            result = await supplier_b.update_firmware(bench.image(device, NEW), [device])
            assert result.refused == {device.id: RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE}
            activation = await supplier_b.activate_firmware(device, bytes(32))
            assert activation.refusal is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
            read = await supplier_b.read_firmware_version(device)
            assert read.refusal is RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE
        await bench.advance(quiet_s(bench))
    assert reached(seen, esme) == reached(seen, gsme) == []
    await supplier.update_firmware(bench.image(esme, NEW), [esme])
    await supplier.wait_alert(0x8F72, device=esme, timeout=receipt_wait_s(bench))
    assert supplier_b.alerts() == [], "another supplier's devices' alerts never reach supplier B"


@pytest.mark.asyncio
async def test_after_a_change_of_supplier_the_old_suppliers_rsa_is_refused(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, rsa: BenchUser, esme: BenchDevice) -> None:
    require_mp207(bench)
    await bench.change_supplier(esme, supplier_b)
    with watching(bench) as seen:
        by_rsa = await rsa.update_firmware(bench.image(esme, NEW), [esme])
        by_old_supplier = await supplier.update_firmware(bench.image(esme, NEW), [esme])
        await bench.advance(quiet_s(bench))
    assert by_rsa.refused == {esme.id: RefusalRule.RSA_NOT_APPOINTED}
    assert supplier_b.id.duis in by_rsa.target(esme.id).message
    assert by_old_supplier.refused == {esme.id: RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE}
    assert reached(seen, esme) == [] and esme.state.held_version is None


@pytest.mark.emu
@pytest.mark.asyncio
@pytest.mark.looptime  # the test opens its own bench: virtual time from looptime, not the bench fixture
async def test_under_the_baseline_policy_no_rsa_distributes(tmp_path: Path) -> None:
    bench_file = emu_bench_file(tmp_path, name="baseline", policy="baseline")
    async with open_bench(bench_file) as bench:
        assert bench.config.policy.name == "baseline"
        supplier = bench.supplier
        rsa = bench.rsa_of(supplier)
        esme, gsme = bench.device("esme"), bench.device("gsme")
        with watching(bench) as seen:
            result = await rsa.update_firmware(bench.image(esme, NEW), [esme, gsme])
            await bench.advance(quiet_s(bench))
        assert result.refused == {esme.id: RefusalRule.ROLE_NOT_ALLOWED, gsme.id: RefusalRule.ROLE_NOT_ALLOWED}
        assert "under policy baseline" in result.target(esme.id).message
        assert reached(seen, esme) == reached(seen, gsme) == []
        # The supplier still distributes, and its alerts go to the supplier alone.
        await supplier.update_firmware(bench.image(esme, NEW), [esme])
        await supplier.wait_alert(0x8F72, device=esme, timeout=receipt_wait_s(bench))
        assert rsa.alerts() == []


