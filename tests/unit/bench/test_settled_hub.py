"""SettledHub: nothing the CH forwards reaches the DCC before the boards have been asked, and in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hanbench.bench.kinds.settled_hub import SettledHub
from hanbench.dcc.hub_port import AlertSink
from hanbench.gbcs.entity import EntityId

DEVICE = EntityId.parse("00-DB-12-34-56-78-91-00")


class FakeHub:
    """A CH whose alerts and command responses the test releases by hand."""

    def __init__(self) -> None:
        self.sinks: list[AlertSink] = []
        self.response: asyncio.Future[bytes] | None = None

    async def distribute(self, image: bytes, targets: Sequence[EntityId]) -> None:
        return None

    async def send_command(self, target: EntityId, message: bytes) -> bytes:
        self.response = asyncio.get_running_loop().create_future()
        return await self.response

    def on_alert(self, sink: AlertSink) -> None:
        self.sinks.append(sink)

    def forward(self, alert: bytes) -> None:
        for sink in self.sinks:
            sink(alert)


async def settled_steps(log: list[str], release: asyncio.Queue[None]) -> None:
    """A settle that logs itself and returns when the test lets it."""
    log.append("settle")
    await release.get()


@pytest.mark.asyncio
async def test_alerts_and_responses_wait_for_a_settle_and_keep_the_chs_order() -> None:
    hub, log = FakeHub(), []
    release: asyncio.Queue[None] = asyncio.Queue()
    async with SettledHub(hub, lambda: settled_steps(log, release)) as settled:
        settled.on_alert(lambda data: log.append(data.decode()))
        command = asyncio.create_task(settled.send_command(DEVICE, b"cs06"))
        await asyncio.sleep(0.01)
        hub.forward(b"alert-1")
        assert hub.response is not None
        hub.response.set_result(b"response")
        await asyncio.sleep(0.01)
        assert log == ["settle"] and not command.done(), "held until the boards have answered"
        release.put_nowait(None)
        await asyncio.sleep(0.01)
        assert log == ["settle", "alert-1", "settle"] and not command.done(), \
            "the response came after the alert, so it waits for a settle of its own"
        release.put_nowait(None)
        assert await command == b"response"


@pytest.mark.asyncio
async def test_one_settle_covers_everything_waiting_when_it_starts() -> None:
    hub, log = FakeHub(), []
    release: asyncio.Queue[None] = asyncio.Queue()
    async with SettledHub(hub, lambda: settled_steps(log, release)) as settled:
        settled.on_alert(lambda data: log.append(data.decode()))
        for n in (1, 2, 3):
            hub.forward(f"alert-{n}".encode())
        release.put_nowait(None)
        await asyncio.sleep(0.01)
        assert log == ["settle", "alert-1", "alert-2", "alert-3"]
