"""One session at a time per bench database.

The DCC inventory in a bench's session database is shared state: inboxes, the SR log and
originator counters. Two sessions on it at once would read each other's alerts as their own
(and SQLite would make one of them wait or fail on a locked file). So a session holds an
exclusive lock on ``<database>.lock`` for its whole life, as a lab place is locked before use;
a second one fails at once with :class:`BenchBusy` rather than with confusing results. The
operating system drops the lock when the holder exits, however it exits.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from hanbench.errors import InfrastructureFault


class BenchBusy(InfrastructureFault):
    """Another session holds the bench: the bench is unavailable, nothing is wrong with the input."""


class BenchLock:
    """An exclusive, non-blocking lock beside ``database``; use as a context manager."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> BenchLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BenchBusy(f"the bench database {self.path.with_suffix('')} is in use by {holder}; "
                            "wait for that session to end, or give this bench another name") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
