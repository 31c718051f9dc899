"""The fuzz harness itself runs: every target builds its seeds from today's records and feeds a
few inputs, so a change to a record or parser the harness seeds from breaks a test here, not
only the CI smoke run after the suite."""

from __future__ import annotations

import asyncio

import pytest

from fixture_files import ROOT, script_module

fuzz = script_module(ROOT / "benchmarks" / "fuzz.py")


def test_every_target_runs_and_finds_nothing_untyped(capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncio.run(fuzz.main(["--count", "25", "--seed", "3"])) == 0
    table = capsys.readouterr().out
    for name in ("frame", "keystore", "bench_toml", "board_host", "board_side", "ash", "ezsp"):
        assert f"\n{name} " in table, f"target {name} missing from the fuzz report:\n{table}"


def test_an_unknown_target_is_refused_by_name() -> None:
    with pytest.raises(SystemExit) as exc:
        asyncio.run(fuzz.main(["--target", "nonesuch", "--count", "1"]))
    assert exc.value.code == 2
