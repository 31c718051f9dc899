"""Switching a board's power: the one way to test what a device does after losing it.

A driver offers ``on()``, ``off()`` and ``cycle(off_time)``, like labgrid's
PowerProtocol, and is built from a small bench-TOML table by :func:`power_from_config`:

* ``manual`` - asks the operator at the terminal; refuses in a run nobody is watching.
* ``serial-relay`` - an LCUS-type USB relay module (CH340, 9600 8N1), frames ``A0 ch st sum``.
* ``usb-port`` - a hub with per-port power switching, through ``uhubctl``.
* ``labgrid`` - an outlet of a network power switch, through labgrid's power drivers
  (:mod:`hanbench.hardware.labgrid_power`; ``model``, ``host``, ``index``).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import serial

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.hardware.ports import PortMatch


class PowerConfigError(BadInput):
    """A power table that cannot be used as written."""


class OperatorNeeded(BadInput):
    """Manual power in a run with no operator at the terminal."""


class PowerFault(InfrastructureFault):
    """The power switch itself failed (relay port gone, uhubctl error)."""


class PowerDriver(ABC):
    """Switch one board's supply. ``name`` is the board's role, used in every message."""

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    async def on(self) -> None: ...

    @abstractmethod
    async def off(self) -> None: ...

    async def cycle(self, off_time: float = 1.0) -> None:
        """Off, wait ``off_time`` seconds (long enough for the supply caps to drain), on."""
        await self.off()
        await asyncio.sleep(off_time)
        await self.on()


class ManualPower(PowerDriver):
    """The operator flips the switch; the bench waits for Enter."""

    def __init__(self, name: str, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        super().__init__(name)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout

    async def on(self) -> None:
        await self._ask("ON")

    async def off(self) -> None:
        await self._ask("OFF")

    async def _ask(self, state: str) -> None:
        if not self.stdin.isatty():
            raise OperatorNeeded(
                f"power of '{self.name}' is switched by hand and this run is not interactive, so nobody "
                f"can switch it {state}; run from a terminal, or configure driver = \"serial-relay\" or \"usb-port\""
            )
        self.stdout.write(f"Switch power of '{self.name}' {state}, then press Enter: ")
        self.stdout.flush()
        answer = await asyncio.to_thread(self.stdin.readline)
        if not answer:
            raise OperatorNeeded(f"the terminal closed while waiting for power of '{self.name}' to go {state}")


class SerialRelayPower(PowerDriver):
    """An LCUS-1/2/4-type USB relay module (a CH340 and a small MCU behind it).

    Each command is four bytes, ``A0 <channel> <state> <checksum>``: channel counts from 1,
    state is ``01`` closed (on) or ``00`` open (off), and the checksum is the low byte of the
    sum of the first three, e.g. ``A0 01 01 A2`` closes relay 1. The module does not answer.
    The port is opened per command so a relay board that re-enumerates does not strand it.
    """

    def __init__(self, name: str, port: PortMatch, channel: int = 1, *, baudrate: int = 9600) -> None:
        super().__init__(name)
        if not 1 <= channel <= 0xFE:
            raise PowerConfigError(f"relay channel for '{name}' must be 1..254, got {channel}")
        self.port = port
        self.channel = channel
        self.baudrate = baudrate

    @staticmethod
    def frame(channel: int, closed: bool) -> bytes:
        body = bytes((0xA0, channel, 1 if closed else 0))
        return body + bytes((sum(body) & 0xFF,))

    async def on(self) -> None:
        await self._send(True)

    async def off(self) -> None:
        await self._send(False)

    async def _send(self, closed: bool) -> None:
        device = self.port.find()
        await asyncio.to_thread(self._write, device, self.frame(self.channel, closed))

    def _write(self, device: str, data: bytes) -> None:
        try:
            with serial.serial_for_url(device, baudrate=self.baudrate, timeout=1, write_timeout=1) as link:
                link.write(data)
                link.flush()
        except (serial.SerialException, OSError) as exc:
            raise PowerFault(f"relay for '{self.name}' on {device}: {exc}") from exc


class UsbPortPower(PowerDriver):
    """A port of a USB hub that can switch its VBUS, driven by ``uhubctl -l HUB -p PORT -a on|off``.

    Needs root or a udev rule granting write access to the hub (see uhubctl's README).
    """

    def __init__(self, name: str, hub: str, port: int, *, program: str = "uhubctl") -> None:
        super().__init__(name)
        self.hub = hub
        self.port = port
        self.program = program

    def command(self, action: str) -> list[str]:
        return [self.program, "-l", self.hub, "-p", str(self.port), "-a", action]

    async def on(self) -> None:
        await self._run("on")

    async def off(self) -> None:
        await self._run("off")

    async def _run(self, action: str) -> None:
        executable = shutil.which(self.program)
        if executable is None:
            raise PowerConfigError(
                f"power of '{self.name}' uses '{self.program}', which is not on PATH; install uhubctl "
                f"(e.g. apt install uhubctl) or choose another power driver"
            )
        argv = [executable, *self.command(action)[1:]]
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise PowerFault(f"power of '{self.name}': '{' '.join(self.command(action))}' exited with "
                             f"{process.returncode}: {output.decode(errors='replace').strip()}")


# --- building a driver from the bench TOML ---------------------------------------------------


def _required(config: Mapping[str, Any], key: str, kind: type, name: str) -> Any:
    if key not in config:
        raise PowerConfigError(f"power of '{name}' needs '{key}'")
    value = config[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PowerConfigError(f"power key '{key}' of '{name}' should be {kind.__name__}, got {value!r}")
    return value


def _optional_int(config: Mapping[str, Any], key: str, default: int, name: str) -> int:
    return _required(config, key, int, name) if key in config else default


_BUILDERS: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any], str], PowerDriver]]] = {
    "manual": (frozenset(), lambda c, n: ManualPower(n)),
    "serial-relay": (frozenset({"port", "channel", "baudrate"}), lambda c, n: SerialRelayPower(
        n, PortMatch.from_toml(_required(c, "port", Mapping, n)), _optional_int(c, "channel", 1, n),
        baudrate=_optional_int(c, "baudrate", 9600, n))),
    "usb-port": (frozenset({"hub", "port"}), lambda c, n: UsbPortPower(
        n, _required(c, "hub", str, n), _required(c, "port", int, n))),
    "labgrid": (frozenset({"model", "host", "index"}), lambda c, n: _labgrid_power(
        n, _required(c, "model", str, n), _required(c, "host", str, n), _required(c, "index", int, n))),
}


def _labgrid_power(name: str, model: str, host: str, index: int) -> PowerDriver:
    from hanbench.hardware.labgrid_power import LabgridPower  # it needs labgrid only when it switches

    return LabgridPower(name, model, host, index)


def power_from_config(config: Mapping[str, Any], *, name: str) -> PowerDriver:
    """Build the driver a bench table names, e.g. ``{driver = "usb-port", hub = "1-1", port = 3}``."""
    driver = config.get("driver")
    if driver not in _BUILDERS:
        known = ", ".join(_BUILDERS)
        raise PowerConfigError(f"unknown power driver {driver!r} for '{name}'; known drivers: {known}")
    keys, build = _BUILDERS[driver]
    unknown = sorted(set(config) - keys - {"driver"})
    if unknown:
        raise PowerConfigError(f"power driver '{driver}' of '{name}' has no key '{unknown[0]}'; "
                               f"its keys: {', '.join(sorted(keys)) or '(none)'}")
    return build(config, name)
