"""open_estate: many premises on one loop under one DCC, and users acting on device sets with a throttle."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from pathlib import Path

import pytest

from fixture_files import SUPPLIER_A_ID, estate_copy, estate_template
from hanbench import AutomationAction, NotOnBench, Outcome, open_estate, run_virtual
from hanbench.bench.bench_file import load_bench
from hanbench.bench.estate import YOUNG_ALLOCATIONS_PER_PREMISES
from hanbench.bench.events import RequestSubmitted, TransferFinished
from hanbench.bench.record import SessionOutcome, SessionRecord
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

SUPPLIER_A = EntityId.parse("90-B3-D5-1F-30-01-00-00")
SUPPLIER_B = EntityId.parse("90-B3-D5-1F-30-02-00-00")


def test_each_premises_has_its_own_ch_air_and_devices_under_one_dcc(tmp_path: Path) -> None:
    path = estate_copy(tmp_path)

    async def session() -> set[asyncio.Task]:
        async with open_estate(path) as estate:
            assert [p.template for p in estate.premises].count("dual_fuel") == 2
            assert len(estate.premises) == 3 and len({id(p.hub) for p in estate.premises}) == 3
            assert len({id(p.hub.app) for p in estate.premises}) == 3, "a zigpy network per premises"
            for premises in estate.premises:
                for device in premises.devices:
                    assert estate.dcc.inventory.device(device.id).ch == premises.plan.hub.id
                    assert estate.premises_of(device) is premises
                    assert estate.device(device.name) is device and estate.device(device.id.duis) is device
                    assert device.name.startswith(premises.name) and device.state.running_version == 1
                assert premises.hub.devices == {d.id: d.type for d in premises.devices}, "the CH's device log"
            assert [d.type for d in estate.devices("gsme")] == [DeviceType.GSME] * 2
            assert len(estate.devices(template="electricity_only")) == 1
            b = estate.user(SUPPLIER_B)
            assert {d.template for d in estate.devices(supplier=b)} == {"electricity_only"}
            moved = estate.devices("esme", template="dual_fuel")[0]
            await estate.change_supplier(moved, b)
            assert moved in estate.devices(supplier=b)
            with pytest.raises(NotOnBench, match="has no device 'p9999-esme'"):
                estate.device("p9999-esme")
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    assert run_virtual(session()) == set()
    with SessionRecord(load_bench(path).database_path) as record:
        [info] = record.list_sessions()
        assert info.outcome is SessionOutcome.PASSED and info.knobs["estate"]["templates"] == {
            "dual_fuel": 2, "electricity_only": 1}


def test_one_request_reaches_devices_on_several_premises_and_their_alerts_come_back(tmp_path: Path) -> None:
    path = estate_copy(tmp_path)

    async def session() -> None:
        async with open_estate(path) as estate:
            supplier = estate.user(SUPPLIER_A)
            esmes = estate.devices("esme", supplier=supplier)
            assert len(esmes) == 2 and len({d.premises for d in esmes}) == 2
            mark = estate.events.last_seq
            result = await supplier.update_firmware(estate.image(esmes[0], NEXT_FILE_VERSION), esmes)
            assert [t.outcome for t in result.targets] == [Outcome.DISTRIBUTED] * 2
            for esme in esmes:
                alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
                assert (await supplier.activate_firmware(esme, alert.calculated_hash)).outcome is Outcome.ACTIVATED
                assert esme.state.running_version == NEXT_FILE_VERSION
            finished = [e for e in estate.events.history if e.seq > mark and isinstance(e, TransferFinished)]
            assert {e.device for e in finished} == set(esmes.ids)
            assert all(e.result is TransferResult.SUCCESS for e in finished)
            # the other supplier's ESME, on its own premises, saw nothing
            [other] = estate.devices("esme", template="electricity_only")
            assert other.state.running_version == 1 and estate.user(SUPPLIER_B).alerts() == []

    run_virtual(session())


def test_a_paced_user_keeps_to_its_cap_and_rate(tmp_path: Path) -> None:
    templates = estate_template("electricity_only", 8, ["esme"], import_supplier=SUPPLIER_A_ID)
    path = estate_copy(tmp_path, templates)

    async def session() -> None:
        async with open_estate(path) as estate:
            supplier = estate.user(SUPPLIER_A)
            esmes = estate.devices("esme")
            paced = supplier.paced(concurrency=2, rate_per_s=0.5, batch=3)
            mark = estate.events.last_seq
            distributed = await paced.update_firmware(estate.image(esmes[0], NEXT_FILE_VERSION), esmes)
            assert [len(r.targets) for r in distributed.requests] == [3, 3, 2], "SR 11.1 per batch of 3"
            assert distributed.outcomes() == {Outcome.DISTRIBUTED: 8}
            await estate.advance(3600)  # every receipt alert is in
            never_sent = await paced.activate_firmware([*esmes, *esmes[:0]])
            assert never_sent.outcomes() == {Outcome.ACTIVATED: 8} and never_sent.skipped == {}
            assert {d.state.running_version for d in esmes} == {NEXT_FILE_VERSION}
            again = await paced.activate_firmware(esmes[:2])
            assert again.requests == () and set(again.skipped) == set(esmes.ids[:2]), "nothing pending any more"
            starts = [e.at for e in estate.events.history if e.seq > mark and isinstance(e, RequestSubmitted)]
            assert len(starts) == 3 + 8
            gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
            assert min(gaps) >= 2.0 - 1e-6, "at most one start every 2 s"
            assert paced.pacer.peak <= 2 and paced.pacer.started == 11

    run_virtual(session())


def test_automation_over_a_set_takes_every_device_to_activation(tmp_path: Path) -> None:
    path = estate_copy(tmp_path)

    async def session() -> None:
        async with open_estate(path) as estate:
            supplier = estate.user(SUPPLIER_A)
            devices = estate.devices(supplier=supplier)
            lost = devices[0]
            estate.premises_of(lost).emulator.drop_alerts(lost.config, {0x8F72})
            paced = supplier.paced(concurrency=3)
            for kind in (DeviceType.ESME, DeviceType.GSME):
                of_kind = devices.where(lambda d, kind=kind: d.type is kind)
                await paced.update_firmware(estate.image(of_kind[0], NEXT_FILE_VERSION), of_kind)
            outcomes = {o.device: o for o in await paced.automate(devices)}
            assert Counter(o.action for o in outcomes.values()) == {AutomationAction.ACTIVATION_SENT: 4}
            assert outcomes[lost.id].branch.value == "no_receipt_alert"
            assert {d.state.running_version for d in devices} == {NEXT_FILE_VERSION}
            assert paced.pacer.peak <= 3

    run_virtual(session())


def test_an_open_estate_is_frozen_and_collects_young_objects_per_premises(tmp_path: Path) -> None:
    """While an estate is open, what it built is out of the collector's generations and the
    young threshold is YOUNG_ALLOCATIONS_PER_PREMISES a premises (never below the process's
    own); both are as they were once it closes, even after a failure."""
    path = estate_copy(tmp_path)
    before = gc.get_threshold()
    gc.set_threshold(100, before[1], before[2])

    async def session() -> tuple[tuple[int, int, int], int]:
        async with open_estate(path) as estate:
            assert len(estate.premises) == 3
            inside = gc.get_threshold(), gc.get_freeze_count()
            raise RuntimeError(inside)

    try:
        with pytest.raises(RuntimeError) as failed:
            run_virtual(session())
        threshold, frozen = failed.value.args[0]
        assert threshold == (3 * YOUNG_ALLOCATIONS_PER_PREMISES, before[1], before[2]) and frozen > 0
        assert gc.get_threshold() == (100, before[1], before[2]) and gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)
