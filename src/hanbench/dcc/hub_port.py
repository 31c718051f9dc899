"""The one narrow interface between the DCC and the Comms Hub.

The rest of the DCC never reaches into ``hub/``: it hands the CH an image for some devices,
sends one GBCS command to one device and waits for its response, and receives every alert
the CH forwards. The CH side implements :class:`HubPort`; tests use an in-memory fake.
:class:`CommandExpired` is the CH's own error (``hub/`` sits below the DCC and must not import
it), re-exported here as part of the interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from hanbench.gbcs.entity import EntityId
from hanbench.hub.errors import CommandExpired

__all__ = ["AlertSink", "CommandExpired", "HubPort"]

AlertSink = Callable[[bytes], None]


class HubPort(Protocol):
    """What the DCC needs from a Comms Hub."""

    async def distribute(self, image: bytes, targets: Sequence[EntityId]) -> None:
        """Hand an OTA Upgrade Image to the CH for ``targets``.

        Returns once the CH has stored it, not when it has reached the devices; transfer
        outcomes come back later as CCS08 alerts.
        """

    async def send_command(self, target: EntityId, message: bytes) -> bytes:
        """Send one GBCS command to ``target`` and return the device's GBCS response bytes.

        For a sleepy GSME the response may take hours of virtual time. Raises
        :class:`CommandExpired` when the CH's queue for the device expires.
        """

    def on_alert(self, sink: AlertSink) -> None:
        """Call ``sink`` with every GBCS alert message the CH forwards (device alerts and the
        CH's own CCS08 / 0x819D), on the event loop's thread."""
