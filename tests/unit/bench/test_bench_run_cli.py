"""``hanbench run``: pytest's exit code, a summary read from the session record, and a
one-line error for a bench file that does not load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_bench_open import ROOT, emu_copy

from hanbench.bench.bench_file import load_bench
from hanbench.bench.lock import BenchLock
from hanbench.bench.record import SessionOutcome, SessionRecord

FAILING_SUITE = """
import pytest

@pytest.mark.asyncio
async def test_passes(bench, esme):
    assert esme.state.running_version == 1

@pytest.mark.asyncio
async def test_fails(bench, esme):
    assert esme.state.running_version == 7
"""


def hanbench(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run([str(Path(sys.executable).with_name("hanbench")), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


def run_suite(tmp_path: Path, bench: Path, tests: str) -> subprocess.CompletedProcess[str]:
    """``hanbench run`` of a one-file suite ``tests`` on ``bench``."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_suite.py").write_text(tests)
    return hanbench("run", "--bench", str(bench), "--suite", str(suite))


def test_run_passes_and_summarises_the_session(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="clirun")
    done = hanbench("run", "--bench", str(bench), "-k", "awake_meter_class and esme or rsa_distributes_supplier_activates and esme",
                    "--junitxml", str(tmp_path / "junit.xml"))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "bench clirun (kind emu, policy mp207) -> passed" in out
    assert "tests: 2 passed, 0 failed, 0 error, 0 skipped" in out
    assert "esme     esme   00000001 -> 00000002 (2 activations)" in out
    assert "gsme     gsme   00000001 -> nothing activated" in out
    assert "APPOINTEDRSA (90-B3-D5-1F-30-0A-00-01): 0x8F72 x1" in out
    assert "gsme_wake_interval_s=1800" in out
    assert f"session database: {tmp_path / 'sessions' / 'clirun' / 'hanbench.db'}" in out
    assert "bench clock" in out and "wall" in out
    assert (tmp_path / "junit.xml").is_file()


def test_run_exits_1_when_a_test_fails(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="clifail")
    done = run_suite(tmp_path, bench, FAILING_SUITE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-> failed" in done.stdout
    assert "tests: 1 passed, 1 failed" in done.stdout


def test_a_bad_bench_file_is_exit_2_with_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[bench\n")
    done = hanbench("run", "--bench", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {bad}:1:")
    assert done.stdout == ""


# One test per row of README's exit-code table not covered above (0, 1 and 2 for a bad file are)

INTERRUPTED_SUITE = """
import pytest

@pytest.mark.asyncio
async def test_interrupted(bench, esme):
    raise KeyboardInterrupt
"""


def test_nothing_selected_is_exit_2_with_one_error_line(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="clinone")
    done = hanbench("run", "--bench", str(bench), "-k", "no_test_has_this_name")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("error:") == 1 and "matches the selection" in done.stderr


def test_a_busy_bench_is_exit_3(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="clibusy")
    config = load_bench(bench)
    config.database_path.parent.mkdir(parents=True, exist_ok=True)
    with BenchLock(config.database_path):
        done = hanbench("run", "--bench", str(bench), "-k", "awake_meter_class and esme")
    assert done.returncode == 3, done.stdout + done.stderr
    # said once, as every hanbench error is: not also as pytest's "ERROR: hanbench: ..."
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: the bench database"), done.stderr
    assert f"is in use by pid {os.getpid()}" in done.stderr


def test_ctrl_c_is_exit_130_and_recorded_as_interrupted(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="cliint")
    done = run_suite(tmp_path, bench, INTERRUPTED_SUITE)
    assert done.returncode == 130, done.stdout + done.stderr
    assert "-> interrupted" in done.stdout
    with SessionRecord(load_bench(bench).database_path) as record:
        (session,) = record.list_sessions()
    assert session.outcome is SessionOutcome.INTERRUPTED


def test_a_bench_that_cannot_run_is_exit_2_before_any_session(tmp_path: Path) -> None:
    bench = emu_copy(tmp_path, name="clialt")
    bench.write_text(bench.read_text().replace("00-DB-12-34-56-78-91-06", "00-DB-12-34-56-78-99-06"))  # no keys
    done = hanbench("run", "--bench", str(bench))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "00db123456789906" in done.stderr
    assert not load_bench(bench).database_path.exists()
