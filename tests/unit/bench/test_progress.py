"""Live transfer progress: what each line shows as the bench's events arrive, and when a command shows it."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from hanbench.bench.events import BlockProgress, CommandResending, CommandSent, CommandUndelivered, ImageFlagged, \
    TransferFinished, TransferInterrupted, TransferStarted
from hanbench.bench.progress import TransferProgress, wanted
from hanbench.cli._suite_run import pass_through
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


class BenchClock:
    """A bench clock a test moves by hand, as virtual time moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def shown(events: list[object], *, test: str | None = None, clock: BenchClock | None = None,
          step_s: float = 0.0) -> str:
    """The lines as they stand after ``events`` (``clock`` moved on ``step_s`` between them), with
    ``test`` started first, drawn once in plain text."""
    progress = TransferProgress(Console(file=io.StringIO(), force_terminal=True), NAMES, bench_time=clock)
    with progress:
        if test is not None:
            progress.test_started(test)
        for index, event in enumerate(events):
            if clock is not None and index:
                clock.now += step_s
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


def test_the_test_running_is_named_above_the_transfers() -> None:
    text = shown([TransferStarted(device=ESME, file_version=2, size=3669, block_size=50)],
                 test="test_abort_ends_the_download")
    first, second = text.splitlines()
    assert first == "test: test_abort_ends_the_download"
    assert "esme: sending" in second


def test_on_a_virtual_time_bench_the_rates_are_over_bench_time_and_the_line_says_so() -> None:
    # 20 blocks in 20 s of bench time, the last 500 bytes in 10 s, however fast the machine ran them.
    text = shown([
        TransferStarted(device=ESME, file_version=2, size=3669, block_size=50),
        BlockProgress(device=ESME, file_version=2, offset=500, size=3669, blocks=10),
        BlockProgress(device=ESME, file_version=2, offset=1000, size=3669, blocks=20),
    ], clock=BenchClock(), step_s=10.0)
    assert "1.0 blk/s" in text and "50 bytes/s" in text and "(bench time)" in text


def test_without_a_bench_clock_the_rates_are_over_wall_time_and_the_line_says_so() -> None:
    text = shown([TransferStarted(device=ESME, file_version=2, size=3669, block_size=50)])
    assert "(wall time)" in text and "bench time" not in text


def test_progress_is_shown_on_a_terminal() -> None:
    assert wanted(Tty(True), {})


def test_progress_is_quiet_when_the_output_is_not_a_terminal() -> None:
    assert not wanted(Tty(False), {})


def test_progress_is_quiet_under_ci() -> None:
    assert not wanted(Tty(True), {"CI": "true"})


@pytest.mark.parametrize(("tty", "ci", "passed"), [(True, None, True), (False, None, False), (True, "1", False)])
def test_run_and_validate_ask_pytest_for_progress_only_on_a_terminal_outside_ci(
        monkeypatch: pytest.MonkeyPatch, tty: bool, ci: str | None, passed: bool) -> None:
    monkeypatch.setattr(sys, "stdout", Tty(tty))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert ("--hanbench-progress" in pass_through()) is passed


def test_a_devices_next_transfer_replaces_its_ended_line() -> None:
    text = shown([
        TransferStarted(device=ESME, file_version=2, size=3669, block_size=50),
        TransferFinished(device=ESME, file_version=2, result=TransferResult.FILE_TRANSFER_FAILURE),
        TransferStarted(device=ESME, file_version=3, size=4000, block_size=50),
        BlockProgress(device=ESME, file_version=3, offset=2000, size=4000, blocks=40),
    ])
    [line] = text.splitlines()
    assert "esme: sending" in line and "2.0/4.0 kB" in line


def test_a_command_sent_again_shows_each_try_and_the_give_up_on_its_devices_line() -> None:
    resending = CommandResending(device=ESME, command="GBCS", request_id="13", attempt=2, attempts=5, after_s=20.0)
    assert "esme: resending command 13 (attempt 2 of 5, after 20 s)" in shown([resending])
    gave_up = CommandUndelivered(device=ESME, command="GBCS", request_id="13", attempts=5, over_s=310.2,
                                 reason="no APS acknowledgement")
    text = shown([resending, gave_up])
    assert "esme: gave up on command 13 after sending it again 5 times over 310 s: no APS acknowledgement" in text
    assert "resending" not in text


def test_a_command_that_gets_through_on_a_resend_says_so_on_its_devices_line() -> None:
    resending = CommandResending(device=ESME, command="GBCS", request_id="13", attempt=1, attempts=5, after_s=10.0)
    text = shown([resending, CommandSent(device=ESME, command="GBCS", request_id="13")])
    assert "esme: command 13 delivered" in text and "resending" not in text
