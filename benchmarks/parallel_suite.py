"""How much pytest-xdist buys the test suite: the same tests in one process and on N workers.

    .venv/bin/python benchmarks/parallel_suite.py [--rounds 2] [--workers auto] [PYTEST ARGS ...]

Each round runs ``pytest -q -p no:cacheprovider`` once in one process and once with ``-n
WORKERS``, alternating which goes first so that a neighbour's load on a shared machine falls
on both alike, and prints every wall time and the speed-up of each round (serial time over
parallel time, measured back to back). Extra arguments go to both runs (default: the whole
suite under tests/). Figures vary with the machine and its load; they are reported, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str]) -> tuple[float, str]:
    """Wall seconds of one pytest run, and its closing line; a failed run stops the benchmark."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    closing = lines[-1] if lines else done.stderr.strip()
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {closing}")
    return elapsed, re.sub(r"=+", "", closing).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="auto", help="pytest-xdist -n value (default: auto, one per core)")
    known, extra = parser.parse_known_args()
    print(f"cores: {os.cpu_count()}, workers: {known.workers}, tests: {' '.join(extra) or 'tests/'}")
    for index in range(known.rounds):
        order = [("serial", ["-n", "0"]), (f"-n {known.workers}", ["-n", known.workers])]
        times: dict[str, float] = {}
        for name, flags in order if index % 2 == 0 else reversed(order):
            times[name], closing = run([*flags, *extra])
            print(f"round {index + 1}: {name:>10}: {times[name]:7.1f} s  ({closing})", flush=True)
        serial, parallel = times["serial"], times[f"-n {known.workers}"]
        print(f"round {index + 1}: speed-up {serial / parallel:.2f}x (serial {serial:.1f} s / parallel {parallel:.1f} s)")


if __name__ == "__main__":
    main()
