"""``hanbench ports`` with a fake ``comports()``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from serial.tools.list_ports_common import ListPortInfo

from hanbench.cli import main


def fake_port(device: str, serial: str | None, location: str | None) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.serial_number, info.location = serial, location
    info.vid, info.pid = (0x0403, 0x6001) if serial else (None, None)
    info.manufacturer = "FTDI" if serial else None
    info.product = "FT232R USB UART" if serial else None
    info.description = info.product or "n/a"
    return info


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    ports = [fake_port("/dev/ttyUSB1", "A10K1234", "1-1.4:1.0"), fake_port("/dev/ttyS0", None, None)]
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: list(ports))
    monkeypatch.setattr("hanbench.cli.ports.by_id_links", lambda: {})
    return ports


def test_ports_lists_fields_and_a_toml_match(attached: list[ListPortInfo]) -> None:
    result = CliRunner().invoke(main, ["ports"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "/dev/ttyS0"
    assert '  match         port = {path = "/dev/ttyS0"}   # unstable' in lines[2]
    usb = result.output[result.output.index("/dev/ttyUSB1"):]
    for expected in ("serial_number A10K1234", "vid_pid       0403:6001", "location      1-1.4:1.0",
                     "manufacturer  FTDI", 'match         port = {serial_number = "A10K1234"}'):
        assert expected in usb


def test_ports_json_is_machine_readable(attached: list[ListPortInfo]) -> None:
    result = CliRunner().invoke(main, ["ports", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["device"] for r in rows] == ["/dev/ttyS0", "/dev/ttyUSB1"]
    assert rows[1]["match"] == {"serial_number": "A10K1234"} and rows[1]["by_id"] is None


def test_no_ports_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])
    result = CliRunner().invoke(main, ["ports"])
    assert (result.exit_code, result.output) == (0, "no serial ports found\n")
    assert json.loads(CliRunner().invoke(main, ["ports", "--json"]).output) == []
