"""The session record: what a bench session did, in a SQLite file that outlives it.

One row per session (bench, kind, policy, start and end on the bench clock and the wall
clock, outcome, every timing/air knob, library versions), every event the stream
published (with the test whose premises published it, in a pytest-driven session), the
outcome and clause of each test of a pytest-driven session, and for a ``hanbench validate``
session the image, the device and the static checks (the validation, as the report's JSON
form). Reports and ``hanbench`` commands read it back; a result can be compared with, or
reproduced from, the knobs it ran with, and a session's report rebuilt from it.

The file is ``BenchConfig.database_path``, shared with the DCC inventory, so these tables
are prefixed ``session_``/``event_`` and created only if missing; a column added since a
file was made is added to it when it is opened. Every write is one
transaction. A session starts as ``running``; one that ends in an exception is
``aborted``; one whose process died is found on the next open (same host, process gone)
and marked ``aborted``. No reader ever sees half a row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import socket
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

from hanbench import __version__
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.events import Event, EventStream
from hanbench.dcc.database import connect
from hanbench.errors import BadInput, InfrastructureFault

_SCHEMA = """
CREATE TABLE IF NOT EXISTS session_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bench_name TEXT NOT NULL,
    bench_kind TEXT NOT NULL,
    policy TEXT NOT NULL,
    started_at TEXT NOT NULL,
    started_wall TEXT NOT NULL,
    ended_at TEXT,
    ended_wall TEXT,
    outcome TEXT NOT NULL,
    failure TEXT,
    knobs_json TEXT NOT NULL,
    hanbench_version TEXT NOT NULL,
    zigpy_version TEXT,
    bellows_version TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event_log (
    session_id INTEGER NOT NULL REFERENCES session_runs(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    data_json TEXT NOT NULL,
    test TEXT,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS session_tests (
    session_id INTEGER NOT NULL REFERENCES session_runs(id),
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration_s REAL NOT NULL,
    message TEXT,
    recorded_wall TEXT NOT NULL,
    clause TEXT
);
CREATE TABLE IF NOT EXISTS session_validations (
    session_id INTEGER PRIMARY KEY REFERENCES session_runs(id),
    validation_json TEXT NOT NULL
);
"""

#: Columns added after their table first shipped: (table, column, declaration).
_ADDED_COLUMNS = (("event_log", "test", "TEXT"), ("session_tests", "clause", "TEXT"))


class SessionOutcome(enum.StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"   # a check failed (a device refused, an assertion did not hold)
    ERROR = "error"     # the bench failed (an infrastructure fault), not the device
    ABORTED = "aborted"  # ended by an exception or a crash before it could finish
    INTERRUPTED = "interrupted"  # the user stopped it (Ctrl-C)


class TestOutcome(enum.StrEnum):
    """A test's outcome, as pytest reports it."""

    __test__ = False  # not a pytest test class, whatever its name says

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"


class UnknownSession(BadInput):
    """A session ID that is not in the record."""


class RecordWriteFailed(InfrastructureFault):
    """The session record could not be written (disk full, file locked, folder gone)."""


class SessionFinished(BadInput):
    """Something was recorded into a session that has already ended: the caller's mistake."""


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """One session's row. ``*_at`` are bench-clock times, ``*_wall`` wall-clock times."""

    id: int
    bench_name: str
    bench_kind: str
    policy: str
    started_at: dt.datetime
    started_wall: dt.datetime
    ended_at: dt.datetime | None
    ended_wall: dt.datetime | None
    outcome: SessionOutcome
    failure: str | None
    knobs: Mapping[str, Any]
    hanbench_version: str
    zigpy_version: str | None
    bellows_version: str | None
    host: str
    pid: int


@dataclasses.dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: its kind, seq and time, and its fields as JSON values; ``test`` is the
    test (pytest node ID) whose premises published it, None outside any test.

    Kept as data rather than rebuilt into :mod:`~hanbench.bench.events` classes so that a
    record stays readable after the event classes change.
    """

    session_id: int
    seq: int
    kind: str
    at: dt.datetime
    data: Mapping[str, Any]
    test: str | None = None


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One test of a pytest-driven session."""

    __test__ = False

    session_id: int
    name: str
    outcome: TestOutcome
    duration_s: float
    message: str | None
    clause: str | None = None


@dataclasses.dataclass(frozen=True)
class SessionSummary:
    """Counts for a report: events by kind, tests by outcome."""

    session: SessionInfo
    events_by_kind: Mapping[str, int]
    tests_by_outcome: Mapping[str, int]

    @property
    def tests_passed(self) -> int:
        return self.tests_by_outcome.get(TestOutcome.PASSED, 0)

    @property
    def tests_failed(self) -> int:
        """Failed and errored tests: everything that should make a run red."""
        return sum(self.tests_by_outcome.get(o, 0) for o in (TestOutcome.FAILED, TestOutcome.ERROR))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class SessionRecord:
    """The session tables of one SQLite file: start sessions, read them back."""

    def __init__(self, path: Path | str, *, wall_clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.path = Path(path)
        self._wall_clock = wall_clock
        self._host = socket.gethostname()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(str(self.path), timeout=30)
            # executescript commits any open transaction itself, so the script carries its own.
            self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        except (OSError, sqlite3.Error) as exc:
            raise RecordWriteFailed(f"cannot open session record {self.path}: {exc}") from None
        self._add_missing_columns()
        self._mark_dead_sessions_aborted()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; sqlite errors become :class:`RecordWriteFailed`."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RecordWriteFailed(f"cannot write session record {self.path}: {exc}") from None

    def _add_missing_columns(self) -> None:
        """Bring a file made before a column existed up to date (the column is empty in old rows)."""
        with self._transaction() as db:
            for table, column, declaration in _ADDED_COLUMNS:
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def _mark_dead_sessions_aborted(self) -> None:
        """Sessions left ``running`` by a process of this host that no longer exists."""
        rows = self._db.execute(
            "SELECT id, pid FROM session_runs WHERE outcome = ? AND host = ?",
            (SessionOutcome.RUNNING, self._host),
        ).fetchall()
        dead = [(session_id,) for session_id, pid in rows if not _pid_alive(pid)]
        if dead:
            with self._transaction() as db:
                db.executemany(
                    "UPDATE session_runs SET outcome = 'aborted', failure = 'the process running it ended "
                    "without finishing it' WHERE id = ? AND outcome = 'running'",
                    dead,
                )

    # -- writing ---------------------------------------------------------------------------

    def start(self, config: BenchConfig, clock: Callable[[], dt.datetime]) -> Session:
        """A new ``running`` session of ``config``; ``clock`` is the bench clock."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO session_runs (bench_name, bench_kind, policy, started_at, started_wall, outcome, "
                "knobs_json, hanbench_version, zigpy_version, bellows_version, host, pid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (config.name, config.kind.value, config.policy.name, clock().isoformat(),
                 self._wall_clock().isoformat(), SessionOutcome.RUNNING, json.dumps(config.knobs()),
                 __version__, _version("zigpy"), _version("bellows"), self._host, os.getpid()),
            )
        assert cursor.lastrowid is not None
        return Session(self, cursor.lastrowid, clock)

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._transaction() as db:
            db.execute(sql, params)

    # -- reading ---------------------------------------------------------------------------

    def list_sessions(self) -> list[SessionInfo]:
        """Every session, oldest first."""
        return [_session(row) for row in self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM session_runs ORDER BY id")]

    def session(self, session_id: int) -> SessionInfo:
        row = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM session_runs WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise UnknownSession(f"no session {session_id} in {self.path}")
        return _session(row)

    def events(self, session_id: int) -> list[RecordedEvent]:
        """The session's events in ``seq`` order."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT seq, kind, at, data_json, test FROM event_log WHERE session_id = ? ORDER BY seq", (session_id,)
        )
        return [RecordedEvent(session_id, seq, kind, dt.datetime.fromisoformat(at), json.loads(data), test)
                for seq, kind, at, data, test in rows]

    def tests(self, session_id: int) -> list[TestResult]:
        """The session's test outcomes in the order they were recorded."""
        self.session(session_id)
        rows = self._db.execute(
            "SELECT name, outcome, duration_s, message, clause FROM session_tests WHERE session_id = ? "
            "ORDER BY rowid",
            (session_id,),
        )
        return [TestResult(session_id, name, TestOutcome(outcome), duration, message, clause)
                for name, outcome, duration, message, clause in rows]

    def validation(self, session_id: int) -> dict[str, Any] | None:
        """What :meth:`Session.record_validation` recorded for the session, or None (no validation)."""
        self.session(session_id)
        row = self._db.execute("SELECT validation_json FROM session_validations WHERE session_id = ?",
                               (session_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def summary(self, session_id: int) -> SessionSummary:
        info = self.session(session_id)
        kinds = self._db.execute(
            "SELECT kind, COUNT(*) FROM event_log WHERE session_id = ? GROUP BY kind ORDER BY kind", (session_id,)
        )
        return SessionSummary(
            session=info,
            events_by_kind=dict(kinds.fetchall()),
            tests_by_outcome=dict(Counter(t.outcome.value for t in self.tests(session_id))),
        )


_SESSION_COLUMNS = ", ".join(f.name if f.name != "knobs" else "knobs_json" for f in dataclasses.fields(SessionInfo))


def _session(row: tuple[Any, ...]) -> SessionInfo:
    values = dict(zip((f.name for f in dataclasses.fields(SessionInfo)), row, strict=True))
    for key in ("started_at", "started_wall", "ended_at", "ended_wall"):
        if values[key] is not None:
            values[key] = dt.datetime.fromisoformat(values[key])
    values["outcome"] = SessionOutcome(values["outcome"])
    values["knobs"] = json.loads(values["knobs"])
    return SessionInfo(**values)


class Session:
    """A running session: records events and test outcomes until :meth:`finish`.

    Use it as a context manager: leaving the block by an exception marks it ``aborted``
    with the exception as its failure; leaving it normally without :meth:`finish` does too,
    since nobody said how it went.
    """

    def __init__(self, record: SessionRecord, session_id: int, clock: Callable[[], dt.datetime]) -> None:
        self.record = record
        self.id = session_id
        self._clock = clock
        self._detach: list[Callable[[], None]] = []
        self._finished = False
        self._test: str | None = None

    def attach(self, stream: EventStream) -> None:
        """Record every event ``stream`` publishes from now until the session finishes."""
        self._detach.append(stream.subscribe(self.record_event))

    @contextmanager
    def running(self, test: str) -> Iterator[None]:
        """Within the block, every event recorded is ``test``'s evidence (its ``test`` column)."""
        self._test = test
        try:
            yield
        finally:
            self._test = None

    def record_event(self, event: Event) -> None:
        self._check_open()
        data = {k: v for k, v in event.to_dict().items() if k not in ("kind", "seq", "at")}
        self.record._write(
            "INSERT INTO event_log (session_id, seq, kind, at, data_json, test) VALUES (?, ?, ?, ?, ?, ?)",
            (self.id, event.seq, event.kind, event.at.isoformat(), json.dumps(data, sort_keys=True), self._test),
        )

    def record_test(self, name: str, outcome: TestOutcome | str, duration_s: float, message: str | None = None,
                    *, clause: str | None = None) -> None:
        """One test's outcome; ``clause`` is the specification clause it checks, when it is tagged with one."""
        self._check_open()
        self.record._write(
            "INSERT INTO session_tests (session_id, name, outcome, duration_s, message, recorded_wall, clause) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.id, name, TestOutcome(outcome).value, duration_s, message, self.record._wall_clock().isoformat(),
             clause),
        )

    def record_validation(self, validation: Mapping[str, Any]) -> None:
        """What ``hanbench validate`` checked before any test (the image, the device, the static
        checks), as JSON values; once per session."""
        self._check_open()
        if self.record.validation(self.id) is not None:
            raise BadInput(f"session {self.id} already has a validation recorded")
        self.record._write("INSERT INTO session_validations (session_id, validation_json) VALUES (?, ?)",
                           (self.id, json.dumps(validation, sort_keys=True)))

    def take_events(self, source: SessionRecord, session_id: int, **extra: Any) -> dt.datetime | None:
        """Append the events of ``source``'s session ``session_id`` to this session, in one transaction.

        They are numbered on after this session's own and each gets the fields ``extra`` (a
        pytest-xdist run merges its workers' sessions into the run's one session this way,
        ``worker="gw0"`` telling whose premises an event came from). Returns the time of the
        last event taken, or None if there was none.
        """
        self._check_open()
        events = source.events(session_id)
        with self.record._transaction() as db:
            (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM event_log WHERE session_id = ?",
                                 (self.id,)).fetchone()
            db.executemany(
                "INSERT INTO event_log (session_id, seq, kind, at, data_json, test) VALUES (?, ?, ?, ?, ?, ?)",
                [(self.id, last + index, event.kind, event.at.isoformat(),
                  json.dumps({**event.data, **extra}, sort_keys=True), event.test)
                 for index, event in enumerate(events, start=1)])
        return max((event.at for event in events), default=None)

    def finish(self, outcome: SessionOutcome | str, failure: str | None = None) -> None:
        """End the session with ``outcome`` (not ``running``) at the bench clock's now."""
        self._check_open()
        final = SessionOutcome(outcome)
        if final is SessionOutcome.RUNNING:
            raise BadInput("a session cannot finish as 'running'")
        for detach in self._detach:
            detach()
        self.record._write(
            "UPDATE session_runs SET ended_at = ?, ended_wall = ?, outcome = ?, failure = ? WHERE id = ?",
            (self._clock().isoformat(), self.record._wall_clock().isoformat(), final, failure, self.id),
        )
        self._finished = True

    def _check_open(self) -> None:
        if self._finished:
            raise SessionFinished(f"session {self.id} has already finished")

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._finished:
            return
        if exc is not None:
            self.finish(SessionOutcome.ABORTED, f"{type(exc).__name__}: {exc}")
        else:
            self.finish(SessionOutcome.ABORTED, "the session ended without an outcome")
