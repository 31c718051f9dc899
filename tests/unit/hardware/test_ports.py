"""Port matching against fake ``comports()`` lists: every way to name a port, and every way to get it wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from hanbench.errors import BadInput
from hanbench.hardware.ports import (
    AmbiguousPort,
    PortConfigError,
    PortMatch,
    PortNotFound,
    PortTimeout,
    by_id_links,
    interface_number,
    suggest_match,
    wait_for_port,
)


def usb_port(device: str, *, serial: str | None, vid: int, pid: int, location: str,
             manufacturer: str = "FTDI", product: str = "FT232R USB UART") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.serial_number, info.vid, info.pid, info.location = serial, vid, pid, location
    info.manufacturer, info.product, info.description = manufacturer, product, f"{product} ({device})"
    return info


FTDI = usb_port("/dev/ttyUSB0", serial="A10K1234", vid=0x0403, pid=0x6001, location="1-1.4:1.0")
QUAD_A = usb_port("/dev/ttyUSB1", serial="FT4Q77", vid=0x0403, pid=0x6011, location="1-1.2:1.0",
                  product="Quad RS232-HS")
QUAD_B = usb_port("/dev/ttyUSB2", serial="FT4Q77", vid=0x0403, pid=0x6011, location="1-1.2:1.1",
                  product="Quad RS232-HS")
CP210X = usb_port("/dev/ttyUSB3", serial=None, vid=0x10C4, pid=0xEA60, location="1-1.3:1.0",
                  manufacturer="Silicon Labs", product="CP2102 USB to UART Bridge Controller")
ATTACHED = [FTDI, QUAD_A, QUAD_B, CP210X]


def lister(ports: list[ListPortInfo]) -> Callable[[], list[ListPortInfo]]:
    return lambda: list(ports)


@pytest.mark.parametrize(("table", "device"), [
    ({"serial_number": "A10K1234"}, "/dev/ttyUSB0"),
    ({"vid_pid": "10C4:EA60"}, "/dev/ttyUSB3"),
    ({"vid_pid": "0403:6011", "interface": 1}, "/dev/ttyUSB2"),
    ({"serial_number": "FT4Q77", "interface": 0}, "/dev/ttyUSB1"),
    ({"location": "1-1.3:1.0"}, "/dev/ttyUSB3"),
])
def test_find_by_stable_properties(table: dict[str, object], device: str) -> None:
    assert PortMatch.from_toml(table).find(lister(ATTACHED)) == device


def test_find_uses_comports_when_no_lister_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [CP210X, FTDI])
    assert PortMatch(serial_number="A10K1234").find() == "/dev/ttyUSB0"


def test_find_by_id_resolves_the_link(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB7"
    device.touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-FTDI_FT232R_USB_UART_B77-if00-port0"
    link.symlink_to(device)
    ports = [*ATTACHED, usb_port(str(device), serial="B77", vid=0x0403, pid=0x6001, location="2-1:1.0")]
    assert PortMatch.from_toml({"by_id": str(link)}).find(lister(ports)) == str(device)
    assert by_id_links(by_id) == {str(device): str(link)}
    assert by_id_links(tmp_path / "absent") == {}


def test_an_explicit_path_is_used_as_given_when_it_exists(tmp_path: Path) -> None:
    pty_link = tmp_path / "esme"
    pty_link.symlink_to(tmp_path)
    assert PortMatch(path=str(pty_link)).find(lister([])) == str(pty_link)
    assert PortMatch(path="socket://127.0.0.1:7000").find(lister([])) == "socket://127.0.0.1:7000"


def test_no_match_lists_what_is_attached_with_fields_to_match_on() -> None:
    with pytest.raises(PortNotFound) as caught:
        PortMatch(serial_number="NOPE").find(lister(ATTACHED))
    message = str(caught.value)
    assert 'no serial port fits {serial_number = "NOPE"}' in message
    assert "device=/dev/ttyUSB0 serial_number=A10K1234 vid_pid=0403:6001 location=1-1.4:1.0" in message
    assert "vid_pid=10c4:ea60 location=1-1.3:1.0" in message
    assert isinstance(caught.value, BadInput)


def test_no_match_on_an_empty_bench_says_so() -> None:
    with pytest.raises(PortNotFound, match="no serial ports are attached"):
        PortMatch(location="1-1").find(lister([]))


def test_several_matches_list_them_and_say_how_to_choose() -> None:
    with pytest.raises(AmbiguousPort) as caught:
        PortMatch(serial_number="FT4Q77").find(lister(ATTACHED))
    message = str(caught.value)
    assert "2 serial ports fit" in message and "interface" in message
    assert "/dev/ttyUSB1" in message and "/dev/ttyUSB2" in message and "/dev/ttyUSB0" not in message


def test_a_missing_explicit_path_says_it_is_unstable(tmp_path: Path) -> None:
    with pytest.raises(PortNotFound, match="unstable"):
        PortMatch(path=str(tmp_path / "ttyUSB9")).find(lister(ATTACHED))


@pytest.mark.parametrize(("table", "complaint"), [
    ({"serial": "A10K1234"}, "unknown port match key 'serial'"),
    ({}, "needs one of"),
    ({"interface": 1}, "needs 'vid_pid' or 'serial_number'"),
    ({"vid_pid": "0403-6001"}, "'vid_pid' should look like"),
    ({"by_id": "/dev/serial/by-id/x", "location": "1-1"}, "'by_id' names one port by itself"),
    ({"interface": "1", "vid_pid": "0403:6011"}, "'interface' should be an integer"),
    ({"location": 11}, "'location' should be a string"),
])
def test_bad_match_tables_name_the_key(table: dict[str, object], complaint: str) -> None:
    with pytest.raises(PortConfigError, match=complaint):
        PortMatch.from_toml(table)


def test_interface_number_comes_from_the_location_suffix() -> None:
    assert [interface_number(p) for p in ATTACHED] == [0, 0, 1, 0]
    assert interface_number(usb_port("/dev/x", serial=None, vid=1, pid=2, location="1-1.4")) is None


def test_suggestions_pick_the_most_stable_unique_key() -> None:
    links = {"/dev/ttyUSB3": "/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"}
    assert suggest_match(FTDI, ATTACHED, {}) == {"serial_number": "A10K1234"}
    assert suggest_match(QUAD_B, ATTACHED, {}) == {"serial_number": "FT4Q77", "interface": 1}
    assert suggest_match(CP210X, ATTACHED, links) == {"location": "1-1.3:1.0"}
    bare = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
    assert suggest_match(bare, [bare], {}) == {"path": "/dev/ttyS0"}


async def test_wait_for_port_returns_the_new_path_once_it_appears() -> None:
    attached: list[ListPortInfo] = [CP210X]
    board_back = usb_port("/dev/ttyACM4", serial="E5ME01", vid=0x2FE3, pid=0x0100, location="1-1.1:1.0")

    async def plug_in_later() -> None:
        await asyncio.sleep(0.1)
        attached.append(board_back)

    plugging = asyncio.create_task(plug_in_later())
    path = await wait_for_port(PortMatch(serial_number="E5ME01"), timeout=5, interval=0.01,
                               lister=lambda: list(attached))
    assert path == "/dev/ttyACM4"
    await plugging


async def test_wait_for_port_timeout_names_the_match_and_what_is_attached() -> None:
    with pytest.raises(PortTimeout) as caught:
        await wait_for_port(PortMatch(location="3-2:1.0"), timeout=0.05, interval=0.01,
                            lister=lister([CP210X]))
    message = str(caught.value)
    assert '{location = "3-2:1.0"} did not appear within 0.05 s' in message and "/dev/ttyUSB3" in message


async def test_wait_for_port_raises_ambiguity_at_once() -> None:
    with pytest.raises(AmbiguousPort):
        await wait_for_port(PortMatch(vid_pid="0403:6011"), timeout=60, lister=lister(ATTACHED))
