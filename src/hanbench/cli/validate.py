"""``hanbench validate IMAGE --bench FILE --device NAME [--report DIR]``: is this image fit for that device?

Runs the static checks of IMAGE against the bench's device NAME (:mod:`hanbench.bench.validation`),
prints one line per check (pass / fail / n/a, the check, its clause, the reason), records the
validation as a session of the bench, and writes the report of that session into DIR (default
``<sessions>/<bench name>/reports/session-<ID>``): ``report.json``, ``junit.xml`` and
``report.html`` (:mod:`hanbench.bench.report`). ``--expected-hash HEX`` also compares the
Manufacturer Image hash with the one a release names.

Exit codes (README): 0 every check passed or did not apply; 1 a check failed; 2 bad input
(a bench file that does not load, a device the bench does not have, an image that cannot be
read or is no OTA Upgrade Image, a report folder that cannot be made), with one ``error:``
line and nothing recorded.
"""

from __future__ import annotations

from pathlib import Path

import click

from hanbench.cli._bench_options import bench_from, bench_options
from hanbench.bench.report.files import report_folder, write_reports
from hanbench.bench.validation import validate
from hanbench.gbcs.image_checks import CheckOutcome

_MARKS = {CheckOutcome.PASS: "pass", CheckOutcome.FAIL: "FAIL", CheckOutcome.NOT_APPLICABLE: "n/a"}


class HashType(click.ParamType):
    """A SHA-256 hash in hex (64 digits)."""

    name = "hex"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes):
            return value
        try:
            digest = bytes.fromhex(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not hex", param, ctx)
        if len(digest) != 32:
            self.fail(f"a SHA-256 hash is 32 bytes (64 hex digits), got {len(digest)}", param, ctx)
        return digest


@click.command("validate")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@bench_options
@click.option("--device", "device", required=True, metavar="NAME", help="The device's name (or type) on the bench.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder for report.json, junit.xml and report.html (default: beside the bench's session record).")
@click.option("--expected-hash", type=HashType(), metavar="HEX",
              help="The Manufacturer Image hash the image should have (e.g. from its CPL entry).")
def command(image: Path, bench_file: Path | None, sessions: Path | None, device: str, report_dir: Path | None,
            expected_hash: bytes | None) -> None:
    """Check IMAGE against the bench's device NAME and write the report."""
    config = bench_from(bench_file, sessions)
    if report_dir is not None:
        report_folder(report_dir)
    done = validate(config, device, image, expected_hash=expected_hash)
    folder = report_dir if report_dir is not None else config.database_path.parent / "reports" / f"session-{done.session_id}"
    files = write_reports(done.report, folder)
    target = done.report.device
    assert target is not None
    click.echo(f"hanbench validate: {image} against {target.name} ({target.type} {target.id}) on bench "
               f"{config.name}, session {done.session_id}")
    for check in done.checks.checks:
        click.echo(f"  {_MARKS[check.outcome]:<4}  {check.title} [{check.clause}]: {check.reason}")
    counts = done.report.check_counts()
    click.echo(f"  {counts[CheckOutcome.PASS]} passed, {counts[CheckOutcome.FAIL]} failed, "
               f"{counts[CheckOutcome.NOT_APPLICABLE]} not applicable -> {done.report.outcome}")
    click.echo(f"  reports: {files.html}, {files.json}, {files.junit}")
    click.get_current_context().exit(0 if done.report.passed else 1)
