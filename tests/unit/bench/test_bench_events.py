"""The event stream: seq and clock stamping, subscribers, wait_for and its timeout message, JSON."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest
from bench_helpers import ESME, START, SUPPLIER, Clock

from hanbench.bench import events as ev
from hanbench.bench.events import (
    BenchAborted,
    BlockProgress,
    CommandQueued,
    Event,
    EventStream,
    EventTimeout,
    InfrastructureLost,
    ReceiptAlertRaised,
    RequestRefused,
    TransferFinished,
    TransferStarted,
)
from hanbench.errors import CheckFailed
from hanbench.gbcs.alerts import TransferResult



def ticking() -> Clock:
    """A bench clock that moves one second per reading, so stamps are told apart."""
    return Clock(START, dt.timedelta(seconds=1))


def started(size: int = 1000) -> TransferStarted:
    return TransferStarted(device=ESME, file_version=2, size=size, block_size=50)


def finished(result: TransferResult = TransferResult.SUCCESS) -> TransferFinished:
    return TransferFinished(device=ESME, file_version=2, result=result)


def test_publish_numbers_and_stamps_events_in_order() -> None:
    stream = EventStream(ticking())
    assert stream.last_seq == 0
    first = stream.publish(started())
    second = stream.publish(finished())
    assert (first.seq, second.seq, stream.last_seq) == (1, 2, 2)
    assert (first.at, second.at) == (START + dt.timedelta(seconds=1), START + dt.timedelta(seconds=2))
    assert stream.history == (first, second)
    assert dataclasses.replace(first, seq=-1, at=started().at) == started()  # only seq and at were added


def test_an_event_keeps_a_time_it_was_given() -> None:
    stream = EventStream(ticking())
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert stream.publish(dataclasses.replace(started(), at=when)).at == when


def test_history_is_bounded() -> None:
    stream = EventStream(ticking(), history=3)
    for _ in range(5):
        stream.publish(started())
    assert [e.seq for e in stream.history] == [3, 4, 5]


def test_subscribers_see_every_event_in_order_until_they_unsubscribe() -> None:
    stream = EventStream(ticking())
    seen: list[tuple[str, int]] = []
    stop_a = stream.subscribe(lambda e: seen.append(("a", e.seq)))
    stream.subscribe(lambda e: seen.append(("b", e.seq)))
    stream.publish(started())
    stop_a()
    stop_a()  # twice is harmless
    stream.publish(finished())
    assert seen == [("a", 1), ("b", 1), ("b", 2)]


def test_a_failing_subscriber_stops_the_publisher() -> None:
    stream = EventStream(ticking())

    def broken(event: Event) -> None:
        raise OSError("disk full")

    stream.subscribe(broken)
    with pytest.raises(OSError, match="disk full"):
        stream.publish(started())


def test_to_dict_and_json_use_plain_forms() -> None:
    stream = EventStream(ticking())
    alert = stream.publish(ReceiptAlertRaised(device=ESME, alert_code=0x8F72, image_hash=bytes.fromhex("00ff")))
    assert alert.to_dict() == {
        "kind": "receipt_alert_raised", "at": "2026-01-05T09:00:01+00:00", "seq": 1,
        "device": "00-DB-12-34-56-78-91-00", "alert_code": 0x8F72, "image_hash": "00ff",
    }
    refused = stream.publish(RequestRefused(request_id="r1", service_request="11.1", user=SUPPLIER,
                                            devices=(ESME,), rule="appointed_rsa", reason="not appointed"))
    assert json.loads(refused.to_json())["devices"] == ["00-DB-12-34-56-78-91-00"]
    queued = stream.publish(CommandQueued(device=ESME, command="CS06", expires_at=START))
    assert queued.to_dict()["expires_at"] == "2026-01-05T09:00:00+00:00"
    assert queued.describe() == ("#3 2026-01-05T09:00:03+00:00 command_queued device=00-DB-12-34-56-78-91-00 "
                                 "command=CS06 request_id=None expires_at=2026-01-05T09:00:00+00:00")


def test_every_step_of_an_update_has_its_own_kind() -> None:
    classes = [c for c in vars(ev).values() if isinstance(c, type) and issubclass(c, Event) and "kind" in vars(c)]
    kinds = [c.kind for c in classes if c is not Event]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) == {"request_submitted", "request_authorised", "request_refused", "image_stored",
                          "image_notify_sent", "image_flagged", "transfer_started", "block_progress", "transfer_interrupted",
                          "transfer_finished", "receipt_alert_raised", "command_sent", "command_unconfirmed",
                          "command_resending", "command_undelivered", "command_queued", "command_expired", "command_refused",
                          "activation_immediate", "activation_scheduled", "activation_fired", "activation_cancelled",
                          "activation_refused", "alert_delivered", "device_power_cycled", "hub_restarted",
                          "infrastructure_fault", "infrastructure_restored", "infrastructure_lost"}


def test_block_progress_carries_what_a_progress_bar_needs() -> None:
    event = BlockProgress(device=ESME, file_version=2, offset=500, size=1000, blocks=10)
    assert {k: event.to_dict()[k] for k in ("offset", "size", "blocks")} == {"offset": 500, "size": 1000, "blocks": 10}
    assert event.percent == 50.0
    assert BlockProgress(device=ESME, file_version=2, offset=0, size=0, blocks=0).percent == 100.0


def test_a_ccs08_result_is_written_by_name() -> None:
    event = TransferFinished(device=ESME, file_version=2, result=TransferResult.FILE_TRANSFER_FAILURE,
                             reason="device answered INVALID_IMAGE", blocks=3, bytes_sent=150)
    data = event.to_dict()
    assert (data["result"], data["reason"], data["blocks"], data["bytes_sent"], data["retries"]) == (
        "file_transfer_failure", "device answered INVALID_IMAGE", 3, 150, 0)


# -- wait_for ----------------------------------------------------------------------------------


async def test_wait_for_an_event_class() -> None:
    stream = EventStream(ticking())
    loop = asyncio.get_running_loop()
    loop.call_soon(stream.publish, started())
    loop.call_later(0.01, stream.publish, finished())
    event = await stream.wait_for(TransferFinished, timeout=5)
    assert isinstance(event, TransferFinished) and event.seq == 2


async def test_wait_for_a_predicate_skips_what_does_not_match() -> None:
    stream = EventStream(ticking())
    loop = asyncio.get_running_loop()
    loop.call_soon(stream.publish, finished(TransferResult.FILE_TRANSFER_FAILURE))
    loop.call_soon(stream.publish, finished(TransferResult.SUCCESS))
    event = await stream.wait_for(lambda e: isinstance(e, TransferFinished) and e.result is TransferResult.SUCCESS,
                                  timeout=5)
    assert event.seq == 2


async def test_wait_for_ignores_the_past_unless_given_a_mark() -> None:
    stream = EventStream(ticking())
    mark = stream.last_seq
    stream.publish(finished())  # published before anyone waited
    assert (await stream.wait_for(TransferFinished, timeout=1, since=mark)).seq == 1
    with pytest.raises(EventTimeout):
        await stream.wait_for(TransferFinished, timeout=0.01)
    with pytest.raises(EventTimeout):
        await stream.wait_for(TransferFinished, timeout=0.01, since=1)  # the mark is after it


async def test_a_lost_part_ends_every_wait_at_once_with_its_message() -> None:
    stream = EventStream(ticking())
    mark = stream.last_seq
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waits = [asyncio.ensure_future(stream.wait_for(TransferFinished, timeout=3600)),
             asyncio.ensure_future(stream.unless_lost(never, since=mark))]
    await asyncio.sleep(0)
    stream.publish(InfrastructureLost(component="stick", message="the stick is gone"))
    for wait in waits:
        with pytest.raises(BenchAborted, match="the stick is gone"):
            await wait
    assert never.cancelled() and len(stream._subscribers) == 0
    with pytest.raises(BenchAborted):  # a later wait from before the loss ends at once too
        await stream.wait_for(TransferFinished, timeout=3600, since=mark)
    assert await stream.unless_lost(asyncio.sleep(0, "done"), since=stream.last_seq) == "done"


async def test_wait_for_unsubscribes_when_done() -> None:
    stream = EventStream(ticking())
    asyncio.get_running_loop().call_soon(stream.publish, finished())
    await stream.wait_for(TransferFinished, timeout=1)
    with pytest.raises(EventTimeout):
        await stream.wait_for(TransferFinished, timeout=0.01)
    assert len(stream._subscribers) == 0


async def test_the_timeout_says_what_was_awaited_and_what_came() -> None:
    stream = EventStream(ticking())
    for _ in range(12):
        stream.publish(started())
    with pytest.raises(EventTimeout) as caught:
        await stream.wait_for(TransferFinished, timeout=0.05)
    lines = str(caught.value).splitlines()
    assert lines[0] == "timed out after 0.05 s waiting for a transfer_finished event"
    assert lines[1] == "last 10 of 12 events:"
    assert lines[2].startswith("  #3 2026-01-05T09:00:03+00:00 transfer_started device=00-DB-12-34-56-78-91-00")
    assert lines[-1].startswith("  #12 ")
    assert isinstance(caught.value, CheckFailed) and isinstance(caught.value, TimeoutError)


async def test_the_timeout_names_a_predicate_by_what_or_its_docstring() -> None:
    stream = EventStream(ticking())

    def esme_activated(event: Event) -> bool:
        """the ESME activating version 2"""
        return False

    with pytest.raises(EventTimeout, match="waiting for the ESME activating version 2\nno events were published"):
        await stream.wait_for(esme_activated, timeout=0.01)
    with pytest.raises(EventTimeout, match="waiting for CS06 on the GSME\nlast 1 of 1 events"):
        stream.publish(started())
        await stream.wait_for(lambda e: False, timeout=0.01, what="CS06 on the GSME")
    with pytest.raises(EventTimeout, match="waiting for an event matching <lambda>"):
        await stream.wait_for(lambda e: False, timeout=0.01)


async def test_waits_unless_lost_are_not_subscribers_and_see_a_loss_the_history_forgot() -> None:
    """Every request of every user waits unless a part is lost, hundreds at once over an
    estate: no event calls them, and a loss stays known after the history moved past it."""
    stream = EventStream(ticking(), history=3)
    mark = stream.last_seq
    loop = asyncio.get_running_loop()
    waits = [asyncio.ensure_future(stream.unless_lost(loop.create_future(), since=mark)) for _ in range(100)]
    await asyncio.sleep(0)
    assert len(stream._subscribers) == 0
    stream.publish(InfrastructureLost(component="stick", message="the stick is gone"))
    for _ in range(5):
        stream.publish(finished())
    assert not any(isinstance(e, InfrastructureLost) for e in stream.history)
    for wait in waits:
        with pytest.raises(BenchAborted, match="the stick is gone"):
            await wait
    with pytest.raises(BenchAborted, match="the stick is gone"):  # from before the loss, after the history forgot it
        await stream.unless_lost(loop.create_future(), since=mark)
    assert await stream.unless_lost(asyncio.sleep(0, "done"), since=stream.last_seq) == "done"
