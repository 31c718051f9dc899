"""BoardControl against an emulated board on a real pseudo-terminal, through pyserial."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.gbcs.cs06 import PendingActivation
from hanbench.hardware.control import BoardControl, BoardTimeout, PortVanished
from hanbench.hardware.ports import PortMatch, wait_for_port
from hanbench.hardware.protocol import (
    Alert,
    AlertEvent,
    BoardRefused,
    IncompatibleVersion,
    MalformedMessage,
    LogEvent,
    StateEvent,
)
from hanbench.twin.board import EmulatedBoard

from board_backend import HASH, MemoryBackend

ALERT = Alert(alert_code=0x8F72, message_code=0x00CD, payload=bytes.fromhex("0102aabb"))


async def test_identify_reports_the_backend(control: BoardControl, backend: MemoryBackend) -> None:
    identity = await control.identify()
    assert identity == backend.identify()
    assert identity.eui64.duis == "00-0D-6F-00-0A-90-69-E8"
    assert identity.held_image is not None and identity.held_image.hash == HASH


async def test_state_carries_every_field(control: BoardControl, backend: MemoryBackend) -> None:
    backend.pending = PendingActivation(datetime(2030, 6, 1, 12, tzinfo=UTC), None, HASH)
    backend.alerts.append(ALERT)
    state = await control.state()
    assert state == backend.state()
    assert state.joined and state.network is not None and state.network.channel == 15


async def test_set_clock_sends_utc(control: BoardControl, backend: MemoryBackend) -> None:
    await control.set_clock(datetime(2031, 2, 3, 5, 6, 7, tzinfo=timezone(timedelta(hours=1))))
    assert backend.clock == datetime(2031, 2, 3, 4, 6, 7, tzinfo=UTC)


async def test_set_clock_refuses_a_naive_datetime(control: BoardControl) -> None:
    with pytest.raises(BadInput, match="time-zone-aware"):
        await control.set_clock(datetime(2031, 2, 3))


async def test_a_board_refusal_carries_its_code(control: BoardControl) -> None:
    with pytest.raises(BoardRefused) as caught:
        await control.set_clock(datetime(1999, 12, 31, tzinfo=UTC))
    assert (caught.value.code, caught.value.op) == ("invalid_argument", "set_clock")
    assert "before 2000" in str(caught.value)
    assert not isinstance(caught.value, InfrastructureFault)


async def test_unknown_op_is_a_typed_refusal(control: BoardControl) -> None:
    with pytest.raises(BoardRefused) as caught:
        await control.request("x_frobnicate")
    assert caught.value.code == "unknown_op" and "x_frobnicate" in caught.value.message
    assert (await control.identify()).model == "E1"  # the link is still usable


async def test_wait_event_finds_an_event_that_arrived_before_the_wait(
        control: BoardControl, backend: MemoryBackend) -> None:
    backend.raise_event(LogEvent("info", "image block 12/400"))
    backend.raise_event(AlertEvent(ALERT))
    await control.state()  # a round trip guarantees both events were read
    event = await control.wait_event(lambda e: isinstance(e, AlertEvent), timeout=2)
    assert event == AlertEvent(ALERT)


async def test_wait_event_consumes_and_times_out_with_evidence(
        control: BoardControl, backend: MemoryBackend) -> None:
    backend.raise_event(AlertEvent(ALERT))
    await control.wait_event(lambda e: isinstance(e, AlertEvent), timeout=2)

    def activation_alert(event: object) -> bool:
        return isinstance(event, AlertEvent) and event.alert.alert_code == 0x8F66

    with pytest.raises(BoardTimeout) as caught:
        await control.wait_event(activation_alert, timeout=0.2)
    message = str(caught.value)
    assert "activation_alert" in message and "0.2 s" in message and "0x8F72" in message


async def test_events_iterator_sees_new_events(control: BoardControl, backend: MemoryBackend) -> None:
    seen: list[object] = []

    async def collect() -> None:
        async for event in control.events():
            seen.append(event)
            if len(seen) == 2:
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)  # let the iterator subscribe
    backend.raise_event(StateEvent(backend.state()))
    backend.raise_event(AlertEvent(ALERT))
    await asyncio.wait_for(task, 5)
    assert seen == [StateEvent(replace(backend.state(), last_alerts=())), AlertEvent(ALERT)]


async def test_garbage_lines_are_counted_and_skipped(control: BoardControl, board: EmulatedBoard) -> None:
    board.send_garbage(b"\x00\xffESME boot v1.2\r\n[1] {not json}\n")
    assert (await control.identify()).model == "E1"
    assert control.garbage_count == 2


async def test_a_muted_board_times_out_with_port_op_wait_and_last_lines(
        control: BoardControl, board: EmulatedBoard) -> None:
    await control.identify()
    board.send_garbage(b"assert failed: radio.c:88\n")
    board.mute()
    with pytest.raises(BoardTimeout) as caught:
        await control.request("state", timeout=0.3)
    message = str(caught.value)
    assert str(board.path) in message and "'state'" in message and "0.3 s" in message
    assert '"manufacturer":"Acme Meters"' in message  # the last lines include the identify answer
    assert "assert failed: radio.c:88" in message and "1 garbage line" in message


async def test_a_board_speaking_another_major_version_is_refused(
        backend: MemoryBackend, tmp_path: Path) -> None:
    async with EmulatedBoard(backend, tmp_path, protocol_major=2) as board, \
            BoardControl(str(board.path), timeout=2) as control:
        with pytest.raises(IncompatibleVersion, match="v2.*only v1"):
            await control.identify()


async def test_identify_refuses_another_major_in_the_protocol_field(
        control: BoardControl, backend: MemoryBackend) -> None:
    backend.identity = replace(backend.identity, protocol="3.1")
    with pytest.raises(IncompatibleVersion, match="3.1"):
        await control.identify()


async def test_a_port_vanishing_mid_request_is_an_infrastructure_fault(
        control: BoardControl, board: EmulatedBoard) -> None:
    board.mute()
    pending = asyncio.create_task(control.request("state", timeout=30))
    await asyncio.sleep(0.05)
    returning = asyncio.create_task(board.vanish(0.5))
    with pytest.raises(PortVanished, match="vanished"):
        await pending
    with pytest.raises(PortVanished):
        await control.identify()  # stays failed until reconnected
    await returning


async def test_reset_waits_for_the_port_to_return_and_reconnects(
        control: BoardControl, board: EmulatedBoard, backend: MemoryBackend) -> None:
    identity = await control.reset()
    assert backend.restarts == ["reset"]
    assert board.appearances == 2  # the port went away and came back
    assert identity.held_image is not None
    assert (await control.state()).firmware_version == 0x00010002


async def test_factory_reset_clears_held_image(control: BoardControl, board: EmulatedBoard,
                                               backend: MemoryBackend) -> None:
    identity = await control.factory_reset()
    assert identity.held_image is None and backend.restarts == ["factory_reset"]
    assert not (await control.state()).joined


async def test_restore_factory_image_drops_the_held_image_and_keeps_the_network(
        control: BoardControl, board: EmulatedBoard, backend: MemoryBackend) -> None:
    identity = await control.restore_factory_image()
    assert identity.held_image is None and backend.restarts == ["restore_factory_image"]
    assert board.appearances == 1  # this board keeps its port while it restarts
    assert (await control.state()).joined


async def test_reset_times_out_when_the_board_never_returns(
        control: BoardControl, board: EmulatedBoard) -> None:
    board.reset_gap = 60
    control.reset_timeout = 0.5
    with pytest.raises(InfrastructureFault, match="did not"):
        await control.reset()


async def test_wait_for_port_follows_a_vanishing_board(board: EmulatedBoard) -> None:
    returning = asyncio.create_task(board.vanish(0.3))
    await asyncio.sleep(0)
    assert not board.path.exists()
    path = await wait_for_port(PortMatch(path=str(board.path)), timeout=5, interval=0.02)
    assert path == str(board.path) and board.present
    await returning



async def test_events_iterator_ends_on_close_and_fails_when_the_port_vanishes(
        board: EmulatedBoard) -> None:
    async def drain(control: BoardControl) -> list[object]:
        return [event async for event in control.events()]

    async with BoardControl(str(board.path), timeout=2) as control:
        closing = asyncio.create_task(drain(control))
        await asyncio.sleep(0)
    assert await asyncio.wait_for(closing, 5) == []

    async with BoardControl(str(board.path), timeout=2) as control:
        vanishing = asyncio.create_task(drain(control))
        await asyncio.sleep(0)
        returning = asyncio.create_task(board.vanish(0.1))
        with pytest.raises(PortVanished):
            await asyncio.wait_for(vanishing, 5)
        await returning


async def test_a_malformed_answer_fails_its_request_at_once(control: BoardControl, board: EmulatedBoard) -> None:
    board.mute()
    asking = asyncio.create_task(control.request("identify", timeout=5))
    await asyncio.sleep(0.1)
    board.send_garbage(b'{"v":1,"id":1,"ok":true,"result":1}\n')  # the first request is id 1
    with pytest.raises(MalformedMessage, match="'result' should be an object"):
        await asyncio.wait_for(asking, 2)
    assert control.garbage_count == 0
