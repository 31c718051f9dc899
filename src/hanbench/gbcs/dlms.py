"""The small subset of DLMS/COSEM (IEC 62056) that GBCS firmware messages use.

Hand-written on purpose. ``dlms-cosem`` (PyPI) was evaluated: it decodes Data-Notification
but has no ACCESS service (Access-Request 0xD9 / Access-Response 0xDA), which ECS52 uses,
and its exceptions would need wrapping to honour this package's error contract. What the
firmware use cases need is a handful of A-XDR types and three APDUs, so they live here:

* COSEM date-time (12 bytes), as carried in GBCS headers and DLMS alerts;
* A-XDR data: null-data 0x00, structure 0x02, octet-string 0x09, long-unsigned 0x12,
  long64-unsigned 0x15;
* Data-Notification 0x0F (DLMS alerts: 0x00CE receipt alert, generic alerts);
* Access-Request 0xD9 / Access-Response 0xDA with GET specifications only (ECS52).

The long-invoke-id-and-priority of every RTDS DLMS message is ``0x20`` followed by the low
24 bits of the message's originator counter; :func:`invoke_id_for` builds it that way and
decoders accept only that flags byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import Cursor, check_bytes, check_uint, encode_length, require_utc

NULL_DATA = 0x00
STRUCTURE = 0x02
OCTET_STRING = 0x09
LONG_UNSIGNED = 0x12
LONG64_UNSIGNED = 0x15

DATA_NOTIFICATION = 0x0F
ACCESS_REQUEST = 0xD9
ACCESS_RESPONSE = 0xDA
_ACCESS_GET = 0x01
_INVOKE_FLAGS = 0x20

_DEVIATION_UNSPECIFIED = 0x8000
_UNSPECIFIED = 0xFF


def invoke_id_for(counter: int) -> int:
    """The long-invoke-id-and-priority GBCS gives a DLMS APDU sent under ``counter``."""
    return (_INVOKE_FLAGS << 24) | (check_uint(counter, 64, "originator counter") & 0xFFFFFF)


@dataclass(frozen=True)
class CosemDateTime:
    """A COSEM date-time exactly as carried, so that messages re-encode byte for byte.

    GBCS times are UTC: the deviation must be 0 or 0x8000 (not specified). RTDS writes
    day-of-week, deviation and clock status as "not specified" (0xFF, 0x8000, 0xFF), and so
    does :meth:`from_datetime`.
    """

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    hundredths: int = 0
    day_of_week: int = _UNSPECIFIED
    deviation: int = _DEVIATION_UNSPECIFIED
    clock_status: int = _UNSPECIFIED

    LENGTH = 12

    def __post_init__(self) -> None:
        for name, bits in (("year", 16), ("month", 8), ("day", 8), ("hour", 8), ("minute", 8),
                           ("second", 8), ("hundredths", 8), ("day_of_week", 8), ("deviation", 16),
                           ("clock_status", 8)):
            check_uint(getattr(self, name), bits, f"COSEM date-time {name}")
        if self.deviation not in (0, _DEVIATION_UNSPECIFIED):
            raise MessageFormatError(
                f"COSEM date-time deviation 0x{self.deviation:04X}: GBCS times are UTC (0 or 0x8000)"
            )
        if not (1 <= self.day_of_week <= 7 or self.day_of_week == _UNSPECIFIED):
            raise MessageFormatError(f"COSEM date-time day of week {self.day_of_week} is not 1..7 or 0xFF")
        if not (self.hundredths < 100 or self.hundredths == _UNSPECIFIED):
            raise MessageFormatError(f"COSEM date-time hundredths {self.hundredths} is not 0..99 or 0xFF")
        try:
            self.datetime
        except ValueError as exc:
            raise MessageFormatError(f"COSEM date-time is not a calendar date and time: {exc}") from None

    @property
    def datetime(self) -> datetime:
        """The UTC instant this date-time names."""
        hundredths = 0 if self.hundredths == _UNSPECIFIED else self.hundredths
        return datetime(self.year, self.month, self.day, self.hour, self.minute, self.second,
                        hundredths * 10_000, tzinfo=timezone.utc)

    @classmethod
    def from_datetime(cls, value: datetime) -> "CosemDateTime":
        """The RTDS-style COSEM date-time of an aware datetime (sub-hundredths are dropped)."""
        utc = require_utc(value, "date-time")
        return cls(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond // 10_000)

    def encode(self) -> bytes:
        return (self.year.to_bytes(2, "big")
                + bytes([self.month, self.day, self.day_of_week, self.hour, self.minute, self.second,
                         self.hundredths])
                + self.deviation.to_bytes(2, "big") + bytes([self.clock_status]))

    @classmethod
    def read(cls, cur: Cursor, field: str) -> "CosemDateTime":
        at = cur.offset
        raw = cur.take(cls.LENGTH, field)
        try:
            return cls(int.from_bytes(raw[0:2], "big"), raw[2], raw[3], raw[5], raw[6], raw[7], raw[8],
                       raw[4], int.from_bytes(raw[9:11], "big"), raw[11])
        except MessageFormatError as exc:
            raise cur.fail(field, str(exc), at) from None


def as_cosem(value: "datetime | CosemDateTime") -> CosemDateTime:
    """Accept either form where a caller gives a time to put in a DLMS field."""
    return value if isinstance(value, CosemDateTime) else CosemDateTime.from_datetime(value)


# --- A-XDR data ------------------------------------------------------------------------------

def encode_octet_string(value: bytes) -> bytes:
    return bytes([OCTET_STRING]) + encode_length(len(value)) + value


def encode_long_unsigned(value: int) -> bytes:
    return bytes([LONG_UNSIGNED]) + check_uint(value, 16, "long-unsigned").to_bytes(2, "big")


def encode_long64_unsigned(value: int) -> bytes:
    return bytes([LONG64_UNSIGNED]) + check_uint(value, 64, "long64-unsigned").to_bytes(8, "big")


def encode_structure(*items: bytes) -> bytes:
    return bytes([STRUCTURE]) + encode_length(len(items)) + b"".join(items)


def encode_date_time(value: CosemDateTime) -> bytes:
    """A date-time as A-XDR data: an octet-string of 12."""
    return encode_octet_string(value.encode())


_TYPE_NAMES = {NULL_DATA: "null-data", STRUCTURE: "structure", OCTET_STRING: "octet-string",
               LONG_UNSIGNED: "long-unsigned", LONG64_UNSIGNED: "long64-unsigned"}


def _read_tag(cur: Cursor, expected: int, field: str) -> None:
    at = cur.offset
    tag = cur.byte(field)
    if tag != expected:
        raise cur.fail(field, f"expected {_TYPE_NAMES[expected]} (0x{expected:02X}), found 0x{tag:02X}", at)


def read_octet_string(cur: Cursor, field: str, size: int | None = None) -> bytes:
    _read_tag(cur, OCTET_STRING, field)
    at = cur.offset
    length = cur.length(field)
    if size is not None and length != size:
        raise cur.fail(field, f"must be {size} bytes, length says {length}", at)
    return cur.take(length, field)


def read_long_unsigned(cur: Cursor, field: str) -> int:
    _read_tag(cur, LONG_UNSIGNED, field)
    return cur.uint(2, field)


def read_long64_unsigned(cur: Cursor, field: str) -> int:
    _read_tag(cur, LONG64_UNSIGNED, field)
    return cur.uint(8, field)


def read_structure_size(cur: Cursor, field: str) -> int:
    """A structure header; returns how many elements it announces."""
    _read_tag(cur, STRUCTURE, field)
    return cur.length(field)


def read_structure(cur: Cursor, field: str, count: int) -> None:
    """A structure header that must announce ``count`` elements."""
    at = cur.offset
    got = read_structure_size(cur, field)
    if got != count:
        raise cur.fail(field, f"expected a structure of {count} elements, found {got}", at)


def read_date_time(cur: Cursor, field: str) -> CosemDateTime:
    _read_tag(cur, OCTET_STRING, field)
    at = cur.offset
    length = cur.length(field)
    if length != CosemDateTime.LENGTH:
        raise cur.fail(field, f"a COSEM date-time is 12 bytes, length says {length}", at)
    return CosemDateTime.read(cur, field)


def _read_invoke_id(cur: Cursor) -> int:
    at = cur.offset
    value = cur.uint(4, "long-invoke-id-and-priority")
    if value >> 24 != _INVOKE_FLAGS:
        raise cur.fail("long-invoke-id-and-priority", f"flags byte 0x{value >> 24:02X} is not GBCS's 0x20", at)
    return value


def _read_absent_date_time(cur: Cursor) -> None:
    """The APDU date-time, which GBCS leaves empty in these APDUs (times travel elsewhere)."""
    at = cur.offset
    if cur.length("APDU date-time") != 0:
        raise cur.fail("APDU date-time", "must be empty in this GBCS message", at)


# --- Data-Notification -------------------------------------------------------------------------

def encode_data_notification(invoke_id: int, body: bytes) -> bytes:
    """A Data-Notification APDU with no APDU date-time and ``body`` as its A-XDR data."""
    return bytes([DATA_NOTIFICATION]) + check_uint(invoke_id, 32, "invoke id").to_bytes(4, "big") + b"\x00" + body


def read_data_notification(data: bytes, what: str) -> Cursor:
    """Check a Data-Notification header and return a cursor at its body."""
    cur = Cursor(data, what)
    cur.expect(bytes([DATA_NOTIFICATION]), "Data-Notification tag")
    _read_invoke_id(cur)
    _read_absent_date_time(cur)
    return cur


# --- ACCESS service (GET only) -------------------------------------------------------------

@dataclass(frozen=True)
class AttributeRef:
    """A COSEM attribute: interface class, OBIS logical name, attribute index."""

    class_id: int
    obis: bytes
    attribute: int

    def __post_init__(self) -> None:
        check_uint(self.class_id, 16, "class id")
        check_bytes(self.obis, "OBIS code", size=6)
        check_uint(self.attribute, 8, "attribute id")

    def encode(self) -> bytes:
        return self.class_id.to_bytes(2, "big") + self.obis + bytes([self.attribute])


@dataclass(frozen=True)
class GetResult:
    """One GET outcome in an Access-Response: an octet-string value or null, and a result code."""

    value: bytes | None
    result: int

    def __post_init__(self) -> None:
        check_uint(self.result, 8, "data-access-result")
        if self.value is not None:
            check_bytes(self.value, "GET value")
        if (self.result == 0) != (self.value is not None):
            raise MessageFormatError("a successful GET carries a value; a failed GET carries null-data")


def encode_get_request(invoke_id: int, attributes: Sequence[AttributeRef]) -> bytes:
    """An Access-Request of GET specifications, with null-data for each, as GBCS reads use."""
    specs = b"".join(bytes([_ACCESS_GET]) + a.encode() for a in attributes)
    data = bytes([NULL_DATA]) * len(attributes)
    return (bytes([ACCESS_REQUEST]) + check_uint(invoke_id, 32, "invoke id").to_bytes(4, "big") + b"\x00"
            + encode_length(len(attributes)) + specs + encode_length(len(attributes)) + data)


def decode_get_request(data: bytes, what: str) -> tuple[int, tuple[AttributeRef, ...]]:
    """``(long invoke id, attributes)`` of a GET-only Access-Request."""
    cur = Cursor(data, what)
    cur.expect(bytes([ACCESS_REQUEST]), "Access-Request tag")
    invoke_id = _read_invoke_id(cur)
    _read_absent_date_time(cur)
    count = cur.length("request specification count")
    attributes = []
    for i in range(count):
        field = f"request specification {i + 1}"
        cur.expect(bytes([_ACCESS_GET]), f"{field} (GET)")
        attributes.append(AttributeRef(cur.uint(2, f"{field} class id"), cur.take(6, f"{field} OBIS"),
                                       cur.byte(f"{field} attribute")))
    at = cur.offset
    if cur.length("request data count") != count:
        raise cur.fail("request data count", f"must equal the {count} specifications", at)
    for i in range(count):
        cur.expect(bytes([NULL_DATA]), f"request data {i + 1}")
    cur.done()
    return invoke_id, tuple(attributes)


def encode_get_response(invoke_id: int, results: Sequence[GetResult]) -> bytes:
    values = b"".join(bytes([NULL_DATA]) if r.value is None else encode_octet_string(r.value) for r in results)
    specs = b"".join(bytes([_ACCESS_GET, r.result]) for r in results)
    return (bytes([ACCESS_RESPONSE]) + check_uint(invoke_id, 32, "invoke id").to_bytes(4, "big") + b"\x00"
            + b"\x00" + encode_length(len(results)) + values + encode_length(len(results)) + specs)


def decode_get_response(data: bytes, what: str) -> tuple[int, tuple[GetResult, ...]]:
    """``(long invoke id, results)`` of a GET-only Access-Response whose values are octet-strings."""
    cur = Cursor(data, what)
    cur.expect(bytes([ACCESS_RESPONSE]), "Access-Response tag")
    invoke_id = _read_invoke_id(cur)
    _read_absent_date_time(cur)
    cur.expect(b"\x00", "access-request-specification (absent)")
    count = cur.length("response data count")
    values: list[bytes | None] = []
    for i in range(count):
        field = f"response data {i + 1}"
        at = cur.offset
        tag = cur.byte(field)
        if tag == NULL_DATA:
            values.append(None)
        elif tag == OCTET_STRING:
            values.append(cur.take(cur.length(field), field))
        else:
            raise cur.fail(field, f"expected null-data or octet-string, found 0x{tag:02X}", at)
    at = cur.offset
    if cur.length("response specification count") != count:
        raise cur.fail("response specification count", f"must equal the {count} data items", at)
    results = []
    for i, value in enumerate(values):
        field = f"response specification {i + 1}"
        cur.expect(bytes([_ACCESS_GET]), f"{field} (GET)")
        at = cur.offset
        try:
            results.append(GetResult(value, cur.byte(f"{field} result")))
        except MessageFormatError as exc:
            raise cur.fail(field, str(exc), at) from None
    cur.done()
    return invoke_id, tuple(results)
