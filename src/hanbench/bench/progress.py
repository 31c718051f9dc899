"""Live progress of a run, on a terminal: the test running, and one line per image transfer.

``hanbench run`` and ``hanbench validate`` show it while their suite runs, when their output is
a terminal and ``CI`` is not set (:func:`wanted`). The first line names the test running. Each
transfer's line names the device and shows the bytes the CH has sent of the image, blocks per
second, bytes per second and the time left (rich's progress columns), and says which clock
the rates are over: bench time where the bench runs in virtual time (an emu bench, where a
day's wall-clock rate would mean nothing), wall time otherwise (twin and lab, whose bench clock
is the wall clock). A sleepy device whose image waits for its next wake says so until the
transfer starts, and a line ends with how the transfer ended, and stays until that device's
next transfer replaces it.

The lines are fed by the bench's event stream (:class:`TransferStarted`, :class:`BlockProgress`,
:class:`TransferInterrupted`, :class:`TransferFinished`, :class:`ImageFlagged` for a
sleepy device), so they work on every bench kind. A command the CH sends a device again
(:class:`CommandResending`) shows on that device's line with its try and back-off, and its
give-up (:class:`CommandUndelivered`) ends the line with the last failure. They are drawn on the controlling terminal
(``/dev/tty``), not on stdout: pytest captures stdout while a test runs, and the lines are
wanted exactly then. rich draws them (a well-kept library for live terminal output).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TextIO

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from hanbench.bench.events import BlockProgress, CommandResending, CommandSent, CommandUndelivered, Event, \
    ImageFlagged, \
    TransferFinished, TransferInterrupted, TransferStarted


def wanted(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a command writing to ``stream`` shows live progress: on a terminal, not under CI."""
    return stream.isatty() and not environ.get("CI")


class BlocksPerSecond(ProgressColumn):
    """Blocks the CH sent per second, from the task's ``blocks`` field over its elapsed time."""

    def render(self, task: Task) -> Text:
        blocks = task.fields.get("blocks", 0)
        elapsed = task.elapsed
        if not elapsed or not blocks:
            return Text("- blk/s")
        return Text(f"{blocks / elapsed:.1f} blk/s")


class _RunProgress(Progress):
    """rich's progress lines under a line naming the test running (rich's documented way to add
    lines: overriding :meth:`get_renderables`)."""

    test: str | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        if self.test is not None:
            yield Text(f"test: {self.test}")
        yield from super().get_renderables()


class TransferProgress:
    """The test running and one progress line per transfer, fed with the bench's events (call
    it with each) and the test names (:meth:`test_started`).

    ``bench_time`` is the bench clock in seconds, for a bench running in virtual time: the
    rates are then over bench time; without it, over wall time. Each line says which.
    """

    def __init__(self, console: Console, names: Mapping[str, str] | None = None, *,
                 bench_time: Callable[[], float] | None = None) -> None:
        self._names = dict(names or {})
        clock = "bench time" if bench_time is not None else "wall time"
        self.progress = _RunProgress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), BlocksPerSecond(),
            TransferSpeedColumn(), TimeRemainingColumn(), TextColumn(f"({clock})"), console=console,
            transient=False, get_time=bench_time,
        )
        self._tasks: dict[str, TaskID] = {}  # each device's running line
        self._resending: set[str] = set()  # devices whose line says a command is being sent again
        self._ended: dict[str, TaskID] = {}  # each device's last ended line, until its next transfer

    def __enter__(self) -> TransferProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def test_started(self, name: str) -> None:
        """``name`` is the test running now."""
        self.progress.test = name
        self.progress.refresh()

    def __call__(self, event: Event) -> None:
        match event:
            case ImageFlagged():
                self._line(event.device.duis, "waiting for wake", total=None)
            case TransferStarted():
                task = self._line(event.device.duis, "sending", total=event.size)
                self.progress.reset(task, total=event.size, description=self._label(event.device.duis, "sending"))
            case BlockProgress():
                task = self._line(event.device.duis, "sending", total=event.size)
                self.progress.update(task, completed=event.offset, blocks=event.blocks)
            case TransferInterrupted():
                self._end(event.device.duis, f"interrupted at {event.offset} of {event.size} bytes")
            case TransferFinished():
                outcome = "done" if event.result == 0 else event.result.name.lower().replace("_", " ")
                task = self._tasks.get(event.device.duis)
                if task is not None and event.result == 0:
                    self.progress.update(task, completed=self.progress.tasks[task].total or 0, blocks=event.blocks)
                self._end(event.device.duis, outcome)
            case CommandResending():
                state = (f"resending command {event.request_id} (attempt {event.attempt} of {event.attempts}, "
                         f"after {event.after_s:.0f} s)")
                task = self._line(event.device.duis, state, total=None)
                self.progress.update(task, description=self._label(event.device.duis, state))
                self._resending.add(event.device.duis)
            case CommandSent() if event.device.duis in self._resending:
                self._resending.discard(event.device.duis)
                self._end(event.device.duis, f"command {event.request_id} delivered")
            case CommandUndelivered():
                self._resending.discard(event.device.duis)
                self._line(event.device.duis, "", total=None)
                self._end(event.device.duis, f"gave up on command {event.request_id} after sending it again "
                                             f"{event.attempts} times over {event.over_s:.0f} s: {event.reason}")

    def _label(self, device: str, state: str) -> str:
        return f"{self._names.get(device, device)}: {state}"

    def _line(self, device: str, state: str, *, total: float | None) -> TaskID:
        """The device's running line, started if it has none."""
        task = self._tasks.get(device)
        if task is None:
            ended = self._ended.pop(device, None)
            if ended is not None:
                self.progress.remove_task(ended)
            task = self._tasks[device] = self.progress.add_task(self._label(device, state), total=total, blocks=0)
        return task

    def _end(self, device: str, outcome: str) -> None:
        task = self._tasks.pop(device, None)
        if task is not None:
            self.progress.update(task, description=self._label(device, outcome))
            self.progress.stop_task(task)
            self._ended[device] = task


def terminal() -> TextIO | None:
    """The controlling terminal, to draw on while pytest captures stdout; None without one."""
    try:
        return open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    except OSError:
        return None
