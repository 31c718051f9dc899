"""``hanbench sessions list/show`` on a session database written by real emu sessions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fixture_files import bench_copy

from hanbench import open_bench, run_virtual
from hanbench.bench.bench_file import load_bench
from hanbench.bench.record import SessionRecord
from hanbench.bench.summary import summarise
from hanbench.cli import main

DAY = 86400.0


def sessions(*args: str) -> Result:
    return CliRunner().invoke(main, ["sessions", *args])


@pytest.fixture(scope="module")
def bench_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/emu.toml with two sessions in its record: an update that passed over a day of
    bench time, and one that failed an assertion after an hour.

    A module-wide fixture drives its sessions through ``run_virtual``, as a script would:
    looptime fast-forwards only a test's own body, never a fixture's."""
    path = bench_copy(tmp_path_factory.mktemp("sessions"), "emu.toml")

    async def update() -> None:
        async with open_bench(path) as bench:
            supplier, esme = bench.supplier, bench.device("esme")
            await supplier.update_firmware(bench.image(esme, 2), [esme])
            alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
            await supplier.activate_firmware(esme, alert.calculated_hash)
            bench.session.record_test("suite::test_update", "passed", 0.5)
            bench.session.record_test("suite::test_other", "failed", 0.1, "it did not")
            await bench.sleep_until(bench.config.start + dt.timedelta(days=1))

    async def fail() -> None:
        async with open_bench(path) as bench:
            await bench.sleep_until(bench.config.start + dt.timedelta(hours=1))
            assert bench.device("esme").state.running_version == 7, "the ESME runs version 1"

    run_virtual(update())
    with pytest.raises(AssertionError):
        run_virtual(fail())
    return path


def test_list_shows_every_session_oldest_first(bench_file: Path) -> None:
    result = sessions("list", "--bench", str(bench_file))
    assert result.exit_code == 0, result.output
    header, first, second = result.output.splitlines()
    assert header.split() == ["id", "started", "kind", "policy", "outcome", "passed", "failed", "wall", "bench",
                              "time"]
    cells = first.split()  # the start and the wall time are two words each
    assert cells[0] == "1" and cells[3:8] == ["emu", "mp207", "passed", "1", "1"]
    assert cells[9:] == ["s", "1d", "00:00:00"]
    cells = second.split()
    assert cells[0] == "2" and cells[3:8] == ["emu", "mp207", "failed", "0", "0"]
    assert cells[9:] == ["s", "01:00:00"]


def test_list_as_json(bench_file: Path) -> None:
    result = sessions("list", "--bench", str(bench_file), "--json")
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.output)
    assert (first["id"], first["outcome"], first["kind"], first["policy"]) == (1, "passed", "emu", "mp207")
    assert (first["tests_passed"], first["tests_failed"], first["tests"]) == (1, 1, {"passed": 1, "failed": 1})
    assert first["bench_s"] == DAY and first["premises"] == 1 and first["wall_s"] > 0
    assert (second["outcome"], second["bench_s"]) == ("failed", 3600.0)
    assert second["failure"].startswith("AssertionError: the ESME runs version 1")


def test_show_prints_the_summary_hanbench_run_prints(bench_file: Path) -> None:
    result = sessions("show", "1", "--bench", str(bench_file))
    assert result.exit_code == 0, result.output
    config = load_bench(bench_file)
    with SessionRecord(config.database_path) as record:
        expected = summarise(record, 1, config).lines()
    assert result.output.splitlines() == expected
    assert expected[0] == "hanbench session 1: bench emu (kind emu, policy mp207) -> passed"
    assert "    esme     esme   00000001 -> 00000002 (1 activation)" in expected


def test_show_a_failed_session_says_what_ended_it(bench_file: Path) -> None:
    result = sessions("show", "2", "--bench", str(bench_file))
    assert result.exit_code == 0, result.output
    assert "-> failed" in result.output.splitlines()[0]
    assert "  ended by: AssertionError: the ESME runs version 1" in result.output


def test_show_events_lists_the_event_log(bench_file: Path) -> None:
    result = sessions("show", "1", "--bench", str(bench_file), "--events")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    log = lines[lines.index("  events (seq, bench clock, kind, fields):") + 1:]
    with SessionRecord(load_bench(bench_file).database_path) as record:
        events = record.events(1)
    assert len(log) == len(events) > 10
    for line, event in zip(log, events, strict=True):
        assert line.split()[:4] == [f"#{event.seq}", str(event.at.date()),
                                    event.at.timetz().isoformat(timespec="milliseconds"), event.kind]
    immediate = next(line for line in log if " activation_immediate " in line)
    assert "device=00-DB-12-34-56-78-91-00" in immediate and "file_version=2" in immediate
    assert log[-1].split()[3] == "premises_closed"


def test_show_as_json_with_events(bench_file: Path) -> None:
    result = sessions("show", "2", "--bench", str(bench_file), "--json", "--events")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["id"], shown["outcome"], shown["bench_s"]) == (2, "failed", 3600.0)
    assert shown["summary"]["session"]["knobs"]["timing"]["block_size_max"] == 50
    assert shown["summary"]["devices"][0]["name"] == "esme"
    assert [e["seq"] for e in shown["events"]] == list(range(1, len(shown["events"]) + 1))
    assert shown["events"][0]["kind"] == "premises_opened"
    assert shown["events"][-1]["at"] == "2026-01-05T10:00:00+00:00"


def test_an_unknown_session_is_exit_2_with_one_line(bench_file: Path) -> None:
    result = sessions("show", "9", "--bench", str(bench_file))
    assert result.exit_code == 2
    assert result.stderr == f"error: no session 9 in {load_bench(bench_file).database_path}\n"
    assert result.stdout == ""


def test_a_bench_without_a_database_is_exit_2_and_creates_none(tmp_path: Path) -> None:
    path = bench_copy(tmp_path, "emu.toml")
    for args in (("list",), ("show", "1")):
        result = sessions(*args, "--bench", str(path))
        assert result.exit_code == 2
        assert result.stderr == f"error: bench 'emu' has no database at {tmp_path / 'sessions' / 'emu' / 'hanbench.db'}" \
                                " yet: run a session on it first\n"
    assert not (tmp_path / "sessions").exists()


def test_a_bench_file_that_is_not_there_is_exit_2(tmp_path: Path) -> None:
    result = sessions("list", "--bench", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {tmp_path / 'nope.toml'}")
