"""GBCS entity identifiers: the 8-byte IDs of users (suppliers, RSAs, the DCC) and devices.

DUIS writes them as ``90-B3-D5-1F-30-01-00-00``; key store file names as
``90b3d51f30010000``; GBCS frames carry the 8 raw bytes. A device's entity ID is its EUI-64
in big-endian byte order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hanbench.gbcs.errors import GbcsError

_HEX16 = re.compile(r"^[0-9A-Fa-f]{16}$")


@dataclass(frozen=True, order=True)
class EntityId:
    """An 8-byte GBCS entity ID."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != 8:
            raise GbcsError(f"an entity ID is 8 bytes, got {self.raw!r}")

    @classmethod
    def parse(cls, text: "str | bytes | EntityId") -> "EntityId":
        """Accept the DUIS form, plain hex (any case, ``:``/``-`` separators) or raw bytes."""
        if isinstance(text, EntityId):
            return text
        if isinstance(text, bytes):
            return cls(text)
        compact = re.sub(r"[-:\s]", "", str(text))
        if compact.lower().startswith("0x"):
            compact = compact[2:]
        if not _HEX16.match(compact):
            raise GbcsError(
                f"{text!r} is not an entity ID: expected 8 bytes in hex such as 90-B3-D5-1F-30-01-00-00"
            )
        return cls(bytes.fromhex(compact))

    @property
    def duis(self) -> str:
        """The form DUIS and users write: ``90-B3-D5-1F-30-01-00-00``."""
        return "-".join(f"{b:02X}" for b in self.raw)

    @property
    def hex(self) -> str:
        """The form key store file names use: ``90b3d51f30010000``."""
        return self.raw.hex()

    def __bytes__(self) -> bytes:
        return self.raw

    def __str__(self) -> str:
        return self.duis


DCC_ENTITY = EntityId.parse("90-B3-D5-1F-30-00-00-02")
"""The DCC's entity ID, which is also its Access Control Broker's (RTDS ``90b3d51f30000002``):
the ACB MACs every command under it (:mod:`hanbench.gbcs.protection`), the DCC originates its
own alerts (N60 / N61) under it, and the CH addresses its alerts (CCS08, 0x819D) to it, as the
RTDS CCS08 vector does."""
