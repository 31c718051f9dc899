"""Reading and checking the fields of GBCS messages.

Every GBCS decoder in this package walks bytes with a :class:`Cursor`, so that a short,
long or malformed input always ends in a :class:`MessageFormatError` naming the field and
its absolute offset, never in an ``IndexError`` or ``struct.error``. The value checkers
below are shared by the record dataclasses, which refuse to hold values that could not be
encoded.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError, MessageTruncated

T = TypeVar("T")
E = TypeVar("E", bound=enum.IntEnum)


class Cursor:
    """A read position in ``data``; ``what`` names the structure in error messages.

    ``base`` is the absolute offset of ``data[0]`` in the outermost message, so errors
    from a nested structure still point into the bytes the user holds.
    """

    def __init__(self, data: bytes, what: str, base: int = 0) -> None:
        self._data = bytes(data)
        self._pos = 0
        self.what = what
        self.base = base

    @property
    def offset(self) -> int:
        """Absolute offset of the next unread byte."""
        return self.base + self._pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def fail(self, field: str, problem: str, at: int | None = None) -> MessageFormatError:
        """An error for ``field`` at ``at`` (default: the current offset)."""
        where = self.offset if at is None else at
        return MessageFormatError(f"{self.what}: {field} at offset {where}: {problem}")

    def take(self, n: int, field: str) -> bytes:
        if n > self.remaining:
            where = self.offset
            raise MessageTruncated(f"{self.what}: {field} at offset {where}: needs {n} bytes, only {self.remaining} left")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def uint(self, n: int, field: str) -> int:
        """A big-endian unsigned integer of ``n`` bytes (GBCS is big-endian throughout)."""
        return int.from_bytes(self.take(n, field), "big")

    def byte(self, field: str) -> int:
        return self.uint(1, field)

    def expect(self, value: bytes, field: str) -> None:
        at = self.offset
        got = self.take(len(value), field)
        if got != value:
            raise self.fail(field, f"expected {value.hex().upper()}, found {got.hex().upper()}", at)

    def format_header(self, magic: bytes, version: int) -> None:
        """Take the magic and the one-byte format version that open the bench's own formats;
        a version other than ``version`` is refused, naming the field and its offset."""
        self.take(len(magic), "magic")
        at = self.offset
        found = self.byte("format version")
        if found != version:
            raise self.fail("format version", f"{found} is not {version}, the only format hanbench knows", at)

    def length(self, field: str) -> int:
        """A DLMS / DER definite length in its shortest form (0x00-0x7F, 0x81 xx, 0x82 xxxx...).

        Only the shortest form is accepted so that every decoded message re-encodes to the
        same bytes: GBCS signatures cover the encoding, not the values.
        """
        at = self.offset
        first = self.byte(field)
        if first < 0x80:
            return first
        size = first & 0x7F
        if size == 0 or size > 4:
            raise self.fail(field, f"length form 0x{first:02X} is not supported", at)
        value = self.uint(size, field)
        if encode_length(value) != bytes([first]) + value.to_bytes(size, "big"):
            raise self.fail(field, f"length {value} is not in its shortest form", at)
        return value

    def sub(self, n: int, field: str, what: str | None = None) -> "Cursor":
        """A cursor over the next ``n`` bytes, consumed from this one."""
        base = self.offset
        return Cursor(self.take(n, field), what or self.what, base)

    def rest(self) -> bytes:
        return self.take(self.remaining, "rest")

    def done(self, field: str = "end of data") -> None:
        """Refuse trailing bytes: a message with extra bytes is not the message it claims to be."""
        if self.remaining:
            raise self.fail(field, f"{self.remaining} unexpected trailing bytes")


def encode_length(n: int) -> bytes:
    """The shortest DLMS / DER definite length encoding of ``n``."""
    if n < 0:
        raise MessageFormatError(f"a length cannot be negative ({n})")
    if n < 0x80:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    if size > 4:
        raise MessageFormatError(f"length {n} is too large for a GBCS message")
    return bytes([0x80 | size]) + n.to_bytes(size, "big")


def check_uint(value: int, bits: int, field: str) -> int:
    """``value`` if it fits an unsigned field of ``bits`` bits, else a typed error."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise MessageFormatError(f"{field} must be an integer in 0..{(1 << bits) - 1}, got {value!r}")
    return value


def check_bytes(value: bytes, field: str, size: int | None = None, max_size: int | None = None) -> bytes:
    """``value`` if it is bytes of the required size, else a typed error."""
    if not isinstance(value, bytes):
        raise MessageFormatError(f"{field} must be bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise MessageFormatError(f"{field} must be {size} bytes, got {len(value)}")
    if max_size is not None and len(value) > max_size:
        raise MessageFormatError(f"{field} must be at most {max_size} bytes, got {len(value)}")
    return value


def require_utc(value: datetime, field: str) -> datetime:
    """``value`` converted to UTC; naive datetimes are refused because GBCS times are UTC
    and a guessed time zone would silently move an activation."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise MessageFormatError(f"{field} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(timezone.utc)


def whole_seconds_utc(value: datetime, field: str) -> datetime:
    """``value`` in UTC without sub-seconds: what a GeneralizedTime or GBZ time can carry, so a
    record holds exactly what decoding its encoding gives back."""
    return require_utc(value, field).replace(microsecond=0)


def check_enum(kind: type[E], value: int, field: str) -> E:
    """``value`` as a member of ``kind``, else a typed error listing what is allowed."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(f"{m.value} {m.name}" for m in kind)
        raise MessageFormatError(f"{field} {value!r} is not one of: {allowed}") from None


def check_entity(value: EntityId, field: str) -> EntityId:
    if not isinstance(value, EntityId):
        raise MessageFormatError(f"{field} must be an EntityId, got {type(value).__name__}")
    return value


def decoded(what: str, make: Callable[[], T]) -> T:
    """Build a decoded record, prefixing any complaint about its values with ``what``.

    Record dataclasses check their own values; a decoder calls them through this so an
    out-of-range value read off the wire names the payload it came from.
    """
    try:
        return make()
    except MessageFormatError as exc:
        raise MessageFormatError(f"{what}: {exc}") from None
