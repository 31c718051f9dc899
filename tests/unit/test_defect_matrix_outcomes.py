"""``benchmarks/defect_matrix.py`` reads outcomes from the JUnit XML pytest itself writes: a
test that errors in setup caught nothing, only a failure in the call phase catches a defect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixture_files import ROOT, script_module

defect_matrix = script_module(ROOT / "benchmarks" / "defect_matrix.py")

TESTS = '''
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("the bench could not set up")

@pytest.fixture
def breaks_after():
    yield
    raise RuntimeError("the bench could not clean up")

def test_fails():
    assert False

def test_errors_in_setup(broken):
    pass

def test_fails_and_errors_in_teardown(breaks_after):
    assert False

def test_passes_and_errors_in_teardown(breaks_after):
    pass

def test_skips():
    pytest.skip("not for this device")

def test_passes():
    pass

@pytest.mark.parametrize("device", ["esme", "gsme"])
def test_fails_on_one_device(device):
    assert device == "esme"

@pytest.mark.parametrize("device", ["esme", "gsme"])
def test_skips_on_one_device(device):
    if device == "gsme":
        pytest.skip("not for a gsme")
'''


def test_setup_and_teardown_errors_are_told_apart_from_failures(tmp_path: Path) -> None:
    (tmp_path / "test_outcomes.py").write_text(TESTS, "utf-8")
    junit = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "test_outcomes.py", "-q", "-p", "no:cacheprovider",
                    "--junitxml", str(junit)], cwd=tmp_path, capture_output=True, check=False)
    run = defect_matrix.SuiteRun(None, defect_matrix._outcomes(junit), 1.0)
    assert run.failed == ["test_fails", "test_fails_and_errors_in_teardown", "test_fails_on_one_device"]
    assert run.errored == ["test_errors_in_setup", "test_passes_and_errors_in_teardown"]
    assert run.outcomes["test_skips"] == "skipped" and run.outcomes["test_passes"] == "passed"
    assert run.outcomes["test_skips_on_one_device"] == "passed"
    defective = defect_matrix.SuiteRun(defect_matrix.Defect.IGNORES_QUERY_JITTER,
                                       {"test_errors_in_setup": "error"}, 1.0)
    assert defect_matrix.verdicts([run, defective]) == [
        "the good device fails test_fails, test_fails_and_errors_in_teardown, test_fails_on_one_device",
        "the good device errors in test_errors_in_setup, test_passes_and_errors_in_teardown",
        "no test catches ignores_the_query_jitter",
    ]
    assert "| `ignores_the_query_jitter` | none | `test_errors_in_setup` |" in defect_matrix.table([run, defective])
