"""The twin's serial port: a pseudo-terminal, or a loopback TCP port (`socket://`).

Both carry raw ASH bytes between the host and an `AshNcp`, and both can vanish and
come back, which is what a USB stick being pulled and replugged (or a network serial
bridge dropping) looks like to bellows.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
from pathlib import Path
import tty

import bellows.types as t

from hanbench.errors import InfrastructureFault
from hanbench.twin.ash import AshNcp

LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
READ_CHUNK = 4096
# A UART with nobody listening loses what it sends; the pty keeps it in a kernel
# buffer instead, so stop queueing in user space beyond this and drop, like the UART.
MAX_PENDING_WRITE = 64 * 1024


class SerialPort(abc.ABC):
    """One way of exposing the NCP's UART to a host."""

    def __init__(self, link: AshNcp) -> None:
        self.link = link

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """What to put in zigpy's `device.path`."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Make the port available to hosts."""

    @abc.abstractmethod
    def close(self) -> None:
        """Take the port away; a host using it sees the connection drop."""


class PtyPort(SerialPort):
    """The NCP on a pseudo-terminal.

    bellows opens the slave side through a symlink in the twin's folder; the symlink
    keeps its name when the port is reopened, as /dev/serial/by-id does for a real
    stick, although the kernel hands out a new /dev/pts/N each time.
    """

    def __init__(self, link: AshNcp, symlink: Path) -> None:
        super().__init__(link)
        self.symlink = symlink
        self._master: int | None = None
        self._slave: int | None = None
        self._pending = bytearray()

    @property
    def url(self) -> str:
        return str(self.symlink)

    @property
    def slave_path(self) -> str:
        """The /dev/pts/N behind the symlink."""
        if self._slave is None:
            raise InfrastructureFault("the twin's pty is closed")
        return os.ttyname(self._slave)

    async def open(self) -> None:
        master, slave = os.openpty()
        # Raw from the start, so nothing the NCP sends before bellows configures the
        # port is echoed back or rewritten by the line discipline
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp_link = self.symlink.with_name(self.symlink.name + ".new")
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(os.ttyname(slave))
        os.replace(tmp_link, self.symlink)
        asyncio.get_running_loop().add_reader(master, self._readable)
        self.link.attach(self._write)

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO: no process holds the slave open (we keep one, so only on close)
            LOGGER.debug("pty read failed: %s", exc)
            return
        self.link.data_received(data)

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        if self._pending:
            self._queue(data)
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            LOGGER.debug("pty write failed: %s", exc)
            return
        if written < len(data):
            self._queue(data[written:])

    def _queue(self, data: bytes) -> None:
        if len(self._pending) + len(data) > MAX_PENDING_WRITE:
            LOGGER.debug("Nobody reads the pty, dropping %d bytes", len(data))
            return
        first = not self._pending
        self._pending.extend(data)
        if first and self._master is not None:
            asyncio.get_running_loop().add_writer(self._master, self._drain)

    def _drain(self) -> None:
        assert self._master is not None
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._pending)
        del self._pending[:written]
        if not self._pending:
            asyncio.get_running_loop().remove_writer(self._master)

    def close(self) -> None:
        self.link.detach()
        if self._master is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._master)
            loop.remove_writer(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._pending.clear()
        self.symlink.unlink(missing_ok=True)


class TcpPort(SerialPort):
    """The NCP behind a loopback TCP port, as a network serial bridge serves a stick.

    One host at a time, like ser2net: a second connection is closed at once. With
    `boot_on_connect` the NCP resets and sends RSTACK when a host connects, as zigbeed
    does, which spares bellows its 2 s wait for that RSTACK on `socket://` ports.
    """

    def __init__(self, link: AshNcp, port: int = 0, *, boot_on_connect: bool = True,
                 boot_delay: float = 0.1) -> None:
        super().__init__(link)
        self._port = port
        self._boot_on_connect = boot_on_connect
        self._boot_delay = boot_delay
        self._server: asyncio.Server | None = None
        self._client: asyncio.Transport | None = None
        self._boot: asyncio.TimerHandle | None = None

    @property
    def url(self) -> str:
        return f"socket://{LOOPBACK}:{self._port}"

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _TcpSession(self), LOOPBACK, self._port, reuse_address=True
            )
        except OSError as exc:
            raise InfrastructureFault(f"cannot listen on {LOOPBACK}:{self._port}: {exc}") from exc
        # Keep the port the kernel chose, so reopening serves the same URL
        self._port = self._server.sockets[0].getsockname()[1]

    def session_started(self, transport: asyncio.Transport) -> bool:
        """A host connected; False refuses it (another host holds the port)."""
        if self._client is not None:
            return False
        self._client = transport
        self.link.attach(transport.write)
        if self._boot_on_connect:
            # A short pause: bellows starts listening for the boot RSTACK only once its
            # transport is up, and a RSTACK before that reads as an unexpected reset
            self._boot = asyncio.get_running_loop().call_later(self._boot_delay, self._boot_ncp)
        return True

    def _boot_ncp(self) -> None:
        self._boot = None
        self.link.reset(t.NcpResetCode.RESET_POWER_ON)

    def session_ended(self, transport: asyncio.Transport) -> None:
        """The host went away."""
        if transport is not self._client:
            return
        self._client = None
        if self._boot is not None:
            self._boot.cancel()
            self._boot = None
        self.link.detach()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._client is not None:
            client = self._client
            self.session_ended(client)
            client.abort()


class _TcpSession(asyncio.Protocol):
    """One TCP connection to a `TcpPort`."""

    def __init__(self, port: TcpPort) -> None:
        self._port = port
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if not self._port.session_started(transport):
            LOGGER.warning("Refusing a second host on %s", self._port.url)
            transport.close()
            return
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._port.link.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._port.session_ended(self._transport)
            self._transport = None

