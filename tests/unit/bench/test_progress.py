"""Live transfer progress: what each line shows as the bench's events arrive, and when a command shows it."""

from __future__ import annotations

import io

from rich.console import Console

from hanbench.bench.events import BlockProgress, ImageFlagged, TransferFinished, TransferInterrupted, \
    TransferStarted
from hanbench.bench.progress import TransferProgress, wanted
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import EntityId

ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
NAMES = {ESME.duis: "esme", GSME.duis: "gsme"}


class Tty(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def shown(events: list[object]) -> str:
    """The lines as they stand after ``events``, drawn once in plain text."""
    progress = TransferProgress(Console(file=io.StringIO(), force_terminal=True), NAMES)
    with progress:
        for event in events:
            progress(event)  # type: ignore[arg-type]
    plain = Console(file=io.StringIO(), width=140, color_system=None)
    plain.print(progress.progress.get_renderable())
    return plain.file.getvalue()  # type: ignore[attr-defined]


def test_a_transfer_is_one_line_with_bytes_rates_and_how_it_ended() -> None:
    text = shown([
        TransferStarted(device=ESME, file_version=2, size=3669, block_size=50),
        BlockProgress(device=ESME, file_version=2, offset=1850, size=3669, blocks=37),
        TransferFinished(device=ESME, file_version=2, result=TransferResult.SUCCESS, blocks=74, bytes_sent=3669),
    ])
    [line] = text.splitlines()
    assert "esme: done" in line and "3.7/3.7 kB" in line and "blk/s" in line


def test_a_sleepy_device_waits_for_its_wake_and_a_stopped_transfer_says_where() -> None:
    text = shown([
        ImageFlagged(device=GSME, file_version=2),
        TransferStarted(device=ESME, file_version=2, size=3669, block_size=50),
        BlockProgress(device=ESME, file_version=2, offset=1000, size=3669, blocks=20),
        TransferInterrupted(device=ESME, file_version=2, offset=1000, size=3669, reason="quiet"),
    ])
    assert "gsme: waiting for wake" in text
    assert "esme: interrupted at 1000 of 3669 bytes" in text


def test_progress_is_shown_on_a_terminal_and_not_under_ci() -> None:
    assert wanted(Tty(True), {})
    assert not wanted(Tty(True), {"CI": "true"})
    assert not wanted(Tty(False), {})


def test_a_devices_next_transfer_replaces_its_ended_line() -> None:
    text = shown([
        TransferStarted(device=ESME, file_version=2, size=3669, block_size=50),
        TransferFinished(device=ESME, file_version=2, result=TransferResult.FILE_TRANSFER_FAILURE),
        TransferStarted(device=ESME, file_version=3, size=4000, block_size=50),
        BlockProgress(device=ESME, file_version=3, offset=2000, size=4000, blocks=40),
    ])
    [line] = text.splitlines()
    assert "esme: sending" in line and "2.0/4.0 kB" in line
