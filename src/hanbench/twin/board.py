"""An emulated dev board: the control protocol served on a real pseudo-terminal.

The bench's :class:`~hanbench.hardware.control.BoardControl` opens the pty with pyserial
exactly as it opens a USB UART, so CI runs the hardware code path byte for byte. What the
board says comes from a :class:`~hanbench.hardware.protocol.BoardBackend` (an emulated HAN
device). The fault controls reproduce what lab boards do to a bench: vanish on reset (a
native-USB board leaving the bus, its ``/dev/serial/by-id`` link coming back later), print
garbage (a boot banner, a debug ``printf`` on the wrong UART) and go silent (a hung MCU).

The board lives on the asyncio loop (``add_reader`` on the pty master), so a backend never
sees a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tty
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hanbench.hardware.protocol import (
    PROTOCOL_MAJOR,
    BoardBackend,
    BoardRefused,
    BootEvent,
    Event,
    MalformedMessage,
    ProtocolError,
    Request,
    clock_argument,
    encode_error,
    encode_event,
    encode_result,
    parse_request,
    request_id_of,
)

log = logging.getLogger(__name__)


class EmulatedBoard:
    """A board on a pty whose stable path is a symlink ``directory/name``.

    ``reset_gap`` is how long the port stays away on ``reset``/``factory_reset``;
    ``protocol_major`` lets a test make the board speak a version the client must refuse.
    """

    def __init__(self, backend: BoardBackend, directory: Path, *, name: str = "board",
                 reset_gap: float = 0.2, protocol_major: int = PROTOCOL_MAJOR) -> None:
        self.backend = backend
        self.path = directory / name
        self.reset_gap = reset_gap
        self.protocol_major = protocol_major
        self.muted = False
        self._restarting = False  # acknowledged a reset: silent until it has happened
        self.requests_seen: list[Request] = []
        self.appearances = 0  # how many times the port has (re)appeared; a reset adds one
        self._master: int | None = None
        self._slave: int | None = None
        self._buffer = bytearray()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ops: dict[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {
            "identify": lambda _: self.backend.identify().to_json(),
            "state": lambda _: self.backend.state().to_json(),
            "set_clock": self._set_clock,
            "reset": lambda _: self._restart(self.backend.reset, "reset"),
            "factory_reset": lambda _: self._restart(self.backend.factory_reset, "factory_reset"),
            # as a board behind a USB-serial bridge: the MCU restarts, the port stays (a labgrid
            # place's ser2net does not serve a pty that went away again)
            "restore_factory_image": lambda _: self._restart(self.backend.restore_factory_image, "factory_image",
                                                             leaves_bus=False),
        }
        backend.attach(self.emit)

    def without_op(self, op: str) -> None:
        """Answer ``op`` with ``unknown_op`` from now on, as a build that lacks it does."""
        del self._ops[op]

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the pty and publish its stable path."""
        self._open()

    async def stop(self) -> None:
        """Close the pty and remove the path; pending vanish/reset tasks are cancelled."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close()

    async def __aenter__(self) -> EmulatedBoard:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def present(self) -> bool:
        return self._master is not None

    def _open(self) -> None:
        master, slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation, no line editing; a UART passes bytes as sent.
        tty.setraw(slave)
        os.set_blocking(master, False)
        # The board keeps the slave end open so reads on the master do not fail with EIO
        # while no client has the port open (as a UART's wire is always there).
        self._master, self._slave = master, slave
        self.appearances += 1
        self._buffer.clear()
        asyncio.get_running_loop().add_reader(master, self._readable)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.path)

    def _close(self) -> None:
        self.path.unlink(missing_ok=True)
        if self._master is None or self._slave is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)
        self._master = self._slave = None

    # --- fault controls ------------------------------------------------------------------

    async def vanish(self, seconds: float) -> None:
        """Drop off the bus now and return on a new pty after ``seconds``."""
        self._close()
        await asyncio.sleep(seconds)
        self._open()

    def send_garbage(self, data: bytes) -> None:
        """Write raw bytes to the client, as a stray ``printf`` would."""
        self._write(data)

    def mute(self) -> None:
        """Keep reading requests but answer none (a hung control task)."""
        self.muted = True

    def unmute(self) -> None:
        self.muted = False
        self._restarting = False  # acknowledged a reset: silent until it has happened

    # --- protocol ------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Send an event; the backend calls this. Events raised while off the bus are lost,
        as they are on a real board whose USB is down."""
        if self.present:
            self._write(encode_event(event, self.protocol_major))

    def _readable(self) -> None:
        assert self._master is not None
        try:
            chunk = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # the pty was torn down under us
            log.debug("emulated board %s: read failed: %s", self.path, exc)
            return
        self._buffer.extend(chunk)
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[:end + 1]
            if line and not (self.muted or self._restarting):
                self._write(self.answer(line))

    def answer(self, line: bytes) -> bytes:
        """The line the board writes back for one request line: a result or an error, never nothing."""
        major = self.protocol_major
        if major != PROTOCOL_MAJOR:
            return encode_error(request_id_of(line), "unsupported_version", f"this board speaks v{major}", major)
        try:
            request = parse_request(line)
        except ProtocolError as exc:
            code = "bad_request" if isinstance(exc, MalformedMessage) else "unsupported_version"
            return encode_error(request_id_of(line), code, str(exc), major)
        self.requests_seen.append(request)
        handler = self._ops.get(request.op)
        if handler is None:
            return encode_error(request.id, "unknown_op", f"no op '{request.op}' in this build", major)
        try:
            return encode_result(request.id, handler(request.args), major)
        except BoardRefused as exc:
            return encode_error(request.id, exc.code, exc.message, major)
        except MalformedMessage as exc:
            return encode_error(request.id, "invalid_argument", str(exc), major)

    def _set_clock(self, args: Mapping[str, Any]) -> Mapping[str, Any]:
        self.backend.set_clock(clock_argument(args))
        return {}

    def _restart(self, action: Callable[[], None], reason: str, *, leaves_bus: bool = True) -> Mapping[str, Any]:
        """Acknowledge now, answer nothing more, leave the bus (``leaves_bus``) once the
        acknowledgement is out, boot."""
        self._restarting = True
        task = asyncio.get_running_loop().create_task(self._reboot(action, reason, leaves_bus))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {}

    async def _reboot(self, action: Callable[[], None], reason: str, leaves_bus: bool) -> None:
        await asyncio.sleep(0.02)  # a real UART sends the acknowledgement before the MCU resets
        action()
        await (self.vanish(self.reset_gap) if leaves_bus else asyncio.sleep(self.reset_gap))
        self._restarting = False
        self.emit(BootEvent(reason))

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        view = memoryview(data)
        while view:  # lines are short; the pty buffer (4 KiB+) only fills if nobody reads
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                log.warning("emulated board %s: client is not reading; dropped %d bytes", self.path, len(view))
                return
            view = view[written:]

