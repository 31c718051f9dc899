"""A HAN device's two names: its GBCS entity ID and its zigpy EUI-64.

GBCS names a device by its entity ID (the EUI-64 in big-endian order, as zigpy prints it);
zigpy keys devices by ``EUI64``, which holds the bytes little-endian. Every CH server and
every emulated device converts between the two at its zigpy edge, so the conversion lives
here once, below both.
"""

from __future__ import annotations

import zigpy.types as t

from hanbench.gbcs.entity import EntityId


def entity_of(device: EntityId | t.EUI64 | str) -> EntityId:
    """A device's GBCS entity ID: its EUI-64 in big-endian order (zigpy prints it that way)."""
    if isinstance(device, EntityId):
        return device
    return EntityId.parse(str(device) if isinstance(device, t.EUI64) else device)


def eui64_of(device: EntityId) -> t.EUI64:
    """The zigpy address of a device named by its entity ID."""
    return t.EUI64(device.raw[::-1])
