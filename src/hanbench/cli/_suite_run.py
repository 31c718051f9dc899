"""One run of a shipped suite through pytest, as ``hanbench run`` and ``hanbench validate`` start it.

The suite runs in this process (``pytest.main``) with the hanbench plugin, recording into the
bench's session record: its session folder is passed on explicitly, so the run records where
the command reads back, whatever a conftest of the suite would choose. Options the user gave
(``-k``, ``-m``, ``-v``, ``-x``, ``--junitxml``...) pass through to pytest as pytest reads them.

Nothing is written into the suite's folder, which may be the installed package: no cache
(``-p no:cacheprovider``) and no bytecode (pytest's rewritten test modules would otherwise be
cached beside them). pytest's exit status is read as hanbench's by :func:`exit_code_of`, the
one translation into README's table.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.progress import wanted
from hanbench.errors import ExitCode, HanbenchError
from hanbench.pytest_plugin import CALLER_REPORTS_ERRORS, SESSION_ID, run_outcome


@dataclasses.dataclass(frozen=True)
class SuiteRun:
    """How a suite run ended: pytest's status, the session it recorded into (None if no test
    used the bench), the hanbench error that stopped it early, whether Ctrl-C ended it."""

    status: int
    session_id: int | None
    aborted_by: HanbenchError | None
    interrupted: bool

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_of(self.status, self.aborted_by, self.interrupted)

    @property
    def nothing_selected(self) -> bool:
        return self.status == pytest.ExitCode.NO_TESTS_COLLECTED


class _Outcome:
    """A pytest plugin that keeps what the hanbench plugin knew at the end: the session ID it
    recorded into, the error that stopped the run early, and whether Ctrl-C ended it."""

    def __init__(self) -> None:
        self.session_id: int | None = None
        self.aborted_by: HanbenchError | None = None
        self.interrupted = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[CALLER_REPORTS_ERRORS] = True  # the command prints it, as its one error: line

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.session_id = config.stash.get(SESSION_ID, None)
        self.aborted_by, self.interrupted = run_outcome(config)


def exit_code_of(status: int, aborted_by: HanbenchError | None, interrupted: bool) -> ExitCode:
    """pytest's exit status, read as hanbench's: pytest says 2 for Ctrl-C and for a suite
    that does not import, 4 for a bench that is busy and for a bad option alike, 5 when
    nothing was selected; what stopped the run decides instead."""
    if interrupted:
        return ExitCode.INTERRUPTED
    if aborted_by is not None:
        return ExitCode(aborted_by.exit_code)
    return {pytest.ExitCode.OK: ExitCode.OK,
            pytest.ExitCode.TESTS_FAILED: ExitCode.CHECK_FAILED,
            pytest.ExitCode.INTERNAL_ERROR: ExitCode.INFRASTRUCTURE_FAULT,
            }.get(pytest.ExitCode(status), ExitCode.BAD_INPUT)


def run_suite(config: BenchConfig, folder: Path, options: Sequence[str] = (),
              plugins: Sequence[object] = ()) -> SuiteRun:
    """Run the suite in ``folder`` on ``config``'s bench with the pytest ``options`` given and
    the extra pytest ``plugins``; see the module docstring."""
    # hanbench, pytest-asyncio and looptime are imported before pytest starts (this command
    # is hanbench), so pytest cannot rewrite their asserts; that warning is noise here.
    args = [str(folder), "--bench", str(config.file), "--hanbench-sessions", str(config.sessions),
            "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "-o", "asyncio_default_fixture_loop_scope=function", *options]
    outcome = _Outcome()
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        status = int(pytest.main(args, plugins=[outcome, *plugins]))
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return SuiteRun(status, outcome.session_id, outcome.aborted_by, outcome.interrupted)


def pass_through(*, keyword: str | None = None, markexpr: str | None = None, verbose: int = 0,
                 exitfirst: bool = False, junitxml: Path | None = None) -> list[str]:
    """The pytest options a command passes on as the user gave them, and live progress on a
    terminal (:func:`hanbench.bench.progress.wanted`)."""
    options = ["-" + "v" * verbose] if verbose else []
    if wanted(sys.stdout):
        options.append("--hanbench-progress")
    if exitfirst:
        options.append("-x")
    for flag, value in (("-k", keyword), ("-m", markexpr), ("--junitxml", junitxml)):
        if value is not None:
            options += [flag, str(value)]
    return options
