"""The fault soak itself runs and can fail: a few seeds of it end in an outcome, and a run that
outlasts its bound, or whose fault the emulator fails to inject, is counted against the soak, so
a change that breaks the soak or its verdicts breaks the suite, not only the CI run after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_files import ROOT, script_module
from hanbench.bench.kinds.emu import EmuPremises

soak = script_module(ROOT / "benchmarks" / "fault_soak.py")

#: A GSME seed and an ESME seed whose power cycles strike while the update is under way.
SEEDS = (0, 4)


def test_seeded_runs_on_an_esme_and_a_gsme_under_faults_each_end_in_an_outcome(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = [soak.run_one(soak.Plan.draw(seed), tmp_path) for seed in SEEDS]
    assert {r.plan.device for r in results} == {"esme", "gsme"}
    for result in results:
        assert (result.verdict, result.detail) == (soak.Verdict.COMPLETED, "activated"), result
        assert any(f.kind == "power" for f in result.struck), result
        assert 0 < result.bench_s < soak.BOUND_S
    assert soak.main(["--runs", "2", "--first", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 runs in" in out and "hung 0, crashed 0" in out, out


def test_the_same_seed_draws_the_same_faults() -> None:
    assert soak.Plan.draw(123) == soak.Plan.draw(123) != soak.Plan.draw(124)
    for seed in range(200):
        plan = soak.Plan.draw(seed)
        assert 0 <= plan.loss <= soak.MAX_LOSS
        assert [f.at_s for f in plan.faults] == sorted(f.at_s for f in plan.faults)


def test_a_run_that_outlasts_its_bound_is_hung_and_fails_the_soak(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(soak, "BOUND_S", 600.0)  # a GSME fetches its image at its half-hourly wakes
    assert soak.main(["--seed", "0"]) == 1
    out = capsys.readouterr().out
    assert "hung 1" in out and "no outcome within 600 s of bench time" in out, out
    assert "reproduce: .venv/bin/python benchmarks/fault_soak.py --seed 0 -v" in out


def test_a_fault_the_emulator_fails_to_inject_crashes_the_run(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    async def broken(self: EmuPremises, device: object, *, off_s: float = 0.0) -> None:
        raise RuntimeError("power switch stuck")

    monkeypatch.setattr(EmuPremises, "power_cycle", broken)
    result = soak.run_one(soak.Plan.draw(4), tmp_path)
    assert result.verdict is soak.Verdict.CRASHED
    assert result.detail == "RuntimeError: power switch stuck"


def test_a_run_whose_activation_the_ch_could_not_deliver_is_not_delivered_not_hung(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def cut_after_receipt(bench: object, device: object, faults: object, struck: object) -> None:
        """The ESME's link goes for good once its receipt alert is in: the CS06 never reaches it."""
        inbox = bench.dcc.inbox(bench.supplier.id)  # type: ignore[attr-defined]
        await inbox.wait_for(lambda message: message.alert.code == soak.RECEIPT, float("inf"))
        bench.emulator.set_link_loss(device.config, 1.0)  # type: ignore[attr-defined]

    monkeypatch.setattr(soak, "_inject", cut_after_receipt)
    plan = soak.Plan(seed=4, device="esme", loss=0.0, faults=())
    result = soak.run_one(plan, tmp_path)
    assert result.verdict is soak.Verdict.NOT_DELIVERED, result
    assert "not acknowledged, sent again 5 times" in result.detail, result
    assert result.bench_s < soak.BOUND_S
    monkeypatch.setattr(soak.Plan, "draw", classmethod(lambda cls, seed: plan))
    assert soak.main(["--seed", "4"]) == 0, "a not-delivered run is an outcome, not a hang"
    out = capsys.readouterr().out
    assert "not-delivered 1, hung 0, crashed 0" in out, out
    assert "not-delivered seed 4" in out, out
