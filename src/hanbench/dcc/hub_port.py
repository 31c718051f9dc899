"""The one narrow interface between the DCC and the Comms Hub.

The rest of the DCC never reaches into ``hub/``: it hands the CH an image for some devices,
sends one GBCS command to one device and waits for its response, and receives every alert
the CH forwards. What crosses is typed, read once where it entered the bench: the
:class:`~hanbench.gbcs.image.UpgradeImage` the DCC read from the Service Request, the
:class:`~hanbench.gbcs.frame.GbcsMessage` it built, the response and alerts as the CH read
them off the air. The CH side implements :class:`HubPort`; tests use an in-memory fake.
:class:`CommandNotRetrieved`, :class:`CommandNotDelivered` and :class:`ForwardedAlert` are the CH's own (``hub/`` sits
below the DCC and must not import it), re-exported here as part of the interface.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage
from hanbench.hub.errors import CommandNotDelivered, CommandNotRetrieved
from hanbench.hub.forwarded import AlertListener, ForwardedAlert
from hanbench.hub.occupancy_notice import NoticeReceipt, OccupancyChange
from hanbench.hub.own_firmware import OwnActivation, OwnImageRefused

__all__ = ["AlertListener", "CommandNotDelivered", "CommandNotRetrieved", "ForwardedAlert", "HubPort",
           "NoticeReceipt", "OccupancyChange", "OwnActivation", "OwnImageRefused"]


class HubPort(Protocol):
    """What the DCC needs from a Comms Hub."""

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> Collection[EntityId]:
        """Hand an OTA Upgrade Image to the CH for ``targets``; the targets it stored it for.

        Returns once the CH has stored it, not when it has reached the devices; transfer
        outcomes come back later as CCS08 alerts. A target left out is one whose CH's image
        rules discarded the image at once (it has raised CCS08 "image discarded" for it): one
        CH stores an image for all its targets or none, over many CHs (an estate) each decides.
        """

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        """Send one GBCS command to its target and return the device's response.

        For a sleepy GSME the response may take hours of virtual time; the CH sets no bound
        of its own, the caller does. Raises :class:`CommandNotRetrieved` when the CH's queue
        for the device expires, :class:`CommandNotDelivered` when the CH cannot hand the
        command to the device at all.
        """

    async def distribute_own(self, ch: EntityId, image: UpgradeImage) -> None:
        """Give CH ``ch`` an image of its own firmware to hold; :class:`OwnImageRefused` says why
        the CH did not take it."""

    async def activate_own(self, ch: EntityId, image_hash: bytes) -> OwnActivation:
        """Have CH ``ch`` switch to its held image of ``image_hash``; what it ran and runs now
        (:class:`OwnImageRefused` when it cannot)."""

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> Sequence[NoticeReceipt]:
        """Have the CH of ``device`` tell the IHDs and PPMIDs it serves of ``change`` (SECMP0056);
        one receipt per display, saying whether it took the notice."""

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        """Call ``listener`` with every GBCS alert the CH forwards (device alerts and the CH's
        own CCS08 / 0x819D), on the event loop's thread; returns a remover."""
