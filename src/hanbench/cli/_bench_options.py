"""The ``--bench`` and ``--sessions`` options the commands that open a bench's record share.

``--bench FILE`` defaults to the embedded default bench the package ships
(:func:`hanbench.packaged.default_bench_file`), so ``hanbench run`` works on an empty folder
after a wheel install. ``--sessions DIR`` moves the session record (and the premises' state)
under ``DIR``, whatever the bench file says; without it a bench file's own ``sessions`` holds,
which for the embedded bench is ``sessions/`` of the working directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import default_bench_file, load_bench

_F = TypeVar("_F", bound=Callable[..., Any])


def bench_options(command: _F) -> _F:
    """Add ``--bench FILE`` and ``--sessions DIR`` to ``command`` (as ``bench_file`` and ``sessions``)."""
    command = click.option(
        "--sessions", "sessions", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", default=None,
        help="Keep session records under DIR (default: the bench file's sessions; for the embedded "
             "bench, sessions/ of the working directory).")(command)
    return click.option(
        "--bench", "bench_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Bench file (default: the embedded emu bench shipped with hanbench).")(command)


def bench_from(bench_file: Path | None, sessions: Path | None) -> BenchConfig:
    """The bench ``--bench`` names (or the embedded default), its records under ``--sessions`` if given."""
    config = load_bench(bench_file if bench_file is not None else default_bench_file())
    return config if sessions is None else dataclasses.replace(config, sessions=sessions.resolve())
