"""SettledHub: nothing the CH forwards reaches the DCC before the boards have been asked, and in order."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from hanbench.bench.kinds.settled_hub import SettledHub
from hanbench.dcc.hub_port import AlertListener, ForwardedAlert, NoticeReceipt, OccupancyChange
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.frame import Cra, GbcsMessage, new_message, new_response
from hanbench.gbcs.image import UpgradeImage

DEVICE = EntityId.parse("00-DB-12-34-56-78-91-00")
CS06 = new_message(Cra.COMMAND, DCC_ENTITY, DEVICE, 7, MessageCode.CS06_ACTIVATE_FIRMWARE, b"")
RESPONSE = new_response(CS06, b"", date_time=None)


class FakeHub:
    """A CH whose alerts and command responses the test releases by hand."""

    def __init__(self) -> None:
        self.listeners: list[AlertListener] = []
        self.response: asyncio.Future[GbcsMessage] | None = None

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> tuple[EntityId, ...]:
        return tuple(targets)

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        self.response = asyncio.get_running_loop().create_future()
        return await self.response

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> tuple[NoticeReceipt, ...]:
        return (NoticeReceipt(device, True, "told"),)

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def forward(self, name: str) -> None:
        for listener in self.listeners:
            listener(ForwardedAlert(name.encode(), None, "a stand-in"))


@dataclasses.dataclass
class Rig:
    """A SettledHub over a FakeHub whose settle logs itself and returns when the test releases it."""

    hub: FakeHub
    settled: SettledHub
    log: list[str]
    release: asyncio.Queue[None]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    hub, log, release = FakeHub(), [], asyncio.Queue()

    async def settle() -> None:
        log.append("settle")
        await release.get()

    async with SettledHub(hub, settle) as settled:
        settled.on_alert(lambda alert: log.append(alert.raw.decode()))
        yield Rig(hub, settled, log, release)


async def test_alerts_and_responses_wait_for_a_settle_and_keep_the_chs_order(rig: Rig) -> None:
    command = asyncio.create_task(rig.settled.send_command(CS06))
    await asyncio.sleep(0.01)
    rig.hub.forward("alert-1")
    assert rig.hub.response is not None
    rig.hub.response.set_result(RESPONSE)
    await asyncio.sleep(0.01)
    assert rig.log == ["settle"] and not command.done(), "held until the boards have answered"
    rig.release.put_nowait(None)
    await asyncio.sleep(0.01)
    assert rig.log == ["settle", "alert-1", "settle"] and not command.done(), \
        "the response came after the alert, so it waits for a settle of its own"
    rig.release.put_nowait(None)
    assert await command is RESPONSE


async def test_one_settle_covers_everything_waiting_when_it_starts(rig: Rig) -> None:
    for n in (1, 2, 3):
        rig.hub.forward(f"alert-{n}")
    rig.release.put_nowait(None)
    await asyncio.sleep(0.01)
    assert rig.log == ["settle", "alert-1", "alert-2", "alert-3"]


async def test_a_changes_receipts_wait_for_the_boards_to_report_what_they_show(rig: Rig) -> None:
    notice = asyncio.create_task(rig.settled.publish_occupancy_change(DEVICE, OccupancyChange.tenancy()))
    await asyncio.sleep(0.01)
    assert rig.log == ["settle"] and not notice.done()
    rig.release.put_nowait(None)
    assert await notice == (NoticeReceipt(DEVICE, True, "told"),)
