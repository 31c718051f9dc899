"""A board's RFC 2217 server that drops the connection is a typed error, never a thread traceback.

The server is a real socket on loopback doing what ser2net does while the board's device is
away: it accepts, sends Telnet negotiation and drops the connection, so pyserial's own reader
thread dies answering it (BrokenPipeError / ConnectionResetError) on every attempt.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hanbench.hardware.control import BoardControl, PortVanished
from hanbench.hardware.rfc2217_reader import READER_THREAD_PREFIX

IAC, WILL = b"\xff", b"\xfb"


def _drop_every_connection(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(1, socket.MSG_PEEK)  # the client's own option requests, left unread
            # options the client does not know, each of which it answers with DONT
            conn.sendall(b"".join(IAC + WILL + bytes([option]) for option in range(100, 200)))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST


@pytest.fixture
def dropping_url() -> Iterator[str]:
    server = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_drop_every_connection, args=(server,), daemon=True)
    thread.start()
    yield f"rfc2217://127.0.0.1:{server.getsockname()[1]}?timeout=0.5"
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
    server.close()
    thread.join(5)


@pytest.fixture
def reached_hook(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Thread exceptions that reach the hook in place before the port was opened."""
    reached: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", reached.append)
    return reached


async def test_a_dropped_rfc2217_connection_is_port_vanished_without_a_thread_traceback(
        dropping_url: str, reached_hook: list[Any]) -> None:
    for _ in range(3):
        with pytest.raises(PortVanished, match="cannot open the control port"):
            await BoardControl(dropping_url, name="esme").open()
    assert [(a.exc_type, a.thread.name) for a in reached_hook] == []


def _raise_in_thread(name: str, exc: BaseException) -> None:
    def run() -> None:
        raise exc
    thread = threading.Thread(target=run, name=name)
    thread.start()
    thread.join()


async def test_other_thread_exceptions_still_reach_the_previous_hook(dropping_url: str, reached_hook: list[Any]) -> None:
    with pytest.raises(PortVanished):
        await BoardControl(dropping_url).open()  # installs the wrapper
    _raise_in_thread("some other thread", BrokenPipeError("not pyserial's"))
    _raise_in_thread(f"{READER_THREAD_PREFIX} for rfc2217://x:1", ValueError("not a dropped connection"))
    assert [(a.exc_type, a.thread.name) for a in reached_hook] == [
        (BrokenPipeError, "some other thread"), (ValueError, f"{READER_THREAD_PREFIX} for rfc2217://x:1")]
