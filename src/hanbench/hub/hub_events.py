"""What the CH tells whoever listens (the bench's event stream, tests), as typed records.

One vocabulary, heard through :meth:`~hanbench.hub.comms_hub.CommsHub.on_event`: the CH's
own steps below, and the OTA server's transfer records
(:class:`~hanbench.hub.transfer.TransferStarted`, :class:`~hanbench.hub.transfer.TransferProgress`,
:class:`~hanbench.hub.transfer.TransferOutcome`), passed on in the order they happen. The
names are the CH's, short and read through this module (``hub_events.Stored``), so they do
not stand in for the bench's own events of :mod:`hanbench.bench.events`, which say the same
steps in the stream's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hanbench.gbcs.entity import EntityId
from hanbench.hub.image_store import StoredImage
from hanbench.hub.transfer import TransferEvent
from hanbench.hub.tunnel import Delivery


@dataclass(frozen=True)
class Stored:
    """The CH put an image in its store for its targets."""

    image: StoredImage


@dataclass(frozen=True)
class Flagged:
    """The CH set a sleepy ``device``'s "New OTA Firmware" mirror flag for an image waiting for it."""

    device: EntityId


@dataclass(frozen=True)
class Notified:
    """The CH sent an awake ``device`` Image Notify; ``delivered`` says whether it got through."""

    device: EntityId
    delivered: bool


@dataclass(frozen=True)
class Tunnelled:
    """A command under originator ``counter`` went to ``device``: sent now, or queued for its wake."""

    device: EntityId
    counter: int
    delivery: Delivery


@dataclass(frozen=True)
class Uncollected:
    """The queued command under ``counter`` expired before ``device`` fetched it (the CH raises 0x819D)."""

    device: EntityId
    counter: int


@dataclass(frozen=True)
class Resending:
    """The CH sends the unacknowledged command under ``counter`` to awake ``device`` again, its
    ``attempt``-th try of ``attempts`` since the last failure, new tunnel or restart, ``after_s``
    seconds after the previous one (0 for a try sent at once)."""

    device: EntityId
    counter: int
    attempt: int
    attempts: int
    after_s: float


@dataclass(frozen=True)
class Undelivered:
    """The CH gave up on the command under ``counter`` to awake ``device``: none of its
    ``attempts`` tries over ``over_s`` seconds was acknowledged (``reason``, the last failure);
    the DCC's wait fails with CommandNotDelivered."""

    device: EntityId
    counter: int
    attempts: int
    over_s: float
    reason: str


HubEvent = Stored | Notified | Tunnelled | Uncollected | Resending | Undelivered | TransferEvent
HubListener = Callable[[HubEvent], None]
