"""The CH's queue of GBCS messages waiting for sleepy devices to collect them.

A GSME keeps its receiver off between wakes, so the CH cannot push a command to it: the
command waits here, the GSME's mirror says "tunnel message pending", and the GSME collects
it with GB-HRGP GET at its next wake (:mod:`hanbench.hub.tunnel`). A command the device does
not collect within the expiry time is dropped and reported once to every expiry listener:
the CH composition raises alert 0x819D "GSME Command Not Retrieved" (which names the
command by its originator counter, kept with each message) and fails the DCC's wait with
``CommandNotRetrieved``.

The default expiry is :data:`hanbench.timing.QUEUE_EXPIRY_S` (its source is given there).
Expiry runs on the event loop's clock, so it is virtual time in emulation. Messages leave a device's queue oldest first.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.listeners import Listeners
from hanbench.timing import QUEUE_EXPIRY_S

LOGGER = logging.getLogger(__name__)


ExpiryListener = Callable[["QueuedMessage"], None]
"""Called once with each message that expired uncollected (already out of the queue)."""


@dataclass(eq=False)
class QueuedMessage:
    """One message waiting for ``device``: its bytes and originator counter; ``queued_at``/``expires_at``
    are loop times."""

    device: EntityId
    message: bytes
    counter: int
    queued_at: float
    expires_at: float
    sequence: int
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class SleepyQueue:
    """Per-device FIFO queues with an expiry on every message.

    ``expiry_s`` applies to messages put without their own expiry.
    """

    def __init__(self, *, expiry_s: float = QUEUE_EXPIRY_S) -> None:
        if expiry_s <= 0:
            raise BadInput(f"sleepy queue expiry must be > 0 s, got {expiry_s}")
        self.expiry_s = expiry_s
        self._queues: dict[EntityId, collections.deque[QueuedMessage]] = {}
        self._listeners: Listeners[ExpiryListener] = Listeners()
        self._sequence = itertools.count()

    def on_expired(self, listener: ExpiryListener) -> Callable[[], None]:
        """Call ``listener`` with every message that expires; returns a remover."""
        return self._listeners.add(listener)

    def put(self, device: EntityId, message: bytes, counter: int, *, expiry_s: float | None = None) -> QueuedMessage:
        """Queue ``message`` (a command under originator ``counter``) for ``device``; it expires
        after ``expiry_s`` (default: the queue's)."""
        expiry = self.expiry_s if expiry_s is None else expiry_s
        if expiry <= 0:
            raise BadInput(f"a queued message's expiry must be > 0 s, got {expiry}")
        loop = asyncio.get_running_loop()
        now = loop.time()
        queued = QueuedMessage(device, bytes(message), counter, now, now + expiry, next(self._sequence))
        queued._timer = loop.call_at(queued.expires_at, self._expire, queued)
        self._queues.setdefault(device, collections.deque()).append(queued)
        return queued

    def pop(self, device: EntityId) -> QueuedMessage | None:
        """Take the oldest message waiting for ``device`` (``None`` if none waits)."""
        queue = self._queues.get(device)
        if not queue:
            return None
        queued = queue.popleft()
        self._forget(queued)
        return queued

    def pending(self, device: EntityId) -> int:
        """How many messages wait for ``device``."""
        return len(self._queues.get(device, ()))

    def peek(self, device: EntityId) -> tuple[QueuedMessage, ...]:
        """The messages waiting for ``device``, oldest first (the queue is not changed)."""
        return tuple(self._queues.get(device, ()))

    def drop(self, device: EntityId) -> list[QueuedMessage]:
        """Remove every message for ``device`` without reporting them as expired."""
        dropped = list(self._queues.get(device, ()))
        for queued in dropped:
            self._forget(queued)
        self._queues.pop(device, None)
        return dropped

    def _forget(self, queued: QueuedMessage) -> None:
        if queued._timer is not None:
            queued._timer.cancel()
            queued._timer = None
        queue = self._queues.get(queued.device)
        if queue is not None and not queue:
            del self._queues[queued.device]

    def _expire(self, queued: QueuedMessage) -> None:
        queue = self._queues.get(queued.device)
        if queue is None or queued not in queue:
            return
        queue.remove(queued)
        queued._timer = None
        self._forget(queued)
        LOGGER.warning(
            "message %d for %s expired after %g s uncollected",
            queued.sequence, queued.device, queued.expires_at - queued.queued_at,
        )
        self._listeners(queued)
