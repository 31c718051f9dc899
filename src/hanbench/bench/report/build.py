"""A session's report, built from the bench's session record and nothing else.

Everything comes from the record: the session row, the validation ``hanbench validate`` kept
(device, image, static checks), each test's outcome and clause, and the events, each test's
own (the record notes which test's premises published an event) as its evidence. The bench
file supplies only names: what the bench calls each device and user. So ``hanbench validate``
writes its report and ``hanbench sessions show --html`` rebuilds it through this one function,
and the two cannot disagree.

A test that is not tagged with a clause is filed under its node ID.
"""

from __future__ import annotations

from collections import defaultdict

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.record import RecordedEvent, SessionInfo, SessionRecord
from hanbench.bench.report.evidence import evidence_of
from hanbench.bench.report.json_form import validation_from_json
from hanbench.bench.report.model import BenchFacts, CampaignCourse, DeviceFirmware, SessionFacts, TestReport, \
    ValidationReport
from hanbench.bench.summary import summarise


def entity_names(config: BenchConfig) -> dict[str, str]:
    """What the bench calls each entity, by DUIS-form ID: its devices, its users and the CH."""
    names = {config.hub.id.duis: "CH"}
    names.update((d.id.duis, d.name) for d in config.devices)
    names.update((u.id.duis, u.name) for u in config.users)
    return names


def build_report(record: SessionRecord, session_id: int, config: BenchConfig) -> ValidationReport:
    """The report of session ``session_id`` (:class:`~hanbench.bench.record.UnknownSession` if none)."""
    info = record.session(session_id)
    validation = record.validation(session_id)
    device, image, checks = validation_from_json(validation) if validation is not None else (None, None, ())
    names = entity_names(config)
    by_test: dict[str | None, list[RecordedEvent]] = defaultdict(list)
    events = record.events(session_id)
    for event in events:
        by_test[event.test].append(event)
    recorded = record.tests(session_id)
    tests = tuple(
        TestReport(name=t.name, clause=t.clause or t.name, outcome=t.outcome, duration_s=t.duration_s,
                   message=t.message, evidence=evidence_of(by_test.get(t.name, ()), names))
        for t in recorded)
    claimed = {t.name for t in recorded}
    unclaimed = sorted((e for test, events in by_test.items() if test not in claimed for e in events),
                       key=lambda e: e.seq)
    firmware = tuple(DeviceFirmware(d.name, d.type, d.before, d.activated)
                     for d in summarise(record, session_id, config).devices)
    return ValidationReport(bench=BenchFacts(info.bench_name, info.bench_kind, info.policy),
                            session=_session_facts(info), device=device, image=image, checks=checks, tests=tests,
                            other_evidence=evidence_of(unclaimed, names), firmware=firmware,
                            campaigns=campaigns_of(events))


def campaigns_of(events: list[RecordedEvent]) -> tuple[CampaignCourse, ...]:
    """Each CH firmware campaign the events tell of (``campaign_notice``, ``ch_firmware_updated``),
    in the order they began."""
    began: dict[str, RecordedEvent] = {}
    points: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    stages: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for event in events:
        if event.kind not in ("campaign_notice", "ch_firmware_updated"):
            continue
        name = event.data["campaign"]
        start = began.setdefault(name, event).at
        at = (event.at - start).total_seconds()
        if event.kind == "campaign_notice":
            if not stages[name] or stages[name][-1][1] != event.data["stage"]:
                stages[name].append((at, event.data["stage"]))
            continue
        activated, failed = points[name][-1][1:] if points[name] else (0, 0)
        ok = event.data["outcome"] == "activated"
        points[name].append((at, activated + ok, failed + (not ok)))
    return tuple(CampaignCourse(name, tuple(points[name]), tuple(stages[name])) for name in began)


def _session_facts(info: SessionInfo) -> SessionFacts:
    return SessionFacts(info.id, info.outcome.value, info.started_wall, info.ended_wall, info.hanbench_version,
                        info.zigpy_version, info.bellows_version)
