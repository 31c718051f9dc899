"""The one narrow interface between the DCC and the Comms Hub.

The DCC never reaches into ``hub/``: it hands the CH an image for some devices, sends one
GBCS command to one device and waits for its response, and receives every alert the CH
forwards. The CH side implements :class:`HubPort`; tests use an in-memory fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from hanbench.errors import CheckFailed
from hanbench.gbcs.entity import EntityId

AlertSink = Callable[[bytes], None]


class CommandExpired(CheckFailed):
    """The CH's queue for a device expired before the device fetched the command.

    A sleepy GSME that never wakes is the device's failure to collect, not the bench's
    fault, so this is a failed check rather than an infrastructure fault. The CH also
    raises alert 0x819D for it.
    """

    def __init__(self, target: EntityId, detail: str = "") -> None:
        self.target = target
        super().__init__(f"the CH's queued command for {target} expired before the device fetched it"
                         + (f": {detail}" if detail else ""))


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
