"""SleepyQueue: per-device FIFO, expiry on loop time, exactly one report per expired message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hanbench.clock import run_virtual
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.hub.sleepy_queue import QueuedMessage, SleepyQueue
from hanbench.timing import QUEUE_EXPIRY_S

GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
OTHER = EntityId.parse("00-DB-12-34-56-78-91-09")


def test_the_default_expiry_is_24_hours() -> None:
    assert SleepyQueue().expiry_s == QUEUE_EXPIRY_S == 86400


def test_messages_leave_oldest_first_per_device() -> None:
    async def scenario() -> Any:
        queue = SleepyQueue()
        for message in (b"a", b"b"):
            queue.put(GSME, message, 1)
        queue.put(OTHER, b"x", 2)
        counts = queue.pending(GSME), queue.pending(OTHER)
        order = [queue.pop(GSME), queue.pop(GSME), queue.pop(GSME)]
        return counts, [q.message if q else None for q in order], queue.pending(GSME), queue.peek(OTHER)

    counts, order, left, other = run_virtual(scenario())
    assert counts == (2, 1)
    assert order == [b"a", b"b", None]
    assert left == 0
    assert [q.message for q in other] == [b"x"]


def test_an_uncollected_message_expires_at_its_loop_time_and_is_reported_once() -> None:
    async def scenario() -> Any:
        loop = asyncio.get_running_loop()
        queue = SleepyQueue(expiry_s=600)
        reports: list[tuple[float, QueuedMessage]] = []
        queue.on_expired(lambda q: reports.append((loop.time(), q)))
        start = loop.time()
        queue.put(GSME, b"cmd", 3)
        await asyncio.sleep(599.9)
        before = list(reports)
        await asyncio.sleep(10_000)
        return start, before, reports, queue.pending(GSME), queue.pop(GSME)

    start, before, reports, pending, popped = run_virtual(scenario())
    assert before == []
    assert len(reports) == 1
    when, queued = reports[0]
    assert when == pytest.approx(start + 600)
    assert (queued.device, queued.message, queued.counter, queued.expires_at) == \
        (GSME, b"cmd", 3, pytest.approx(start + 600))
    assert pending == 0 and popped is None


def test_each_message_keeps_its_own_expiry() -> None:
    async def scenario() -> Any:
        queue = SleepyQueue(expiry_s=100)
        expired: list[bytes] = []
        queue.on_expired(lambda q: expired.append(q.message))
        queue.put(GSME, b"short", 4, expiry_s=10)
        queue.put(GSME, b"default", 5)
        await asyncio.sleep(50)
        mid = list(expired), [q.message for q in queue.peek(GSME)]
        await asyncio.sleep(100)
        return mid, expired

    (mid_expired, mid_left), expired = run_virtual(scenario())
    assert mid_expired == [b"short"] and mid_left == [b"default"]
    assert expired == [b"short", b"default"]


def test_a_collected_or_dropped_message_never_expires() -> None:
    async def scenario() -> Any:
        queue = SleepyQueue(expiry_s=10)
        expired: list[QueuedMessage] = []
        queue.on_expired(expired.append)
        queue.put(GSME, b"taken", 6)
        queue.put(OTHER, b"dropped", 7)
        taken = queue.pop(GSME)
        dropped = queue.drop(OTHER)
        await asyncio.sleep(100)
        return taken, dropped, expired

    taken, dropped, expired = run_virtual(scenario())
    assert taken is not None and taken.message == b"taken"
    assert [q.message for q in dropped] == [b"dropped"]
    assert expired == []


def test_a_removed_listener_hears_nothing() -> None:
    async def scenario() -> Any:
        queue = SleepyQueue(expiry_s=1)
        heard: list[QueuedMessage] = []
        remove = queue.on_expired(heard.append)
        remove()
        queue.put(GSME, b"m", 8)
        await asyncio.sleep(2)
        return heard

    assert run_virtual(scenario()) == []


@pytest.mark.parametrize("expiry", [0, -1])
def test_expiry_must_be_positive(expiry: float) -> None:
    with pytest.raises(BadInput):
        SleepyQueue(expiry_s=expiry)

    async def put() -> None:
        SleepyQueue().put(GSME, b"m", 9, expiry_s=expiry)

    with pytest.raises(BadInput):
        run_virtual(put())
