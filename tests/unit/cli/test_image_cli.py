"""`hanbench image build|inspect|verify|hash`, every command and exit code."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fixture_files import IMAGES, RTDS, RTDS_KEYS
from hanbench.cli import main
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.keystore import load_certificate, public_key_of

KEYSTORE = RTDS_KEYS
SUPPLIER_KEY = KEYSTORE / "90b3d51f30010000-ds.key"
SUPPLIER_CERT = KEYSTORE / "90b3d51f30010000-ds.pem"
OTHER_CERT = KEYSTORE / "90b3d51f30000002-ds.pem"
ESME_SAMPLE = IMAGES / "ESME-121D-0000-00000002.ota"
PPMID_SAMPLE = IMAGES / "PPMID-121D-0084-00000002.ota"
FIRMWARE = b"bench firmware\n" * 100


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    path = tmp_path / "firmware.bin"
    path.write_bytes(FIRMWARE)
    return path


def _build(firmware: Path, out: Path, *extra: str | Path) -> Result:
    return run(
        "image", "build", firmware, "--manufacturer-code", "0x121D", "--image-type", "0x0000",
        "--file-version", "0x01020304", "-o", out, *extra,
    )


def test_build_signed_image(firmware: Path, tmp_path: Path) -> None:
    out = tmp_path / "esme.ota"
    result = _build(firmware, out, "--hw-min", "0x1111", "--hw-max", "4625", "--header-string", "my ESME",
                    "--force-replace", "--sign-key", SUPPLIER_KEY)
    assert result.exit_code == 0, result.output
    image = parse_image(out.read_bytes())
    assert image.manufacturer_image == FIRMWARE
    h = image.header
    assert (h.manufacturer_code, h.image_type, h.file_version) == (0x121D, 0, 0x01020304)
    assert (image.header.hw_min, image.header.hw_max) == (0x1111, 0x1211)
    assert image.header.text == "my ESME" and image.force_replace
    assert image.verify(public_key_of(load_certificate(SUPPLIER_CERT)))
    assert image.manufacturer_image_hash.hex() in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esme.ota", "firmware.bin"], "no temporary file left"


def test_build_unsigned_with_optional_fields(firmware: Path, tmp_path: Path) -> None:
    out = tmp_path / "ppmid.ota"
    result = _build(firmware, out, "--unsigned", "--security-credential-version", "2",
                    "--destination", "00-DB-12-34-56-78-90-A4", "--stack-version", "0x0003")
    assert result.exit_code == 0, result.output
    image = parse_image(out.read_bytes(), signed=False)
    assert not image.is_signed and image.manufacturer_image == FIRMWARE
    assert image.header.security_credential_version == 2
    assert str(image.header.upgrade_file_destination) == "00-DB-12-34-56-78-90-A4"
    assert image.header.stack_version == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "exactly one of --sign-key KEY or --unsigned"),
        (("--unsigned", "--sign-key", SUPPLIER_KEY), "exactly one of --sign-key KEY or --unsigned"),
        (("--unsigned", "--force-replace"), "Force Replace"),
        (("--unsigned", "--hw-min", "0x1111"), "both minimum and maximum hardware version"),
        (("--unsigned", "--header-string", "x" * 33), "header string is 33 bytes"),
        (("--sign-key", "/nonexistent/key.pem"), "no private key"),
        (("--sign-key", SUPPLIER_CERT), "not an unencrypted PEM or DER private key"),
    ],
)
def test_build_bad_input_exits_2_with_one_line(
    firmware: Path, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out.ota"
    result = _build(firmware, out, *extra)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--manufacturer-code", "zz", "is not a number"),
        ("--manufacturer-code", "0x10000", "does not fit in an unsigned 16-bit integer"),
        ("--file-version", "-1", "does not fit in an unsigned 32-bit integer"),
        ("--destination", "00-DB", "is not an entity ID"),
    ],
)
def test_build_bad_option_value_exits_2(firmware: Path, tmp_path: Path, option: str, value: str, message: str) -> None:
    result = _build(firmware, tmp_path / "out.ota", "--unsigned", option, value)
    assert result.exit_code == 2
    assert option in result.stderr and message in result.stderr
    assert "Traceback" not in result.output


def test_build_missing_manufacturer_image_exits_2(tmp_path: Path) -> None:
    result = _build(tmp_path / "absent.bin", tmp_path / "out.ota", "--unsigned")
    assert result.exit_code == 2
    absent = tmp_path / "absent.bin"
    assert result.stderr == f"error: cannot read manufacturer image {absent}: No such file or directory\n"


def test_build_into_a_missing_folder_leaves_nothing(firmware: Path, tmp_path: Path) -> None:
    result = _build(firmware, tmp_path / "absent" / "out.ota", "--unsigned")
    assert result.exit_code == 2 and "cannot write image" in result.stderr
    assert not (tmp_path / "absent").exists()


def test_inspect_table() -> None:
    result = run("image", "inspect", ESME_SAMPLE)
    assert result.exit_code == 0, result.output
    expected_values = (
        "esme", "signed", "0x121D", "0x0000", "0x00000002", "0x1111..0x1211", "'hanbench ESME fw 00000002'",
    )
    for expected in expected_values:
        assert expected in result.stdout
    assert parse_image(ESME_SAMPLE.read_bytes()).manufacturer_image_hash.hex() in result.stdout


def test_inspect_json_has_every_field() -> None:
    result = run("image", "inspect", PPMID_SAMPLE, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    image = parse_image(PPMID_SAMPLE.read_bytes(), signed=False)
    assert doc["signed"] is False and doc["signature"] is None and doc["force_replace"] is None
    assert doc["device_type"] == "ppmid"
    assert doc["size"] == PPMID_SAMPLE.stat().st_size
    assert doc["manufacturer_image_hash"] == image.manufacturer_image_hash.hex()
    assert doc["manufacturer_image_size"] == len(image.manufacturer_image)
    assert doc["header"] == {
        "header_version": 0x0100, "header_length": 60, "field_control": 4, "manufacturer_code": 0x121D,
        "image_type": 0x0084, "file_version": 2, "stack_version": 2, "header_string": "hanbench PPMID fw 00000002",
        "total_image_size": doc["size"], "security_credential_version": None, "upgrade_file_destination": None,
        "hw_min": 0x1111, "hw_max": 0x1211,
    }


def test_inspect_signed_json_carries_signature() -> None:
    doc = json.loads(run("image", "inspect", ESME_SAMPLE, "--json").stdout)
    assert doc["signed"] is True and doc["force_replace"] is False
    assert doc["signature"] == parse_image(ESME_SAMPLE.read_bytes()).signature.hex()  # type: ignore[union-attr]


def test_inspect_form_signed_refuses_the_unsigned_form() -> None:
    result = run("image", "inspect", PPMID_SAMPLE, "--form", "signed")
    assert result.exit_code == 2 and "Force Replace at offset" in result.stderr


def test_verify_valid() -> None:
    result = run("image", "verify", ESME_SAMPLE, "--cert", SUPPLIER_CERT)
    assert result.exit_code == 0
    assert result.stdout.startswith("signature valid")


def test_verify_wrong_certificate_exits_1() -> None:
    result = run("image", "verify", ESME_SAMPLE, "--cert", OTHER_CERT)
    assert result.exit_code == 1
    assert "signature INVALID" in result.stderr


def test_verify_tampered_image_exits_1(tmp_path: Path) -> None:
    data = bytearray(ESME_SAMPLE.read_bytes())
    data[100] ^= 0xFF
    tampered = tmp_path / "tampered.ota"
    tampered.write_bytes(bytes(data))
    result = run("image", "verify", tampered, "--cert", SUPPLIER_CERT)
    assert result.exit_code == 1 and "signature INVALID" in result.stderr


def test_verify_unsigned_image_exits_1() -> None:
    result = run("image", "verify", PPMID_SAMPLE, "--cert", SUPPLIER_CERT)
    assert result.exit_code == 1
    assert "is unsigned" in result.stderr


def test_verify_missing_certificate_exits_2() -> None:
    result = run("image", "verify", ESME_SAMPLE, "--cert", "/nonexistent/cert.pem")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")


def test_hash_prints_the_manufacturer_image_hash() -> None:
    result = run("image", "hash", ESME_SAMPLE)
    assert result.exit_code == 0
    assert result.stdout == parse_image(ESME_SAMPLE.read_bytes()).manufacturer_image_hash.hex() + "\n"


@pytest.mark.parametrize(
    "sub", [("hash",), ("inspect",), ("inspect", "--json"), ("verify", "--cert", str(SUPPLIER_CERT))]
)
def test_not_an_image_exits_2(tmp_path: Path, sub: tuple[str, ...]) -> None:
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"this is not an image at all")
    result = run("image", sub[0], junk, *sub[1:])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {junk}: not an OTA image: upgrade file identifier at offset 0 is 0x73696874, expected 0x0BEEF11E\n"
    )


@pytest.mark.parametrize("sub", ["hash", "inspect"])
def test_missing_image_exits_2(tmp_path: Path, sub: str) -> None:
    result = run("image", sub, tmp_path / "absent.ota")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read image") and "Traceback" not in result.output


def test_installed_entry_point_exit_codes(tmp_path: Path) -> None:
    """The console script itself (not only CliRunner) maps outcomes to exit codes 0, 1 and 2."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("hanbench")
    if not exe.exists():
        pytest.skip("hanbench console script not installed beside this interpreter")
    ok = subprocess.run([exe, "image", "hash", ESME_SAMPLE], capture_output=True, text=True, check=False)
    bad_sig = subprocess.run([exe, "image", "verify", PPMID_SAMPLE, "--cert", SUPPLIER_CERT],
                             capture_output=True, text=True, check=False)
    missing = subprocess.run([exe, "image", "inspect", tmp_path / "absent.ota"],
                             capture_output=True, text=True, check=False)
    assert (ok.returncode, bad_sig.returncode, missing.returncode) == (0, 1, 2)
    assert "Traceback" not in bad_sig.stderr + missing.stderr
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("error: ")


def test_build_emulated_puts_the_facts_inside_the_signed_content(firmware: Path, tmp_path: Path) -> None:
    out = tmp_path / "gsme.ota"
    result = _build(firmware, out, "--sign-key", SUPPLIER_KEY, "--emulated", "gsme")
    assert result.exit_code == 0, result.output
    image = parse_image(out.read_bytes())
    # magic, format 1, GSME (2), the file version, the bench's GSME hardware range, the payload
    assert image.manufacturer_image == b"HBFW\x01\x02\x01\x02\x03\x04\x11\x11\x12\x11" + FIRMWARE
    assert image.verify(public_key_of(load_certificate(SUPPLIER_CERT)))
    doc = json.loads(run("image", "inspect", out, "--json").stdout)
    assert doc["emulated_firmware"] == {"device_type": "gsme", "firmware_version": 0x01020304, "hw_min": 0x1111,
                                        "hw_max": 0x1211, "payload_size": len(FIRMWARE)}
    table = run("image", "inspect", out).stdout
    assert "signed device type           gsme" in table and "signed firmware version      0x01020304" in table


def test_build_emulated_with_its_own_hardware_range(firmware: Path, tmp_path: Path) -> None:
    out = tmp_path / "esme.ota"
    assert _build(firmware, out, "--unsigned", "--emulated", "esme", "--hw-min", "2", "--hw-max", "3").exit_code == 0
    assert parse_image(out.read_bytes(), signed=False).manufacturer_image[10:14] == bytes.fromhex("00020003")


def test_build_emulated_with_half_a_range_exits_2(firmware: Path, tmp_path: Path) -> None:
    result = _build(firmware, tmp_path / "x.ota", "--unsigned", "--emulated", "esme", "--hw-min", "2")
    assert result.exit_code == 2 and "both --hw-min and --hw-max" in result.output


def test_inspect_says_a_real_image_is_opaque(tmp_path: Path) -> None:
    xml = (RTDS / "duis" / "11.1_UPDATE_FIRMWARE_REQUEST_DUIS.XML").read_text()
    rtds = tmp_path / "rtds.ota"
    rtds.write_bytes(base64.b64decode(re.search(r"<sr:FirmwareImage>([^<]+)<", xml).group(1)))
    result = run("image", "inspect", rtds)
    assert result.exit_code == 0, result.output
    assert "signed firmware facts        none (a manufacturer's opaque image)" in result.stdout
    assert json.loads(run("image", "inspect", rtds, "--json").stdout)["emulated_firmware"] is None


def test_inspect_of_a_malformed_emulated_header_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "bad.ota"
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"HBFW\x09" + bytes(20))
    assert _build(bad, out, "--unsigned").exit_code == 0
    result = run("image", "inspect", out)
    assert result.exit_code == 2
    assert "format version at offset 4: 9 is not 1" in result.output


def _bundle(out: Path, *extra: str | Path) -> Result:
    return run("image", "build", "--manufacturer-code", "0x121D", "--image-type", "0x0088",
               "--file-version", "2", "--bundle", f"B3={IMAGES / 'ALT_HAN_B3-121D-0088-00000002.ota'}",
               "--bundle", f"b4={IMAGES / 'ALT_HAN_B4-121D-0089-00000002.ota'}", "-o", out, *extra)


def test_build_a_bundle_signed_as_a_whole_inside_an_unsigned_image(tmp_path: Path) -> None:
    out = tmp_path / "b3b4.ota"
    result = _bundle(out, "--sign-key", SUPPLIER_KEY)
    assert result.exit_code == 0, result.output
    image = parse_image(out.read_bytes(), signed=False)
    assert image.manufacturer_image.startswith(b"HBAB\x01\x02\x03")  # magic, format 1, two components, B3 first
    doc = json.loads(run("image", "inspect", out, "--json").stdout)
    assert [(c["bridge"], c["image_type"], c["file_version"]) for c in doc["bundle"]["components"]] == \
        [("B3", 0x0088, 2), ("B4", 0x0089, 2)]
    assert "bundle component B4" in run("image", "inspect", out).stdout
    assert run("image", "verify", out, "--cert", SUPPLIER_CERT).stdout.startswith("bundle signature valid")
    forged = run("image", "verify", out, "--cert", OTHER_CERT)
    assert forged.exit_code == 1 and "bundle signature INVALID" in forged.output


@pytest.mark.parametrize("extra, message", [
    (("--unsigned",), "a bundle is signed as a whole"),
    (("--sign-key", SUPPLIER_KEY, "--force-replace"), "give no MANUFACTURER_IMAGE"),
    (("--sign-key", SUPPLIER_KEY, "--bundle", "PPMID=x.ota"), "a bundle carries bridge firmware"),
    (("--sign-key", SUPPLIER_KEY, "--bundle", "B3"), "is not BRIDGE=FILE"),
    (("--sign-key", SUPPLIER_KEY, "--bundle", f"B3={IMAGES / 'ALT_HAN_B3-121D-0088-00000001.ota'}"),
     "names B3 twice"),
])
def test_a_bundle_that_cannot_be_built_exits_2(tmp_path: Path, extra: tuple[str | Path, ...], message: str) -> None:
    result = _bundle(tmp_path / "x.ota", *extra)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x.ota").exists()


def test_build_without_a_manufacturer_image_or_bundle_exits_2(tmp_path: Path) -> None:
    result = run("image", "build", "--manufacturer-code", "1", "--image-type", "1", "--file-version", "1",
                 "--unsigned", "-o", tmp_path / "x.ota")
    assert result.exit_code == 2 and "give MANUFACTURER_IMAGE, or --bundle" in result.output
