"""The report of a real ``hanbench run`` session, rebuilt by ``hanbench sessions show --html`` and
opened in a real headless browser (Debian's chromium), which shows the verdict, the clause
matrix, the failing test's evidence in words and the transfer as a chart, from disk, offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_bench_open import emu_copy

from hanbench.bench.bench_file import load_bench
from hanbench.bench.record import SessionRecord
from hanbench.bench.report.build import build_report
from hanbench.bench.report.model import ValidationReport

SUITE = '''
import pytest


@pytest.mark.clause("GBCS 11.2.6")
@pytest.mark.asyncio
async def test_receipt_alert_names_another_hash(bench, esme, supplier):
    await supplier.update_firmware(bench.image(esme, 2), [esme])
    alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
    assert alert.calculated_hash == bytes(32), "the receipt alert names the image's own hash"


@pytest.mark.asyncio
async def test_update_and_activate(bench, esme, supplier):
    await supplier.update_firmware(bench.image(esme, 2), [esme])
    alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
    await supplier.activate_firmware(esme, alert.calculated_hash)
    assert esme.state.running_version == 2
'''
FAILING = "test_suite.py::test_receipt_alert_names_another_hash"
PASSING = "test_suite.py::test_update_and_activate"
#: How the page is opened: headless, no sandbox (root in CI), nothing that reaches the network.
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")


def hanbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("hanbench")), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, check=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    """A ``hanbench run`` of a two-test suite (one fails after its transfer), and its page."""
    folder = tmp_path_factory.mktemp("report-page")
    bench = emu_copy(folder, name="page")
    suite = folder / "suite"
    suite.mkdir()
    (suite / "test_suite.py").write_text(SUITE)
    done = hanbench("run", "--bench", str(bench), "--suite", str(suite), cwd=suite)
    assert done.returncode == 1, done.stdout + done.stderr
    session_id = int(re.search(r"hanbench session (\d+):", done.stdout).group(1))
    page = folder / "page.html"
    shown = hanbench("sessions", "show", str(session_id), "--bench", str(bench), "--html", str(page), cwd=folder)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"  report page: {page}" in shown.stdout
    return bench, session_id, page


@pytest.fixture(scope="module")
def report(run: tuple[Path, int, Path]) -> ValidationReport:
    bench, session_id, _ = run
    config = load_bench(bench)
    with SessionRecord(config.database_path) as record:
        return build_report(record, session_id, config)


def test_each_test_of_the_run_carries_its_own_transfer_and_alerts(report: ValidationReport) -> None:
    failing, passing = report.tests
    assert (failing.name.endswith(FAILING), failing.clause, failing.outcome) == (True, "GBCS 11.2.6", "failed")
    assert (passing.name.endswith(PASSING), passing.clause, passing.outcome) == (True, passing.name, "passed")
    for test in report.tests:
        [transfer] = test.evidence.transfers
        assert (transfer.device_name, transfer.file_version, transfer.result) == ("esme", 2, "success")
        offsets = [p.offset for p in transfer.timeline]
        assert offsets[0] == 0 and offsets[-1] == transfer.size == 3669 and offsets == sorted(offsets)
        assert len(offsets) > 3  # the CH's progress reports lie between start and end
        delivered = [a for a in test.evidence.alerts if a.how == "delivered"]
        assert ("0x8F72", "GITTESTSUPPLIER") in {(a.code, a.user_name) for a in delivered}
    assert "receipt alert names the image's own hash" in (failing.message or "")
    assert [d.activated for d in report.firmware if d.device == "esme"] == [(2,)]


class _Page(HTMLParser):
    """What a reader sees in the dumped DOM: the text of each section, the matrix rows, the charts."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.text: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.polylines: list[str] = []
        self.links: list[str] = []
        self.verdict: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id") == "verdict":
            self.verdict = []
        if tag == "section":
            self.section = attributes.get("id")
        elif tag == "tr" and self.section == "clause-matrix":
            self.rows.append([])
        elif tag in ("td", "th") and self.section == "clause-matrix":
            self.cell = []
        elif tag == "polyline":
            self.polylines.append(attributes.get("points") or "")
        self.links += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.verdict is not None and not self.verdict:
            self.verdict.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.section is not None:
            self.text.setdefault(self.section, []).append(data)

    def words(self, section: str) -> str:
        return " ".join(" ".join(self.text.get(section, [])).split())


def browser_dom(page: Path, profile: Path) -> str:
    """The DOM headless Chromium built from ``page``, opened from disk."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no headless browser to open the report in: install Debian's chromium "
                    "(apt-get install -y chromium; .ci/run does)")
    done = subprocess.run([chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


def test_a_browser_shows_the_verdict_the_matrix_the_evidence_and_the_chart(run: tuple[Path, int, Path],
                                                                          tmp_path: Path) -> None:
    _, _, page = run
    shown = _Page()
    shown.feed(browser_dom(page, tmp_path / "profile"))
    assert shown.links == []  # nothing to fetch: the page is whole on disk
    assert shown.verdict == ["FAILED"]
    matrix = {row[0]: row[1:] for row in shown.rows}
    assert matrix["clause"] == ["passed", "failed"]
    assert matrix["GBCS 11.2.6"] == ["0", "1"]
    assert [counts for clause, counts in matrix.items() if clause.endswith(PASSING)] == [["1", "0"]]
    failures = shown.words("failures")
    assert "the receipt alert names the image's own hash" in failures
    assert "transfer of file version 0x00000002 to esme (00-DB-12-34-56-78-91-00): ended success" in failures
    assert "alert 0x8F72 from esme (00-DB-12-34-56-78-91-00) delivered to GITTESTSUPPLIER" in failures
    # one chart per test's transfer: the failing test's above, the passing test's in its details
    assert len(shown.polylines) == 2
    points = [tuple(map(float, p.split(","))) for p in shown.polylines[0].split()]
    assert len(points) > 3 and points[0][1] > points[-1][1]  # the line climbs from 0 to the whole image
