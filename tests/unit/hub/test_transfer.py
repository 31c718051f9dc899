"""A Transfer owns what runs on its behalf: its stall timer and the page streaming to it."""

from __future__ import annotations

import asyncio

import pytest

from fixture_files import sample
from han_premises import ENTITIES
from hanbench.gbcs.device_types import DeviceType
from hanbench.hub.image_store import ImageStore
from hanbench.hub.transfer import Transfer, TransferRecorder, TransferResult, unstarted_outcome

pytestmark = pytest.mark.looptime

ESME = ENTITIES[DeviceType.ESME]


def transfer() -> Transfer:
    stored = ImageStore().put(sample(DeviceType.ESME), [ESME]).stored
    assert stored is not None
    return Transfer(ESME, stored, started_at=0.0)


async def test_each_request_rearms_the_stall_timer_which_fires_once_after_the_last() -> None:
    loop = asyncio.get_running_loop()
    fired: list[tuple[float, float]] = []
    t = transfer()
    for _ in range(3):  # a request every 5 s keeps a 10 s timer from firing
        t.arm_stall_timer(10, lambda _t, timeout: fired.append((loop.time(), timeout)))
        await asyncio.sleep(5)
    await asyncio.sleep(60)
    assert fired == [(20.0, 10)]


async def test_a_new_page_replaces_the_running_one_and_stopping_ends_timer_and_page() -> None:
    fired: list[float] = []
    t = transfer()
    t.arm_stall_timer(10, lambda _t, timeout: fired.append(timeout))
    first = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    second = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    t.stream_page(first)
    t.stream_page(second)
    await asyncio.sleep(0)
    first_cancelled, second_running = first.cancelled(), not second.done()
    t.stop()
    await asyncio.sleep(60)
    assert (first_cancelled, second_running, second.cancelled(), fired) == (True, True, True, [])


async def test_a_page_that_ends_its_own_transfer_is_left_to_finish() -> None:
    t = transfer()
    done: list[str] = []

    async def page() -> None:
        t.stop()  # the last block's failure ends the transfer from inside its page
        await asyncio.sleep(1)
        done.append("page finished")

    task = asyncio.get_running_loop().create_task(page())
    t.stream_page(task)
    await task
    assert done == ["page finished"]


def test_the_recorder_keeps_each_kind_of_record_apart() -> None:
    t, recorder = transfer(), TransferRecorder()
    t.record_block(0, 50, 1.0)
    progress = t.progress_due(1.0)
    assert progress is not None
    outcome = unstarted_outcome(ESME, t.stored, TransferResult.IMAGE_DISCARDED, "overwritten", 2.0)
    for event in (t.started(), progress, outcome):
        recorder(event)
    assert (recorder.started, recorder.progress, recorder.finished) == ([t.started()], [progress], [outcome])
