"""The bench waits a test is in, so that a test runner's timeout can name the one it cut short.

A bench wait (an event on the stream, an alert in a user's inbox) ends with its own typed
error when its time is up; the test runner's timeout is a backstop behind it. When the
backstop fires anyway (pytest-timeout's signal lands in the event loop, not in the waiting
coroutine), the traceback shows only the loop; the plugin reads :func:`in_progress` then
and says which wait was running, for how long, and which bench knob sets it.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
import time


@dataclasses.dataclass(frozen=True)
class Wait:
    """One wait: what it waits for and the time it allows."""

    what: str
    timeout_s: float
    started: float  # time.monotonic() when it began

    def describe(self) -> str:
        waited = time.monotonic() - self.started
        return f"{self.what} (allowed {self.timeout_s:g} s, waited {waited:.1f} s of wall time)"


_IN_PROGRESS: list[Wait] = []


@contextlib.contextmanager
def bench_wait(what: str, timeout_s: float) -> Iterator[None]:
    """Mark the body as a bench wait for ``what`` of up to ``timeout_s`` seconds."""
    wait = Wait(what, timeout_s, time.monotonic())
    _IN_PROGRESS.append(wait)
    try:
        yield
    finally:
        _IN_PROGRESS.remove(wait)


def in_progress() -> tuple[Wait, ...]:
    """The waits not yet ended, oldest first."""
    return tuple(_IN_PROGRESS)
