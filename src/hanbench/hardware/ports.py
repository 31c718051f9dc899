"""Finding a board's serial port by what stays true about it, and waiting for it to return.

``/dev/ttyUSB0`` names whichever adapter the kernel enumerated first; after a reboot, an
unplug or a board reset it can be another board. So a role is bound to a port by its USB
serial number, its VID:PID (plus interface number on multi-port adapters), its USB location
(the physical hub port) or its ``/dev/serial/by-id`` link. A plain ``path`` is allowed but
documented as unstable; the twin's pseudo-terminals use it.

Port selection is easy to get subtly wrong, so every branch here is covered by unit tests
against a fake ``comports()``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from serial.tools import list_ports

from hanbench.errors import BadInput, InfrastructureFault

BY_ID_DIR = Path("/dev/serial/by-id")


class PortInfo(Protocol):
    """The fields of pyserial's ``ListPortInfo`` that matching reads."""

    device: str
    serial_number: str | None
    vid: int | None
    pid: int | None
    location: str | None
    manufacturer: str | None
    product: str | None
    description: str


Lister = Callable[[], Sequence[PortInfo]]


def attached_ports() -> list[PortInfo]:
    """What the operating system lists now (looked up at call time, so tests can replace it)."""
    return list(list_ports.comports())


class PortConfigError(BadInput):
    """A port match table that cannot be used as written."""


class PortNotFound(BadInput):
    """No attached port fits the match; the message lists what is attached."""


class AmbiguousPort(BadInput):
    """Several attached ports fit the match; the message lists them."""


class PortTimeout(InfrastructureFault):
    """A port did not come back (after a reset or power cycle) in the time allowed."""


def interface_number(port: PortInfo) -> int | None:
    """The USB interface number, read from the location's ``:config.interface`` suffix.

    Multi-port adapters (FT2232/FT4232, CP2105) share one serial number and VID:PID across
    ports; only the interface number tells them apart.
    """
    suffix = (port.location or "").rpartition(":")[2]
    last = suffix.rpartition(".")[2]
    return int(last) if ":" in (port.location or "") and last.isdigit() else None


def vid_pid(port: PortInfo) -> str | None:
    return f"{port.vid:04x}:{port.pid:04x}" if port.vid is not None and port.pid is not None else None


def by_id_links(directory: Path = BY_ID_DIR) -> dict[str, str]:
    """Map each real device path to its ``/dev/serial/by-id`` link (if udev made one)."""
    if not directory.is_dir():
        return {}
    return {os.path.realpath(link): str(link) for link in sorted(directory.iterdir())}


_VID_PID = re.compile(r"^([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})$")


@dataclass(frozen=True)
class PortMatch:
    """How the bench TOML names a serial port, e.g. ``{serial_number = "A10K1234"}``.

    ``serial_number``, ``vid_pid``, ``interface`` and ``location`` may be combined (all must
    fit). ``by_id`` and ``path`` each name one port on their own. ``path`` may also be a
    pyserial URL (``socket://host:port``, ``rfc2217://...``), used as given.
    """

    serial_number: str | None = None
    vid_pid: str | None = None
    interface: int | None = None
    location: str | None = None
    by_id: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        given = {f.name for f in fields(self) if getattr(self, f.name) is not None}
        if not given:
            raise PortConfigError(f"a port match needs one of: {', '.join(_KEYS)}")
        for alone in ("by_id", "path"):
            if alone in given and len(given) > 1:
                others = ", ".join(sorted(given - {alone}))
                raise PortConfigError(f"port match key '{alone}' names one port by itself; drop {others}")
        if given == {"interface"}:
            raise PortConfigError("port match key 'interface' needs 'vid_pid' or 'serial_number' beside it")
        if self.vid_pid is not None and not _VID_PID.match(self.vid_pid):
            raise PortConfigError(f"port match key 'vid_pid' should look like '10c4:ea60', got {self.vid_pid!r}")

    @classmethod
    def from_toml(cls, table: Mapping[str, Any]) -> PortMatch:
        """Build from a TOML table, naming any key or value that is wrong."""
        if not isinstance(table, Mapping):
            raise PortConfigError(f"a port match is a table such as {{serial_number = \"...\"}}, got {table!r}")
        for key, value in table.items():
            if key not in _KEYS:
                raise PortConfigError(f"unknown port match key '{key}'; known keys: {', '.join(_KEYS)}")
            kind = int if key == "interface" else str
            if not isinstance(value, kind) or isinstance(value, bool):
                raise PortConfigError(f"port match key '{key}' should be {'an integer' if kind is int else 'a string'}, "
                                      f"got {value!r}")
        return cls(**table)

    def __str__(self) -> str:
        return toml_inline({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None})

    def matches(self, port: PortInfo) -> bool:
        """Does this attached port fit every key given?"""
        if self.path is not None:
            return os.path.realpath(port.device) == os.path.realpath(self.path)
        if self.by_id is not None:
            return os.path.realpath(port.device) == os.path.realpath(self.by_id)
        checks = (
            (self.serial_number, port.serial_number),
            (self.vid_pid.lower() if self.vid_pid else None, vid_pid(port)),
            (self.interface, interface_number(port)),
            (self.location, port.location),
        )
        return all(want == have for want, have in checks if want is not None)

    def find(self, lister: Lister = attached_ports) -> str:
        """The device path of the one port that fits; otherwise an error listing what is attached."""
        if self.path is not None:
            if "://" in self.path or os.path.exists(self.path):
                return self.path
            raise PortNotFound(f"port {self} does not exist (an explicit path is unstable across "
                               f"reboots; prefer serial_number or location)\n{describe_attached(lister())}")
        ports = list(lister())
        found = [p for p in ports if self.matches(p)]
        if not found:
            raise PortNotFound(f"no serial port fits {self}\n{describe_attached(ports)}")
        if len(found) > 1:
            raise AmbiguousPort(f"{len(found)} serial ports fit {self}; add a key that tells them apart "
                                f"(serial_number, interface or location)\n{describe_attached(found)}")
        return found[0].device


_KEYS = tuple(f.name for f in fields(PortMatch))


async def wait_for_port(match: PortMatch, timeout: float, *, interval: float = 0.05,
                        lister: Lister = attached_ports) -> str:
    """Poll until the port fitting ``match`` is present; return its (possibly new) path.

    Boards with native USB drop off the bus while they reset, and power-switched boards are
    absent while off; labgrid's open issue on transient ports is this exact need. Several
    ports fitting is a configuration error and is raised at once rather than waited out.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return match.find(lister)
        except PortNotFound:
            if loop.time() >= deadline:
                raise PortTimeout(f"serial port {match} did not appear within {timeout:g} s\n"
                                  f"{describe_attached(lister())}") from None
        await asyncio.sleep(interval)


# --- describing ports, for errors and for `hanbench ports` -----------------------------------


def port_fields(port: PortInfo, links: Mapping[str, str]) -> dict[str, str | None]:
    """Everything a lab engineer might match on, as strings."""
    return {
        "device": port.device,
        "by_id": links.get(os.path.realpath(port.device)),
        "serial_number": port.serial_number,
        "vid_pid": vid_pid(port),
        "location": port.location,
        "manufacturer": port.manufacturer,
        "product": port.product,
        "description": port.description,
    }


def describe_attached(ports: Iterable[PortInfo], links: Mapping[str, str] | None = None) -> str:
    """One line per port with the fields to match on, or a plain note that there are none."""
    links = by_id_links() if links is None else links
    lines = [
        "  " + " ".join(f"{k}={v}" for k, v in port_fields(p, links).items() if v and k != "description")
        for p in ports
    ]
    return "attached serial ports:\n" + "\n".join(lines) if lines else "no serial ports are attached"


def suggest_match(port: PortInfo, siblings: Sequence[PortInfo], links: Mapping[str, str]) -> dict[str, str | int]:
    """The most stable match that picks out ``port`` alone among ``siblings``.

    A serial number survives moving the adapter to another hub port; a location survives
    swapping the adapter. Shared serial numbers (multi-port adapters) get the interface.
    """
    candidates: list[dict[str, str | int]] = []
    if port.serial_number:
        candidates.append({"serial_number": port.serial_number})
        number = interface_number(port)
        if number is not None:
            candidates.append({"serial_number": port.serial_number, "interface": number})
    if port.location:
        candidates.append({"location": port.location})
    link = links.get(os.path.realpath(port.device))
    if link:
        candidates.append({"by_id": link})
    for candidate in candidates:
        match = PortMatch.from_toml(candidate)
        if sum(match.matches(s) for s in siblings) == 1:
            return candidate
    return {"path": port.device}


def toml_inline(table: Mapping[str, str | int]) -> str:
    """An inline TOML table; JSON string escapes are valid TOML basic strings."""
    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + "}"
