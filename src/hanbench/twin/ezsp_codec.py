"""EZSP frames as the NCP sees them: decode the host's commands, encode replies.

The command table (ids and field schemas) is bellows' own `EZSPv13.COMMANDS`, read
the other way round: the host's "tx" schema is what the NCP parses, the "rx" schema
what it writes. Only the frame header differs between the two sides.

Why EZSP v13: it is EmberZNet 7.4.x, the firmware the common lab sticks ship today
(Home Assistant SkyConnect/ZBT-1, Sonoff ZBDongle-E), so the twin exercises the
same bellows code path as the bench's real radios. v14+ (EmberZNet 8) changes status
types and callback field order; supporting it means a second table, not a rewrite.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bellows.ezsp.v13 import EZSPv13
import bellows.types as t
import zigpy.types

EZSP_VERSION = EZSPv13.VERSION
COMMANDS: dict[str, tuple[int, Any, Any]] = EZSPv13.COMMANDS
COMMANDS_BY_ID: dict[int, tuple[str, Any, Any]] = {
    cmd_id: (name, tx, rx) for name, (cmd_id, tx, rx) in COMMANDS.items()
}

# Frame control, low byte (UG100): bit 7 marks an NCP-to-host frame, bit 4 an
# asynchronous callback. High byte: frame format version 1 (EZSP v8 and later).
FC_RESPONSE = 0x80
FC_ASYNC_CALLBACK = 0x10
FRAME_FORMAT_V1 = 0x01

# Before the host has negotiated a version it speaks the legacy v4 header
# [seq, frame control, frame id]; `version` is id 0 in both worlds.
LEGACY_VERSION_ID = 0x00


class EzspDecodeError(ValueError):
    """A frame the NCP cannot parse; the NCP answers it with `invalidCommand`."""

    def __init__(self, message: str, status: t.EzspStatus) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Request:
    """One command from the host."""

    seq: int
    legacy: bool
    frame_id: int
    payload: bytes


def split_frame(data: bytes) -> Request:
    """Read the EZSP header in either the legacy or the v8+ layout."""
    if len(data) >= 5 and data[2] == FRAME_FORMAT_V1:
        frame_id, _ = zigpy.types.uint16_t.deserialize(data[3:5])
        return Request(seq=data[0], legacy=False, frame_id=frame_id, payload=data[5:])
    if len(data) >= 3:
        return Request(seq=data[0], legacy=True, frame_id=data[2], payload=data[3:])
    raise EzspDecodeError(f"EZSP frame too short: {data.hex()}", t.EzspStatus.ERROR_TRUNCATED)


def parse_params(name: str, schema: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """Decode a command's parameters with bellows' schema.

    `AnonymousList` fields (the cluster lists of `addEndpoint`) carry no length of
    their own: the count is the preceding `...Count` field, so they are read here by
    that count instead of swallowing the rest of the frame.
    """
    params: dict[str, Any] = {}
    data = payload
    try:
        for field, field_type in schema.items():
            if issubclass(field_type, zigpy.types.List):
                count = params[field.replace("List", "Count")]
                items = []
                for _ in range(count):
                    item, data = field_type._item_type.deserialize(data)
                    items.append(item)
                params[field] = field_type(items)
            else:
                params[field], data = field_type.deserialize(data)
    except (ValueError, KeyError) as exc:
        raise EzspDecodeError(
            f"Cannot parse {name} parameters {payload.hex()}: {exc}",
            t.EzspStatus.ERROR_TRUNCATED,
        ) from exc
    return params


def encode_response(request_seq: int, name: str, fields: dict[str, Any], *,
                    callback: bool = False, legacy: bool = False) -> bytes:
    """Serialise a response (or callback) frame for command `name`."""
    frame_id, _, rx_schema = COMMANDS[name]
    if isinstance(rx_schema, dict):
        body = t.serialize_dict([], fields, rx_schema)
    else:
        body = rx_schema(**fields).serialize()
    control = FC_RESPONSE | (FC_ASYNC_CALLBACK if callback else 0)
    if legacy:
        header = bytes([request_seq, control, frame_id])
    else:
        header = bytes([request_seq, control, FRAME_FORMAT_V1]) + zigpy.types.uint16_t(
            frame_id
        ).serialize()
    return header + body


def invalid_command(request: Request, status: t.EzspStatus) -> bytes:
    """The NCP's reply to a frame it will not execute (unknown id, bad payload)."""
    return encode_response(request.seq, "invalidCommand", {"status": status},
                           legacy=request.legacy)
