"""plan_estate and ``hanbench estate``: the premises an estate file draws, the same on every run."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from bench_helpers import edit
from click.testing import CliRunner
from test_estate_file import ESTATE

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.estate_plan import NotAnEstate, plan_estate
from hanbench.cli import main
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId

LARGE = edit(ESTATE, "premises = 10", "premises = 2000")


def test_the_same_file_draws_the_same_estate(write_bench: Callable[[str], Path],
                                              load_text: Callable[[str], BenchConfig]) -> None:
    first = plan_estate(load_text(ESTATE))
    again = plan_estate(load_text(ESTATE))
    assert first.to_json() == again.to_json()
    other_seed = plan_estate(load_text(ESTATE.replace('name = "t"', 'name = "t"\nseed = 9')))
    assert other_seed.to_json() != first.to_json()


def test_each_premises_has_its_ch_and_its_templates_devices(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ESTATE)
    plan = plan_estate(config)
    assert [p.name for p in plan] == [f"p{i:04d}" for i in range(10)]
    assert Counter(p.template for p in plan) == {"dual": 6, "gas": 4}
    base = int.from_bytes(EntityId.parse("00-DB-30-00-00-00-00-00").raw, "big")
    for premises in plan:
        assert premises.hub.id == EntityId((base + 16 * premises.index).to_bytes(8, "big"))
        kinds = [d.type for d in premises.devices]
        assert kinds == ([DeviceType.ESME, DeviceType.GSME] if premises.template == "dual" else [DeviceType.GSME])
        assert [d.id for d in premises.devices] == [EntityId((base + 16 * premises.index + slot).to_bytes(8, "big"))
                                                    for slot in range(1, len(kinds) + 1)]
        assert all(d.name == f"{premises.name}-{d.type.value}" for d in premises.devices)
    ids = [premises.hub.id for premises in plan] + [d.id for d in plan.devices()]
    assert len(ids) == len(set(ids))


def test_versions_losses_and_wake_phases_follow_the_file(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(LARGE)
    plan = plan_estate(config)
    esme_versions = Counter(d.firmware_version for d in plan.devices() if d.type is DeviceType.ESME)
    esmes = sum(esme_versions.values())
    for version, share in ((3, 0.5), (2, 0.3), (1, 0.2)):
        assert abs(esme_versions[version] / esmes - share) < 0.05, esme_versions
    assert {d.firmware_version for d in plan.devices() if d.type is DeviceType.GSME} == {1}, "no mix: the first version"
    dual_losses = [p.link_loss for p in plan if p.template == "dual"]
    assert all(0.0 <= loss <= 0.1 for loss in dual_losses) and max(dual_losses) > 0.09 and min(dual_losses) < 0.01
    assert {p.link_loss for p in plan if p.template == "gas"} == {0.0}
    phases = [d.wake_phase_s for d in plan.devices() if d.type is DeviceType.GSME]
    assert all(phase is not None and 0 <= phase < config.timing.gsme_wake_interval_s for phase in phases)
    by_minute = Counter(int(phase // 60) for phase in phases if phase is not None)
    assert len(by_minute) == 30 and max(by_minute.values()) < 3 * len(phases) / 30, "spread over the interval"
    assert all(d.wake_phase_s is None for d in plan.devices() if d.type is DeviceType.ESME)


def test_a_premises_is_a_bench_of_its_own_for_the_kind_that_builds_it(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ESTATE)
    premises = plan_estate(config).premises[3]
    view = premises.bench_config(config)
    assert view.estate is None and view.hub == premises.hub and view.devices == premises.devices
    assert view.air is not None and view.air.loss == premises.link_loss
    assert view.users == config.users and view.timing == config.timing
    assert view.seed != plan_estate(config).premises[4].bench_config(config).seed


def test_a_bench_of_one_premises_is_no_estate(load_text: Callable[[str], BenchConfig]) -> None:
    from bench_helpers import BASE

    with pytest.raises(NotAnEstate, match="describes one premises, not an estate"):
        plan_estate(load_text(BASE))


def test_hanbench_estate_prints_the_draw(write_bench: Callable[[str], Path]) -> None:
    path = write_bench(ESTATE)
    table = CliRunner().invoke(main, ["estate", "--bench", str(path), "--list"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[:3] == ["10 premises", "  dual: 6", "  gas: 4"]
    assert any(line.startswith("esme: 6 (") for line in lines)
    assert sum(line.startswith("p00") for line in lines) == 10
    as_json = CliRunner().invoke(main, ["estate", "--bench", str(path), "--format", "json"])
    plan = json.loads(as_json.output)
    assert plan["summary"]["templates"] == {"dual": 6, "gas": 4} and len(plan["premises"]) == 10
    assert plan["premises"][0]["ch"] == "00-DB-30-00-00-00-00-00"
    again = CliRunner().invoke(main, ["estate", "--bench", str(path), "--format", "json"])
    assert again.output == as_json.output


def test_hanbench_estate_refuses_a_bench_of_one_premises(write_bench: Callable[[str], Path]) -> None:
    from bench_helpers import BASE

    result = CliRunner().invoke(main, ["estate", "--bench", str(write_bench(BASE))])
    assert result.exit_code == 2 and "describes one premises, not an estate" in result.output


def test_the_inventory_holds_every_premises_ch_and_devices(load_text: Callable[[str], BenchConfig]) -> None:
    from hanbench.bench.seeding import reconcile_inventory
    from hanbench.dcc.inventory import Inventory
    from hanbench.gbcs.roles import Role

    config = load_text(edit(ESTATE, 'devices = ["gsme"]', 'devices = ["gsme"]\nlink_loss = 0.02'))
    plan = plan_estate(config)
    with Inventory() as inventory:
        reconcile_inventory(inventory, config, plan.premises)
        reconcile_inventory(inventory, config, plan.premises)  # a second session finds it all there
        for premises in plan:
            ch = inventory.device(premises.hub.id)
            assert ch.type is DeviceType.CH and ch.firmware_version == premises.hub.firmware_version
            gas_only = premises.template == "gas"
            assert ch.responsible_role is (Role.GAS_SUPPLIER if gas_only else Role.IMPORT_SUPPLIER)
            assert ch.responsible_supplier == config.users[0].id
            for device in premises.devices:
                known = inventory.device(device.id)
                assert (known.ch, known.firmware_version) == (premises.hub.id, device.firmware_version)
        assert len(inventory.devices()) == len(plan) + sum(1 for _ in plan.devices())


def test_an_estate_is_refused_where_one_premises_is_needed(write_bench: Callable[[str], Path]) -> None:
    import shutil

    from hanbench import open_bench, run_virtual

    path = write_bench(ESTATE)
    shutil.copytree(Path(__file__).resolve().parents[3] / "fixtures" / "keys", path.parent.parent / "keys",
                    dirs_exist_ok=True)
    result = CliRunner().invoke(main, ["run", "--bench", str(path)])
    assert result.exit_code == 2 and "the conformance suite runs on a bench of one premises" in result.output
    with pytest.raises(NotAnEstate, match="an estate opens with hanbench.open_estate"):
        run_virtual(open_bench(path).__aenter__())
    check = CliRunner().invoke(main, ["bench", "check", str(path)])
    assert check.exit_code == 0 and "an estate of 10 premises" in check.output
