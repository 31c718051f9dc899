"""The stick on a remote RFC 2217 port, relayed to a loopback TCP port that zigpy opens as ``socket://``.

bellows reaches its stick through zigpy's serial layer (serialx), whose RFC 2217 client waits
for the server to acknowledge every COM-PORT-OPTION command it sends while connecting.
ser2net, which labgrid's exporter serves serial ports with, does not acknowledge
SET-MODEMSTATE-MASK on a port exported without modem lines (``local``, as labgrid exports
every port; ser2net 4.3 of Debian 12), so serialx gives up before the first byte. pyserial's
client, which labgrid's own serial driver uses, does not wait for that acknowledgement (and
is told not to wait for SET-CONTROL's, ``ign_set_control``, as labgrid's driver does).

So the remote port is opened with pyserial, at the stick's baud rate and flow control (the
server applies them to the real UART), and zigpy is given ``socket://127.0.0.1:N``, a raw
TCP port on this host that carries the stick's bytes both ways unchanged. Each connection
to it opens the remote port afresh and a remote port that fails closes it, so the bench's
stick reconnect (:mod:`hanbench.bench.kinds.stick_watch`) reconnects the remote port too.

Written here because no library relays a pyserial port to an asyncio TCP client; the
I/O model is the board client's (:mod:`hanbench.hardware.control`): one reader thread on the
blocking pyserial side handing bytes to the loop, writes through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from types import TracebackType
from urllib.parse import urlsplit

import serial

log = logging.getLogger(__name__)

_READ_SLICE = 0.05  # seconds a read blocks before the reader checks whether it should stop
_CHUNK = 4096


def is_rfc2217(path: str) -> bool:
    """Whether ``path`` is a pyserial ``rfc2217://`` URL."""
    return urlsplit(path).scheme == "rfc2217"


class SerialRelay:
    """A loopback TCP port relaying to the serial port pyserial opens at ``remote``; an async context manager."""

    def __init__(self, remote: str, *, baudrate: int, xonxoff: bool = False, rtscts: bool = False) -> None:
        self.remote = remote
        self._settings = {"baudrate": baudrate, "xonxoff": xonxoff, "rtscts": rtscts}
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """What zigpy opens: ``socket://127.0.0.1:N``."""
        assert self._server is not None, "the relay is not listening"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"socket://{host}:{port}"

    async def __aenter__(self) -> SerialRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            pass  # the relay is closing; asyncio would log a cancelled connection task as an error
        finally:
            self._clients.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            link = await asyncio.to_thread(serial.serial_for_url, self.remote, timeout=_READ_SLICE, **self._settings)
        except (serial.SerialException, OSError) as exc:
            log.warning("relay to %s: cannot open it: %s", self.remote, exc)
            return
        stop = threading.Event()
        reader_thread = threading.Thread(target=self._from_remote, args=(link, writer, stop, asyncio.get_running_loop()),
                                         name="hanbench-relay-reader", daemon=True)
        reader_thread.start()
        try:
            while data := await reader.read(_CHUNK):
                await asyncio.to_thread(link.write, data)
        except (ConnectionError, serial.SerialException, OSError) as exc:
            log.warning("relay to %s: %s", self.remote, exc)
        finally:
            stop.set()
            await asyncio.to_thread(reader_thread.join)
            with contextlib.suppress(serial.SerialException, OSError):
                link.close()

    @staticmethod
    def _from_remote(link: serial.SerialBase, writer: asyncio.StreamWriter, stop: threading.Event,
                     loop: asyncio.AbstractEventLoop) -> None:
        """The reader thread: the remote port's bytes to the client; its failure closes the client."""
        try:
            while not stop.is_set():
                data = link.read(max(1, link.in_waiting))
                if data:
                    loop.call_soon_threadsafe(writer.write, data)
        except (serial.SerialException, OSError) as exc:
            log.warning("relay: the remote port failed: %s", exc)
        finally:
            if not stop.is_set():
                loop.call_soon_threadsafe(writer.close)
