"""A GBCS device's signed messages on their way to the CH, oldest first, sent until they go.

The device's GBCS logic (:class:`~hanbench.devices.gbcs_device.GbcsDevice`) puts every alert
it signs here, and the device shell every response; the outbox sends them up the device's
tunnel (:class:`~hanbench.devices.tunnel_client.TunnelClient`) in order, opening the tunnel
first if the device has none (after a power cycle, or when opening it failed). An awake
device's messages go as soon as they are put; a sleepy device's wait for its wake, when it
calls :meth:`Outbox.flush`.

Nothing stays behind silently. A message that cannot be sent stays at the head of the queue,
and an awake device tries again by itself after :class:`RetryPolicy`'s delay (10 s, doubling
up to 15 minutes: :mod:`hanbench.timing` says why), until it goes, or sooner when it puts
another message; a sleepy device tries again at each wake. :attr:`Outbox.pending_alerts`,
:attr:`Outbox.pending_responses` and :attr:`Outbox.next_retry_at` say where it stands.

Fault injection (seed 000: suppliers' systems must cope with the firmware download alert
not arriving in 40% of cases): :meth:`Outbox.drop_alerts` has alerts, all of them or those
with given codes, signed and recorded by the device but never sent. Responses are never
dropped. The outbox knows each alert's code because the device says it when it puts one:
nothing here reads the bytes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass

import zigpy.exceptions

from hanbench.devices.tunnel_client import TunnelClient
from hanbench.errors import BadInput, HanbenchError
from hanbench.gbcs.entity import EntityId
from hanbench.timing import DEVICE_RETRY_MAX_S, DEVICE_RETRY_S

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """When an awake device tries again to send what did not go: ``first_s`` after the first
    failure, then twice as long after each further one, never more than ``max_s`` apart."""

    first_s: float = DEVICE_RETRY_S
    max_s: float = DEVICE_RETRY_MAX_S

    def __post_init__(self) -> None:
        if self.first_s <= 0:
            raise BadInput(f"a device's first retry must be > 0 s after a failure, got {self.first_s}")
        if self.max_s < self.first_s:
            raise BadInput(f"a device's longest retry interval ({self.max_s} s) is shorter than its first "
                           f"({self.first_s} s)")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` (>= 1) failed tries in a row."""
        return min(self.first_s * 2.0 ** min(failures - 1, 64), self.max_s)


@dataclass(frozen=True)
class _Outgoing:
    """One signed message: an alert (with its code) or a response (``alert_code`` None)."""

    message: bytes
    alert_code: int | None


class Outbox:
    """The messages ``owner`` has signed and not yet sent through ``tunnel``."""

    def __init__(self, tunnel: TunnelClient, *, owner: EntityId, retry: RetryPolicy | None = None) -> None:
        self.tunnel = tunnel
        self.owner = owner
        self.retry = retry if retry is not None else RetryPolicy()
        self._queue: list[_Outgoing] = []
        self._dropped: frozenset[int] | None = frozenset()  # None: every alert
        self._flushing: asyncio.Task[None] | None = None
        self._failures = 0
        self._retry: asyncio.TimerHandle | None = None

    # -- what the device puts in ------------------------------------------------------------

    def drop_alerts(self, codes: Collection[int] | None = None) -> None:
        """From now on drop every alert (``codes`` None), those whose code is in ``codes``,
        or none (an empty ``codes``)."""
        self._dropped = None if codes is None else frozenset(int(code) for code in codes)

    def put_alert(self, code: int, message: bytes) -> None:
        """Send alert ``code`` (``message``, signed), unless alerts with that code are dropped."""
        if self._dropped is None or int(code) in self._dropped:
            LOGGER.info("%s dropped alert 0x%04X (fault injection)", self.owner, int(code))
            return
        self._put(_Outgoing(message, int(code)))

    def put_response(self, message: bytes) -> None:
        """Send the signed response to a command."""
        self._put(_Outgoing(message, None))

    def _put(self, outgoing: _Outgoing) -> None:
        self._queue.append(outgoing)
        if not self.tunnel.sleepy:
            self.kick()

    # -- where it stands ---------------------------------------------------------------------

    @property
    def messages(self) -> list[bytes]:
        """Signed messages not yet sent, oldest first."""
        return [outgoing.message for outgoing in self._queue]

    @property
    def pending_alerts(self) -> int:
        """Alerts signed and not yet sent."""
        return sum(outgoing.alert_code is not None for outgoing in self._queue)

    @property
    def pending_responses(self) -> int:
        """Responses signed and not yet sent."""
        return sum(outgoing.alert_code is None for outgoing in self._queue)

    @property
    def next_retry_at(self) -> float | None:
        """Loop time of an awake device's next try after a failure, or ``None`` when none is due
        (nothing failed, or a sleepy device, which tries again at its next wake)."""
        return None if self._retry is None else self._retry.when()

    # -- sending ------------------------------------------------------------------------------

    def kick(self) -> None:
        """Start sending in the background now, unless a send is already under way (a new
        message is a reason to try at once; a failure then waits longer than the last)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush(), name=f"gbcs-out-{self.owner}")

    async def flush(self) -> None:
        """Open the tunnel if the device has none, then send the messages in order.

        What fails to go stays queued; an awake device then tries again after the retry
        policy's delay, a sleepy one at its next wake.
        """
        try:
            await self.tunnel.ensure_open()
            while self._queue:
                await self.tunnel.send(self._queue[0].message)
                self._queue.pop(0)
        except (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError) as exc:
            self._failures += 1
            if self.tunnel.sleepy:
                LOGGER.info("%s could not send a GBCS message, kept for its next wake: %s", self.owner, exc)
                return
            delay = self.retry.delay(self._failures)
            LOGGER.info("%s could not send a GBCS message (%d failures in a row), trying again in %g s: %s",
                        self.owner, self._failures, delay, exc)
            self._retry = asyncio.get_running_loop().call_later(delay, self.kick)
            return
        self._failures = 0

    async def close(self) -> None:
        """Stop sending (the device is switched off); unsent messages stay."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._flushing is not None:
            self._flushing.cancel()
            await asyncio.gather(self._flushing, return_exceptions=True)
            self._flushing = None
        self._failures = 0
