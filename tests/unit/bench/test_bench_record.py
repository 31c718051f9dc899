"""The session record: a real SQLite file written, closed, reopened and read back."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from bench_helpers import BASE, ESME, START, SUPPLIER, Clock, recording

from hanbench import __version__
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.events import AlertDelivered, EventStream, TransferFinished, TransferStarted
from hanbench.bench.record import (
    RecordWriteFailed,
    SessionFinished,
    SessionOutcome,
    SessionRecord,
    TestOutcome,
    UnknownSession,
)
from hanbench.errors import BadInput, InfrastructureFault
from hanbench.gbcs.alerts import TransferResult

WALL = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def config(load_text: Callable[[str], BenchConfig]) -> BenchConfig:
    return load_text(BASE + "\n[timing]\nblock_size_max = 40\nqueue_expiry_s = 600\n\n[air]\nloss = 0.1\n")


def run_session(config: BenchConfig) -> int:
    """A session with three events and three tests, written and closed."""
    bench_clock = Clock(START)
    with recording(config, bench_clock, Clock(WALL)) as (_, stream, session):
        stream.publish(TransferStarted(device=ESME, file_version=2, size=4096, block_size=40))
        bench_clock.now += dt.timedelta(minutes=5)
        stream.publish(TransferFinished(device=ESME, file_version=2, result=TransferResult.SUCCESS, blocks=103,
                                        bytes_sent=4096))
        stream.publish(AlertDelivered(alert_code=0x8F72, device=ESME, user=SUPPLIER))
        session.record_test("tests/test_ota.py::test_esme", TestOutcome.PASSED, 1.5)
        session.record_test("tests/test_ota.py::test_gsme", "failed", 2.0, "no 0x8F72 within 3600 s")
        session.record_test("tests/test_ota.py::test_ihd", TestOutcome.SKIPPED, 0.0)
        bench_clock.now += dt.timedelta(hours=1)
        session.finish(SessionOutcome.FAILED, "1 test failed")
        stream.publish(TransferStarted(device=ESME, file_version=3, size=1, block_size=40))  # after: not recorded
        return session.id


def test_round_trip_through_the_file(config: BenchConfig) -> None:
    session_id = run_session(config)
    assert config.database_path.is_file()

    with SessionRecord(config.database_path) as record:
        (info,) = record.list_sessions()
        assert info.id == session_id
        assert (info.bench_name, info.bench_kind, info.policy) == ("t", "emu", "mp207")
        assert (info.started_at, info.ended_at) == (START, START + dt.timedelta(minutes=65))
        assert (info.started_wall, info.ended_wall) == (WALL, WALL)
        assert (info.outcome, info.failure) == (SessionOutcome.FAILED, "1 test failed")
        assert info.hanbench_version == __version__
        assert info.zigpy_version and info.bellows_version

        events = record.events(session_id)
        assert [(e.seq, e.kind) for e in events] == [(1, "transfer_started"), (2, "transfer_finished"),
                                                     (3, "alert_delivered")]
        assert events[1].at == START + dt.timedelta(minutes=5)
        assert events[1].data == {"device": "00-DB-12-34-56-78-91-00", "file_version": 2, "result": "success",
                                  "reason": "", "blocks": 103, "bytes_sent": 4096, "retries": 0}
        assert events[2].data["alert_code"] == 0x8F72 and events[2].data["user"] == str(SUPPLIER)

        tests = record.tests(session_id)
        assert [(t.name.rsplit("::")[1], t.outcome, t.duration_s, t.message) for t in tests] == [
            ("test_esme", TestOutcome.PASSED, 1.5, None),
            ("test_gsme", TestOutcome.FAILED, 2.0, "no 0x8F72 within 3600 s"),
            ("test_ihd", TestOutcome.SKIPPED, 0.0, None),
        ]

        summary = record.summary(session_id)
        assert summary.events_by_kind == {"alert_delivered": 1, "transfer_finished": 1, "transfer_started": 1}
        assert (summary.tests_passed, summary.tests_failed) == (1, 1)
        assert summary.tests_by_outcome == {"passed": 1, "failed": 1, "skipped": 1}


def test_the_knobs_are_recorded(config: BenchConfig) -> None:
    session_id = run_session(config)
    with SessionRecord(config.database_path) as record:
        knobs = record.session(session_id).knobs
    assert knobs == config.knobs()
    assert knobs["timing"]["block_size_max"] == 40 and knobs["timing"]["queue_expiry_s"] == 600
    assert knobs["timing"]["stall_timeout_s"] == 30 and knobs["timing"]["gsme_wake_interval_s"] == 1800
    assert knobs["air"]["loss"] == 0.1 and knobs["seed"] == 0 and knobs["start"] == START.isoformat()


def test_sessions_accumulate_in_one_file(config: BenchConfig) -> None:
    first, second = run_session(config), run_session(config)
    with SessionRecord(config.database_path) as record:
        assert [s.id for s in record.list_sessions()] == [first, second]
        assert len(record.events(second)) == 3


def test_an_exception_aborts_the_session(config: BenchConfig) -> None:
    with SessionRecord(config.database_path) as record:
        with pytest.raises(RuntimeError), record.start(config, Clock(START)) as session:
            session.record_test("t::a", TestOutcome.PASSED, 0.1)
            raise RuntimeError("NCP stopped answering")
        info = record.session(session.id)
        assert (info.outcome, info.failure) == (SessionOutcome.ABORTED, "RuntimeError: NCP stopped answering")
        assert info.ended_at == START
        with record.start(config, Clock(START)) as silent:
            pass
        assert record.session(silent.id).outcome is SessionOutcome.ABORTED
        with record.start(config, Clock(START)) as finished:
            finished.finish("passed")
        assert record.session(finished.id).outcome is SessionOutcome.PASSED


def test_a_crashed_process_leaves_its_session_aborted(config: BenchConfig) -> None:
    """A process killed mid-session: its row is whole, and the next open marks it aborted."""
    script = textwrap.dedent(f"""
        import datetime as dt, os
        from hanbench.bench.bench_file import load_bench
        from hanbench.bench.events import EventStream, TransferStarted
        from hanbench.bench.record import SessionRecord
        from hanbench.gbcs.entity import EntityId
        config = load_bench({str(config.file)!r})
        clock = lambda: dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        record = SessionRecord(config.database_path)
        stream = EventStream(clock)
        record.start(config, clock).attach(stream)
        stream.publish(TransferStarted(device=EntityId.parse("00db123456789100"), file_version=2, size=9,
                                       block_size=9))
        os._exit(9)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr

    raw = sqlite3.connect(config.database_path)
    assert raw.execute("SELECT outcome, ended_at FROM session_runs").fetchall() == [("running", None)]
    raw.close()

    with SessionRecord(config.database_path) as record:
        (info,) = record.list_sessions()
        assert info.outcome is SessionOutcome.ABORTED and info.ended_at is None
        assert info.failure == "the process running it ended without finishing it"
        assert [e.kind for e in record.events(info.id)] == ["transfer_started"]


def test_a_live_session_of_another_process_is_left_running(config: BenchConfig) -> None:
    with SessionRecord(config.database_path) as writer:
        session = writer.start(config, Clock(START))
        with SessionRecord(config.database_path) as reader:  # our own pid: alive
            assert reader.session(session.id).outcome is SessionOutcome.RUNNING
        session.finish(SessionOutcome.PASSED)


def test_a_finished_session_refuses_more(config: BenchConfig) -> None:
    with SessionRecord(config.database_path) as record:
        session = record.start(config, Clock(START))
        with pytest.raises(BadInput, match="cannot finish as 'running'"):
            session.finish(SessionOutcome.RUNNING)
        session.finish(SessionOutcome.ERROR, "port /dev/ttyUSB0 vanished")
        with pytest.raises(SessionFinished):
            session.record_test("t::late", TestOutcome.PASSED, 0.0)
        with pytest.raises(SessionFinished):
            session.finish(SessionOutcome.PASSED)
        assert record.session(session.id).outcome is SessionOutcome.ERROR


def test_unknown_sessions_and_bad_outcomes(config: BenchConfig) -> None:
    with SessionRecord(config.database_path) as record:
        for read in (record.session, record.events, record.tests, record.summary):
            with pytest.raises(UnknownSession, match=f"no session 42 in {config.database_path}"):
                read(42)
        session = record.start(config, Clock(START))
        with pytest.raises(ValueError):
            session.record_test("t::x", "exploded", 0.0)
        assert record.tests(session.id) == []


def test_tables_live_beside_others_in_a_shared_file(config: BenchConfig) -> None:
    config.database_path.parent.mkdir(parents=True)
    other = sqlite3.connect(config.database_path)
    other.execute("CREATE TABLE inventory_devices (id TEXT PRIMARY KEY)")
    other.execute("INSERT INTO inventory_devices VALUES ('00db123456789100')")
    other.commit()
    other.close()
    run_session(config)
    with sqlite3.connect(config.database_path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert db.execute("SELECT id FROM inventory_devices").fetchall() == [("00db123456789100",)]
    assert {"session_runs", "session_tests", "event_log", "inventory_devices"} <= tables
    assert all(t.startswith(("session_", "event_", "inventory_", "sqlite_")) for t in tables)


def test_a_record_that_cannot_be_written_is_an_infrastructure_fault(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RecordWriteFailed, match="cannot open session record") as caught:
        SessionRecord(blocker / "hanbench.db")
    assert isinstance(caught.value, InfrastructureFault)
    not_sqlite = tmp_path / "garbage.db"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RecordWriteFailed, match="garbage.db"):
        SessionRecord(not_sqlite)


def test_a_write_that_fails_leaves_no_half_row(config: BenchConfig) -> None:
    """A duplicate seq is refused by the primary key; the transaction leaves nothing behind."""
    bench_clock = Clock(START)
    with SessionRecord(config.database_path) as record:
        session = record.start(config, bench_clock)
        event = EventStream(bench_clock).publish(TransferFinished(device=ESME, file_version=2, result=TransferResult.SUCCESS))
        session.record_event(event)
        with pytest.raises(RecordWriteFailed, match="UNIQUE constraint failed"):
            session.record_event(event)
        assert len(record.events(session.id)) == 1
        session.record_test("t::after", TestOutcome.PASSED, 0.0)  # the connection is still usable
        assert len(record.tests(session.id)) == 1


def test_the_default_bench_database_path_is_used_as_given(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE)
    with SessionRecord(config.database_path) as record:
        record.start(config, Clock(START)).finish(SessionOutcome.PASSED)
    assert config.database_path == config.file.parent / "sessions" / "t" / "hanbench.db"
    assert config.database_path.is_file()


def test_events_carry_the_test_that_published_them_and_tests_their_clause(config: BenchConfig) -> None:
    with recording(config, Clock(START)) as (record, stream, session):
        stream.publish(TransferStarted(device=ESME, file_version=2, size=4096, block_size=40))
        with session.running("suite.py::test_a"):
            stream.publish(TransferStarted(device=ESME, file_version=2, size=4096, block_size=40))
        stream.publish(AlertDelivered(alert_code=0x8F72, device=ESME, user=SUPPLIER))
        session.record_test("suite.py::test_a", "passed", 0.1, clause="GBCS 11.2.6")
        session.record_test("suite.py::test_b", "passed", 0.1)
        session.finish("passed")
        assert [e.test for e in record.events(session.id)] == [None, "suite.py::test_a", None]
        assert [t.clause for t in record.tests(session.id)] == ["GBCS 11.2.6", None]


def test_a_validation_is_kept_once_per_session(config: BenchConfig) -> None:
    with SessionRecord(config.database_path, wall_clock=Clock(WALL)) as record:
        session = record.start(config, Clock(START))
        assert record.validation(session.id) is None
        session.record_validation({"device": {"name": "esme"}, "checks": [{"check": "signature", "outcome": "pass"}]})
        with pytest.raises(BadInput, match="already has a validation"):
            session.record_validation({})
        session.finish("passed")
    with SessionRecord(config.database_path) as record:
        assert record.validation(session.id) == {"device": {"name": "esme"},
                                                 "checks": [{"check": "signature", "outcome": "pass"}]}
        with pytest.raises(UnknownSession):
            record.validation(session.id + 1)


def test_a_file_from_before_the_test_and_clause_columns_is_brought_up_to_date(config: BenchConfig) -> None:
    session_id = run_session(config)
    with sqlite3.connect(config.database_path) as db:  # as a file written before those columns existed
        db.execute("ALTER TABLE event_log DROP COLUMN test")
        db.execute("ALTER TABLE session_tests DROP COLUMN clause")
    with SessionRecord(config.database_path) as record:
        assert {e.test for e in record.events(session_id)} == {None}
        assert {t.clause for t in record.tests(session_id)} == {None}
    later = run_session(config)
    with SessionRecord(config.database_path) as record:
        assert len(record.events(later)) == 3
