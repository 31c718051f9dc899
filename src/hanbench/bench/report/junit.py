"""The report as JUnit XML, the format CI systems read (Jenkins, GitLab, GitHub annotations, ...).

One ``<testsuites>`` with a ``<testsuite>`` for the static checks and one for the tests (when
there are any). Each suite carries the report's facts as ``<properties>``: ``bench``,
``bench_kind``, ``session``, and when one image was validated against one device ``device``,
``device_type``, ``device_firmware_version``, ``image``, ``image_hash``, ``image_file_version``;
then ``firmware.<device>`` for every device (the version it ran, and what was activated).

A check or test is a ``<testcase>`` whose ``classname`` is its clause (so CI groups results by
clause) and whose ``name`` is the check's title or the test's node ID. A failed check or test
has a ``<failure>`` (an errored test an ``<error>``) whose message is the reason, a check that
does not apply and a skipped test a ``<skipped>``; a test's evidence in plain words is its
``<system-out>``. Built with :mod:`xml.etree.ElementTree`, so everything is escaped as XML needs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hanbench.bench.record import TestOutcome
from hanbench.bench.report.model import TestReport, ValidationReport
from hanbench.gbcs.image_checks import CheckOutcome, CheckResult

_FAILURE = {TestOutcome.FAILED: "failure", TestOutcome.XPASSED: "failure", TestOutcome.ERROR: "error"}
_SKIPPED = {TestOutcome.SKIPPED, TestOutcome.XFAILED}


def properties(report: ValidationReport) -> list[tuple[str, str]]:
    """The facts every suite carries, as (name, value)."""
    props = [("bench", report.bench.name), ("bench_kind", report.bench.kind), ("session", str(report.session.id))]
    if report.device is not None:
        props += [("device", report.device.name), ("device_type", report.device.type),
                  ("device_firmware_version", f"0x{report.device.firmware_version:08X}")]
    if report.image is not None:
        props += [("image", report.image.name), ("image_hash", report.image.manufacturer_image_hash),
                  ("image_file_version", f"0x{report.image.header.file_version:08X}")]
    for device in report.firmware:
        activated = ", ".join(f"0x{v:08X}" for v in device.activated) or "none"
        props.append((f"firmware.{device.device}", f"running 0x{device.running:08X}, activated {activated}"))
    return props


def to_xml(report: ValidationReport) -> bytes:
    """The JUnit XML document, UTF-8, with its XML declaration."""
    root = ET.Element("testsuites", name=f"hanbench session {report.session.id} on bench {report.bench.name}")
    if report.checks:
        suite = _suite(root, report, "static checks")
        for check in report.checks:
            _check_case(suite, check)
        _count(suite, [_check_kind(c) for c in report.checks])
    if report.tests:
        suite = _suite(root, report, "tests")
        for test in report.tests:
            _test_case(suite, test)
        _count(suite, [_test_kind(t.outcome) for t in report.tests])
        suite.set("time", f"{sum(t.duration_s for t in report.tests):.3f}")
    _count(root, [_check_kind(c) for c in report.checks] + [_test_kind(t.outcome) for t in report.tests])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _suite(root: ET.Element, report: ValidationReport, name: str) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=name, time="0.000",
                          timestamp=report.session.started_wall.isoformat(timespec="seconds"))
    props = ET.SubElement(suite, "properties")
    for key, value in properties(report):
        ET.SubElement(props, "property", name=key, value=value)
    return suite


def _check_kind(check: CheckResult) -> str | None:
    return {CheckOutcome.FAIL: "failure", CheckOutcome.NOT_APPLICABLE: "skipped"}.get(check.outcome)


def _test_kind(outcome: TestOutcome) -> str | None:
    return "skipped" if outcome in _SKIPPED else _FAILURE.get(outcome)


def _check_case(suite: ET.Element, check: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=check.clause, name=check.title, time="0.000")
    kind = _check_kind(check)
    if kind == "skipped":
        ET.SubElement(case, "skipped", message=f"not applicable: {check.reason}")
    elif kind is not None:
        ET.SubElement(case, kind, message=check.reason, type=check.check).text = check.reason
    else:
        ET.SubElement(case, "system-out").text = check.reason


def _test_case(suite: ET.Element, test: TestReport) -> None:
    case = ET.SubElement(suite, "testcase", classname=test.clause, name=test.name, time=f"{test.duration_s:.3f}")
    kind = _test_kind(test.outcome)
    message = test.message or test.outcome.value
    if kind == "skipped":
        ET.SubElement(case, "skipped", message=message)
    elif kind is not None:
        ET.SubElement(case, kind, message=message.splitlines()[0] if message else "",
                      type=test.outcome.value).text = message
    if test.evidence:
        ET.SubElement(case, "system-out").text = "\n".join(test.evidence.lines())


def _count(element: ET.Element, kinds: list[str | None]) -> None:
    element.set("tests", str(len(kinds)))
    for kind, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        element.set(attribute, str(kinds.count(kind)))
