"""The bench's client for a dev board's control port.

I/O model: one reader thread per open port does the blocking ``pyserial`` reads and hands
each complete line to the asyncio loop with ``call_soon_threadsafe``; writes go through
``asyncio.to_thread``. A dedicated reader (rather than ``to_thread`` per read) is the choice
because boards talk unprompted: alerts and boot events arrive while nobody is awaiting
anything, and a single owner of the read side never loses bytes between two reads and sees a
vanished port the moment it happens, failing whatever is waiting on it.

Failure kinds are kept apart: a board saying no is :class:`BoardRefused` (with its code); a
board saying nothing in time is :class:`BoardTimeout`; a port that disappears is
:class:`PortVanished`; both of the last two are infrastructure faults, never a refusal.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import serial

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.hardware.ports import PortMatch, PortNotFound, wait_for_port
from hanbench.hardware.protocol import (
    BoardRefused,
    BoardState,
    Event,
    Identity,
    MalformedMessage,
    ProtocolError,
    Response,
    check_protocol_version,
    encode_request,
    format_timestamp,
    parse_from_board,
    request_id_of,
)
from hanbench.hardware.rfc2217_reader import quiet_rfc2217_reader
from hanbench.listeners import Listeners
from hanbench.timing import BOARD_RESET_TIMEOUT_S

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 115200
_READ_SLICE = 0.05  # seconds a read blocks before the reader checks whether it should stop
_RECENT_LINES = 8
_BACKLOG = 256


class BoardTimeout(InfrastructureFault):
    """The board did not answer (or raise the awaited event) in the time allowed."""


class PortVanished(InfrastructureFault):
    """The control port went away under the bench (unplugged, reset, powered off)."""


class BoardControl:
    """Talk to one board's control port: requests, responses and its event stream.

    ``port`` is a :class:`PortMatch` (looked up again on every reconnect, since a board may
    come back on a new ``/dev/ttyACMn``) or a plain path or pyserial URL.
    """

    def __init__(self, port: PortMatch | str, *, name: str = "board", baudrate: int = DEFAULT_BAUDRATE,
                 timeout: float = 5.0, reset_timeout: float = BOARD_RESET_TIMEOUT_S) -> None:
        self.match = port if isinstance(port, PortMatch) else PortMatch(path=port)
        self.name = name
        self.baudrate = baudrate
        self.timeout = timeout
        self.reset_timeout = reset_timeout
        self.device: str | None = None
        self.garbage_count = 0
        self._last_garbage: str | None = None
        self._recent: deque[str] = deque(maxlen=_RECENT_LINES)
        self._serial: serial.SerialBase | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._generation = 0
        self._fault: InfrastructureFault | None = None
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._next_id = 1
        self._backlog: deque[Event] = deque(maxlen=_BACKLOG)
        self._arrived = asyncio.Event()
        self._subscribers: list[asyncio.Queue[Event | InfrastructureFault | None]] = []
        self._listeners: Listeners[Callable[[Event], None]] = Listeners()

    # --- connection ----------------------------------------------------------------------

    async def open(self) -> None:
        """Find the port and open it at 8N1; no request is sent. Opening twice is a no-op."""
        if self._serial is not None:
            return
        device = self.match.find()
        quiet_rfc2217_reader()
        try:
            link = await asyncio.to_thread(serial.serial_for_url, device, baudrate=self.baudrate,
                                           bytesize=8, parity="N", stopbits=1, timeout=_READ_SLICE)
        except (serial.SerialException, OSError) as exc:
            raise PortVanished(f"{self._who(device)}: cannot open the control port: {exc}") from exc
        self._attach(link, device)

    def _attach(self, link: serial.SerialBase, device: str) -> None:
        self._serial, self.device, self._fault = link, device, None
        self._generation += 1
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name=f"hanbench-{self.name}-reader",
                                        args=(link, self._stop, self._generation, asyncio.get_running_loop()),
                                        daemon=True)
        self._reader.start()

    async def close(self) -> None:
        """Stop the reader and release the port; ``events()`` iterators end. Safe to call twice."""
        await self._disconnect()
        for queue in self._subscribers:
            queue.put_nowait(None)

    async def _disconnect(self) -> None:
        """Release the port but keep event subscribers, which outlive a reset's reconnect."""
        link, reader = self._serial, self._reader
        self._serial = self._reader = None
        if link is None:
            return
        self._stop.set()
        if reader is not None:
            await asyncio.to_thread(reader.join)
        link.close()
        self._fail(PortVanished(f"{self._who()}: the control port is closed"), tell_subscribers=False)

    async def __aenter__(self) -> BoardControl:
        await self.open()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- ops -----------------------------------------------------------------------------

    async def identify(self, timeout: float | None = None) -> Identity:
        """Who is on this port; refuses a board whose protocol major differs from ours."""
        result = await self.request("identify", timeout=timeout)
        identity = self._parse("identify", Identity.from_json, result)
        check_protocol_version(identity.protocol)
        return identity

    async def state(self) -> BoardState:
        return self._parse("state", BoardState.from_json, await self.request("state"))

    async def set_clock(self, clock: datetime) -> None:
        """Set the device's UTC clock (activation date-times are judged against it)."""
        if clock.tzinfo is None:
            raise BadInput("set_clock needs a time-zone-aware datetime; a naive one has no defined instant")
        await self.request("set_clock", {"clock": format_timestamp(clock)})

    async def reset(self) -> Identity:
        """Restart the firmware and reconnect once it answers again; returns its new identity."""
        return await self._restart("reset")

    async def factory_reset(self) -> Identity:
        """Erase the board's persistent state, restart, and reconnect."""
        return await self._restart("factory_reset")

    async def restore_factory_image(self) -> Identity:
        """Drop the held image and any pending activation, restart into the image the board
        was flashed with, and reconnect (since 1.2; an older build refuses it with
        ``unknown_op``)."""
        return await self._restart("restore_factory_image")

    async def _restart(self, op: str) -> Identity:
        """Send ``op``, then reconnect whatever the port does: vanish and return, or stay.

        A board with native USB leaves the bus and may return under a new path; one behind
        a USB-serial chip keeps its port while the MCU restarts. Either way the board is
        back when ``identify`` succeeds, so that is retried until ``reset_timeout``. A board
        that resets before its acknowledgement leaves the UART has still done what was asked.
        """
        deadline = asyncio.get_running_loop().time() + self.reset_timeout
        try:
            await self.request(op)
        except PortVanished:
            log.info("%s: the port vanished before the '%s' acknowledgement arrived", self._who(), op)
        return await self._come_back(deadline, f"after '{op}'")

    async def reconnect(self) -> Identity:
        """Close the port, wait up to ``reset_timeout`` for the board to be back, and reopen it.

        For a port that vanished under the bench (a board reset by hand, a USB hub hiccup):
        the board is back once ``identify`` succeeds on the port its match finds, which may
        be a new path. Returns its identity, which the caller should check.
        """
        return await self._come_back(asyncio.get_running_loop().time() + self.reset_timeout, "after it vanished")

    async def _come_back(self, deadline: float, when: str) -> Identity:
        loop = asyncio.get_running_loop()
        await self._disconnect()
        last: Exception | None = None
        while (remaining := deadline - loop.time()) > 0:
            try:
                await wait_for_port(self.match, remaining)
                await self.open()
                return await self.identify(timeout=min(1.0, max(remaining, 0.1)))
            except (PortVanished, BoardTimeout, PortNotFound) as exc:
                last = exc
                await self._disconnect()
                await asyncio.sleep(_READ_SLICE)
        raise BoardTimeout(f"{self._who()}: did not come back within {self.reset_timeout:g} s {when}; "
                           f"last problem: {last}")

    # --- events --------------------------------------------------------------------------

    async def wait_event(self, predicate: Callable[[Event], bool], timeout: float | None = None) -> Event:
        """The first event (already received or still to come) that ``predicate`` accepts.

        Like ``expect`` in pexpect, this consumes: events up to and including the match are
        dropped from the backlog, so a following ``wait_event`` looks only at later ones.
        Events arriving between the action that causes them and this call are not lost.
        """
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                while True:
                    while self._backlog:
                        event = self._backlog.popleft()
                        if predicate(event):
                            return event
                    self._raise_fault()
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise BoardTimeout(f"{self._who()}: no event accepted by {_name_of(predicate)} within "
                               f"{limit:g} s{self._evidence()}") from None

    async def events(self) -> AsyncIterator[Event]:
        """Every event that arrives from now on, until the port closes or vanishes."""
        queue: asyncio.Queue[Event | InfrastructureFault | None] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, InfrastructureFault):
                    raise item
                yield item
        finally:
            self._subscribers.remove(queue)

    def listen(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every event as it is read, in the order the board sent it.

        Unlike :meth:`events` no task stands between the port and the listener: an event the
        board sent before answering a request has reached every listener by the time that
        request returns, which is what makes a request a barrier. Returns an unsubscriber.
        """
        return self._listeners.add(listener)

    # --- request machinery ---------------------------------------------------------------

    async def request(self, op: str, args: Mapping[str, Any] | None = None,
                      timeout: float | None = None) -> Mapping[str, Any]:
        """Send any op and return its raw ``result``; the typed methods above are built on it.

        Public for vendor ops (``x_...``, see hardware.md) that a test build adds for its own
        tests. A board's ``ok: false`` becomes :class:`BoardRefused` with its code.
        """
        self._raise_fault()
        link = self._serial
        if link is None:
            raise PortVanished(f"{self._who()}: the control port is not open (call open() first)")
        ident, self._next_id = self._next_id, self._next_id + 1
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        limit = self.timeout if timeout is None else timeout
        try:
            try:
                await asyncio.to_thread(link.write, encode_request(ident, op, args))
            except (serial.SerialException, OSError) as exc:
                raise self._lost(exc) from exc
            try:
                async with asyncio.timeout(limit):
                    response = await future
            except TimeoutError:
                raise BoardTimeout(f"{self._who()}: no answer to '{op}' (id {ident}) within {limit:g} s"
                                   f"{self._evidence()}") from None
        finally:
            self._pending.pop(ident, None)
        if response.error is not None:
            raise BoardRefused(response.error.code, response.error.message, op)
        return response.result

    def _parse(self, op: str, reader: Callable[[Mapping[str, Any]], Any], result: Mapping[str, Any]) -> Any:
        try:
            return reader(result)
        except MalformedMessage as exc:
            raise MalformedMessage(f"{self._who()}: the answer to '{op}' is malformed: {exc}") from None

    def _read_loop(self, link: serial.SerialBase, stop: threading.Event, generation: int,
                   loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: split the byte stream into lines and pass them to the loop."""
        buffer = bytearray()
        try:
            while not stop.is_set():
                try:
                    chunk = link.read(max(1, link.in_waiting))
                except (serial.SerialException, OSError, TypeError) as exc:
                    # pyserial raises TypeError when the port is closed under a blocking read.
                    if not stop.is_set():
                        loop.call_soon_threadsafe(self._on_lost, generation, exc)
                    return
                buffer.extend(chunk)
                while (end := buffer.find(b"\n")) >= 0:
                    line, buffer[:] = bytes(buffer[:end]).rstrip(b"\r"), buffer[end + 1:]
                    if line:
                        loop.call_soon_threadsafe(self._on_line, generation, line)
        except RuntimeError:
            return  # the loop closed without close() being awaited; nobody is left to tell

    def _on_line(self, generation: int, line: bytes) -> None:
        if generation != self._generation:
            return
        text = line.decode("utf-8", "replace")
        self._recent.append(text)
        try:
            message = parse_from_board(line)
        except MalformedMessage as exc:
            ident = request_id_of(line)
            pending = self._pending.get(ident) if ident is not None else None
            if pending is not None and not pending.done():
                # An answer to a request, but not one the protocol allows: fail that request
                # now, with what was wrong, rather than let it time out as a silent board
                pending.set_exception(MalformedMessage(f"{self._who()}: malformed answer: {exc}"))
                return
            self.garbage_count += 1
            self._last_garbage = text
            log.warning("%s: skipped a line that is not a control message (%s): %r", self._who(), exc, text)
            return
        except ProtocolError as exc:
            self._fail(type(exc)(f"{self._who()}: {exc}; update hanbench or flash a test build "
                                 f"with a matching control protocol"))
            return
        if isinstance(message, Response):
            self._on_response(message)
        elif message is not None:
            self._listeners(message)
            self._backlog.append(message)
            self._arrived.set()
            for queue in self._subscribers:
                queue.put_nowait(message)

    def _on_response(self, response: Response) -> None:
        future = self._pending.get(response.id) if response.id is not None else None
        if future is None:
            log.warning("%s: a response to no pending request (id %s) was dropped", self._who(), response.id)
        elif not future.done():
            future.set_result(response)

    def _on_lost(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._fail(self._lost(exc))

    def _lost(self, exc: BaseException) -> PortVanished:
        return PortVanished(f"{self._who()}: the control port vanished ({exc}){self._evidence()}")

    def _fail(self, fault: InfrastructureFault, *, tell_subscribers: bool = True) -> None:
        """Fail everything waiting on this connection with ``fault``."""
        self._fault = fault
        for future in self._pending.values():
            if not future.done():
                future.set_exception(fault)
        if tell_subscribers:
            for queue in self._subscribers:
                queue.put_nowait(fault)
        self._arrived.set()

    def _raise_fault(self) -> None:
        if self._fault is not None:
            raise self._fault

    def _who(self, device: str | None = None) -> str:
        return f"board '{self.name}' on {device or self.device or self.match}"

    def _evidence(self) -> str:
        """What the board did say, for a message about what it did not."""
        lines = "\n".join(f"    {line}" for line in self._recent) or "    (nothing)"
        text = f"\n  last lines received:\n{lines}"
        if self.garbage_count:
            text += f"\n  {self.garbage_count} garbage line(s) skipped, the last: {self._last_garbage!r}"
        return text


def _name_of(predicate: Callable[..., Any]) -> str:
    return getattr(predicate, "__qualname__", None) or repr(predicate)
