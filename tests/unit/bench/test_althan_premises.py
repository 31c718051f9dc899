"""The Alt HAN premises (bench/althan.toml) runs the conformance tests that need its bridges.

Those tests skip on the default bench, which has no bridges; this runs them on the Alt HAN
premises in a pytest of its own, so that the suite fails when any of them fails or skips
(``make test-althan`` runs the whole conformance suite there too).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixture_files import ROOT, bench_copy

BRIDGE_TESTS = ("tests/conformance/test_alt_han.py", "tests/conformance/test_image_priority.py")


def test_the_bridge_conformance_tests_pass_on_the_alt_han_premises_and_none_skips(tmp_path: Path) -> None:
    bench = bench_copy(tmp_path, "althan.toml")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", "--bench",
         str(bench), *BRIDGE_TESTS],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary
