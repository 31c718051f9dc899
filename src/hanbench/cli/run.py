"""``hanbench run``: a suite on a bench, then what the session did.

The suite runs through pytest with the hanbench plugin (:mod:`hanbench.cli._suite_run`), so
``-k``, ``-m``, ``-v``, ``-x`` and ``--junitxml`` mean what they mean to pytest; the exit code
is hanbench's own (README's table, :class:`hanbench.errors.ExitCode`), whatever pytest returns.
A bench file that does not load is exit code 2 with one ``error:`` line, before pytest starts.

Which suite: ``--suite NAME`` names one the package ships (``conformance``, the default, or
``device``: :mod:`hanbench.suites`), ``--suite DIR`` any folder of tests. The suites come
from the installed package, so ``hanbench run`` works from a wheel install in an empty folder:
the bench defaults to the embedded emu bench, whose session records go to ``sessions/`` of the
working directory (``--sessions DIR`` chooses another folder, for any bench).

``--capture FILE`` writes the virtual air of every test's premises to one pcap file for
Wireshark (emu and twin benches; see :mod:`hanbench.radio.capture`). The path and the bench's
kind are checked before pytest starts, so a bad one is exit code 2 with one ``error:`` line.
"""

from __future__ import annotations

from pathlib import Path

import click

from hanbench.bench.bench import capture_path
from hanbench.bench.readiness import check_one_premises, check_ready
from hanbench.bench.record import SessionRecord
from hanbench.bench.summary import summarise
from hanbench.cli._bench_options import bench_from, bench_options
from hanbench.cli._suite_run import pass_through, run_suite
from hanbench.errors import BadInput
from hanbench.packaged import SUITES, suite_folder


def find_suite(suite: str) -> Path:
    """The folder of ``--suite``: a suite the package ships, by name, or a folder of tests."""
    if suite in SUITES:
        return suite_folder(suite)
    folder = Path(suite)
    if not folder.is_dir():
        raise BadInput(f"--suite {suite!r} is neither a suite hanbench ships ({', '.join(SUITES)}) nor a folder")
    return folder


@click.command("run")
@bench_options
@click.option("--suite", default="conformance", show_default=True, metavar="NAME|DIR",
              help=f"A suite hanbench ships ({', '.join(SUITES)}) or a folder of tests.")
@click.option("-k", "keyword", metavar="EXPR", help="Only tests matching this pytest -k expression.")
@click.option("-m", "markexpr", metavar="MARKEXPR", help="Only tests matching this pytest -m expression (emu, hw).")
@click.option("-v", "--verbose", count=True, help="More pytest output (as pytest's -v; repeat for more).")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing test (as pytest's -x).")
@click.option("--junitxml", type=click.Path(dir_okay=False, path_type=Path), help="Also write a JUnit XML report.")
@click.option("--capture", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write every frame of the virtual air to this pcap file, for Wireshark (emu and twin benches).")
def command(bench_file: Path | None, sessions: Path | None, suite: str, keyword: str | None, markexpr: str | None,
            verbose: int, exitfirst: bool, junitxml: Path | None, capture: Path | None) -> None:
    """Run a suite (by default the conformance suite) on a bench and summarise the session."""
    config = bench_from(bench_file, sessions)
    check_one_premises(config)
    check_ready(config)
    folder = find_suite(suite)
    options = pass_through(keyword=keyword, markexpr=markexpr, verbose=verbose, exitfirst=exitfirst,
                           junitxml=junitxml)
    if capture is not None:
        options += ["--hanbench-capture", str(capture_path(config, capture))]
    done = run_suite(config, folder, options)
    if done.session_id is not None:
        with SessionRecord(config.database_path) as record:
            click.echo("\n".join(summarise(record, done.session_id, config).lines()))
    elif done.status == 0 or done.nothing_selected:
        click.echo(f"hanbench: no selected test used the bench, so nothing was recorded in {config.database_path}")
    if done.aborted_by is not None:
        click.echo(f"error: {done.aborted_by}", err=True)
    elif done.nothing_selected:
        click.echo(f"error: no test in {folder} matches the selection", err=True)
    click.get_current_context().exit(done.exit_code)
