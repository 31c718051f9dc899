"""The benchmarks CI runs after the suite still run: each smoke mode, as ``.ci/run`` calls it,
exits 0. Their figures are not asserted (speed is for the benchmarks to print, not for tests);
that they run at all is, so a change to the bench breaks the suite rather than only CI's tail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fixture_files import ROOT

SMOKES = ["air_model.py", "ota_throughput.py"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("script", SMOKES)
def test_the_benchmark_smoke_runs(script: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f"benchmarks/{script} --smoke exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
