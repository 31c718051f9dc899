"""Strict DER loading for the ASN.1 payloads of GBCS (CS06, CCS08, CS09, CS08).

asn1crypto parses lazily and forgivingly; a GBCS decoder must do neither. :func:`load_der`
checks the TLV framing itself (so truncation names an offset), forces asn1crypto to parse
every field (so a wrong type names the field), and insists the input is the canonical DER
encoding of what was parsed (so every accepted payload re-encodes to the same bytes, which
matters because signatures cover bytes). Whatever asn1crypto raises ends as
:class:`MessageFormatError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from asn1crypto import core

from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import Cursor

T = TypeVar("T", bound=core.Asn1Value)

# What asn1crypto raises on malformed input; all of it becomes MessageFormatError.
_ASN1_ERRORS = (ValueError, TypeError, LookupError, OverflowError, AttributeError)


def _child_offsets(data: bytes, what: str) -> list[int]:
    """Offsets of the children of the constructed TLV ``data``, checking all framing."""
    cur = Cursor(data, what)
    tag = cur.byte("tag")
    if tag & 0x1F == 0x1F:
        raise cur.fail("tag", "multi-byte tags are not used by GBCS", 0)
    contents = cur.sub(cur.length("length"), "contents")
    cur.done()
    offsets = []
    if tag & 0x20:
        while contents.remaining:
            offsets.append(contents.offset)
            contents.byte("element tag")
            contents.take(contents.length("element length"), "element contents")
    return offsets


def _detail(exc: Exception) -> str:
    """asn1crypto's complaint without its "Error parsing <python class> - " preamble."""
    return str(exc).split(" - ", 1)[-1].splitlines()[0]


def load_der(spec: type[T], data: bytes, what: str) -> T:
    """``data`` parsed as ``spec``, or a MessageFormatError naming the field and offset."""
    offsets = _child_offsets(data, what)
    try:
        value = spec.load(data, strict=True)
    except _ASN1_ERRORS as exc:
        raise MessageFormatError(f"{what}: at offset 0: not a DER {spec.__name__.lstrip('_')}: {_detail(exc)}") from None
    if isinstance(value, core.Sequence):
        try:
            len(value)  # splits the contents into fields: missing, extra or misplaced fields fail here
        except _ASN1_ERRORS as exc:
            raise MessageFormatError(f"{what}: at offset 0: not a DER {spec.__name__.lstrip('_')}: {_detail(exc)}") from None
        present = 0
        for name, *_ in spec._fields:
            at = offsets[present] if present < len(offsets) else len(data)
            try:
                child = value[name]
                child.native
            except _ASN1_ERRORS as exc:
                raise MessageFormatError(f"{what}: {name} at offset {at}: {_detail(exc)}") from None
            if not isinstance(child, core.Void):
                present += 1
    else:
        try:
            value.native
        except _ASN1_ERRORS as exc:
            raise MessageFormatError(f"{what}: at offset 0: {_detail(exc)}") from None
    try:
        canonical = value.dump(force=True)
    except _ASN1_ERRORS as exc:
        raise MessageFormatError(f"{what}: cannot be re-encoded: {exc}") from None
    if canonical != data:
        raise MessageFormatError(f"{what}: not in canonical DER form")
    return value


def dump(value: core.Asn1Value, what: str) -> bytes:
    """DER of ``value``; asn1crypto's complaints about a value become MessageFormatError."""
    try:
        return value.dump(force=True)
    except _ASN1_ERRORS as exc:
        raise MessageFormatError(f"{what}: cannot be DER-encoded: {exc}") from None


def generalized_time(value: datetime) -> core.GeneralizedTime:
    """A GeneralizedTime in the ``YYYYMMDDHHMMSSZ`` form GBCS uses (whole seconds, UTC)."""
    return core.GeneralizedTime(value.replace(microsecond=0))


def native_time(value: object, field: str, what: str) -> datetime:
    """The datetime asn1crypto decoded, refusing its year-0 ``extended_datetime``."""
    if not isinstance(value, datetime):
        raise MessageFormatError(f"{what}: {field} is not a representable date-time")
    return value
