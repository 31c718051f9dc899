"""A session's report built from a real session record: each test's evidence, the JSON form read
back, the JUnit XML read by a real JUnit consumer, and the page."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import junitparser
import pytest
from bench_helpers import BASE, ESME, START, SUPPLIER, Clock, recording

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.events import (
    AlertDelivered,
    BlockProgress,
    CommandUndelivered,
    ReceiptAlertRaised,
    TransferFinished,
    TransferStarted,
)
from hanbench.bench.record import SessionRecord, TestOutcome
from hanbench.bench.report import html, json_form, junit
from hanbench.bench.report.build import build_report
from hanbench.bench.report.chart import chart_of
from hanbench.bench.report.files import write_reports
from hanbench.bench.report.json_form import ReportUnreadable
from hanbench.bench.report.model import TestReport, TimelinePoint, ValidationReport
from hanbench.bench.session_events import DccAlertDelivered
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import EntityId

GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
PASSING, FAILING = "suite.py::test_update", "suite.py::test_refused"


@pytest.fixture
def config(load_text: Callable[[str], BenchConfig]) -> BenchConfig:
    return load_text(BASE)


def record_session(config: BenchConfig) -> int:
    """A session of two tests: one whose transfer succeeds, one whose transfers do not; and an
    alert outside both."""
    clock = Clock(START)
    with recording(config, clock) as (_, stream, session):

        def later(seconds: float) -> None:
            clock.now += dt.timedelta(seconds=seconds)

        with session.running(PASSING):
            stream.publish(TransferStarted(device=ESME, file_version=2, size=1000, block_size=50))
            for offset in (250, 600):
                later(10)
                stream.publish(BlockProgress(device=ESME, file_version=2, offset=offset, size=1000, blocks=offset // 50))
            later(5)
            stream.publish(TransferFinished(device=ESME, file_version=2, result=TransferResult.SUCCESS, blocks=20,
                                            bytes_sent=1000))
            stream.publish(AlertDelivered(alert_code=0x8F72, device=ESME, user=SUPPLIER))
        session.record_test(PASSING, "passed", 1.25, clause="GBCS 11.2.6")
        stream.publish(DccAlertDelivered(alert_code="N60", device=ESME, user=SUPPLIER))
        clock.now = START  # the next premises starts the bench clock again
        with session.running(FAILING):
            stream.publish(TransferFinished(device=GSME, file_version=2, reason="hardware 0x2000 out of range",
                                            result=TransferResult.HARDWARE_VERSION_MISMATCH))
            stream.publish(TransferStarted(device=ESME, file_version=3, size=1000, block_size=50))
            later(30)
            stream.publish(BlockProgress(device=ESME, file_version=3, offset=100, size=1000, blocks=2))
            stream.publish(ReceiptAlertRaised(alert_code=0x8F1C, device=ESME))
            later(310)
            stream.publish(CommandUndelivered(device=ESME, command="GBCS", request_id="13", attempts=5, over_s=310.4,
                                              reason="no APS acknowledgement"))
        session.record_test(FAILING, "failed", 0.5, "assert 0x8F72 == 0x8F1C\nmore detail")
        session.finish("failed", "1 test failed")
        return session.id


@pytest.fixture
def report(config: BenchConfig) -> ValidationReport:
    session_id = record_session(config)
    with SessionRecord(config.database_path) as record:
        return build_report(record, session_id, config)


def test_each_test_gets_its_own_transfers_and_alerts(report: ValidationReport) -> None:
    update, refused = report.tests
    assert (update.name, update.clause, update.outcome, update.duration_s) == (PASSING, "GBCS 11.2.6", "passed", 1.25)
    assert refused.clause == FAILING  # untagged: filed under its node ID
    [transfer] = update.evidence.transfers
    assert transfer.timeline == (TimelinePoint(0.0, 0), TimelinePoint(10.0, 250), TimelinePoint(20.0, 600),
                                 TimelinePoint(25.0, 1000))
    assert (transfer.result, transfer.device_name, transfer.offset) == ("success", "esme", 1000)
    assert update.evidence.lines() == [
        "transfer of file version 0x00000002 to esme (00-DB-12-34-56-78-91-00): ended success after 25.0 s, "
        "1000 of 1000 bytes sent",
        "2026-01-05 09:00:25 alert 0x8F72 from esme (00-DB-12-34-56-78-91-00) delivered to SUPPLIER "
        "(90-B3-D5-1F-30-01-00-00)",
    ]
    assert refused.evidence.lines() == [
        "transfer of file version 0x00000002 to gsme (00-DB-12-34-56-78-91-01): ended hardware_version_mismatch "
        "(hardware 0x2000 out of range) after 0.0 s, 0 of 0 bytes sent",
        "transfer of file version 0x00000003 to esme (00-DB-12-34-56-78-91-00): never finished: the CH had sent "
        "100 of 1000 bytes",
        "2026-01-05 09:00:30 alert 0x8F1C raised by esme (00-DB-12-34-56-78-91-00)",
        "2026-01-05 09:05:40 gave up on command 13 to esme (00-DB-12-34-56-78-91-00) after sending it again 5 times over 310 s: "
        "no APS acknowledgement",
    ]
    assert report.other_evidence.lines() == [
        "2026-01-05 09:00:25 alert N60 from esme (00-DB-12-34-56-78-91-00) delivered to SUPPLIER "
        "(90-B3-D5-1F-30-01-00-00)"]
    assert not report.passed and report.device is None and report.image is None and report.checks == ()
    assert [(d.device, d.running, d.activated) for d in report.firmware][:2] == [("esme", 1, ()), ("gsme", 1, ())]


def test_the_json_form_reads_back_to_the_same_record(report: ValidationReport) -> None:
    text = json_form.dumps(report)
    document = json.loads(text)
    assert list(document) == ["format", "outcome", "bench", "session", "device", "image", "checks", "tests",
                              "other_evidence", "firmware", "campaigns"]
    assert document["format"] == "hanbench-report/1" and document["outcome"] == "failed"
    assert document["tests"][0]["evidence"]["transfers"][0]["timeline"][-1] == {"at_s": 25.0, "offset": 1000}
    assert document["tests"][1]["evidence"]["alerts"][0] == {
        "at": "2026-01-05T09:00:30+00:00", "code": "0x8F1C", "how": "raised", "device": "00-DB-12-34-56-78-91-00",
        "device_name": "esme", "user": None, "user_name": None}
    assert json_form.from_json(document) == report
    assert document["tests"][1]["evidence"]["undelivered"][0]["attempts"] == 5
    del document["campaigns"]
    assert json_form.from_json(document) == report, "a document from before campaigns were kept reads as none"
    del document["tests"][0]["evidence"]["undelivered"]
    assert json_form.from_json(document) == report, "a document from before give-ups were kept reads as none"


@pytest.mark.parametrize(("document", "message"), [
    ([], "not a hanbench-report/1 document"),
    ({"format": "hanbench-report/0"}, "format: 'hanbench-report/0'"),
    ({"format": "hanbench-report/1", "bench": {"name": "x"}}, "ValidationReport"),
])
def test_json_that_is_not_a_report_is_refused(document: object, message: str) -> None:
    with pytest.raises(ReportUnreadable, match=message):
        json_form.from_json(document)


def test_the_junit_xml_reads_as_ci_systems_read_it(report: ValidationReport, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(junit.to_xml(report))
    xml = junitparser.JUnitXml.fromfile(str(path))
    [suite] = list(xml)
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == ("tests", 2, 1, 0, 0)
    props = {p.name: p.value for p in suite.properties()}
    assert props["bench"] == "t" and props["bench_kind"] == "emu" and props["session"] == "1"
    assert props["firmware.esme"] == "running 0x00000001, activated none"
    update, refused = list(suite)
    assert (update.classname, update.name, update.time, update.is_passed) == ("GBCS 11.2.6", PASSING, 1.25, True)
    assert refused.is_passed is False
    [failure] = refused.result
    assert isinstance(failure, junitparser.Failure) and failure.message == "assert 0x8F72 == 0x8F1C"
    assert "never finished: the CH had sent 100 of 1000 bytes" in refused.system_out


def test_the_page_holds_the_matrix_the_failures_and_a_chart_per_transfer(report: ValidationReport) -> None:
    page = html.render(report)
    matrix = html.clause_matrix(report)
    assert matrix.columns == ("passed", "failed")
    assert [(r.clause, r.counts) for r in matrix.rows] == [("GBCS 11.2.6", (1, 0)), (FAILING, (0, 1))]
    assert "never finished: the CH had sent 100 of 1000 bytes" in page
    assert "gave up on command 13 to esme (00-DB-12-34-56-78-91-00) after sending it again 5 times over 310 s" in page
    assert page.count("<polyline") == 2  # the successful transfer and the unfinished one; the mismatch had none
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script" not in page


def test_markup_in_the_evidence_is_escaped(report: ValidationReport) -> None:
    hostile = TestReport(FAILING, "<b>clause</b>", TestOutcome.FAILED, 0.1, "<script>alert(1)</script>")
    page = html.render(ValidationReport(report.bench, report.session, None, None, (), (hostile,),
                                        report.other_evidence, ()))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;clause&lt;/b&gt;" in page


def test_the_chart_is_drawn_from_the_timeline(report: ValidationReport) -> None:
    chart = chart_of(report.tests[0].evidence.transfers[0])
    assert chart is not None
    assert chart.points[0] == (chart.left, chart.bottom) and chart.points[-1] == (chart.right, chart.top)
    assert [t.label for t in chart.x_ticks] == ["0.0 s", "12.5 s", "25.0 s"]
    assert [t.label for t in chart.y_ticks] == ["0 B", "500 B", "1,000 B"]
    assert chart_of(report.tests[1].evidence.transfers[0]) is None  # ended before it started


def test_the_three_files_land_together(report: ValidationReport, tmp_path: Path) -> None:
    files = write_reports(report, tmp_path / "new" / "folder")
    assert json_form.from_json(json.loads(files.json.read_text())) == report
    assert ET.parse(files.junit).getroot().tag == "testsuites"
    assert files.html.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in files.html.parent.iterdir()) == ["junit.xml", "report.html", "report.json"]


def test_an_event_the_report_cannot_read_is_named(config: BenchConfig) -> None:
    session_id = record_session(config)
    with sqlite3.connect(config.database_path) as db:
        db.execute("UPDATE event_log SET data_json = '{}' WHERE session_id = ? AND seq = 2", (session_id,))
    with SessionRecord(config.database_path) as record, pytest.raises(
            ReportUnreadable, match=r"event #2 \(block_progress\) of session 1 is not as this version of hanbench "
                                    r"records it: KeyError 'device'"):
        build_report(record, session_id, config)
