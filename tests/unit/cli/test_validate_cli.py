"""``hanbench validate`` as a user runs it: the checks printed, the exit code, the session recorded
and the three reports written (and rebuilt the same from the record)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest
from click.testing import CliRunner, Result
from fixture_files import IMAGES, bench_copy

from hanbench.bench.bench_file import load_bench
from hanbench.bench.record import SessionOutcome, SessionRecord
from hanbench.cli import main
from hanbench.gbcs.image import parse_image

ESME_V2 = IMAGES / "ESME-121D-0000-00000002.ota"


def validate(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return bench_copy(tmp_path)


def reports_of(bench: Path, session_id: int) -> Path:
    return load_bench(bench).database_path.parent / "reports" / f"session-{session_id}"


def test_a_good_image_passes_and_its_reports_land_beside_the_session_record(bench: Path) -> None:
    result = validate(str(ESME_V2), "--bench", str(bench), "--device", "esme", "--static-only")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"hanbench validate: {ESME_V2} against esme (esme 00-DB-12-34-56-78-91-00) on bench emu, "
                        "session 1")
    assert lines[1].startswith("  pass  OTA header fields [ZCL OTA 11.4.2, GBCS 11.2.3]: ")
    assert "  n/a   Size within the CH's limit [CH image store]: 3669 bytes;" in result.output
    assert "  7 passed, 0 failed, 2 not applicable -> passed" in lines
    assert "  device conformance suite: not run (--static-only)" in lines
    folder = reports_of(bench, 1)
    assert lines[-1] == f"  reports: {folder / 'report.html'}, {folder / 'report.json'}, {folder / 'junit.xml'}"

    document = json.loads((folder / "report.json").read_text())
    digest = parse_image(ESME_V2.read_bytes()).manufacturer_image_hash.hex()
    assert document["outcome"] == "passed" and document["tests"] == []
    assert document["device"] == {"name": "esme", "type": "esme", "id": "00-DB-12-34-56-78-91-00",
                                  "hardware_version": 0x1111, "firmware_version": 1,
                                  "responsible_supplier": "90-B3-D5-1F-30-01-00-00"}
    assert (document["image"]["name"], document["image"]["size"]) == ("ESME-121D-0000-00000002.ota", 3669)
    assert document["image"]["manufacturer_image_hash"] == digest
    assert document["image"]["firmware"] == {"device_type": "esme", "firmware_version": 2, "hw_min": 0x1111,
                                             "hw_max": 0x1211}
    assert [c["check"] for c in document["checks"]][:2] == ["ota_header", "image_identity"]

    [suite] = list(junitparser.JUnitXml.fromfile(str(folder / "junit.xml")))
    assert (suite.name, suite.tests, suite.failures, suite.skipped) == ("static checks", 9, 0, 2)
    props = {p.name: p.value for p in suite.properties()}
    assert props["device"] == "esme" and props["image_hash"] == digest
    assert props["device_firmware_version"] == "0x00000001" and props["image_file_version"] == "0x00000002"

    with SessionRecord(load_bench(bench).database_path) as record:
        [session] = record.list_sessions()
        assert (session.outcome, session.failure) == (SessionOutcome.PASSED, None)


def test_an_image_for_another_type_fails_with_exit_1(bench: Path, tmp_path: Path) -> None:
    gsme = IMAGES / "GSME-121D-0001-00000002.ota"
    result = validate(str(gsme), "--bench", str(bench), "--device", "esme", "--report", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "  FAIL  Manufacturer code and image type [GBCS 11.2.3]: " in result.output
    assert "  FAIL  Signed firmware facts against the device [GBCS 11.2.2]: the signed firmware is for GSME, " \
           "the device is ESME" in result.output
    assert "  5 passed, 2 failed, 2 not applicable -> failed" in result.output
    assert "  device conformance suite: not run (a static check failed)" in result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["outcome"] == "failed"
    [suite] = list(junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml")))
    failed = [case.name for case in suite if not case.is_passed and not case.is_skipped]
    assert failed == ["Manufacturer code and image type", "Signed firmware facts against the device"]
    with SessionRecord(load_bench(bench).database_path) as record:
        [session] = record.list_sessions()
        assert session.outcome is SessionOutcome.FAILED
        assert session.failure == ("static checks failed: Manufacturer code and image type, "
                                   "Signed firmware facts against the device")


def test_a_relabelled_header_fails(bench: Path, tmp_path: Path) -> None:
    image = parse_image(ESME_V2.read_bytes())
    relabelled = tmp_path / "relabelled.ota"
    relabelled.write_bytes(dataclasses.replace(image, header=dataclasses.replace(image.header, file_version=9)).to_bytes())
    result = validate(str(relabelled), "--bench", str(bench), "--device", "esme", "--report", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert "  pass  Supplier signature" in result.output
    assert "  FAIL  Signed firmware facts against the OTA header [GBCS 11.2.3]: the unsigned OTA header disagrees " \
           "with the signed content (relabelled?)" in result.output


def test_the_chs_size_limit_and_an_expected_hash_are_checked(tmp_path: Path) -> None:
    bench = bench_copy(tmp_path, replace={'image_rules = "seed" ': 'max_image_size = 3000\nimage_rules = "seed" '})
    result = validate(str(ESME_V2), "--bench", str(bench), "--device", "esme", "--expected-hash", "00" * 32)
    assert result.exit_code == 1, result.output
    assert "  FAIL  Size within the CH's limit [CH image store]: 3669 bytes is over the CH's limit of 3000 bytes" \
           in result.output
    assert "  FAIL  Manufacturer Image hash [GBCS 11.2.4]: the Manufacturer Image hashes to " in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("--device", "meter"), "error: bench 'emu' has no device 'meter'; its devices: esme, gsme, ppmid, hcalcs, ihd"),
    (("--device", "esme", "--expected-hash", "abc"), "error: Invalid value for '--expected-hash': 'abc' is not hex"),
])
def test_bad_input_is_exit_2_with_one_error_line_and_nothing_recorded(bench: Path, args: tuple[str, ...],
                                                                       message: str) -> None:
    result = validate(str(ESME_V2), "--bench", str(bench), *args)
    assert result.exit_code == 2
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert not load_bench(bench).database_path.exists()


def test_an_image_that_cannot_be_read_is_bad_input(bench: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.ota"
    result = validate(str(missing), "--bench", str(bench), "--device", "esme")
    assert (result.exit_code, result.output) == (2, f"error: cannot read image {missing}: No such file or directory\n")
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"\x00" * 100)
    result = validate(str(junk), "--bench", str(bench), "--device", "esme")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {junk}: not an OTA image: upgrade file identifier at offset 0 ")
    assert not load_bench(bench).database_path.exists()


def test_a_bad_bench_file_or_report_folder_is_bad_input(bench: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[bench\n")
    result = validate(str(ESME_V2), "--bench", str(bad), "--device", "esme")
    assert result.exit_code == 2 and result.output.startswith(f"error: {bad}:1:")
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    result = validate(str(ESME_V2), "--bench", str(bench), "--device", "esme", "--report", str(blocked / "reports"))
    assert result.exit_code == 2 and result.output.startswith(f"error: cannot make the report folder {blocked}")
    assert not load_bench(bench).database_path.exists()


def test_the_session_record_rebuilds_the_same_page(bench: Path, tmp_path: Path) -> None:
    assert validate(str(ESME_V2), "--bench", str(bench), "--device", "esme", "--static-only").exit_code == 0
    rebuilt = tmp_path / "rebuilt.html"
    shown = CliRunner().invoke(main, ["sessions", "show", "1", "--bench", str(bench), "--html", str(rebuilt)])
    assert shown.exit_code == 0, shown.output
    assert f"  report page: {rebuilt}" in shown.output
    assert rebuilt.read_bytes() == (reports_of(bench, 1) / "report.html").read_bytes()


def hanbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command in a process of its own: stage 2 runs pytest, which a test cannot nest."""
    return subprocess.run([str(Path(sys.executable).with_name("hanbench")), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=280, check=False)


@pytest.mark.timeout(300)
def test_stage_2_runs_the_device_suite_into_the_same_session_and_report(tmp_path: Path) -> None:
    good = bench_copy(tmp_path)
    done = hanbench(tmp_path, "validate", str(ESME_V2), "--bench", str(good), "--device", "esme")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "  7 passed, 0 failed, 2 not applicable -> passed" in done.stdout
    assert "  device conformance suite: 27 passed, 0 failed, 3 skipped -> passed" in done.stdout
    document = json.loads((reports_of(good, 1) / "report.json").read_text())
    assert document["outcome"] == "passed" and len(document["checks"]) == 9
    tests = {t["name"].split("::")[-1]: t for t in document["tests"]}
    assert len(tests) == 30 and {t["outcome"] for t in tests.values()} == {"passed", "skipped"}
    assert tests["test_a_lost_block_is_asked_again_at_the_same_offset[esme]"]["clause"].startswith("ZCL OTA 11.13.6")
    assert all(t["evidence"]["transfers"] for t in tests.values()
               if t["outcome"] == "passed" and "image" in t["name"] and "no_image" not in t["name"]
               and "notify" not in t["name"]), "each delivery's transfer is the test's evidence"
    suites = {suite.name: suite for suite in junitparser.JUnitXml.fromfile(str(reports_of(good, 1) / "junit.xml"))}
    assert (suites["tests"].tests, suites["tests"].failures) == (30, 0)
    with SessionRecord(load_bench(good).database_path) as record:
        [session] = record.list_sessions()
        assert session.outcome is SessionOutcome.PASSED

    (tmp_path / "bad").mkdir()
    bad = bench_copy(tmp_path / "bad", replace={'name = "esme"\n': 'name = "esme"\ndefects = ["skips_the_mac_check"]\n'})
    done = hanbench(tmp_path, "validate", str(ESME_V2), "--bench", str(bad), "--device", "esme")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "  FAIL  " in done.stdout and "test_a_cs06_without_the_acbs_mac_is_refused[esme] [GBCS 6.2.4" in done.stdout
    assert "  device conformance suite: 25 passed, 2 failed, 3 skipped -> failed" in done.stdout
