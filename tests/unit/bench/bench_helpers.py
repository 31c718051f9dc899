"""Shared by the bench tests: a bench file text, helpers to edit it and find lines, a test clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.config_reader import BenchConfigError
from hanbench.bench.events import EventStream
from hanbench.bench.record import Session, SessionRecord
from hanbench.gbcs.entity import EntityId

# A small valid emu bench: three devices (so that devices[2] exists), a supplier, two RSAs.
BASE = """\
[bench]
name = "t"
kind = "emu"
policy = "mp207"
start = 2026-01-05T09:00:00Z
keystore = "../keys"
images = "../images"

[hub]
id = "00-DB-12-34-56-78-91-02"

[[users]]
id = "90-B3-D5-1F-30-01-00-00"
name = "SUPPLIER"
roles = ["import_supplier", "gas_supplier"]

[[users]]
id = "90-B3-D5-1F-30-0A-00-01"
name = "RSA"
roles = ["rsa"]

[[appointments]]
supplier = "90-B3-D5-1F-30-01-00-00"
rsa = "90-B3-D5-1F-30-0A-00-01"

[[devices]]
type = "esme"
id = "00-DB-12-34-56-78-91-00"
import_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111

[[devices]]
type = "gsme"
id = "00-DB-12-34-56-78-91-01"
gas_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111

[[devices]]
type = "ihd"
id = "00-DB-12-34-56-78-91-06"
import_supplier = "90-B3-D5-1F-30-01-00-00"
firmware_version = 1
hardware_version = 0x1111
"""


def edit(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace the ``count``-th occurrence of ``old`` (which must be there) by ``new``."""
    parts = text.split(old)
    assert len(parts) > count, f"{old!r} occurs fewer than {count} times"
    return old.join(parts[:count]) + new + old.join(parts[count:])


def line_of(text: str, fragment: str) -> int:
    """The line where ``fragment`` starts; it must occur once (it may span lines to be unique)."""
    assert text.count(fragment) == 1, f"{fragment!r} is not unique in the text"
    return text.count("\n", 0, text.index(fragment)) + 1


def assert_located(error: BenchConfigError, text: str, key: str, at: str | None, fragment: str) -> None:
    """``error`` is about ``key``, says ``fragment``, and points at the line of ``at`` (no line if None)."""
    assert fragment in error.problem, error.problem
    assert (error.key, error.line) == (key, None if at is None else line_of(text, at))
    assert error.exit_code == 2


START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")  # the RTDS test supplier


class Clock:
    """A bench or wall clock for tests: reads ``now``, then moves it on by ``step``."""

    def __init__(self, now: dt.datetime = START, step: dt.timedelta = dt.timedelta(0)) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> dt.datetime:
        self.now += self.step
        return self.now


@contextmanager
def recording(config: BenchConfig, clock: Clock,
              wall_clock: Clock | None = None) -> Iterator[tuple[SessionRecord, EventStream, Session]]:
    """A new session of ``config``'s record on the bench clock ``clock``, recording an event stream."""
    with SessionRecord(config.database_path, wall_clock=wall_clock or Clock()) as record:
        stream = EventStream(clock)
        session = record.start(config, clock)
        session.attach(stream)
        yield record, stream, session
