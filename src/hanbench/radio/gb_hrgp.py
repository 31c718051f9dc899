"""GB-HRGP framing: how a sleepy device and the CH ask for and hand over GBCS messages on a tunnel.

GB-HRGP (protocol ID 6) framing, used between the CH and a sleepy device (GBCS; the values
and the layout match the Silicon Labs Comms Hub Function): the device sends **GET** (the
single octet 0x01) to collect one queued message; the CH answers **GET-RESPONSE** (0x02, the
number of messages still queued after this one, then the message, empty if none); the
device sends its responses and alerts as **PUT** (0x03 followed by the message). Any other
payload is a GBCS message as is: a GBCS message starts with 0xDD or 0xDF, never 0x01..0x03.

The framing is three octet layouts, so it is written here by hand: no library models
GB-HRGP, and zigpy carries a tunnel's payload as opaque bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hanbench.errors import BadInput, CheckFailed


class HrgpKind(enum.IntEnum):
    """The first octet of a GB-HRGP tunnel payload to or from a sleepy device."""

    GET = 0x01
    GET_RESPONSE = 0x02
    PUT = 0x03


class HrgpFormatError(CheckFailed):
    """A tunnel payload claims to be GB-HRGP framing but is not well formed."""


@dataclass(frozen=True)
class HrgpFrame:
    """One tunnel payload: a GB-HRGP frame, or (``kind`` None) a bare GBCS message.

    ``remaining`` is GET-RESPONSE's count of messages still queued after this one.
    """

    kind: HrgpKind | None
    message: bytes = b""
    remaining: int = 0

    def encode(self) -> bytes:
        """The tunnel payload."""
        if self.kind is None:
            return self.message
        if self.kind is HrgpKind.GET:
            return bytes([HrgpKind.GET])
        if self.kind is HrgpKind.GET_RESPONSE:
            if not 0 <= self.remaining <= 0xFF:
                raise BadInput(f"GET-RESPONSE counts 0..255 remaining messages, not {self.remaining}")
            return bytes([HrgpKind.GET_RESPONSE, self.remaining]) + self.message
        return bytes([HrgpKind.PUT]) + self.message

    @classmethod
    def decode(cls, data: bytes) -> HrgpFrame:
        """Split a tunnel payload into its GB-HRGP header and message."""
        if not data or data[0] not in tuple(HrgpKind):
            return cls(None, bytes(data))
        kind = HrgpKind(data[0])
        if kind is HrgpKind.GET:
            if len(data) != 1:
                raise HrgpFormatError(f"a GB-HRGP GET is one octet, got {len(data)}")
            return cls(kind)
        if kind is HrgpKind.GET_RESPONSE:
            if len(data) < 2:
                raise HrgpFormatError("a GB-HRGP GET-RESPONSE lacks its remaining-messages count")
            return cls(kind, bytes(data[2:]), data[1])
        return cls(kind, bytes(data[1:]))


#: Octets GET-RESPONSE adds in front of a queued message.
GET_RESPONSE_OVERHEAD = 2
