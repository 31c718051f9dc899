"""A wheel install has its main job: ``hanbench run`` and ``hanbench validate`` on an empty folder.

The wheel is built from this checkout and installed, with wheels of its dependencies, into a
fresh virtual environment without an index (``pip install --no-index --find-links``). The
commands then run in an empty folder: the suites, the embedded bench, its keys and sample
images must all come from the package, the session records must land under the working
directory (or ``--sessions DIR``), and nothing may be written into the installed package.

Fetching the dependency wheels needs the package index or pip's cache; where neither can
provide them the test skips and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(900)


def _pip(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, cwd=cwd)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel of this checkout installed offline; its bin folder."""
    wheels = tmp_path_factory.mktemp("wheelhouse")
    built = _pip(Path(sys.executable), "wheel", "--quiet", "--wheel-dir", str(wheels), str(ROOT))
    if built.returncode != 0:
        pytest.skip(f"the wheel and its dependencies' wheels could not be built or fetched: {built.stderr[-600:]}")
    env = tmp_path_factory.mktemp("venv") / "fresh"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    done = _pip(python, "install", "--quiet", "--no-index", "--find-links", str(wheels), "hanbench")
    assert done.returncode == 0, done.stderr
    return env / "bin"


def _hanbench(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HANBENCH", "PYTHON"))}
    return subprocess.run([str(bin_dir / "hanbench"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def _site_package(bin_dir: Path) -> Path:
    found = subprocess.run([str(bin_dir / "python"), "-c", "import hanbench, pathlib; "
                            "print(pathlib.Path(hanbench.__file__).parent)"], capture_output=True, text=True)
    return Path(found.stdout.strip())


def test_run_and_validate_work_on_an_empty_folder_and_write_nothing_into_the_package(
        installed: Path, tmp_path: Path) -> None:
    package = _site_package(installed)
    assert package.parent.name == "site-packages", f"hanbench imported from {package}, not from the wheel"
    before = _snapshot(package)
    empty = tmp_path / "empty"
    empty.mkdir()

    run = _hanbench(installed, empty, "run", "-k", "test_whole_flow")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "5 passed" in run.stdout, run.stdout[-2000:]
    assert (empty / "sessions" / "emu" / "hanbench.db").is_file()

    # The sample images travel in the package too; validate one against the embedded bench's ESME.
    image = empty / "ESME-121D-0000-00000002.ota"
    image.write_bytes((package / "embedded" / "firmware_images" / image.name).read_bytes())
    other = tmp_path / "records"
    validated = _hanbench(installed, empty, "validate", image.name, "--device", "esme", "--sessions", str(other))
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-2000:]
    reports = list((other / "emu" / "reports").glob("session-*/report.html"))
    assert len(reports) == 1, validated.stdout

    assert _snapshot(package) == before, "the run or the validation wrote into the installed package"
    assert sorted(p.name for p in empty.iterdir()) == [image.name, "sessions"]
