"""The three report files, written together into one folder: ``report.json``, ``junit.xml``, ``report.html``.

All three are rendered before any is written, and each is written atomically, so a failure
leaves no half-written file (an earlier report of the same name stays whole).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hanbench.atomic_file import write_atomically
from hanbench.bench.report import html, json_form, junit
from hanbench.bench.report.model import ValidationReport
from hanbench.errors import BadInput


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """Where the three renderings of one report are."""

    json: Path
    junit: Path
    html: Path


def report_folder(folder: Path) -> Path:
    """``folder``, created if missing; :class:`BadInput` if it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot make the report folder {folder}: {exc.strerror or exc}") from None
    return folder


def write_reports(report: ValidationReport, folder: Path) -> ReportFiles:
    """Write the three renderings of ``report`` into ``folder`` (made if missing)."""
    files = ReportFiles(folder / "report.json", folder / "junit.xml", folder / "report.html")
    rendered = ((files.json, json_form.dumps(report).encode()), (files.junit, junit.to_xml(report)),
                (files.html, html.render(report).encode()))
    report_folder(folder)
    for path, data in rendered:
        write_atomically(path, data, "report")
    return files


def write_html(report: ValidationReport, path: Path) -> None:
    """Only the page, at ``path``."""
    write_atomically(path, html.render(report).encode(), "report")
