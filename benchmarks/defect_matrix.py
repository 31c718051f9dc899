"""Which tests of the device conformance suite catch each known-bad device: the defect matrix.

For the good device and for each defect an emulated device can be given
(:mod:`hanbench.devices.defects`), it writes the bench file with that device given the defect,
runs the device conformance suite from the package on that one device
(``pytest <suite> --bench FILE --hanbench-device NAME``, virtual time on an emu bench), and
reads each test's outcome from the run's JUnit XML. It prints the table defect -> the tests
that failed, and the wall time of each run against the good device's run as the baseline.
Only a test that failed in its call phase caught a defect: a test that errored (in setup or
teardown) never judged the device, so errors are shown in a column of their own and catch
nothing.

Each run is a pytest process of its own, as a user's run is: one bench file per process.
``--jobs N`` runs N of them at once.

Usage::

    .venv/bin/python benchmarks/defect_matrix.py                      # the ESME of bench/emu.toml
    .venv/bin/python benchmarks/defect_matrix.py --device hcalcs --jobs 2
    .venv/bin/python benchmarks/defect_matrix.py --json               # the matrix as JSON

Exits 1 if the good device fails or errors in a test, or a defect fails none (the suite
missed it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hanbench.bench.bench_file import load_bench
from hanbench.devices.defects import Defect
from hanbench.packaged import suite_folder

ROOT = Path(__file__).resolve().parents[1]
GOOD = "(good device)"
#: What a device given a defect of a client with Image Page Requests is also given.
PAGES = "image_page_size = 256\nimage_page_spacing_ms = 50"


@dataclasses.dataclass(frozen=True)
class SuiteRun:
    """One run of the device suite: the defect given (None: the good device), each test's
    outcome by name (passed, failed, error, skipped), and the run's wall time."""

    defect: Defect | None
    outcomes: dict[str, str]
    wall_s: float

    @property
    def failed(self) -> list[str]:
        """The tests that failed in their call phase: the ones that caught something."""
        return self._named("failed")

    @property
    def errored(self) -> list[str]:
        """The tests that errored in setup or teardown: they caught nothing."""
        return self._named("error")

    def _named(self, outcome: str) -> list[str]:
        return sorted(name for name, seen in self.outcomes.items() if seen == outcome)

    @property
    def label(self) -> str:
        return GOOD if self.defect is None else self.defect.value


def bench_with(source: Path, device: str, defect: Defect | None, folder: Path, *, pages: bool = False) -> Path:
    """``source`` rewritten into ``folder``: paths absolute, and ``device`` given ``defect``, and
    Image Page Requests (:data:`PAGES`) if ``pages`` or the defect needs them."""
    text = source.read_text("utf-8")
    for key in ("keystore", "images", "sessions"):
        text = re.sub(rf'^{key} = "([^"]*)"', lambda m: f'{key} = "{(source.parent / m.group(1)).resolve()}"',
                      text, count=1, flags=re.M)
    given = ([f'defects = ["{defect.value}"]'] if defect is not None else []) + \
        ([PAGES] if pages or (defect is not None and defect.needs_image_pages) else [])
    if given:
        text, found = re.subn(rf'^name = "{re.escape(device)}"$', "\n".join([f'name = "{device}"', *given]),
                              text, count=1, flags=re.M)
        if not found:
            raise SystemExit(f"{source} has no device named {device!r} (name = \"{device}\")")
    path = folder / f"bench-{'good' if defect is None else defect.value}{'-pages' if pages else ''}.toml"
    path.write_text(text, "utf-8")
    return path


def run_suite(bench_file: Path, device: str, defect: Defect | None, folder: Path, *,
              keyword: str | None = None) -> SuiteRun:
    """The device suite on ``device`` of ``bench_file`` given ``defect``, in a pytest process of
    its own (only the tests ``keyword`` selects, as pytest's ``-k``, when given)."""
    name = bench_file.stem
    junit = folder / f"{name}.xml"
    command = [sys.executable, "-m", "pytest", str(suite_folder("device")), "--bench", str(bench_file),
               "--hanbench-device", device, "--hanbench-sessions", str(folder / f"sessions-{name}"),
               "-p", "no:cacheprovider", "-q", "--junitxml", str(junit),
               "-o", "asyncio_default_fixture_loop_scope=function", "-W", "ignore::pytest.PytestAssertRewriteWarning",
               *(["-k", keyword] if keyword else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not junit.is_file():
        raise SystemExit(f"the device suite did not run ({name}, exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return SuiteRun(defect, _outcomes(junit), wall)


def _outcomes(junit: Path) -> dict[str, str]:
    """Each test's outcome in a JUnit XML file, by test name (its parameters' cases together).
    pytest writes a failure in the call phase as ``<failure>`` and one in setup or teardown as
    ``<error>``, the two as two test cases of one name when a test fails and then errors in
    teardown: a test with a failure in any case failed; one with only errors errored."""
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "").split("[")[0]
        kinds = {child.tag for child in case}
        outcome = "failed" if "failure" in kinds else "error" if "error" in kinds \
            else "skipped" if "skipped" in kinds else "passed"
        if name not in outcomes or _RANK[outcome] > _RANK[outcomes[name]]:
            outcomes[name] = outcome
    return outcomes


#: Which of a test's cases' outcomes is the test's: a failure over an error over a pass over a skip.
_RANK = {"skipped": 0, "passed": 1, "error": 2, "failed": 3}


def matrix(bench_file: Path, device: str, defects: list[Defect], jobs: int = 1) -> list[SuiteRun]:
    """The good device's run, then one run per defect in ``defects``."""
    config = load_bench(bench_file)
    config.device(device)  # an unknown device is bad input before any run
    with tempfile.TemporaryDirectory(prefix="defect-matrix-") as tmp:
        folder = Path(tmp)
        given: list[Defect | None] = [None, *defects]
        files = [bench_with(bench_file, device, defect, folder) for defect in given]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(lambda args: run_suite(args[0], device, args[1], folder), zip(files, given)))


def table(runs: list[SuiteRun]) -> str:
    """The matrix as a Markdown table: each defect, the tests that failed, those that errored
    (which caught nothing), the run's wall time as a ratio to the good device's run."""
    baseline = runs[0].wall_s
    lines = ["| defect | tests that fail | tests that error | wall time (x good run) |", "|---|---|---|---|"]
    for run in runs:
        caught = ", ".join(f"`{name}`" for name in run.failed) or "none"
        errored = ", ".join(f"`{name}`" for name in run.errored) or "none"
        lines.append(f"| `{run.label}` | {caught} | {errored} | {run.wall_s:.1f} s ({run.wall_s / baseline:.2f}x) |")
    return "\n".join(lines)


def verdicts(runs: list[SuiteRun]) -> list[str]:
    """What is wrong with the matrix: the good device failing or erroring, or a defect nothing
    caught (an error is not a catch)."""
    good = runs[0]
    problems = [f"the good device fails {', '.join(good.failed)}"] if good.failed else []
    problems += [f"the good device errors in {', '.join(good.errored)}"] if good.errored else []
    problems += [f"no test catches {run.label}" for run in runs[1:] if not run.failed]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=ROOT / "bench" / "emu.toml")
    parser.add_argument("--device", default="esme")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    config = load_bench(args.bench)
    kind = config.device(args.device).type
    defects = [d for d in Defect if kind in d.device_types]
    started = time.perf_counter()
    runs = matrix(args.bench, args.device, defects, args.jobs)
    total = time.perf_counter() - started
    if args.json:
        print(json.dumps({run.label: run.failed for run in runs}, indent=2))
    else:
        print(table(runs))
        tests = len(runs[0].outcomes)
        print(f"\n{len(runs)} runs of the device suite ({tests} tests each) on {args.device}, "
              f"{args.jobs} at a time: {total:.1f} s wall; good run {runs[0].wall_s:.1f} s")
    problems = verdicts(runs)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
