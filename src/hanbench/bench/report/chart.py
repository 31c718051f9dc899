"""The geometry of a transfer's timeline chart: bytes sent over bench time, as numbers.

The page draws each transfer as a small inline SVG line chart. Everything a drawing needs
(the polyline's points in SVG user units, the axis ticks and their labels) is computed here
from the transfer's timeline; the template only places them, so no markup is assembled in
Python. Hand-written because it is a dozen lines of arithmetic, and a plotting library would
bring a renderer and fonts for one line per chart.
"""

from __future__ import annotations

import dataclasses

from hanbench.bench.report.model import CampaignCourse, Transfer

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 30


@dataclasses.dataclass(frozen=True)
class Tick:
    """An axis tick at ``at`` (SVG units along its axis) labelled ``label``."""

    at: float
    label: str


@dataclasses.dataclass(frozen=True)
class Chart:
    """One transfer's chart: the plot area, the line's points, the ticks of both axes."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    points: tuple[tuple[float, float], ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    title: str


def chart_of(transfer: Transfer) -> Chart | None:
    """The chart of ``transfer``, or None when there is no line to draw: no timeline, or one that
    took no bench time (a virtual air that charges no airtime); its words say as much."""
    span = max((p.at_s for p in transfer.timeline), default=0.0)
    if span <= 0:
        return None
    size = max(transfer.size, max(p.offset for p in transfer.timeline), 1)
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x(seconds: float) -> float:
        return round(LEFT + (right - LEFT) * seconds / span, 1)

    def y(offset: int) -> float:
        return round(bottom - (bottom - TOP) * offset / size, 1)

    return Chart(
        width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, right=right, bottom=bottom,
        points=tuple((x(p.at_s), y(p.offset)) for p in transfer.timeline),
        x_ticks=tuple(Tick(x(s), _seconds(s)) for s in (0.0, span / 2, span)),
        y_ticks=tuple(Tick(y(b), f"{b:,} B") for b in (0, size // 2, size)),
        title=f"{transfer.who}: {transfer.offset:,} of {transfer.size:,} bytes over {_seconds(span)} of bench time",
    )


def campaign_chart(course: CampaignCourse) -> Chart | None:
    """A campaign's CHs activated over bench time (its failures and stages in the title), or
    None when it updated no CH."""
    if not course.points:
        return None
    span = max(course.points[-1][0], max((at for at, _ in course.stages), default=0.0), 1.0)
    total = max(course.activated + course.failed, 1)
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x(seconds: float) -> float:
        return round(LEFT + (right - LEFT) * seconds / span, 1)

    def y(count: int) -> float:
        return round(bottom - (bottom - TOP) * count / total, 1)

    stages = ", ".join(f"{stage} at {_seconds(at)}" for at, stage in course.stages)
    return Chart(
        width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, right=right, bottom=bottom,
        points=((x(0.0), y(0)), *((x(at), y(activated)) for at, activated, _ in course.points)),
        x_ticks=tuple(Tick(x(s), _seconds(s)) for s in (0.0, span / 2, span)),
        y_ticks=tuple(Tick(y(n), f"{n:,} CHs") for n in (0, total // 2, total)),
        title=f"campaign {course.name}: {course.activated:,} CHs activated, {course.failed:,} failed; {stages}",
    )


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"
