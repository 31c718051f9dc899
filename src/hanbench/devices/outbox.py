"""A GBCS device's signed messages on their way to the CH, oldest first.

The device's GBCS logic (:class:`~hanbench.devices.gbcs_device.GbcsDevice`) puts every alert
it signs here, and the device shell every response; the outbox sends them up the device's
tunnel (:class:`~hanbench.devices.tunnel_client.TunnelClient`) in order. An awake device's
messages go as soon as they are put and the tunnel is open; a sleepy device's wait for its
wake, when it calls :meth:`Outbox.flush`. What cannot be sent stays for the next try.

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

import zigpy.exceptions

from hanbench.devices.tunnel_client import TunnelClient
from hanbench.errors import HanbenchError
from hanbench.gbcs.entity import EntityId

LOGGER = logging.getLogger(__name__)


class Outbox:
    """The messages ``owner`` has signed and not yet sent through ``tunnel``."""

    def __init__(self, tunnel: TunnelClient, *, owner: EntityId) -> None:
        self.tunnel = tunnel
        self.owner = owner
        #: Signed messages not yet sent, oldest first.
        self.messages: list[bytes] = []
        self._dropped: frozenset[int] | None = frozenset()  # None: every alert
        self._flushing: asyncio.Task[None] | None = None

    def drop_alerts(self, codes: Collection[int] | None = None) -> None:
        """From now on drop every alert (``codes`` None), those whose code is in ``codes``,
        or none (an empty ``codes``)."""
        self._dropped = None if codes is None else frozenset(int(code) for code in codes)

    def put_alert(self, code: int, message: bytes) -> None:
        """Send alert ``code`` (``message``, signed), unless alerts with that code are dropped."""
        if self._dropped is None or int(code) in self._dropped:
            LOGGER.info("%s dropped alert 0x%04X (fault injection)", self.owner, int(code))
            return
        self._put(message)

    def put_response(self, message: bytes) -> None:
        """Send the signed response to a command."""
        self._put(message)

    def _put(self, message: bytes) -> None:
        self.messages.append(message)
        if not self.tunnel.sleepy and self.tunnel.tunnel_id is not None:
            self.kick()

    def kick(self) -> None:
        """Start sending in the background, unless a send is already under way."""
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self.flush(), name=f"gbcs-out-{self.owner}")

    async def flush(self) -> None:
        """Send the messages through the tunnel in order; what fails to go stays queued."""
        while self.messages and self.tunnel.tunnel_id is not None:
            try:
                await self.tunnel.send(self.messages[0])
            except (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError) as exc:
                LOGGER.info("%s could not send a GBCS message, kept for later: %s", self.owner, exc)
                return
            self.messages.pop(0)

    async def close(self) -> None:
        """Stop a send under way (the device is switched off); unsent messages stay."""
        if self._flushing is not None:
            self._flushing.cancel()
            await asyncio.gather(self._flushing, return_exceptions=True)
