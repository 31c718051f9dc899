"""Power drivers: relay frames on a real pty, the uhubctl command line, the manual driver's refusal."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import tty
from pathlib import Path

import pytest

from hanbench.errors import BadInput
from hanbench.hardware.ports import PortMatch, PortNotFound
from hanbench.hardware.power import (
    ManualPower,
    OperatorNeeded,
    PowerConfigError,
    PowerFault,
    SerialRelayPower,
    UsbPortPower,
    power_from_config,
)

@pytest.fixture
def relay_pty(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A pty standing in for the relay module's CH340; the test reads what the driver wrote."""
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp_path / "relay"
    link.symlink_to(os.ttyname(slave))
    yield master, link
    os.close(master)
    os.close(slave)


def read_exactly(fd: int, count: int) -> bytes:
    data = b""
    while len(data) < count:
        data += os.read(fd, count - len(data))
    return data


async def test_serial_relay_writes_lcus_frames(relay_pty: tuple[int, Path]) -> None:
    master, link = relay_pty
    relay = power_from_config({"driver": "serial-relay", "port": {"path": str(link)}, "channel": 2},
                              name="esme")
    assert isinstance(relay, SerialRelayPower)
    await relay.on()
    await relay.off()
    await relay.cycle(off_time=0.01)
    written = await asyncio.to_thread(read_exactly, master, 16)
    assert written.hex(" ") == "a0 02 01 a3 a0 02 00 a2 a0 02 00 a2 a0 02 01 a3"


def test_relay_frame_checksum_is_the_low_byte_of_the_sum() -> None:
    assert SerialRelayPower.frame(1, True) == bytes.fromhex("A00101A2")
    assert SerialRelayPower.frame(0xFE, True) == bytes.fromhex("A0FE019F")


async def test_serial_relay_with_a_missing_port_names_the_match(tmp_path: Path) -> None:
    relay = SerialRelayPower("esme", PortMatch(path=str(tmp_path / "gone")))
    with pytest.raises(PortNotFound, match="does not exist"):
        await relay.on()


async def test_serial_relay_port_that_cannot_be_opened_is_a_power_fault(tmp_path: Path) -> None:
    not_a_tty = tmp_path / "plain-file"
    not_a_tty.write_text("")
    with pytest.raises(PowerFault, match="relay for 'esme'"):
        await SerialRelayPower("esme", PortMatch(path=str(not_a_tty))).on()


@pytest.fixture
def fake_uhubctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``uhubctl`` first on PATH that records its arguments, one run per line."""
    record = tmp_path / "calls"
    script = tmp_path / "bin" / "uhubctl"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\n[ "$UHUBCTL_FAIL" = 1 ] && '
                      f'{{ echo "No compatible devices detected!"; exit 1; }}\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return record


async def test_usb_port_runs_uhubctl_with_location_port_and_action(fake_uhubctl: Path) -> None:
    power = power_from_config({"driver": "usb-port", "hub": "1-1.4", "port": 3}, name="gsme")
    await power.cycle(off_time=0.01)
    assert fake_uhubctl.read_text().splitlines() == ["-l 1-1.4 -p 3 -a off", "-l 1-1.4 -p 3 -a on"]


async def test_usb_port_failure_carries_uhubctl_output(fake_uhubctl: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UHUBCTL_FAIL", "1")
    with pytest.raises(PowerFault, match="uhubctl -l 1-2 -p 1 -a on' exited with 1: No compatible devices"):
        await UsbPortPower("gsme", "1-2", 1).on()


async def test_missing_uhubctl_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PowerConfigError, match="'uhubctl', which is not on PATH; install uhubctl"):
        await UsbPortPower("gsme", "1-2", 1).off()


async def test_manual_power_refuses_a_non_interactive_run() -> None:
    power = power_from_config({"driver": "manual"}, name="ihd")
    assert isinstance(power, ManualPower)
    power.stdin = io.StringIO("\n")  # not a tty: nobody is there to press Enter
    with pytest.raises(OperatorNeeded, match="'ihd' is switched by hand and this run is not interactive"):
        await power.on()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_manual_power_prompts_and_waits_for_enter() -> None:
    shown = io.StringIO()
    power = ManualPower("ihd", stdin=Terminal("\n\n"), stdout=shown)
    await power.cycle(off_time=0)
    assert shown.getvalue() == ("Switch power of 'ihd' OFF, then press Enter: "
                                "Switch power of 'ihd' ON, then press Enter: ")
    with pytest.raises(OperatorNeeded, match="terminal closed"):
        await power.on()


@pytest.mark.parametrize(("config", "complaint"), [
    ({"driver": "pdu"}, "unknown power driver 'pdu' for 'esme'; known drivers: manual, serial-relay, usb-port"),
    ({}, "unknown power driver None"),
    ({"driver": "usb-port", "hub": "1-1"}, "needs 'port'"),
    ({"driver": "usb-port", "hub": "1-1", "port": "3"}, "'port' of 'esme' should be int"),
    ({"driver": "serial-relay", "port": {"serial_number": "X"}, "chanel": 2}, "has no key 'chanel'"),
    ({"driver": "serial-relay", "port": {"serial": "X"}}, "unknown port match key 'serial'"),
    ({"driver": "serial-relay", "port": {"path": "/dev/x"}, "channel": 0}, "channel for 'esme' must be 1..254"),
])
def test_bad_power_tables_say_what_is_wrong(config: dict[str, object], complaint: str) -> None:
    with pytest.raises(BadInput, match=complaint):
        power_from_config(config, name="esme")
