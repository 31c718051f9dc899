"""The report's JSON form: ``report.json``, and the validation part the session record keeps.

The keys are the field names of the typed record (:mod:`hanbench.bench.report.model`), so they
change only when the record does, and then ``format`` changes with them. cattrs does the
conversion both ways (dataclasses, tuples, optionals, enums, UTC date-times as ISO 8601), so
the reader and the writer cannot drift apart. Reading refuses anything that does not fit the
record, with the path of the offending value.

The document (``format`` ``hanbench-report/1``)::

    format          "hanbench-report/1"
    outcome         "passed" | "failed": no check failed, no test failed or errored
    bench           {name, kind, policy}
    session         {id, outcome, started_wall, ended_wall, hanbench_version, zigpy_version, bellows_version}
    device          null, or {name, type, id, hardware_version, firmware_version, responsible_supplier}
    image           null, or {name, size, manufacturer_image_hash, signed,
                              header {manufacturer_code, image_type, file_version, stack_version,
                                      header_string, hw_min, hw_max, upgrade_file_destination},
                              firmware null or {device_type, firmware_version, hw_min, hw_max}}
    checks          [{check, title, clause, outcome ("pass" | "fail" | "not_applicable"), reason}]
    tests           [{name, clause, outcome ("passed" | "failed" | "error" | "skipped" | "xfailed" |
                      "xpassed"), duration_s, message, evidence}]
    other_evidence  evidence no test claims (events outside any test)
    firmware        [{device, type, running, activated [...]}]
    campaigns       [{name, points [[at_s, activated, failed]], stages [[at_s, stage]]}]: CH firmware
                    campaigns; a document written before this key existed reads as none

    evidence        {transfers [{device, device_name, file_version, size, started_at, finished_at,
                                 result, reason, retries, timeline [{at_s, offset}]}],
                     alerts [{at, code, how ("raised" | "delivered"), device, device_name, user,
                              user_name}],
                     undelivered [{at, device, device_name, request_id, attempts, over_s, reason}]:
                              commands the CH gave up on; a document written before this key
                              existed reads as none}

Numbers are JSON numbers (versions, codes and hardware versions too; ``code`` is text because
DCC alerts have names), date-times ISO 8601 with their UTC offset, entity IDs in DUIS form,
the hash in lowercase hex.
"""

from __future__ import annotations

import json
from typing import Any

import cattrs
from cattrs.preconf.json import make_converter

from hanbench.bench.report.model import DeviceFacts, ImageFacts, ValidationReport
from hanbench.errors import BadInput
from hanbench.gbcs.image_checks import CheckResult

FORMAT = "hanbench-report/1"
_CONVERTER = make_converter()


class ReportUnreadable(BadInput):
    """JSON that is not a report (or a validation) this version of hanbench writes."""


def to_json(report: ValidationReport) -> dict[str, Any]:
    """The report as JSON values, ``format`` and ``outcome`` first."""
    return {"format": FORMAT, "outcome": report.outcome, **_CONVERTER.unstructure(report)}


def dumps(report: ValidationReport) -> str:
    """``report.json``'s text."""
    return json.dumps(to_json(report), indent=2) + "\n"


def from_json(document: Any) -> ValidationReport:
    """A report read back from :func:`to_json`'s values."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ReportUnreadable(f"not a {FORMAT} document (format: {found!r})")
    return _structure(document, ValidationReport)


def validation_to_json(device: DeviceFacts, image: ImageFacts, checks: tuple[CheckResult, ...]) -> dict[str, Any]:
    """What a session record keeps of a validation: the report's ``device``, ``image`` and ``checks``."""
    return {"device": _CONVERTER.unstructure(device), "image": _CONVERTER.unstructure(image),
            "checks": _CONVERTER.unstructure(checks)}


def validation_from_json(document: Any) -> tuple[DeviceFacts, ImageFacts, tuple[CheckResult, ...]]:
    """:func:`validation_to_json`'s values read back."""
    if not isinstance(document, dict):
        raise ReportUnreadable(f"a validation is a JSON object, got {type(document).__name__}")
    return (_structure(document.get("device"), DeviceFacts), _structure(document.get("image"), ImageFacts),
            _structure(document.get("checks"), tuple[CheckResult, ...]))


def _structure(value: Any, kind: Any) -> Any:
    try:
        return _CONVERTER.structure(value, kind)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        problems = cattrs.transform_error(exc) if isinstance(exc, cattrs.BaseValidationError) else [str(exc)]
        raise ReportUnreadable(f"not a {getattr(kind, '__name__', kind)} of {FORMAT}: {'; '.join(problems)}") from None
