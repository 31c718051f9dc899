"""SleepyQueue: per-device FIFO, expiry on loop time, exactly one report per expired message."""

from __future__ import annotations

import asyncio

import pytest

from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.hub.sleepy_queue import QueuedMessage, SleepyQueue
from hanbench.timing import QUEUE_EXPIRY_S

pytestmark = pytest.mark.looptime

GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
OTHER = EntityId.parse("00-DB-12-34-56-78-91-09")


def test_the_default_expiry_is_24_hours() -> None:
    assert SleepyQueue().expiry_s == QUEUE_EXPIRY_S == 86400


async def test_messages_leave_oldest_first_per_device() -> None:
    queue = SleepyQueue()
    for message in (b"a", b"b"):
        queue.put(GSME, message, 1)
    queue.put(OTHER, b"x", 2)
    counts = queue.pending(GSME), queue.pending(OTHER)
    order = [queue.pop(GSME), queue.pop(GSME), queue.pop(GSME)]
    order, left, other = [q.message if q else None for q in order], queue.pending(GSME), queue.peek(OTHER)
    assert counts == (2, 1)
    assert order == [b"a", b"b", None]
    assert left == 0
    assert [q.message for q in other] == [b"x"]


async def test_an_uncollected_message_expires_at_its_loop_time_and_is_reported_once() -> None:
    loop = asyncio.get_running_loop()
    queue = SleepyQueue(expiry_s=600)
    reports: list[tuple[float, QueuedMessage]] = []
    queue.on_expired(lambda q: reports.append((loop.time(), q)))
    start = loop.time()
    queue.put(GSME, b"cmd", 3)
    await asyncio.sleep(599.9)
    before = list(reports)
    await asyncio.sleep(10_000)
    pending, popped = queue.pending(GSME), queue.pop(GSME)
    assert before == []
    assert len(reports) == 1
    when, queued = reports[0]
    assert when == pytest.approx(start + 600)
    assert (queued.device, queued.message, queued.counter, queued.expires_at) == \
        (GSME, b"cmd", 3, pytest.approx(start + 600))
    assert pending == 0 and popped is None


async def test_each_message_keeps_its_own_expiry() -> None:
    queue = SleepyQueue(expiry_s=100)
    expired: list[bytes] = []
    queue.on_expired(lambda q: expired.append(q.message))
    queue.put(GSME, b"short", 4, expiry_s=10)
    queue.put(GSME, b"default", 5)
    await asyncio.sleep(50)
    mid = list(expired), [q.message for q in queue.peek(GSME)]
    await asyncio.sleep(100)
    (mid_expired, mid_left), expired = mid, expired
    assert mid_expired == [b"short"] and mid_left == [b"default"]
    assert expired == [b"short", b"default"]


async def test_a_collected_or_dropped_message_never_expires() -> None:
    queue = SleepyQueue(expiry_s=10)
    expired: list[QueuedMessage] = []
    queue.on_expired(expired.append)
    queue.put(GSME, b"taken", 6)
    queue.put(OTHER, b"dropped", 7)
    taken = queue.pop(GSME)
    dropped = queue.drop(OTHER)
    await asyncio.sleep(100)
    assert taken is not None and taken.message == b"taken"
    assert [q.message for q in dropped] == [b"dropped"]
    assert expired == []


async def test_a_removed_listener_hears_nothing() -> None:
    queue = SleepyQueue(expiry_s=1)
    heard: list[QueuedMessage] = []
    remove = queue.on_expired(heard.append)
    remove()
    queue.put(GSME, b"m", 8)
    await asyncio.sleep(2)
    assert heard == []


@pytest.mark.parametrize("expiry", [0, -1])
async def test_expiry_must_be_positive(expiry: float) -> None:
    with pytest.raises(BadInput):
        SleepyQueue(expiry_s=expiry)
    with pytest.raises(BadInput):
        SleepyQueue().put(GSME, b"m", 9, expiry_s=expiry)
