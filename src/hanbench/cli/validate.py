"""``hanbench validate IMAGE --bench FILE --device NAME [--report DIR]``: is this image fit for that device?

Stage 1 runs the static checks of IMAGE against the bench's device NAME
(:mod:`hanbench.bench.validation`) and prints one line per check (pass / fail / n/a, the
check, its clause, the reason). Stage 2, when every check passed, runs the device conformance
suite (:mod:`hanbench.suites.device`) on that one device with IMAGE as its new firmware, through
pytest as ``hanbench run`` does (:mod:`hanbench.cli._suite_run`), and prints each test that
failed and the counts; ``--static-only`` stops after stage 1. The validation is one session of
the bench (the suite's run records the static checks first), and its report is written into DIR
(default ``<sessions>/<bench name>/reports/session-<ID>``): ``report.json``, ``junit.xml`` and
``report.html`` (:mod:`hanbench.bench.report`). ``--expected-hash HEX`` also compares the
Manufacturer Image hash with the one a release names.

Exit codes (README): 0 every check passed or did not apply and no test failed; 1 a check or a
test failed; 2 bad input (a bench file that does not load, a device the bench does not have,
an image that cannot be read or is no OTA Upgrade Image, a report folder that cannot be made),
with one ``error:`` line and nothing recorded; 3 the bench failed under the suite (busy, a
port gone); 130 interrupted.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from hanbench.bench.bench_config import BenchConfig, DeviceConfig
from hanbench.bench.readiness import check_one_premises, check_ready
from hanbench.bench.record import TestOutcome
from hanbench.bench.report.files import report_folder, write_reports
from hanbench.bench.validation import Validation, check_image_file, record_checks, report_of, validation_record
from hanbench.cli._bench_options import bench_from, bench_options
from hanbench.cli._suite_run import SuiteRun, pass_through, run_suite
from hanbench.errors import ExitCode
from hanbench.gbcs.image_checks import CheckOutcome, ImageValidation
from hanbench.packaged import suite_folder

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
@click.option("--static-only", is_flag=True, help="Only the static checks, without the device conformance suite.")
def command(image: Path, bench_file: Path | None, sessions: Path | None, device: str, report_dir: Path | None,
            expected_hash: bytes | None, static_only: bool) -> None:
    """Check IMAGE against the bench's device NAME, run the device suite on it, and write the report."""
    config = bench_from(bench_file, sessions)
    if report_dir is not None:
        report_folder(report_dir)
    target = config.device(device)
    checks = check_image_file(config, target, image, expected_hash)
    suite: SuiteRun | None = None
    if checks.passed and not static_only:
        suite = run_device_suite(config, target, checks, image)
    if suite is None or suite.session_id is None:
        done = record_checks(config, target, checks, image)
    else:
        done = Validation(suite.session_id, checks, report_of(config, suite.session_id))
    folder = report_dir if report_dir is not None else config.database_path.parent / "reports" / f"session-{done.session_id}"
    files = write_reports(done.report, folder)
    click.echo(f"hanbench validate: {image} against {target.name} ({target.type} {target.id}) on bench "
               f"{config.name}, session {done.session_id}")
    for check in done.checks.checks:
        click.echo(f"  {_MARKS[check.outcome]:<4}  {check.title} [{check.clause}]: {check.reason}")
    counts = done.report.check_counts()
    click.echo(f"  {counts[CheckOutcome.PASS]} passed, {counts[CheckOutcome.FAIL]} failed, "
               f"{counts[CheckOutcome.NOT_APPLICABLE]} not applicable -> {done.report.outcome}")
    if suite is None:
        why = "--static-only" if static_only else "a static check failed"
        click.echo(f"  device conformance suite: not run ({why})")
    else:
        for test in done.report.tests:
            if test.failed:
                first = test.message.splitlines()[0] if test.message else ""
                click.echo(f"  FAIL  {test.name} [{test.clause}]: {first}".rstrip())
        tests = done.report.test_counts()
        click.echo(f"  device conformance suite: {tests[TestOutcome.PASSED]} passed, {tests[TestOutcome.FAILED]} "
                   f"failed, {tests[TestOutcome.SKIPPED]} skipped -> {done.report.outcome}")
        if suite.aborted_by is not None:
            click.echo(f"error: {suite.aborted_by}", err=True)
    click.echo(f"  reports: {files.html}, {files.json}, {files.junit}")
    code = ExitCode.OK if done.report.passed else ExitCode.CHECK_FAILED
    if suite is not None and suite.exit_code not in (ExitCode.OK, ExitCode.CHECK_FAILED):
        code = suite.exit_code
    click.get_current_context().exit(code)


def run_device_suite(config: BenchConfig, device: DeviceConfig, checks: ImageValidation, image: Path) -> SuiteRun:
    """Stage 2: the device conformance suite on ``device`` with ``image``, recording the static
    checks into its session first."""
    check_one_premises(config)
    check_ready(config)
    with tempfile.TemporaryDirectory(prefix="hanbench-validate-") as folder:
        record = Path(folder) / "validation.json"
        record.write_text(json.dumps(validation_record(device, checks, image)), "utf-8")
        return run_suite(config, suite_folder("device"), [
            "--hanbench-device", device.name, "--hanbench-image", str(image.resolve()),
            "--hanbench-validation", str(record), "-q", "--tb=no", *pass_through()])
