"""The small subset of GBZ (GBCS's ZigBee payload format) that GSME firmware messages use.

Hand-written: GBZ is GBCS's own wrapper around ZCL frames and no maintained Python library
encodes it (zigpy speaks ZCL over the air, not GBZ inside GBCS messages). Two shapes are
needed:

* the GBZ alert header (profile 0x0109, component count, alert code, UTC time as seconds
  since 2000-01-01) used by the GSME Firmware Distribution Receipt Alert (0x00CF);
* plaintext GBZ components (extended header control, cluster, length, ZCL frame) used by
  GCS38 Read GSME Firmware Version. Encrypted components (control bit 0x02) and components
  with a from-date-time (bit 0x10) are not needed by those use cases and are refused.

Multi-byte GBZ header fields are big-endian; the ZCL payloads inside are little-endian, as
in ZCL itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import Cursor, check_bytes, check_uint, require_utc

PROFILE_ID = 0x0109
ZIGBEE_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_ENCRYPTED = 0x02
_FROM_DATE_TIME = 0x10
LAST_COMPONENT = 0x01


def utc_seconds(value: datetime) -> int:
    """ZigBee UTCTime as a number: whole seconds since 2000-01-01T00:00:00Z."""
    seconds = (require_utc(value, "GBZ time") - ZIGBEE_EPOCH) // timedelta(seconds=1)
    return check_uint(seconds, 32, "GBZ time (seconds since 2000)")


def encode_utc_time(value: datetime) -> bytes:
    """ZigBee UTCTime: whole seconds since 2000-01-01T00:00:00Z, 4 bytes big-endian."""
    return utc_seconds(value).to_bytes(4, "big")


def from_utc_seconds(seconds: int) -> datetime:
    """The date-time of a ZigBee UTCTime number (the inverse of :func:`utc_seconds`)."""
    return ZIGBEE_EPOCH + timedelta(seconds=int(seconds))


def read_utc_time(cur: Cursor, field: str) -> datetime:
    return from_utc_seconds(cur.uint(4, field))


def encode_alert_header(alert_code: int, time: datetime, components: int) -> bytes:
    """Profile, component count, alert code and time, the head of every GBZ alert payload."""
    return (PROFILE_ID.to_bytes(2, "big") + bytes([check_uint(components, 8, "GBZ component count")])
            + check_uint(alert_code, 16, "alert code").to_bytes(2, "big") + encode_utc_time(time))


def read_alert_header(cur: Cursor, components: int) -> tuple[int, datetime]:
    """``(alert code, time)`` of a GBZ alert header announcing ``components`` components."""
    cur.expect(PROFILE_ID.to_bytes(2, "big"), "GBZ profile ID")
    at = cur.offset
    count = cur.byte("GBZ component count")
    if count != components:
        raise cur.fail("GBZ component count", f"expected {components}, found {count}", at)
    return cur.uint(2, "GBZ alert code"), read_utc_time(cur, "GBZ alert time")


@dataclass(frozen=True)
class ZclFrame:
    """A ZCL frame as GBZ carries it: frame control, sequence number, command, payload."""

    frame_control: int
    sequence_number: int
    command: int
    payload: bytes

    def __post_init__(self) -> None:
        check_uint(self.frame_control, 8, "ZCL frame control")
        check_uint(self.sequence_number, 8, "ZCL sequence number")
        check_uint(self.command, 8, "ZCL command")
        check_bytes(self.payload, "ZCL payload")

    def encode(self) -> bytes:
        return bytes([self.frame_control, self.sequence_number, self.command]) + self.payload


@dataclass(frozen=True)
class GbzComponent:
    """One plaintext GBZ component: a ZCL frame addressed to a cluster."""

    cluster: int
    frame: ZclFrame
    control: int = LAST_COMPONENT

    def __post_init__(self) -> None:
        check_uint(self.cluster, 16, "GBZ cluster")
        check_uint(self.control, 8, "GBZ extended header control")
        if self.control & (_ENCRYPTED | _FROM_DATE_TIME):
            raise MessageFormatError(
                f"GBZ extended header control 0x{self.control:02X}: encrypted or dated components are not supported"
            )

    def encode(self) -> bytes:
        zcl = self.frame.encode()
        return (bytes([self.control]) + self.cluster.to_bytes(2, "big")
                + check_uint(len(zcl), 16, "GBZ command length").to_bytes(2, "big") + zcl)


def encode_components(components: Sequence[GbzComponent]) -> bytes:
    """A GBZ command or response payload: profile, count, components."""
    return (PROFILE_ID.to_bytes(2, "big") + bytes([check_uint(len(components), 8, "GBZ component count")])
            + b"".join(c.encode() for c in components))


def decode_components(data: bytes, what: str) -> tuple[GbzComponent, ...]:
    cur = Cursor(data, what)
    cur.expect(PROFILE_ID.to_bytes(2, "big"), "GBZ profile ID")
    count = cur.byte("GBZ component count")
    components = []
    for i in range(count):
        field = f"GBZ component {i + 1}"
        at = cur.offset
        control = cur.byte(f"{field} control")
        cluster = cur.uint(2, f"{field} cluster")
        body = cur.sub(cur.uint(2, f"{field} length"), f"{field} ZCL frame")
        frame = ZclFrame(body.byte(f"{field} frame control"), body.byte(f"{field} sequence number"),
                         body.byte(f"{field} command"), body.rest())
        try:
            components.append(GbzComponent(cluster, frame, control))
        except MessageFormatError as exc:
            raise cur.fail(field, str(exc), at) from None
    cur.done()
    return tuple(components)
