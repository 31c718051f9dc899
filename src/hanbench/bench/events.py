"""The bench's event stream: one typed event for each step of a firmware update.

Progress bars, the session record, reports and test assertions all read this one stream,
so they can never disagree about what happened. Events are frozen dataclasses with a
common base (``at`` on the bench clock, ``seq`` in publication order, ``kind`` naming the
step); :meth:`Event.to_dict` gives the JSON form the session record stores.

:class:`EventStream` is pure asyncio and does no I/O. ``wait_for`` runs on the loop's clock,
so in emulation a wait of a simulated day costs nothing; when it times out its message says
what was awaited and lists the last events seen, which is usually enough to see why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar, overload

from hanbench.bench.waits import bench_wait
from hanbench.errors import CheckFailed, InfrastructureFault
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import EntityId
from hanbench.listeners import Listeners

_E = TypeVar("_E", bound="Event")
_T = TypeVar("_T")

# A datetime no bench clock can read: marks an event the stream has not stamped yet.
_UNSTAMPED = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """One step. ``at`` and ``seq`` are set by :meth:`EventStream.publish` unless given."""

    kind: ClassVar[str] = "event"
    at: dt.datetime = _UNSTAMPED
    seq: int = -1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: entity IDs in DUIS form, date-times ISO 8601, bytes hex, enums by name."""
        fields = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"kind": self.kind, **fields}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def describe(self) -> str:
        """One line for logs and timeout messages: ``#7 09:00:05 transfer_started device=...``."""
        details = describe_data({k: v for k, v in self.to_dict().items() if k not in ("kind", "at", "seq")})
        return f"#{self.seq} {self.at.isoformat()} {self.kind} {details}".rstrip()


def describe_data(data: Mapping[str, Any]) -> str:
    """An event's fields as ``key=value`` words: the one way events are described, live in
    timeout messages or read back from a session record."""
    return " ".join(f"{k}={v}" for k, v in data.items())


def _jsonable(value: Any) -> Any:
    if isinstance(value, EntityId):
        return value.duis
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, enum.Enum):  # a coded enum (a CCS08 result): its name reads better than 3
        return value.name.lower()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list, frozenset)):
        return [_jsonable(v) for v in value]
    return value


# -- service requests at the DCC --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestEvent(Event):
    """A service request (DUIS SR number, e.g. ``11.1``) from ``user`` about ``devices``."""

    request_id: str
    service_request: str
    user: EntityId
    devices: tuple[EntityId, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestSubmitted(RequestEvent):
    kind: ClassVar[str] = "request_submitted"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestAuthorised(RequestEvent):
    kind: ClassVar[str] = "request_authorised"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestRefused(RequestEvent):
    """Refused by ``rule`` (the role-matrix or inventory rule that failed), for ``reason``."""

    kind: ClassVar[str] = "request_refused"
    rule: str
    reason: str


# -- the image on its way over the air -------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageStored(Event):
    """The CH put an image in its store (``slot``), for devices of ``device_type``."""

    kind: ClassVar[str] = "image_stored"
    device_type: str
    manufacturer_code: int
    image_type: int
    file_version: int
    size: int
    slot: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceEvent(Event):
    """An event about one HAN device."""

    device: EntityId


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageNotifySent(DeviceEvent):
    """The CH offered an image: ``method`` is ``image_notify`` or ``mirror_flag`` (sleepy GSME)."""

    kind: ClassVar[str] = "image_notify_sent"
    file_version: int
    method: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageFlagged(DeviceEvent):
    """The CH set a sleepy device's "New OTA Firmware" mirror flag: the image waits for its next wake."""

    kind: ClassVar[str] = "image_flagged"
    file_version: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferStarted(DeviceEvent):
    kind: ClassVar[str] = "transfer_started"
    file_version: int
    size: int
    block_size: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlockProgress(DeviceEvent):
    """Bytes sent so far. Throttled at the source (the CH's OTA server reports every few
    percent, not every block), so a 256 KiB image does not flood the stream or the record."""

    kind: ClassVar[str] = "block_progress"
    file_version: int
    offset: int
    size: int
    blocks: int

    @property
    def percent(self) -> float:
        return 100.0 * self.offset / self.size if self.size else 100.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferInterrupted(DeviceEvent):
    """The transfer stopped at ``offset`` of ``size`` bytes (the device went quiet, the CH
    restarted); the image still waits for the device, which may resume it. No CCS08 yet."""

    kind: ClassVar[str] = "transfer_interrupted"
    file_version: int
    offset: int
    size: int
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferFinished(DeviceEvent):
    """The CH is done with the device for this image; ``result`` is the CCS08 response code it
    reports, ``reason`` why."""

    kind: ClassVar[str] = "transfer_finished"
    file_version: int
    result: TransferResult
    reason: str = ""
    blocks: int = 0
    bytes_sent: int = 0
    retries: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReceiptAlertRaised(DeviceEvent):
    """The device raised 0x8F72 (image received, with the hash it calculated) or 0x8F1C."""

    kind: ClassVar[str] = "receipt_alert_raised"
    alert_code: int
    image_hash: bytes | None = None


# -- commands (CS06 and others) through the CH -----------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandEvent(DeviceEvent):
    """A GBCS command (``command`` names the use case, e.g. ``CS06``) for ``device``."""

    command: str
    request_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandSent(CommandEvent):
    kind: ClassVar[str] = "command_sent"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandUnconfirmed(CommandEvent):
    """Sent to an awake device whose acknowledgement never came back: it may have the command,
    so the CH goes on waiting for its response."""

    kind: ClassVar[str] = "command_unconfirmed"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandResending(CommandEvent):
    """The CH sends an unacknowledged command to an awake device again: try ``attempt`` of
    ``attempts``, ``after_s`` seconds after the previous one (0: at once, on a new tunnel or
    a CH restart)."""

    kind: ClassVar[str] = "command_resending"
    attempt: int
    attempts: int
    after_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandUndelivered(CommandEvent):
    """The CH gave up on a command to an awake device: neither its first send nor any of the
    ``attempts`` sends again over ``over_s`` seconds was acknowledged, ``reason`` the last failure; the request ends
    ``not_delivered``."""

    kind: ClassVar[str] = "command_undelivered"
    attempts: int
    over_s: float
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandQueued(CommandEvent):
    """Held on the CH for a sleepy device until it wakes or ``expires_at``."""

    kind: ClassVar[str] = "command_queued"
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandExpired(CommandEvent):
    """The queue expired before the device woke (the CH raises 0x819D)."""

    kind: ClassVar[str] = "command_expired"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandRefused(CommandEvent):
    """The device dropped a command unanswered, for ``reason``: an SR 11.2 read it could not
    read, a command it does not run, bytes that were no GBCS message (``command`` says
    which). A refused CS06 is an :class:`ActivationRefused`."""

    kind: ClassVar[str] = "command_refused"
    reason: str


# -- activation --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationEvent(DeviceEvent):
    """About activating ``file_version`` on ``device``."""

    file_version: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationImmediate(ActivationEvent):
    """CS06 without an execution date-time: the device activated at once (0x8F66)."""

    kind: ClassVar[str] = "activation_immediate"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationScheduled(ActivationEvent):
    kind: ClassVar[str] = "activation_scheduled"
    execute_at: dt.datetime


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationFired(ActivationEvent):
    """A scheduled activation ran at its execution date-time."""

    kind: ClassVar[str] = "activation_fired"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationCancelled(ActivationEvent):
    kind: ClassVar[str] = "activation_cancelled"
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivationRefused(ActivationEvent):
    """The device refused CS06 (no or a bad MAC, bad signature, stale counter, hash mismatch...)."""

    kind: ClassVar[str] = "activation_refused"
    reason: str


# -- alerts and faults -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertDelivered(Event):
    """The DCC put alert ``alert_code`` from ``device`` in ``user``'s inbox."""

    kind: ClassVar[str] = "alert_delivered"
    alert_code: int
    device: EntityId
    user: EntityId


@dataclasses.dataclass(frozen=True, kw_only=True)
class DevicePowerCycled(DeviceEvent):
    """The emulator switched the device off for ``off_s`` seconds and on again; it is back on
    the air."""

    kind: ClassVar[str] = "device_power_cycled"
    off_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class HubRestarted(Event):
    """The emulator restarted the CH, off the air for ``down_s`` seconds; it is back."""

    kind: ClassVar[str] = "hub_restarted"
    down_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class InfrastructureFaultRaised(Event):
    """The bench itself failed (``component``: a port, the NCP...), not the device under test."""

    kind: ClassVar[str] = "infrastructure_fault"
    component: str
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class InfrastructureRestored(Event):
    """A part that failed (``component``, as in :class:`InfrastructureFaultRaised`) works again."""

    kind: ClassVar[str] = "infrastructure_restored"
    component: str
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class InfrastructureLost(Event):
    """The bench gave up on a part that failed (``component``): the session cannot go on."""

    kind: ClassVar[str] = "infrastructure_lost"
    component: str
    message: str


class BenchAborted(InfrastructureFault):
    """A wait ended because a part of the bench was lost (:class:`InfrastructureLost`) meanwhile."""


class EventTimeout(CheckFailed, TimeoutError):
    """An awaited event did not come; the message lists what came instead."""


Predicate = Callable[[Event], bool]


class EventStream:
    """Publish/subscribe for bench events, with ``seq`` numbering and a bounded history."""

    def __init__(self, clock: Callable[[], dt.datetime], *, history: int = 1000) -> None:
        self._clock = clock
        self._seq = 0
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: Listeners[Callable[[Event], None]] = Listeners()
        # Every InfrastructureLost published (a session sees a few at most), and the futures
        # of the waits that end on the next one (see unless_lost).
        self._lost: list[InfrastructureLost] = []
        self._lost_waiters: set[asyncio.Future[InfrastructureLost]] = set()

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last event published (0 before any): a mark for :meth:`wait_for`."""
        return self._seq

    @property
    def history(self) -> tuple[Event, ...]:
        """The most recent events, oldest first."""
        return tuple(self._history)

    def publish(self, event: _E) -> _E:
        """Stamp ``event`` with the next ``seq`` (and the clock, unless ``at`` is given) and hand
        it to every subscriber, in subscription order. A subscriber that raises stops the
        publisher: a session record that cannot be written must not pass silently.
        """
        self._seq += 1
        at = self._clock() if event.at == _UNSTAMPED else event.at
        stamped = dataclasses.replace(event, seq=self._seq, at=at)
        self._history.append(stamped)
        if isinstance(stamped, InfrastructureLost):
            self._lost.append(stamped)
            waiters, self._lost_waiters = self._lost_waiters, set()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(stamped)
        self._subscribers(stamped)
        return stamped

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event published from now on; returns an unsubscribe."""
        return self._subscribers.add(callback)

    @overload
    async def wait_for(self, match: type[_E], timeout: float, *, since: int | None = None,
                       what: str | None = None) -> _E: ...

    @overload
    async def wait_for(self, match: Predicate, timeout: float, *, since: int | None = None,
                       what: str | None = None) -> Event: ...

    async def wait_for(
        self,
        match: type[_E] | Predicate,
        timeout: float,
        *,
        since: int | None = None,
        what: str | None = None,
    ) -> Any:
        """The first event that ``match`` accepts (an event class, or a predicate).

        Only events published after the call count, unless ``since`` is a ``seq`` mark
        (from :attr:`last_seq` taken before starting the action): then events after that
        mark in the history count too, so an event published before the wait began is not
        missed. Raises :class:`EventTimeout` after ``timeout`` seconds of loop time, and
        :class:`BenchAborted` as soon as a part of the bench is lost (an
        :class:`InfrastructureLost` that ``match`` does not accept), since what is awaited
        cannot come any more.
        """
        accept: Predicate = (lambda e: isinstance(e, match)) if isinstance(match, type) else match
        described = what or _describe_match(match)
        if since is not None:
            for event in self._history:
                if event.seq > since and accept(event):
                    return event
                if event.seq > since and isinstance(event, InfrastructureLost):
                    raise BenchAborted(event.message)
        found: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

        def check(event: Event) -> None:
            if found.done():
                return
            if accept(event):
                found.set_result(event)
            elif isinstance(event, InfrastructureLost):
                found.set_exception(BenchAborted(event.message))

        unsubscribe = self.subscribe(check)
        try:
            with bench_wait(described, timeout):
                async with asyncio.timeout(timeout):
                    return await found
        except TimeoutError:
            raise EventTimeout(self._timeout_message(described, timeout)) from None
        finally:
            unsubscribe()

    async def unless_lost(self, awaitable: Awaitable[_T], *, since: int) -> _T:
        """``awaitable``'s result, unless a part of the bench is lost first (after ``since``).

        For waits that do not read the stream (a user's inbox, a command's answer): they end
        with :class:`BenchAborted` at once instead of running into their own timeout.

        Every request of a user waits like this, hundreds at once over an estate, so the wait
        is not a subscriber (each event would call each of them, and each would scan the
        history): the stream keeps what was lost, and a future per wait that the next loss
        settles.
        """
        work = asyncio.ensure_future(awaitable)
        lost: asyncio.Future[InfrastructureLost] = asyncio.get_running_loop().create_future()
        already = next((event for event in self._lost if event.seq > since), None)
        if already is not None:
            lost.set_result(already)
        else:
            self._lost_waiters.add(lost)
        try:
            await asyncio.wait((work, lost), return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            raise BenchAborted(lost.result().message)
        finally:
            self._lost_waiters.discard(lost)
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)

    def _timeout_message(self, described: str, timeout: float, shown: int = 10) -> str:
        recent = list(self._history)[-shown:]
        lines = [f"timed out after {timeout:g} s waiting for {described}"]
        if recent:
            lines.append(f"last {len(recent)} of {self._seq} events:")
            lines.extend(f"  {event.describe()}" for event in recent)
        else:
            lines.append("no events were published")
        return "\n".join(lines)


def _describe_match(match: type[Event] | Predicate) -> str:
    if isinstance(match, type):
        return f"a {match.kind} event"
    doc = (getattr(match, "__doc__", None) or "").strip()
    name = getattr(match, "__name__", "")
    if doc and name != "<lambda>":
        return doc.splitlines()[0]
    return f"an event matching {name or repr(match)}"

