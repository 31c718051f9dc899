"""What hanbench relies on from the ``serial`` module, whichever distribution installed it.

A plain install gets pyserial; ``hanbench[labgrid]`` also gets labgrid's fork, pyserial-labgrid,
which installs a ``serial`` module of its own over the same files (its RFC 2217 client differs).
``make test`` runs these tests on the first and ``make test-labgrid`` on the second: the board
client (``serial_for_url`` at 8N1 with a read slice), the port finder (``comports`` and the
fields it matches on), the errors it catches, and an RFC 2217 round trip as a labgrid place's
boards and stick are reached, against pyserial's own RFC 2217 server side on loopback. The
stick's path through :class:`~hanbench.hardware.serial_relay.SerialRelay` to zigpy is there too.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import socket
import threading
from collections.abc import Iterator

import pytest
import serial
import serial.rfc2217
from serial.tools import list_ports, list_ports_common
from zigpy.serial import create_serial_connection

from hanbench.hardware.serial_relay import SerialRelay, is_rfc2217


def test_the_serial_module_comes_from_pyserial_or_labgrids_fork() -> None:
    owners = importlib.metadata.packages_distributions()["serial"]
    assert set(owners) <= {"pyserial", "pyserial-labgrid"} and owners
    assert serial.__version__ in {importlib.metadata.version(name) for name in owners}


def test_the_port_finder_has_what_it_matches_on() -> None:
    info = list_ports_common.ListPortInfo("/dev/ttyUSB9", skip_link_detection=True)
    for field in ("device", "serial_number", "vid", "pid", "location", "manufacturer", "product", "description"):
        assert hasattr(info, field), field
    assert isinstance(list_ports.comports(), list)
    assert issubclass(serial.SerialException, OSError) or issubclass(serial.SerialException, IOError)


def test_a_url_opens_at_8n1_with_a_read_slice() -> None:
    with serial.serial_for_url("loop://", baudrate=115200, bytesize=8, parity="N", stopbits=1, timeout=0.05) as link:
        assert isinstance(link, serial.SerialBase)
        link.write(b'{"v":1}\n')
        assert link.readline() == b'{"v":1}\n'
        assert link.read(1) == b""  # the slice ends an empty read


class _Writer:
    """What PortManager writes its answers to: a socket's ``sendall`` as ``write``."""

    def __init__(self, connection: socket.socket) -> None:
        self.write = connection.sendall


class Rfc2217Server:
    """pyserial's RFC 2217 server side on a loopback port, its serial port a ``loop://`` (what is sent comes back)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection, serial.serial_for_url("loop://", timeout=0.05) as uart:
                manager = serial.rfc2217.PortManager(uart, _Writer(connection))
                done = threading.Event()
                threading.Thread(target=self._uart_to_network, args=(uart, connection, manager, done),
                                 daemon=True).start()
                try:
                    while data := connection.recv(1024):
                        uart.write(b"".join(manager.filter(data)))
                except OSError:
                    pass
                done.set()

    @staticmethod
    def _uart_to_network(uart: serial.SerialBase, connection: socket.socket, manager: serial.rfc2217.PortManager,
                         done: threading.Event) -> None:
        while not done.is_set():
            data = uart.read(uart.in_waiting or 1)
            if data:
                try:
                    connection.sendall(b"".join(manager.escape(data)))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


@pytest.fixture
def server() -> Iterator[Rfc2217Server]:
    running = Rfc2217Server()
    yield running
    running.close()


def test_a_board_on_an_rfc2217_server_is_opened_as_a_labgrid_place_gives_it(server: Rfc2217Server) -> None:
    url = f"rfc2217://127.0.0.1:{server.port}?ign_set_control"
    assert is_rfc2217(url) and not is_rfc2217("/dev/ttyUSB0") and not is_rfc2217("socket://127.0.0.1:1")
    with serial.serial_for_url(url, baudrate=115200, bytesize=8, parity="N", stopbits=1, timeout=0.05) as link:
        link.write(b'{"v":1,"id":1,"op":"identify"}\n')
        assert link.readline() == b'{"v":1,"id":1,"op":"identify"}\n'


class _Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.arrived = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.arrived.set()


async def test_the_stick_reaches_zigpy_through_the_relay_unchanged_and_again_after_a_reconnect(
        server: Rfc2217Server) -> None:
    frame = bytes(range(256))  # every byte value, the telnet IAC (0xFF) included
    async with SerialRelay(f"rfc2217://127.0.0.1:{server.port}?ign_set_control", baudrate=115200,
                           xonxoff=True) as relay:
        assert relay.url.startswith("socket://127.0.0.1:")
        for _ in range(2):  # the stick watch reconnects by opening the same URL again
            transport, protocol = await create_serial_connection(asyncio.get_running_loop(), _Collect, relay.url,
                                                                 baudrate=115200)
            transport.write(frame)
            async with asyncio.timeout(10):
                while len(protocol.data) < len(frame):
                    protocol.arrived.clear()
                    await protocol.arrived.wait()
            assert bytes(protocol.data) == frame
            transport.close()
            await asyncio.sleep(0.1)
