"""``hanbench sessions``: a bench's past sessions, read back from its session record.

``hanbench sessions list [--bench FILE] [--sessions DIR] [--json]`` lists every session: ID, when it started
(wall clock, UTC), kind, policy, outcome, tests passed and failed, wall time and bench time.
``hanbench sessions show ID [--bench FILE] [--sessions DIR] [--events] [--json] [--html FILE]`` prints the summary
``hanbench run`` printed at the end of that session (the same :mod:`hanbench.bench.summary`,
so the two never disagree) and, with ``--events``, its event log: seq, bench-clock time,
kind and the event's fields. ``--html FILE`` also writes the session's report page, rebuilt
from the record as ``hanbench validate`` built it (:mod:`hanbench.bench.report.build`): for a
``hanbench run`` session its tests, their transfers and alerts.

``--bench`` and ``--sessions`` name the record as ``hanbench run`` does (the embedded emu bench
and ``sessions/`` of the working directory by default).

Bench time is what the bench clock covered over all the session's premises (a pytest run
opens one per test); in emulation that is virtual time, days of it in seconds of wall time.

Exit codes: 0 printed; 2 bad input (bench file that does not load, no database yet, unknown
session ID, a report page that cannot be written).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.events import describe_data
from hanbench.bench.record import RecordedEvent, SessionRecord, SessionSummary
from hanbench.bench.report.build import build_report
from hanbench.bench.report.files import write_html
from hanbench.bench.summary import RunSummary, summarise
from hanbench.cli._bench_options import bench_from, bench_options
from hanbench.cli._database import existing_database

_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")

_COLUMNS = ("id", "started", "kind", "policy", "outcome", "passed", "failed", "wall", "bench time")


@click.group("sessions")
def command() -> None:
    """Past sessions of a bench, from its session record."""


@command.command("list")
@bench_options
@_JSON_OPTION
def list_command(bench_file: Path | None, sessions: Path | None, as_json: bool) -> None:
    """Every session of the bench, oldest first."""
    config = bench_from(bench_file, sessions)
    with SessionRecord(existing_database(config)) as record:
        sessions = [_Session.read(record, info.id, config) for info in record.list_sessions()]
    if as_json:
        click.echo(_json([s.overview() for s in sessions]))
    elif not sessions:
        click.echo(f"no sessions in {config.database_path}")
    else:
        click.echo(_table([s.row() for s in sessions]))


@command.command("show")
@click.argument("session_id", type=int, metavar="ID")
@bench_options
@click.option("--events", "with_events", is_flag=True, help="also print the session's event log")
@_JSON_OPTION
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="also write the session's report as one self-contained HTML page")
def show_command(session_id: int, bench_file: Path | None, sessions: Path | None, with_events: bool, as_json: bool,
                 html_file: Path | None) -> None:
    """The summary of session ID, as `hanbench run` printed it, and optionally its events and report page."""
    config = bench_from(bench_file, sessions)
    with SessionRecord(existing_database(config)) as record:
        session = _Session.read(record, session_id, config)
        events = record.events(session_id) if with_events else None
        if html_file is not None:
            write_html(build_report(record, session_id, config), html_file)
    summary = session.summary
    if as_json:
        shown: dict[str, Any] = {**session.overview(), "summary": dataclasses.asdict(summary)}
        if events is not None:
            shown["events"] = [{"seq": e.seq, "at": e.at, "kind": e.kind, "data": e.data} for e in events]
        click.echo(_json(shown))
        return
    lines = summary.lines()
    if summary.session.failure:
        lines.append(f"  ended by: {summary.session.failure}")
    if events is not None:
        lines += ["  events (seq, bench clock, kind, fields):", *(_event_line(e) for e in events)]
    if html_file is not None:
        lines.append(f"  report page: {html_file}")
    click.echo("\n".join(lines))


@dataclasses.dataclass(frozen=True)
class _Session:
    """One session read back: the run's summary, and the record's test counts."""

    summary: RunSummary
    counts: SessionSummary

    @classmethod
    def read(cls, record: SessionRecord, session_id: int, config: BenchConfig) -> _Session:
        return cls(summarise(record, session_id, config), record.summary(session_id))

    def overview(self) -> dict[str, Any]:
        """The session as ``list`` shows it, with JSON-ready values."""
        info, summary = self.summary.session, self.summary
        return {
            "id": info.id, "bench": info.bench_name, "kind": info.bench_kind, "policy": info.policy,
            "outcome": info.outcome, "failure": info.failure, "started_wall": info.started_wall,
            "ended_wall": info.ended_wall, "tests": dict(summary.tests), "tests_passed": self.counts.tests_passed,
            "tests_failed": self.counts.tests_failed, "wall_s": summary.wall_s, "bench_s": summary.virtual_s,
            "premises": summary.premises,
        }

    def row(self) -> dict[str, str]:
        """The session as one line of the ``list`` table."""
        info, summary = self.summary.session, self.summary
        return {
            "id": str(info.id), "started": info.started_wall.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "kind": info.bench_kind, "policy": info.policy, "outcome": info.outcome,
            "passed": str(self.counts.tests_passed), "failed": str(self.counts.tests_failed),
            "wall": "running" if summary.wall_s is None else f"{summary.wall_s:.1f} s",
            "bench time": _duration(summary.virtual_s),
        }


def _duration(seconds: float) -> str:
    """Bench time as a reader wants it: ``3d 04:05:06``, or ``04:05:06`` under a day."""
    days, rest = divmod(round(seconds), 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _table(rows: Sequence[dict[str, str]]) -> str:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
    return "\n".join("  ".join(r[c].ljust(widths[c]) for c in _COLUMNS).rstrip()
                     for r in [dict(zip(_COLUMNS, _COLUMNS, strict=True)), *rows])


def _event_line(event: RecordedEvent) -> str:
    at = event.at.isoformat(sep=" ", timespec="milliseconds")
    return f"    #{event.seq:<5} {at}  {event.kind:<26} {describe_data(event.data)}".rstrip()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=_jsonable)


def _jsonable(value: Any) -> Any:
    """What :func:`json.dumps` cannot write by itself: date-times, paths, enums."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
