"""`hanbench gbcs decode` on RTDS vectors: every exit code, both input forms, both outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fixture_files import RTDS, RTDS_KEYS
from hanbench.cli import main

VECTORS = RTDS / "gbcs"
KEYSTORE = RTDS_KEYS
CS06 = VECTORS / "11.3_CS06" / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"
GNCA = VECTORS / "NA_GNCA-ZigBee" / "GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX"


def run(*args: str | Path, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["gbcs", "decode", *map(str, args)], input=stdin)


@pytest.mark.parametrize("vector", sorted(VECTORS.glob("*/*.HEX")), ids=lambda p: p.name)
def test_every_rtds_vector_decodes_and_checks_out(vector: Path) -> None:
    result = run(vector, "--keystore", KEYSTORE, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for check in ("signature", "mac"):
        if doc[check] is not None:
            assert doc[check]["check"] in ("valid", "no key")
    if doc["mac"] is not None:
        assert doc["mac"]["check"] == "valid"  # the RTDS store holds one end of every MAC'd pair


def test_the_table_shows_every_field_and_both_checks() -> None:
    result = run(CS06, "--keystore", KEYSTORE)
    assert result.exit_code == 0, result.output
    for line in ("frame               general-ciphering (MAC'd)", "cra                 command",
                 "originator counter  1000", "originator          90-B3-D5-1F-30-01-00-00",
                 "target              00-DB-12-34-56-78-90-A0", "message code        0x0012",
                 "use case            CS06 Activate Firmware", "  type                     ActivateFirmware",
                 "  manufacturer image hash  AA758690730934FF0685AA758690730934FF0685657788990011223344556677",
                 "  invocation counter  0", "  mac                 9F872C379F4FE0E370440625"):
        assert line in result.stdout
    assert result.stdout.count("check  valid") + result.stdout.count("check               valid") == 2


def test_hex_with_whitespace_and_binary_on_stdin_decode_alike() -> None:
    text = CS06.read_text().strip()
    spaced = "\n".join(" ".join(text[i:i + 2] for i in range(j, min(j + 32, len(text)), 2))
                       for j in range(0, len(text), 32))
    a = run("-", "--json", stdin=spaced.encode())
    b = run("-", "--json", stdin=bytes.fromhex(text))
    assert a.exit_code == b.exit_code == 0, a.output + b.output
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_without_a_key_store_the_checks_say_no_key() -> None:
    doc = json.loads(run(GNCA, "--json").stdout)
    assert doc["mac"]["check"] == "no key"
    assert doc["payload"] == {"type": "GenericAlert", "alert_code": "0x810E", "timestamp": "2015-01-01T00:00:00+00:00",
                              "critical": False, "form": "GBZ"}


@pytest.mark.parametrize(("offset_from_end", "what"), [(1, "mac"), (20, "signature")])
def test_a_changed_bit_exits_1(tmp_path: Path, offset_from_end: int, what: str) -> None:
    data = bytearray.fromhex(CS06.read_text())
    data[-offset_from_end] ^= 0x01
    path = tmp_path / "damaged.hex"
    path.write_text(data.hex())
    result = run(path, "--keystore", KEYSTORE)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and what in result.stderr and "INVALID" in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    (b"DF0901", r"error: GBCS message: originator counter at offset 3: needs 8 bytes, only 0 left"),
    (b"AB", r"error: GBCS message: first byte at offset 0: 0xAB is neither general-signing 0xDF nor "),
    (b"DF0", r"error: hex input has an odd number of digits"),
    (b"", r"error: GBCS message: first byte at offset 0: message is empty"),
])
def test_not_a_gbcs_message_exits_2_with_one_error_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.hex"
    path.write_bytes(content)
    result = run(path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and re.match(message, result.stderr)


def test_a_payload_that_is_not_its_use_case_names_the_payload_offset(tmp_path: Path) -> None:
    data = bytearray.fromhex((VECTORS / "NA_GCA-DLMS" / "GCA-DLMS_NA_8F30_ALERT_GBCS.HEX").read_text())
    at = data.index(bytes.fromhex("0F200007D0"))
    data[at] = 0x0E
    path = tmp_path / "bad.hex"
    path.write_text(data.hex())
    result = run(path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: payload at offset {at}: generic alert payload: at offset 0: expected")


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path / "nothing.hex")
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot read")
