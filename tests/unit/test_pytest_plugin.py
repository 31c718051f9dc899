"""The hanbench pytest plugin as a user meets it: --bench, kind markers, -m selection, skips,
virtual time, and the session record of a run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fixture_files import ROOT, bench_copy
from hanbench.bench.lock import BenchLock
from hanbench.bench.record import SessionOutcome, SessionRecord, TestOutcome

pytest_plugins = ["pytester"]


TESTS = """
import asyncio
import pytest
from hanbench.clock import is_virtual

@pytest.mark.asyncio
async def test_any_bench(bench):
    assert bench.name

@pytest.mark.emu
@pytest.mark.asyncio
async def test_needs_emu(bench):
    assert bench.kind == "emu"

@pytest.mark.hw
@pytest.mark.asyncio
async def test_needs_hw(bench):
    assert bench.kind != "emu"

def test_plain():
    assert True
"""


def bench_file(folder: Path, *, kind: str = "emu", name: str = "t") -> Path:
    """A copy of bench/emu.toml whose paths point into the repository and ``folder``."""
    replace = {'name = "emu"': f'name = "{name}"'}
    if kind != "emu":
        replace['kind = "emu"'] = f'kind = "{kind}"'
    path = bench_copy(folder, replace=replace, file_name=f"{kind}.toml")
    if kind != "emu":
        path.write_text(path.read_text() + '\n[radio]\ntype = "ezsp"\n')
    return path


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
                     "addopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def selected(result: pytest.RunResult) -> set[str]:
    return {m.group(1) for line in result.outlines if (m := re.search(r"::(test_\w+)", line))}


def test_unmarked_bench_tests_get_the_emu_marker_on_an_emu_bench(suite: pytest.Pytester) -> None:
    bench = bench_file(suite.path)
    result = suite.runpytest("--bench", str(bench), "-m", "emu", "--collect-only", "-q")
    assert selected(result) == {"test_any_bench", "test_needs_emu"}
    result = suite.runpytest("--bench", str(bench), "-m", "hw", "--collect-only", "-q")
    assert selected(result) == {"test_needs_hw"}


def test_a_twin_bench_presents_as_hw(suite: pytest.Pytester) -> None:
    bench = bench_file(suite.path, kind="twin")
    result = suite.runpytest("--bench", str(bench), "-m", "hw", "--collect-only", "-q")
    assert selected(result) == {"test_any_bench", "test_needs_hw"}
    result = suite.runpytest("--bench", str(bench), "-m", "not hw", "--collect-only", "-q")
    assert selected(result) == {"test_needs_emu", "test_plain"}


def test_a_test_for_another_kind_is_skipped_naming_the_bench_it_needs(suite: pytest.Pytester) -> None:
    bench = bench_file(suite.path, kind="twin")
    result = suite.runpytest("--bench", str(bench), "-k", "needs_emu", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        f"*needs an emu bench (virtual time, fault injection); active bench {bench} is twin*"])


def test_a_hw_test_on_the_emu_bench_is_skipped_with_its_reason(suite: pytest.Pytester) -> None:
    bench = bench_file(suite.path)
    result = suite.runpytest("--bench", str(bench), "-k", "needs_hw", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs a hardware bench (twin or lab: the radio and board code path); "
                                 f"active bench {bench} is emu*"])


def test_the_bench_can_come_from_the_ini_file(suite: pytest.Pytester) -> None:
    bench_file(suite.path, kind="twin")
    suite.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
                  "hanbench_bench = twin.toml\n")
    result = suite.runpytest("-m", "hw", "--collect-only", "-q", "-p", "no:cacheprovider")
    assert selected(result) == {"test_any_bench", "test_needs_hw"}


def test_a_bad_bench_file_is_a_one_line_usage_error(suite: pytest.Pytester) -> None:
    bench = suite.path / "broken.toml"
    bench.write_text("[bench]\nname = 'x'\nkind = 'quantum'\n")
    result = suite.runpytest("--bench", str(bench))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: hanbench: {bench}:*kind*"])
    assert "Traceback" not in result.stderr.str()


def test_a_run_without_bench_tests_writes_no_session_record(suite: pytest.Pytester) -> None:
    bench = bench_file(suite.path)
    result = suite.runpytest("--bench", str(bench), "-k", "plain")
    result.assert_outcomes(passed=1)
    assert not (suite.path / "sessions").exists()


RECORDED = """
import asyncio
import pytest
from hanbench.clock import is_virtual

@pytest.mark.asyncio
async def test_runs_in_virtual_time(bench, esme, supplier):
    assert is_virtual(asyncio.get_running_loop())
    start = bench.now()
    await bench.advance(10 * 24 * 3600)
    assert (bench.now() - start).days == 10
    assert esme.state.running_version == 1
    assert supplier.name == "GITTESTSUPPLIER"

@pytest.mark.clause("GBCS 11.2.4")
@pytest.mark.asyncio
async def test_fails(bench):
    assert bench.device("esme").state.running_version == 99

@pytest.mark.hw
@pytest.mark.asyncio
async def test_hw_only(bench):
    pass
"""


def test_every_bench_test_outcome_lands_in_one_session_record(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_recorded=RECORDED)
    bench = bench_file(pytester.path, name="plugin")
    result = pytester.runpytest("--bench", str(bench), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    with SessionRecord(pytester.path / "sessions" / "plugin" / "hanbench.db") as record:
        [session] = record.list_sessions()
        assert session.outcome is SessionOutcome.FAILED
        outcomes = {t.name.rsplit("::", 1)[1]: t for t in record.tests(session.id)}
        assert {name: t.outcome for name, t in outcomes.items()} == {
            "test_runs_in_virtual_time": TestOutcome.PASSED,
            "test_fails": TestOutcome.FAILED,
            "test_hw_only": TestOutcome.SKIPPED,
        }
        assert "assert 1 == 99" in (outcomes["test_fails"].message or "")
        assert "needs a hardware bench" in (outcomes["test_hw_only"].message or "")
        kinds = [e.kind for e in record.events(session.id)]
        assert kinds.count("premises_opened") == kinds.count("premises_closed") == 2
        assert outcomes["test_fails"].clause == "GBCS 11.2.4"
        assert outcomes["test_runs_in_virtual_time"].clause is None
        # each event is noted as the evidence of the test whose premises published it
        premises = [(e.kind, e.test) for e in record.events(session.id) if e.kind.startswith("premises_")]
        first, second = outcomes["test_runs_in_virtual_time"].name, outcomes["test_fails"].name
        assert premises == [("premises_opened", first), ("premises_closed", first),
                            ("premises_opened", second), ("premises_closed", second)]
        assert {e.test for e in record.events(session.id)} == {first, second}


def test_a_failing_bench_test_says_how_to_run_it_alone(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_recorded=RECORDED)
    bench = bench_file(pytester.path, name="plugin")
    result = pytester.runpytest("--bench", str(bench), "-p", "no:cacheprovider", "-k", "fails")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- hanbench: run it alone -*",
        f"pytest 'test_recorded.py::test_fails' --bench {bench}",
        "(bench 'plugin', emu kind, seed 1, starting 2026-01-05T09:00:00+00:00)",
    ])


XDIST = ["-n", "2", "-p", "no:cacheprovider", "-p", "xdist"]


def test_under_xdist_the_run_records_one_session_and_each_worker_its_premises_apart(
        pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_recorded=RECORDED, test_more=RECORDED.replace("test_", "test_more_"))
    bench = bench_file(pytester.path, name="plugin")
    result = pytester.runpytest_subprocess("--bench", str(bench), *XDIST, timeout=300)
    result.assert_outcomes(passed=2, failed=2, skipped=2)
    assert "in use by" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*- hanbench: run it alone -*", f"pytest 'test_*.py::test_*fails' --bench {bench}"])
    folder = pytester.path / "sessions" / "plugin"
    workers = {}
    for worker in ("gw0", "gw1"):  # each worker recorded its own part in its own folder
        with SessionRecord(folder / "workers" / worker / "plugin" / "hanbench.db") as part:
            [session] = part.list_sessions()
            workers[worker] = len(part.events(session.id))
    with SessionRecord(folder / "hanbench.db") as record:
        [session] = record.list_sessions()  # the run's one session
        assert session.outcome is SessionOutcome.FAILED
        assert sorted(t.outcome for t in record.tests(session.id)) == sorted([TestOutcome.PASSED, TestOutcome.FAILED,
                                                                             TestOutcome.SKIPPED] * 2)
        events = record.events(session.id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        by_worker = {w: sum(e.data["worker"] == w for e in events) for w in workers}
        assert by_worker == workers and all(by_worker.values())
        assert [e.kind for e in events].count("premises_opened") == 4


def test_a_bench_held_elsewhere_fails_an_xdist_run_at_once(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_recorded=RECORDED)
    bench = bench_file(pytester.path, name="plugin")
    with BenchLock(pytester.path / "sessions" / "plugin" / "hanbench.db"):
        result = pytester.runpytest_subprocess("--bench", str(bench), *XDIST, timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: hanbench: the bench database * is in use by pid {os.getpid()}; *"])
    assert "bringing up nodes" not in result.stdout.str()


def test_a_lab_bench_is_refused_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    lab = pytester.path / "lab.toml"
    lab.write_text((ROOT / "bench" / "lab-example.toml").read_text().replace('"../', f'"{ROOT}/'))
    result = pytester.runpytest_subprocess("--bench", str(lab), *XDIST, timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: hanbench: * is a lab bench: one set of hardware that xdist workers "
                                 "cannot share; run it without -n"])


def test_on_a_real_time_bench_the_runners_timeout_outlasts_every_bench_wait(suite: pytest.Pytester) -> None:
    # bench/twin.toml as shipped: response_wait_s and queue_expiry_s are 60 s, pytest's timeout
    text = (ROOT / "bench" / "twin.toml").read_text()
    for folder in ("fixtures", "firmware_images", "sessions"):
        text = text.replace(f'"../{folder}', f'"{ROOT / folder if folder != "sessions" else suite.path / folder}')
    twin = suite.path / "twin.toml"
    twin.write_text(text)
    suite.makeconftest("""
def pytest_collection_finish(session):
    for item in session.items:
        marker = item.get_closest_marker("timeout")
        print("TIMEOUT", item.name, marker.args[0] if marker else None)
""")
    result = suite.runpytest("--bench", str(twin), "--collect-only", "-q", "-s", "-o", "timeout=60")
    # 60 s, the longest wait, plus the margin; a test without the bench keeps the ini's
    result.stdout.fnmatch_lines(["TIMEOUT test_any_bench 90.0", "TIMEOUT test_plain None"])


def test_a_runner_timeout_names_the_bench_wait_it_cut_short(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_suite="""
import asyncio
import pytest
from hanbench.bench.waits import bench_wait

@pytest.mark.timeout(1)
@pytest.mark.asyncio
async def test_waits_too_long():
    with bench_wait("the SR 11.3 response of esme (timing.response_wait_s)", 60):
        await asyncio.sleep(30)
""")
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hanbench: bench wait in progress: the SR 11.3 response of esme "
                                 "(timing.response_wait_s) (allowed 60 s, waited *.* s of wall time)*"])
