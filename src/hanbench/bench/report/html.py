"""The report as one self-contained HTML page: opens from disk, fetches nothing.

Built with jinja2 from ``templates/report.html.j2`` (package data, autoescaped): the verdict and
the facts (bench, session, device, image), the clause matrix (each clause against each
outcome, counting static checks beside tests: a check that does not apply counts as skipped),
the static checks, every failing test with its evidence in plain words, every test with its
transfers drawn as small inline SVG charts (:mod:`~hanbench.bench.report.chart`), the alerts,
each CH firmware campaign's CHs activated over bench time, and the firmware of each device. Styles are inline and there is no script, so the page shows
the same in any browser, offline, and nothing in it reaches out to the network.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import jinja2

from hanbench.bench.record import TestOutcome
from hanbench.bench.report.chart import Chart, campaign_chart, chart_of
from hanbench.bench.report.model import Evidence, TestReport, ValidationReport

#: Matrix columns always shown; the other outcomes only when some check or test has them.
_ALWAYS = (TestOutcome.PASSED, TestOutcome.FAILED)
_ORDER = (TestOutcome.PASSED, TestOutcome.FAILED, TestOutcome.ERROR, TestOutcome.SKIPPED, TestOutcome.XFAILED,
          TestOutcome.XPASSED)
_LABELS = {TestOutcome.SKIPPED: "skipped / n/a"}

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("hanbench.bench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["hex4"] = lambda v: "-" if v is None else f"0x{v:04X}"
_ENVIRONMENT.filters["hex8"] = lambda v: "-" if v is None else f"0x{v:08X}"
_ENVIRONMENT.filters["when"] = lambda v: "-" if v is None else v.strftime("%Y-%m-%d %H:%M:%S %Z")


@dataclasses.dataclass(frozen=True)
class MatrixRow:
    clause: str
    counts: tuple[int, ...]
    failed: bool


@dataclasses.dataclass(frozen=True)
class Matrix:
    """Clauses against outcomes: how many checks and tests of each clause ended each way."""

    columns: tuple[str, ...]
    column_classes: tuple[str, ...]
    rows: tuple[MatrixRow, ...]


@dataclasses.dataclass(frozen=True)
class EvidenceView:
    """Evidence as the page shows it: in words, and a chart per transfer that took bench time."""

    lines: tuple[str, ...]
    charts: tuple[Chart, ...]

    @classmethod
    def of(cls, evidence: Evidence) -> EvidenceView:
        charts = tuple(chart for t in evidence.transfers if (chart := chart_of(t)) is not None)
        return cls(tuple(evidence.lines()), charts)


@dataclasses.dataclass(frozen=True)
class TestView:
    """One test as the page shows it, with its evidence."""

    __test__ = False

    test: TestReport
    evidence: EvidenceView


def clause_matrix(report: ValidationReport) -> Matrix:
    """The clause matrix of ``report``."""
    counts: dict[str, Counter[str]] = {}
    for clause, outcome, _ in report.rows():
        counts.setdefault(clause, Counter())[outcome] += 1
    present = {outcome for c in counts.values() for outcome in c}
    columns = tuple(o for o in _ORDER if o in _ALWAYS or o.value in present)
    failing = {TestOutcome.FAILED.value, TestOutcome.ERROR.value, TestOutcome.XPASSED.value}
    return Matrix(
        columns=tuple(_LABELS.get(o, o.value) for o in columns),
        column_classes=tuple(o.value for o in columns),
        rows=tuple(MatrixRow(clause, tuple(c[o.value] for o in columns), any(c[f] for f in failing))
                   for clause, c in counts.items()),
    )


def context(report: ValidationReport) -> dict[str, Any]:
    """Everything the template reads."""
    views = [TestView(t, EvidenceView.of(t.evidence)) for t in report.tests]
    return {
        "report": report,
        "matrix": clause_matrix(report),
        "tests": views,
        "failing": [v for v in views if v.test.failed],
        "other": EvidenceView.of(report.other_evidence),
        "check_counts": report.check_counts(),
        "test_counts": report.test_counts(),
        "campaign_charts": [chart for c in report.campaigns if (chart := campaign_chart(c)) is not None],
    }


def render(report: ValidationReport) -> str:
    """The page's HTML text."""
    return _ENVIRONMENT.get_template("report.html.j2").render(context(report))
