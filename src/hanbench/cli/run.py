"""``hanbench run``: the conformance suite on a bench, then what the session did.

The suite runs through pytest with the hanbench plugin, so ``-k``, ``-m`` and ``--junitxml``
mean what they mean to pytest; the exit code is hanbench's own (README's table,
:class:`hanbench.errors.ExitCode`), whatever pytest returns: :func:`exit_code_of` is the one
translation. A bench file that does not load is exit code 2 with one ``error:`` line,
before pytest starts.

Where the suite is: ``--suite DIR`` when given; otherwise ``tests/conformance`` of the
project the bench file belongs to (the nearest folder above the bench file that has one),
and failing that, of the source checkout hanbench runs from. So ``hanbench run --bench
bench/lab.toml`` in a clone runs that clone's suite, whatever the working directory.

``--capture FILE`` writes the virtual air of every test's premises to one pcap file for
Wireshark (emu and twin benches; see :mod:`hanbench.radio.capture`). The path and the bench's
kind are checked before pytest starts, so a bad one is exit code 2 with one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from hanbench.bench.bench import capture_path
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import default_bench_file, load_bench
from hanbench.bench.readiness import check_one_premises, check_ready
from hanbench.bench.record import SessionRecord
from hanbench.bench.summary import summarise
from hanbench.errors import BadInput, ExitCode, HanbenchError
from hanbench.pytest_plugin import CALLER_REPORTS_ERRORS, SESSION_ID, run_outcome

SUITE = Path("tests") / "conformance"


def find_suite(config: BenchConfig) -> Path:
    """The conformance suite for ``config``'s project (see the module docstring)."""
    checkout = Path(__file__).resolve().parents[3]
    for folder in (*config.file.parents, checkout):
        if (folder / SUITE).is_dir():
            return folder / SUITE
    raise BadInput(f"no {SUITE} folder above {config.file} or in {checkout}; pass --suite DIR")


class _SessionId:
    """A pytest plugin that keeps what the hanbench plugin knew at the end: the session ID it
    recorded into, the error that stopped the run early, and whether Ctrl-C ended it."""

    def __init__(self) -> None:
        self.session_id: int | None = None
        self.aborted_by: HanbenchError | None = None
        self.interrupted = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[CALLER_REPORTS_ERRORS] = True  # this command prints it, as its one error: line

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


@click.command("run")
@click.option("--bench", "bench_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bench file (default: bench/emu.toml of this checkout).")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests matching this pytest -k expression.")
@click.option("-m", "markexpr", metavar="MARKEXPR", help="Only tests matching this pytest -m expression (emu, hw).")
@click.option("--junitxml", type=click.Path(dir_okay=False, path_type=Path), help="Also write a JUnit XML report.")
@click.option("--suite", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Conformance suite folder (default: tests/conformance of the bench file's project).")
@click.option("--capture", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write every frame of the virtual air to this pcap file, for Wireshark (emu and twin benches).")
def command(bench_file: Path | None, keyword: str | None, markexpr: str | None, junitxml: Path | None,
            suite: Path | None, capture: Path | None) -> None:
    """Run the conformance suite on a bench and summarise the session."""
    config = load_bench(bench_file if bench_file is not None else default_bench_file())
    check_one_premises(config)
    check_ready(config)
    folder = suite if suite is not None else find_suite(config)
    pcap = None if capture is None else capture_path(config, capture)
    # hanbench, pytest-asyncio and looptime are imported before pytest starts (this command
    # is hanbench), so pytest cannot rewrite their asserts; that warning is noise here.
    # The session folder is passed on explicitly: the run records into the bench file's
    # database (read back below) whatever a conftest of the suite would choose.
    args = [str(folder), "--bench", str(config.file), "--hanbench-sessions", str(config.sessions),
            "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for flag, value in (("-k", keyword), ("-m", markexpr), ("--junitxml", junitxml), ("--hanbench-capture", pcap)):
        if value is not None:
            args += [flag, str(value)]
    catcher = _SessionId()
    status = int(pytest.main(args, plugins=[catcher]))
    if catcher.session_id is not None:
        with SessionRecord(config.database_path) as record:
            click.echo("\n".join(summarise(record, catcher.session_id, config).lines()))
    elif status in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        click.echo(f"hanbench: no selected test used the bench, so nothing was recorded in {config.database_path}")
    code = exit_code_of(status, catcher.aborted_by, catcher.interrupted)
    if catcher.aborted_by is not None:
        click.echo(f"error: {catcher.aborted_by}", err=True)
    elif status == pytest.ExitCode.NO_TESTS_COLLECTED:
        click.echo(f"error: no test in {folder} matches the selection", err=True)
    click.get_current_context().exit(code)
