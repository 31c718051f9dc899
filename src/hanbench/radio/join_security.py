"""How a device is let into the CH's network: the one place that decides the join key.

GB devices establish their link key with CBKE (Certificate-Based Key Establishment), which
neither zigpy nor bellows implements. Test builds of device firmware therefore join the
bench's network with an **install code** or a **preconfigured link key** that both sides
know. An install code becomes a link key through the Zigbee AES-MMO hash (zigpy's
``convert_install_code``, which also checks the code's CRC). Just before a device is to join,
:meth:`JoinSecurity.permit` gives the trust centre that device's key
(``permit_with_link_key``) and opens the network; a device with no key of its own joins with
the network's preconfigured trust-centre link key (a plain ``permit``). Nothing above the
APS layer changes: GBCS signatures, CS06 and the OTA cluster are the same either way.
``hardware.md`` ("Security: joining without CBKE") is the user-facing side of this.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import zigpy.application
import zigpy.types as t
import zigpy.util

from hanbench.errors import BadInput

#: How long the network stays open for one device's join, in seconds (zigpy's default).
PERMIT_S = 60


def _hex_bytes(what: str, text: str) -> bytes:
    cleaned = text.replace(":", "").replace("-", "").replace(" ", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise BadInput(f"{what} {text!r} is not hexadecimal") from None


def link_key_from_install_code(code: str) -> t.KeyData:
    """The link key of an install code (hex, 6/8/12/16 bytes of code plus its 2-byte CRC)."""
    raw = _hex_bytes("install code", code)
    try:
        return zigpy.util.convert_install_code(raw)
    except ValueError as exc:
        raise BadInput(f"install code {code!r}: {exc}; copy it again from the device's label or "
                       "build settings (the last two bytes are its CRC)") from None


def parse_link_key(key: str) -> t.KeyData:
    """A 16-byte link key written as hex (``:``, ``-`` and spaces allowed)."""
    raw = _hex_bytes("link key", key)
    if len(raw) != 16:
        raise BadInput(f"link key {key!r} is {len(raw)} bytes; a Zigbee link key is 16")
    return t.KeyData(raw)


@dataclasses.dataclass(frozen=True)
class JoinSecurity:
    """The link key each device joins with, by EUI-64; absent devices use the network's key."""

    link_keys: Mapping[t.EUI64, t.KeyData] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_codes(cls, *, install_codes: Mapping[t.EUI64, str] | None = None,
                   link_keys: Mapping[t.EUI64, str] | None = None) -> JoinSecurity:
        """Keys from install codes and link keys as a bench file writes them (hex strings)."""
        install_codes, link_keys = install_codes or {}, link_keys or {}
        both = set(install_codes) & set(link_keys)
        if both:
            raise BadInput(f"device {sorted(map(str, both))[0]} has both an install code and a link key; "
                           "give one")
        keys = {ieee: link_key_from_install_code(code) for ieee, code in install_codes.items()}
        keys.update({ieee: parse_link_key(key) for ieee, key in link_keys.items()})
        return cls(keys)

    def key_for(self, ieee: t.EUI64) -> t.KeyData | None:
        """The device's own link key, or None for the network's preconfigured key."""
        return self.link_keys.get(ieee)

    async def permit(self, app: zigpy.application.ControllerApplication, ieee: t.EUI64,
                     time_s: int = PERMIT_S) -> None:
        """Open the network for ``ieee`` with its key (the trust centre learns it first)."""
        key = self.key_for(ieee)
        if key is None:
            await app.permit(time_s)
        else:
            await app.permit_with_link_key(ieee, key, time_s)
