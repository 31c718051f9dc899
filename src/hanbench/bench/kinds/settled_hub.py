"""The CH as the DCC sees it on a bench whose devices report over board ports.

A device's answer travels two roads: over the air (radio, stick, bellows, the CH, the DCC)
and over its board's control port (a ``state`` or ``alert`` event). Nothing orders the two:
on a loaded machine, or a lab whose USB hub is busy, the alert 0x8F72 can reach a user's
inbox before the board's report that the image is held, and a test that reads
``device.state`` after ``wait_alert`` would see the device as it was. :class:`SettledHub`
puts the order back: every alert the CH forwards, every command response it returns, and
the displays' receipts of a change of tenancy or supplier wait until each board has answered
one ``state`` request sent after the frame arrived. The board sends its events in order, so by then the bench knows everything the device
reported before the frame left the radio.

Alerts and responses go through one queue, so the DCC still sees them in the order the CH
did; a single ``settle`` covers every item waiting when it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence

from hanbench.dcc.hub_port import AlertListener, ForwardedAlert, HubPort, NoticeReceipt, OccupancyChange, OwnActivation
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.image import UpgradeImage
from hanbench.listeners import Listeners

#: Brings the bench's view of every device up to date; must not raise.
Settle = Callable[[], Awaitable[None]]


class SettledHub:
    """A :class:`HubPort` over ``hub`` that hands nothing on before ``settle`` has run after it.

    Use as an async context manager: the worker that settles runs while it is open.
    """

    def __init__(self, hub: HubPort, settle: Settle) -> None:
        self._hub = hub
        self._settle = settle
        self._listeners: Listeners[AlertListener] = Listeners()
        self._queue: asyncio.Queue[ForwardedAlert | asyncio.Future[None]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        hub.on_alert(self._queue.put_nowait)

    async def __aenter__(self) -> SettledHub:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="settled-hub")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> Collection[EntityId]:
        return await self._hub.distribute(image, targets)

    async def distribute_own(self, ch: EntityId, image: UpgradeImage) -> None:
        await self._hub.distribute_own(ch, image)

    async def activate_own(self, ch: EntityId, image_hash: bytes) -> OwnActivation:
        return await self._hub.activate_own(ch, image_hash)

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        response = await self._hub.send_command(command)
        await self._settled()
        return response

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> Sequence[NoticeReceipt]:
        """The displays' receipts, once the boards have reported what they show since."""
        receipts = await self._hub.publish_occupancy_change(device, change)
        await self._settled()
        return receipts

    async def _settled(self) -> None:
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(settled)
        await settled

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._settle()
            for item in batch:
                if isinstance(item, ForwardedAlert):
                    self._listeners(item)
                elif not item.done():
                    item.set_result(None)
