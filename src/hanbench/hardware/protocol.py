"""The dev-board control protocol: line-delimited JSON over a UART, shared by both ends.

A dev board running a test build answers the bench on a second UART: who it is, what
firmware it runs and holds, its clock, whether it joined, and a stream of the GBCS alerts it
raised. Over the air the bench sees only Zigbee frames; this port is how a test learns what
the device *decided*. ``hardware.md`` is the specification for manufacturers; this module is
the one implementation of its message shapes, used by the bench's client
(:mod:`hanbench.hardware.control`) and by the emulated board (:mod:`hanbench.twin.board`)
alike, so the two cannot drift apart.

Versioning: every message carries ``"v": <major>``. A peer refuses a major it does not
know. Minor versions only add (ops, events, optional fields, error codes), so readers ignore
fields and event kinds they do not know; ``identify`` reports the full ``"major.minor"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from hanbench.errors import CheckFailed, InfrastructureFault
from hanbench.gbcs.cs06 import PendingActivation
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.occupant_data import ConsumerData, DisplayedData, SupplierData

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 3
PROTOCOL_VERSION = f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"

_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")


class ProtocolError(InfrastructureFault):
    """The control link broke its contract: the board's control shim is test equipment, so
    this is a bench fault, never the device under test refusing something."""


class MalformedMessage(ProtocolError):
    """A line or field that is not what the protocol says it must be."""


class IncompatibleVersion(ProtocolError):
    """The peer speaks a major protocol version this side does not know."""


class BoardRefused(CheckFailed):
    """The board answered a request with ``ok: false``: the device said no, a failed check.

    Raised by the client with the board's own code and message, and raised *by a backend*
    to make an emulated board answer with that error.
    """

    def __init__(self, code: str, message: str, op: str = "") -> None:
        self.code = code
        self.message = message
        self.op = op
        where = f"'{op}' " if op else ""
        super().__init__(f"board refused {where}with {code}: {message}")


# --- field readers: one place that turns a wrong field into a message naming it -------------

T = TypeVar("T")


def _get(obj: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...]) -> T:
    if key not in obj:
        raise MalformedMessage(f"field '{key}' is missing")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedMessage(f"field '{key}' should be {_kind_name(kind)}, got {value!r}")
    return value  # type: ignore[return-value]


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "a string", int: "an integer", bool: "true or false", dict: "an object",
                        list: "a list"}.get(k, k.__name__) for k in kinds)


def _number(obj: Mapping[str, Any], key: str, bits: int) -> int:
    """An unsigned number written either as a JSON integer or as a ``"0x..."`` string.

    Both are accepted because a C test build finds ``printf("0x%04X")`` as natural as
    ``%u``; the bench writes the hex form, which is how the specifications print codes.
    """
    raw = _get(obj, key, (int, str))
    if isinstance(raw, str):
        if not raw.lower().startswith("0x"):
            raise MalformedMessage(f"field '{key}' should be a number or a '0x...' string, got {raw!r}")
        try:
            value = int(raw, 16)
        except ValueError:
            raise MalformedMessage(f"field '{key}' is not hexadecimal: {raw!r}") from None
    else:
        value = raw
    if not 0 <= value < (1 << bits):
        # In hex: Python will not print an integer of over 4,300 digits in decimal
        shown = f"{value:#x}" if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
        raise MalformedMessage(f"field '{key}' = {shown} does not fit in {bits} unsigned bits")
    return value


def _hex_bytes(obj: Mapping[str, Any], key: str, length: int | None = None) -> bytes:
    raw = _get(obj, key, str)
    if not _HEX.match(raw):
        raise MalformedMessage(f"field '{key}' should be hex bytes, got {raw!r}")
    value = bytes.fromhex(raw)
    if length is not None and len(value) != length:
        raise MalformedMessage(f"field '{key}' should be {length} bytes, got {len(value)}")
    return value


def _timestamp(obj: Mapping[str, Any], key: str) -> datetime:
    raw = _get(obj, key, str)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedMessage(f"field '{key}' is not an ISO-8601 date-time: {raw!r}") from None
    if value.tzinfo is None:
        raise MalformedMessage(f"field '{key}' has no time zone; write UTC as '...Z': {raw!r}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise MalformedMessage(f"field '{key}' is outside the years 1-9999 in UTC: {raw!r}") from None


def _optional(obj: Mapping[str, Any], key: str, read: Callable[[Mapping[str, Any]], T]) -> T | None:
    value = obj.get(key)
    return None if value is None else read(_get(obj, key, dict))


def format_timestamp(value: datetime) -> str:
    """UTC, whole seconds, ``Z`` suffix: the one form both ends write."""
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no defined instant; give it a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex_code(value: int, digits: int) -> str:
    return f"0x{value:0{digits}X}"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldImage:
    """A firmware image the device has verified and keeps, waiting for a CS06 to activate it."""

    version: int
    hash: bytes  # the GBCS Manufacturer Image Hash (SHA-256, 32 bytes)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> HeldImage:
        return cls(version=_number(obj, "version", 32), hash=_hex_bytes(obj, "hash", 32))

    def to_json(self) -> dict[str, Any]:
        return {"version": _hex_code(self.version, 8), "hash": self.hash.hex()}


def _pending_from_json(obj: Mapping[str, Any]) -> PendingActivation:
    """``{"hash": ..., "at": ...}``: the board reports no originator counter."""
    return PendingActivation(execution=_timestamp(obj, "at"), counter=None, image_hash=_hex_bytes(obj, "hash", 32))


def _pending_to_json(pending: PendingActivation) -> dict[str, Any]:
    return {"hash": pending.image_hash.hex(), "at": format_timestamp(pending.execution)}


@dataclass(frozen=True)
class Network:
    """The Zigbee network the device joined, as the device itself sees it."""

    pan_id: int
    channel: int
    nwk: int

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Network:
        return cls(pan_id=_number(obj, "pan_id", 16), channel=_number(obj, "channel", 8),
                   nwk=_number(obj, "nwk", 16))

    def to_json(self) -> dict[str, Any]:
        return {"pan_id": _hex_code(self.pan_id, 4), "channel": self.channel, "nwk": _hex_code(self.nwk, 4)}


@dataclass(frozen=True)
class Alert:
    """A GBCS alert the device raised: the alert code, the message code, and the raw payload."""

    alert_code: int
    message_code: int
    payload: bytes

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Alert:
        return cls(alert_code=_number(obj, "alert_code", 16), message_code=_number(obj, "message_code", 16),
                   payload=_hex_bytes(obj, "payload"))

    def to_json(self) -> dict[str, Any]:
        return {"alert_code": _hex_code(self.alert_code, 4), "message_code": _hex_code(self.message_code, 4),
                "payload": self.payload.hex()}


@dataclass(frozen=True)
class Identity:
    """The result of ``identify``: enough to tell which board sits on a port and what it runs."""

    role: DeviceType
    eui64: EntityId
    manufacturer: str
    model: str
    hardware_version: int
    firmware_version: int
    held_image: HeldImage | None
    protocol: str  # "major.minor" the board implements

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Identity:
        try:
            role = DeviceType.parse(_get(obj, "role", str))
            eui64 = EntityId.parse(_get(obj, "eui64", str))
        except GbcsError as exc:
            raise MalformedMessage(str(exc)) from None
        return cls(role=role, eui64=eui64, manufacturer=_get(obj, "manufacturer", str),
                   model=_get(obj, "model", str), hardware_version=_number(obj, "hardware_version", 16),
                   firmware_version=_number(obj, "firmware_version", 32),
                   held_image=_optional(obj, "held_image", HeldImage.from_json),
                   protocol=_get(obj, "protocol", str))

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role.value, "eui64": self.eui64.hex, "manufacturer": self.manufacturer,
                "model": self.model, "hardware_version": _hex_code(self.hardware_version, 4),
                "firmware_version": _hex_code(self.firmware_version, 8),
                "held_image": self.held_image.to_json() if self.held_image else None, "protocol": self.protocol}


def _list_of(obj: Mapping[str, Any], key: str, kind: type[T], kind_name: str) -> tuple[T, ...]:
    items = _get(obj, key, list)
    if not all(isinstance(i, kind) and not isinstance(i, bool) for i in items):
        raise MalformedMessage(f"field '{key}' should be a list of {kind_name}, got {items!r}")
    return tuple(items)


def display_from_json(obj: Mapping[str, Any]) -> DisplayedData:
    """A ``state``'s ``display`` object (1.3): what an IHD or PPMID shows of the occupant."""
    price = obj.get("unit_price_pence_per_kwh")
    if price is not None and (not isinstance(price, (int, float)) or isinstance(price, bool)):
        raise MalformedMessage(f"field 'unit_price_pence_per_kwh' should be a number or null, got {price!r}")
    return DisplayedData(
        ConsumerData(_list_of(obj, "consumption_wh", int, "integers"), _list_of(obj, "messages", str, "strings"),
                     _list_of(obj, "top_ups_pence", int, "integers")),
        SupplierData(_get(obj, "supplier_name", str), None if price is None else float(price)))


def display_to_json(display: DisplayedData) -> dict[str, Any]:
    consumer, supplier = display.consumer, display.supplier
    return {"consumption_wh": list(consumer.daily_consumption_wh), "messages": list(consumer.messages),
            "top_ups_pence": list(consumer.top_ups_pence), "supplier_name": supplier.supplier_name,
            "unit_price_pence_per_kwh": supplier.unit_price_pence_per_kwh}


@dataclass(frozen=True)
class BoardState:
    """The result of ``state``: what a test asserts after an OTA transfer or a CS06.

    ``running_hash`` (added in 1.1, optional) is the Manufacturer Image Hash of the running
    image: what proves that the image a CS06 named is the one that now runs. A 1.0 board, or
    one running the firmware it was flashed with rather than an image it received, leaves it
    out. ``display`` (added in 1.3, optional) is what an IHD or PPMID shows of the occupant
    (SECMP0056); a board that shows none, or predates 1.3, leaves it out.
    """

    firmware_version: int
    held_image: HeldImage | None
    pending_activation: PendingActivation | None
    clock: datetime
    joined: bool
    network: Network | None
    last_alerts: tuple[Alert, ...] = field(default=())
    running_hash: bytes | None = None
    display: DisplayedData | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> BoardState:
        alerts = _get(obj, "last_alerts", list)
        if not all(isinstance(a, dict) for a in alerts):
            raise MalformedMessage("field 'last_alerts' should be a list of alert objects")
        return cls(firmware_version=_number(obj, "firmware_version", 32),
                   held_image=_optional(obj, "held_image", HeldImage.from_json),
                   pending_activation=_optional(obj, "pending_activation", _pending_from_json),
                   clock=_timestamp(obj, "clock"), joined=_get(obj, "joined", bool),
                   network=_optional(obj, "network", Network.from_json),
                   last_alerts=tuple(Alert.from_json(a) for a in alerts),
                   running_hash=None if obj.get("running_hash") is None else _hex_bytes(obj, "running_hash", 32),
                   display=_optional(obj, "display", display_from_json))

    def to_json(self) -> dict[str, Any]:
        return {"firmware_version": _hex_code(self.firmware_version, 8),
                "held_image": self.held_image.to_json() if self.held_image else None,
                "pending_activation": _pending_to_json(self.pending_activation) if self.pending_activation else None,
                "clock": format_timestamp(self.clock), "joined": self.joined,
                "network": self.network.to_json() if self.network else None,
                "last_alerts": [a.to_json() for a in self.last_alerts],
                "running_hash": None if self.running_hash is None else self.running_hash.hex(),
                "display": None if self.display is None else display_to_json(self.display)}


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertEvent:
    """The board raised a GBCS alert (it is also sent over the air; this copy cannot be lost)."""

    alert: Alert

    def to_json(self) -> dict[str, Any]:
        return {"event": "alert", **self.alert.to_json()}


@dataclass(frozen=True)
class StateEvent:
    """Something in the board's state changed (image held, activated, joined, clock set)."""

    state: BoardState

    def to_json(self) -> dict[str, Any]:
        return {"event": "state", "state": self.state.to_json()}


@dataclass(frozen=True)
class LogEvent:
    """A free-text line from the firmware, kept in the session record."""

    level: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "log", "level": self.level, "message": self.message}


@dataclass(frozen=True)
class BootEvent:
    """The firmware started; ``reason`` is e.g. ``power_on``, ``reset``, ``activation``, ``watchdog``."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "boot", "reason": self.reason, "protocol": PROTOCOL_VERSION}


Event = AlertEvent | StateEvent | LogEvent | BootEvent

_EVENT_READERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "alert": lambda o: AlertEvent(Alert.from_json(o)),
    "state": lambda o: StateEvent(BoardState.from_json(_get(o, "state", dict))),
    "log": lambda o: LogEvent(level=_get(o, "level", str), message=_get(o, "message", str)),
    "boot": lambda o: BootEvent(reason=_get(o, "reason", str)),
}


# --- messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request as the board sees it; arguments sit beside ``op`` in the same object."""

    id: int
    op: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Response:
    """A response as the client sees it: ``result`` when ok, ``error`` otherwise."""

    id: int | None
    ok: bool
    result: Mapping[str, Any]
    error: BoardRefused | None


def _json(line: bytes) -> Any:
    """The JSON value of one line. Besides syntax errors, `json` raises ValueError for an
    integer longer than Python converts (4,300 digits) and RecursionError for nesting
    deeper than the interpreter's stack: every one of them is a malformed line."""
    try:
        return json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise MalformedMessage(f"not a JSON line ({type(exc).__name__}: {str(exc)[:80]})") from None


def _decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object and check its major version."""
    obj = _json(line)
    if not isinstance(obj, dict):
        raise MalformedMessage("a message must be a JSON object")
    version = _get(obj, "v", int)
    if version != PROTOCOL_MAJOR:
        raise IncompatibleVersion(
            f"peer speaks control protocol v{version}, this hanbench knows only v{PROTOCOL_MAJOR}"
        )
    return obj


def check_protocol_version(version: str) -> None:
    """Refuse an ``identify``'s ``"major.minor"`` whose major differs from ours."""
    major = version.split(".", 1)[0]
    if major != str(PROTOCOL_MAJOR):
        raise IncompatibleVersion(
            f"board implements control protocol {version}, this hanbench knows only {PROTOCOL_VERSION}"
        )


def parse_from_board(line: bytes) -> Response | Event | None:
    """A line the board sent: a response, an event, or ``None`` for an event kind added later."""
    obj = _decode(line)
    if "event" in obj:
        reader = _EVENT_READERS.get(_get(obj, "event", str))
        return reader(obj) if reader else None
    ident = obj.get("id")
    if ident is not None and (not isinstance(ident, int) or isinstance(ident, bool)):
        raise MalformedMessage(f"field 'id' should be an integer or null, got {ident!r}")
    if _get(obj, "ok", bool):
        result = {} if obj.get("result") is None else _get(obj, "result", dict)
        return Response(id=ident, ok=True, result=result, error=None)
    error = _get(obj, "error", dict)
    return Response(id=ident, ok=False, result={},
                    error=BoardRefused(_get(error, "code", str), _get(error, "message", str)))


def parse_request(line: bytes) -> Request:
    """A line the bench sent, as the board reads it."""
    obj = _decode(line)
    return Request(id=_get(obj, "id", int), op=_get(obj, "op", str),
                   args={k: v for k, v in obj.items() if k not in ("v", "id", "op")})


def request_id_of(line: bytes) -> int | None:
    """Best-effort id of a request the board could not parse, so its error still pairs up."""
    try:
        ident = _json(line).get("id")
    except (MalformedMessage, AttributeError):
        return None
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def clock_argument(args: Mapping[str, Any]) -> datetime:
    """The ``clock`` argument of ``set_clock``."""
    return _timestamp(args, "clock")


def _line(obj: Mapping[str, Any], major: int) -> bytes:
    return json.dumps({"v": major, **obj}, separators=(",", ":")).encode() + b"\n"


def encode_request(ident: int, op: str, args: Mapping[str, Any] | None = None) -> bytes:
    return _line({"id": ident, "op": op, **(args or {})}, PROTOCOL_MAJOR)


def encode_result(ident: int | None, result: Mapping[str, Any], major: int = PROTOCOL_MAJOR) -> bytes:
    return _line({"id": ident, "ok": True, "result": dict(result)}, major)


def encode_error(ident: int | None, code: str, message: str, major: int = PROTOCOL_MAJOR) -> bytes:
    return _line({"id": ident, "ok": False, "error": {"code": code, "message": message}}, major)


def encode_event(event: Event, major: int = PROTOCOL_MAJOR) -> bytes:
    return _line(event.to_json(), major)


# --- the board side's seam -------------------------------------------------------------------

EventSink = Callable[[Event], None]


class BoardBackend(Protocol):
    """What a board needs from the device it fronts; emulated HAN devices implement this.

    Methods are plain (not async): each answers from the device's current state at once.
    A method may raise :class:`BoardRefused` to answer the request with that error code.
    """

    def identify(self) -> Identity: ...

    def state(self) -> BoardState: ...

    def reset(self) -> None:
        """Restart the firmware, keeping persistent state (held image, network)."""

    def factory_reset(self) -> None:
        """Erase persistent state, then restart."""

    def restore_factory_image(self) -> None:
        """Drop the held image and any pending activation, then restart into the image the
        board was flashed with; network, clock and counters are kept (since 1.2)."""

    def set_clock(self, clock: datetime) -> None: ...

    def attach(self, emit: EventSink) -> None:
        """Remember ``emit``; call it with every event the device raises from now on."""
