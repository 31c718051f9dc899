"""The Smart Energy profile fix, and the zigpy behaviour it relies on.

The ``test_plain_zigpy_*`` tests pin zigpy 2.4's own behaviour. If one fails after a zigpy
upgrade, zigpy changed what ``hanbench.radio.se_profile`` works around: review the fix
(it may have become unnecessary, or need another hook).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import zigpy.application
import zigpy.config
import zigpy.datastructures
import zigpy.device
import zigpy.endpoint
import zigpy.exceptions
import zigpy.profiles.zha
import zigpy.types as t
import zigpy.zdo
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from hanbench.devices.node import EmulatedNode
from hanbench.radio.air import VirtualAir
from hanbench.radio.interview import join_and_interview
from hanbench.radio.se_profile import (
    SE_PROFILE_ID,
    RequestRoute,
    SeDeviceType,
    SmartEnergyAppMixin,
    DuplicateFilter,
    SmartEnergyDevice,
    duplicate_key,
    start_handler,
    step_now,
    with_smart_energy,
)
from hanbench.radio.virtual_app import VirtualRadioApp, virtual_coordinator
from hanbench.radio.zcl_frames import QueryNextImage, QueryNextImageResponse, Status, ZclHeader, read_ota_request

pytestmark = pytest.mark.looptime


def se_zcl_packet(profile_id: int = SE_PROFILE_ID) -> t.ZigbeePacket:
    header = foundation.ZCLHeader.cluster(
        tsn=9, command_id=Ota.ServerCommandDefs.query_next_image.id
    )
    command = Ota.ServerCommandDefs.query_next_image.schema(
        field_control=0, manufacturer_code=0x1234, image_type=1, current_file_version=7
    )
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234),
        src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000),
        dst_ep=1,
        tsn=9,
        profile_id=profile_id,
        cluster_id=Ota.cluster_id,
        data=t.SerializableBytes(header.serialize() + command.serialize()),
    )


def meter(air: VirtualAir) -> EmulatedNode:
    return EmulatedNode(
        air,
        "00:11:22:33:44:55:66:77",
        0x1234,
        device_type=SeDeviceType.METERING_DEVICE,
        manufacturer="Acme",
        model="ESME-1",
        server_clusters=[0x0000, 0x0702],
        client_clusters=[Ota.cluster_id],
    )


def test_plain_zigpy_parses_zcl_headers_only_for_ha_and_zll_profiles() -> None:
    """The fix relies on this: SE gets no header from zigpy, HA gets a ZCL header."""
    parse = zigpy.device.ZigbeeDevice._parse_packet_header
    # The method does not touch `self` for ZCL frames; None stands in for a device.
    assert parse(None, se_zcl_packet()) == (None, None)  # type: ignore[arg-type]
    header, _ = parse(None, se_zcl_packet(zigpy.profiles.zha.PROFILE_ID))  # type: ignore[arg-type]
    assert isinstance(header, foundation.ZCLHeader)
    assert header.tsn == 9


async def test_plain_zigpy_drops_se_frames_and_creates_devices_through_add_device() -> None:
    """A plain ZigbeeDevice sends an SE frame to custom_profile_packet_received and stops there."""
    async with virtual_coordinator(VirtualAir()) as app:
        plain = zigpy.device.ZigbeeDevice(app, t.EUI64.convert("00:11:22:33:44:55:66:77"), 0x1234)
        dropped: list[t.ZigbeePacket] = []
        plain.custom_profile_packet_received = dropped.append  # type: ignore[method-assign]
        plain.packet_received(se_zcl_packet())
        assert len(dropped) == 1
        # zigpy's join path creates its devices through add_device, which the fix hooks.
        app.handle_join(t.NWK(0x2222), t.EUI64.convert("00:00:00:00:00:00:22:22"), t.NWK(0))
        assert isinstance(app.devices[t.EUI64.convert("00:00:00:00:00:00:22:22")], SmartEnergyDevice)
        assert "add_device" in zigpy.application.ControllerApplication.__dict__


async def test_plain_zigpy_answers_se_match_descriptor_with_nothing() -> None:
    """Over the air, with zigpy's own ZDO put back on the node's device: no OTA server."""
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = meter(air)
        device = await join_and_interview(app, node)
        device.zdo = device.endpoints[0] = zigpy.zdo.ZDO(device)
        found = await node.match_descriptor(Ota.cluster_id)
        await node.close()
        assert found == []


async def test_se_frame_from_a_node_reaches_request_listeners_and_the_ota_handler() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = meter(air)
        device = await join_and_interview(app, node)
        heard: list[object] = []
        cancel = app.register_callback_listener(
            src=device,
            filters=[Ota.ServerCommandDefs.query_next_image.schema()],
            callback=lambda hdr, cmd: heard.append(cmd),
        )
        response = await node.request(
            Ota.cluster_id,
            "query_next_image",
            field_control=0,
            manufacturer_code=0x1234,
            image_type=1,
            current_file_version=7,
        )
        cancel()
        await node.close()
    assert [cmd.current_file_version for cmd in heard] == [7]  # type: ignore[attr-defined]
    # zigpy's Ota cluster handler answered (no image is being pushed).
    assert response.status == foundation.Status.NO_IMAGE_AVAILABLE  # type: ignore[attr-defined]


async def test_se_match_descriptor_finds_the_coordinator_ota_server() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = meter(air)
        await join_and_interview(app, node)
        ota = await node.match_descriptor(Ota.cluster_id)
        absent = await node.match_descriptor(0x0B04)  # Electrical Measurement: not served
        await node.close()
        assert (ota, absent) == ([1], [])


def test_with_smart_energy_mixes_in_once() -> None:
    fixed = with_smart_energy(zigpy.application.ControllerApplication)
    assert issubclass(fixed, SmartEnergyAppMixin)
    assert with_smart_energy(fixed) is fixed
    assert with_smart_energy(VirtualRadioApp) is VirtualRadioApp


# -- requests routed from the raw frame ------------------------------------------------------------------


def query_packet(tsn: int, version: int = 7) -> t.ZigbeePacket:
    """Query Next Image from the meter (0x1234, endpoint 1), as it comes off the air."""
    frame = QueryNextImage(0, 0x1234, 1, version).frame(tsn)
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234), src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=1, tsn=tsn,
        profile_id=SE_PROFILE_ID, cluster_id=Ota.cluster_id, data=t.SerializableBytes(frame), lqi=200, rssi=-50,
    )


class Routed:
    """A route that keeps what reaches it, and what zigpy's own listeners saw."""

    def __init__(self, app: VirtualRadioApp, device: SmartEnergyDevice) -> None:
        self.taken: list[tuple[int, int, object]] = []
        self.zigpy_heard: list[object] = []
        self.unroute = device.route_requests(Ota.cluster_id, RequestRoute(read_ota_request, self.handle))
        app.register_callback_listener(src=device, filters=[Ota.ServerCommandDefs.query_next_image.schema()],
                                       callback=lambda hdr, cmd: self.zigpy_heard.append(cmd))

    def handle(self, endpoint: zigpy.endpoint.Endpoint, header: ZclHeader, request: object) -> None:
        self.taken.append((endpoint.endpoint_id, header.tsn, request))


@asynccontextmanager
async def interviewed_meter() -> AsyncIterator[tuple[VirtualRadioApp, SmartEnergyDevice]]:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = meter(air)
        device = await join_and_interview(app, node)
        assert isinstance(device, SmartEnergyDevice)
        yield app, device
        await node.close()


async def test_a_routed_request_reaches_its_route_with_zigpys_bookkeeping_and_not_zigpy() -> None:
    async with interviewed_meter() as (app, device):
        routed = Routed(app, device)
        device.last_seen = 0.0
        app.packet_received(query_packet(5))
        assert routed.taken == [(1, 5, QueryNextImage(0, 0x1234, 1, 7))]
        assert routed.zigpy_heard == []
        assert (device.lqi, device.rssi) == (200, -50)
        assert device.last_seen is not None and device.last_seen > 0
        # zigpy's duplicate filter still applies: the same frame again is dropped, a new one is not
        app.packet_received(query_packet(5))
        app.packet_received(query_packet(6))
        assert [tsn for _, tsn, _ in routed.taken] == [5, 6]
        # once unrouted, zigpy has the frames again
        routed.unroute()
        app.packet_received(query_packet(7))
        assert len(routed.taken) == 2 and len(routed.zigpy_heard) == 1


async def test_a_routed_request_is_answered_at_once_and_in_a_task_of_the_application_once_it_waits() -> None:
    """start_handler: from a loop callback (how a radio delivers a frame) the handler's first
    step runs before packet_received returns, in a context of its own; a handler that must
    wait carries on in a task of the application, which zigpy keeps until it is done; from
    inside a task, or on a serial radio, the handler starts in its task on the next
    iteration, as zigpy's would."""
    async with interviewed_meter() as (app, device):
        loop = asyncio.get_running_loop()
        steps: list[tuple[str, asyncio.Task[object] | None, bool]] = []
        marked: contextvars.ContextVar[str] = contextvars.ContextVar("marked", default="")

        async def answer(where: str) -> None:
            task = asyncio.current_task()
            steps.append((where, task, task in app._tasks))
            marked.set(where)
            await asyncio.sleep(1)  # a handler that waits carries on in a task
            task = asyncio.current_task()
            steps.append((where + " after its wait, " + marked.get(), task, task in app._tasks))

        def receive(where: str) -> None:
            handler = start_handler(app, answer(where))
            steps.append((where + " returned", handler, handler is not None and handler.done()))

        loop.call_soon(receive, "from a callback")
        await asyncio.sleep(0)
        assert [(where, kept) for where, _, kept in steps] == [("from a callback", False),
                                                               ("from a callback returned", False)]
        assert steps[0][1] is None and steps[1][1] is not None and steps[1][1] in app._tasks
        assert marked.get() == ""  # the handler's context is its own
        receive("from a task")
        assert [where for where, _, _ in steps[2:]] == ["from a task returned"]
        await asyncio.sleep(2)
        assert [(where, kept) for where, _, kept in steps[3:]] == [
            ("from a task", True), ("from a callback after its wait, from a callback", True),
            ("from a task after its wait, from a task", True)]
        assert steps[1][1] is steps[4][1] and steps[1][1] not in app._tasks
        # a radio that delivers frames from inside its I/O protocol (bellows) starts it as zigpy would
        app.handlers_start_at_once = False
        loop.call_soon(receive, "from a serial radio")
        await asyncio.sleep(0)
        assert [where for where, _, _ in steps[6:]] == ["from a serial radio returned"]
        await asyncio.sleep(0)
        assert [where for where, _, _ in steps[7:]] == ["from a serial radio"]


async def test_a_routed_request_answered_at_once_costs_no_task_fails_aloud_and_can_be_cancelled_where_it_waits(
        caplog: pytest.LogCaptureFixture) -> None:
    async with interviewed_meter() as (app, _):
        loop = asyncio.get_running_loop()
        started: list[asyncio.Task[None] | None] = []
        outcome: list[str] = []

        async def done_at_once() -> None:
            outcome.append("answered")

        async def failing() -> None:
            raise ValueError("a bug in the handler")

        async def waiting(answer: asyncio.Future[str]) -> None:
            try:
                outcome.append(await answer)
            except asyncio.CancelledError:
                outcome.append("cancelled where it waited")
                raise

        tasks_before = set(app._tasks)
        for handler in (done_at_once(), failing()):
            loop.call_soon(lambda handler=handler: started.append(start_handler(app, handler)))
            await asyncio.sleep(0)
        assert started == [None, None] and outcome == ["answered"] and set(app._tasks) == tasks_before
        assert "Answering a routed request failed" in caplog.text and "a bug in the handler" in caplog.text
        answers = [loop.create_future(), loop.create_future()]
        for answer in answers:
            loop.call_soon(lambda answer=answer: started.append(start_handler(app, waiting(answer))))
            await asyncio.sleep(0)
        answered, cancelled = started[2:]
        assert answered is not None and cancelled is not None
        answers[0].set_result("answer after a wait")
        cancelled.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert outcome == ["answered", "answer after a wait", "cancelled where it waited"]
        assert answered.done() and not answered.cancelled() and cancelled.cancelled() and answers[1].cancelled()


async def test_step_now_resumes_a_task_woken_from_a_loop_callback_before_the_callback_returns() -> None:
    """step_now: a task whose awaited future a loop callback (how the air delivers a frame)
    has just set carries on inside that callback; from inside a task, or when another handle
    was scheduled after the task's wake-up, it waits for the next iteration as asyncio has it."""
    loop = asyncio.get_running_loop()
    seen: list[object] = []

    async def waiter(answer: asyncio.Future[str]) -> None:
        seen.append(await answer)

    async def waiting() -> tuple[asyncio.Future[str], asyncio.Task[None]]:
        answer: asyncio.Future[str] = loop.create_future()
        task = loop.create_task(waiter(answer))
        await asyncio.sleep(0)
        return answer, task

    def deliver(answer: asyncio.Future[str], task: asyncio.Task[None], then: bool = False) -> None:
        answer.set_result("block")
        if then:
            loop.call_soon(seen.append, "another callback")
        seen.append(("stepped", step_now(task)))

    answer, task = await waiting()
    loop.call_soon(deliver, answer, task)
    await asyncio.sleep(0)
    assert seen == ["block", ("stepped", True)] and task.done()
    seen.clear()
    answer, task = await waiting()
    loop.call_soon(deliver, answer, task, True)
    await asyncio.sleep(0)
    assert seen == [("stepped", False)]
    await asyncio.sleep(0)
    assert seen == [("stepped", False), "block", "another callback"]
    seen.clear()
    answer, task = await waiting()
    deliver(answer, task)  # from this test's own task
    assert seen == [("stepped", False)]
    await asyncio.sleep(0)
    assert seen == [("stepped", False), "block"]


async def test_what_a_route_does_not_read_goes_through_zigpy() -> None:
    async with interviewed_meter() as (app, device):
        routed = Routed(app, device)
        truncated = query_packet(5)
        truncated = truncated.replace(data=t.SerializableBytes(truncated.data.serialize()[:6]))
        app.packet_received(truncated)
        other_profile = query_packet(6).replace(profile_id=zigpy.profiles.zha.PROFILE_ID)
        app.packet_received(other_profile)
        assert routed.taken == []
        # zigpy could not read the truncated frame either; it read the Home Automation one
        assert [cmd.current_file_version for cmd in routed.zigpy_heard] == [7]  # type: ignore[attr-defined]


async def test_a_frame_that_answers_the_coordinator_is_left_to_zigpys_matching() -> None:
    async with interviewed_meter() as (app, device):
        routed = Routed(app, device)
        waiting: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        key = zigpy.device.ResponseKey(1, Ota.cluster_id, foundation.Direction.Client_to_Server, 9)
        device._requests[key] = waiting
        app.packet_received(query_packet(9))
        assert routed.taken == [] and waiting.done()
        del device._requests[key]


# -- the reply path and the duplicate filter, as zigpy has them ----------------------------------------------


class SendCapture:
    """The application's ``send_packet``, recording every packet and failing the first ``fail``."""

    def __init__(self, app: VirtualRadioApp, fail: int = 0) -> None:
        self.packets: list[t.ZigbeePacket] = []
        self.fail = fail
        app.send_packet = self.send  # type: ignore[method-assign]

    async def send(self, packet: t.ZigbeePacket) -> None:
        self.packets.append(packet)
        if len(self.packets) <= self.fail:
            raise zigpy.exceptions.DeliveryError("lost on the air")


async def both_replies(app: VirtualRadioApp, device: SmartEnergyDevice, *, fail: int = 0,
                       aps_encryption: bool = False) -> tuple[list[t.ZigbeePacket], list[t.ZigbeePacket]]:
    """The packets zigpy's ``Endpoint.reply`` and ``send_reply`` put on the air for one OTA answer."""
    frame = QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(0x42)
    endpoint = device.endpoints[1]
    sent = []
    for send in (lambda: endpoint.reply(Ota.cluster_id, frame[1], frame, command_id=frame[2],
                                        aps_encryption=aps_encryption),
                 lambda: device.send_reply(endpoint, Ota.cluster_id, frame, aps_encryption=aps_encryption)):
        capture = SendCapture(app, fail)
        try:
            await send()
        except zigpy.exceptions.DeliveryError:
            capture.packets.append(None)  # type: ignore[arg-type]  # marks the failure
        sent.append(capture.packets)
    return sent[0], sent[1]


async def test_send_reply_puts_on_the_air_what_endpoint_reply_does() -> None:
    async with interviewed_meter() as (app, device):
        zigpys, ours = await both_replies(app, device)
        assert len(ours) == 1 and ours == zigpys  # ZigbeePacket equality: every field but the timestamp
        assert ours[0].tx_options == t.TransmitOptions.ACK and not ours[0].extended_timeout
        zigpys, ours = await both_replies(app, device, aps_encryption=True)
        assert ours == zigpys and t.TransmitOptions.APS_Encryption in ours[0].tx_options
        # an end device (or one whose node descriptor zigpy does not know) gets the extended timeout
        device.node_desc = None
        zigpys, ours = await both_replies(app, device)
        assert ours == zigpys and ours[0].extended_timeout
        # zigpy's source route, where zigpy is configured to build one
        app.config[zigpy.config.CONF_SOURCE_ROUTING] = True
        device.relays = [t.NWK(0x2222), t.NWK(0x3333)]
        zigpys, ours = await both_replies(app, device)
        assert ours == zigpys and ours[0].source_route == [0x3333, 0x2222]
        # a device that rejoined with another NWK address is answered there
        device.nwk = t.NWK(0x4321)
        zigpys, ours = await both_replies(app, device)
        assert ours == zigpys and ours[0].dst == t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x4321)


async def test_send_reply_retries_as_zigpy_does_and_then_fails_as_it_does() -> None:
    async with interviewed_meter() as (app, device):
        zigpys, ours = await both_replies(app, device, fail=1)  # lost once: the retry asks for route discovery
        assert len(ours) == 2 and ours == zigpys
        assert t.TransmitOptions.FORCE_ROUTE_DISCOVERY in ours[1].tx_options
        zigpys, ours = await both_replies(app, device, fail=99)  # never through: DeliveryError after the retries
        assert ours == zigpys and len(ours) == zigpy.device.DEFAULT_REQUEST_RETRIES + 2 and ours[-1] is None


async def test_send_reply_waits_for_a_slot_of_the_devices_limiter() -> None:
    async with interviewed_meter() as (app, device):
        capture = SendCapture(app)
        limiter = device._concurrent_requests_semaphore
        held = []
        while not limiter.locked(t.PacketPriority.NORMAL):  # take every slot a NORMAL frame could have
            held.append(limiter(priority=t.PacketPriority.NORMAL))
            await held[-1].__aenter__()
        frame = QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(1)
        reply = asyncio.get_running_loop().create_task(device.send_reply(device.endpoints[1], Ota.cluster_id, frame))
        await asyncio.sleep(1)
        assert capture.packets == []  # the device has its zigpy's limit of requests in flight
        await held[0].__aexit__(None, None, None)
        await reply
        assert len(capture.packets) == 1
        for slot in held[1:]:
            await slot.__aexit__(None, None, None)
        # slots held by HIGH frames leave a NORMAL frame's tier free, as zigpy counts them
        while not limiter.locked(t.PacketPriority.HIGH):
            held.append(limiter(priority=t.PacketPriority.HIGH))
            await held[-1].__aenter__()
        assert not limiter.locked(t.PacketPriority.NORMAL)
        await device.send_reply(device.endpoints[1], Ota.cluster_id, frame)
        assert len(capture.packets) == 2


async def test_send_reply_holds_a_slot_of_the_devices_and_the_applications_limiter_while_it_sends() -> None:
    """The slots send_reply takes without zigpy's context manager count in zigpy's limiters as
    that context manager's do, and are given back, also when the send fails."""
    async with interviewed_meter() as (app, device):
        limiters = (device._concurrent_requests_semaphore, app._concurrent_requests_semaphore)
        during: list[tuple[int, int]] = []
        transmit = app.air.transmit

        async def on_the_air(packet: t.ZigbeePacket) -> None:
            during.append((limiters[0].active_requests, limiters[1].active_requests))
            await transmit(packet)

        app.air.transmit = on_the_air  # type: ignore[method-assign]
        frame = QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(1)
        await device.send_reply(device.endpoints[1], Ota.cluster_id, frame)
        assert during == [(1, 1)]
        assert [limiter.active_requests for limiter in limiters] == [0, 0]
        SendCapture(app, fail=99)
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await device.send_reply(device.endpoints[1], Ota.cluster_id, frame)
        assert [limiter.active_requests for limiter in limiters] == [0, 0]


async def test_duplicate_key_tells_duplicates_apart_as_zigpys_filter_does() -> None:
    compared = {field.name for field in dataclasses.fields(t.ZigbeePacket) if field.compare}
    # A field zigpy adds to ZigbeePacket must be weighed for duplicate_key: this list is what it covers.
    assert compared == {"priority", "src", "src_ep", "dst", "dst_ep", "source_route", "extended_timeout", "tsn",
                        "profile_id", "cluster_id", "data", "tx_options", "radius", "non_member_radius",
                        "alias_src", "alias_seq", "lqi", "rssi"}
    base = query_packet(5)
    same = [base.replace(tsn=6), base.replace(lqi=1), base.replace(rssi=-90),
            base.replace(timestamp=base.timestamp + dt.timedelta(seconds=1))]
    other = [base.replace(priority=t.PacketPriority.HIGH),
             base.replace(src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1235)), base.replace(src_ep=2),
             base.replace(dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0001)), base.replace(dst_ep=2),
             base.replace(source_route=[t.NWK(1)]), base.replace(extended_timeout=True),
             base.replace(profile_id=zigpy.profiles.zha.PROFILE_ID), base.replace(cluster_id=0x0702),
             query_packet(5, version=8), base.replace(tx_options=t.TransmitOptions.ACK), base.replace(radius=3),
             base.replace(non_member_radius=3), base.replace(alias_src=t.NWK(7)), base.replace(alias_seq=7)]
    async with interviewed_meter() as (_, device):
        for packet in same + other:
            device._packet_debouncer = zigpy.datastructures.Debouncer()
            assert not device._should_filter_packet(base)
            zigpy_says = device._should_filter_packet(packet)
            assert zigpy_says == (packet in same)
            assert (duplicate_key(packet) == duplicate_key(base)) == zigpy_says, packet


class SteppedClock:
    """A loop clock a test moves by hand (a Debouncer reads ``loop.time()``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now


def test_the_duplicate_filter_answers_and_holds_what_zigpys_does() -> None:
    """DuplicateFilter against zigpy's Debouncer on one seeded sequence: frames seen again
    within, at and after their window, time standing still (the free air) and moving, a
    window other than the device's."""
    clock = SteppedClock()
    zigpys, ours = zigpy.datastructures.Debouncer(), DuplicateFilter()
    for debouncer in (zigpys, ours):
        debouncer.__dict__["_loop"] = clock  # what its cached `_loop` property would hold
    draw = random.Random(11)
    answers = []
    for step in range(3000):
        clock.now += draw.choice((0.0, 0.0, 0.5, 1.0, 2.5, 10.0))
        frame = (draw.randrange(40), b"frame")
        window = 10 if step % 7 else draw.choice((1, 5, 30))
        answers.append((zigpys.filter(obj=frame, expire_in=window), ours.filter(obj=frame, expire_in=window)))
        probe = (draw.randrange(40), b"frame")
        assert zigpys.is_filtered(probe) == ours.is_filtered(probe)
        assert zigpys._times == ours._times
    assert all(theirs == mine for theirs, mine in answers)
    assert 100 < sum(theirs for theirs, _ in answers) < 2900  # both kinds of answer were exercised


async def test_is_initialized_says_what_zigpys_does_in_every_state_of_the_interview() -> None:
    async with interviewed_meter() as (app, device):
        zigpys = zigpy.device.Device.is_initialized.fget  # type: ignore[attr-defined]
        endpoint = device.endpoints[1]
        node_desc = device.node_desc
        states = []
        for descriptor in (node_desc, None):
            device.node_desc = descriptor
            for status in (zigpy.endpoint.Status.ZDO_INIT, zigpy.endpoint.Status.NEW):
                endpoint.status = status
                states.append((device.is_initialized, zigpys(device)))
            device.endpoints[2] = second = zigpy.endpoint.Endpoint(device, 2)  # a second endpoint, still NEW
            endpoint.status = zigpy.endpoint.Status.ZDO_INIT
            states.append((device.is_initialized, zigpys(device)))
            second.status = zigpy.endpoint.Status.ZDO_INIT
            states.append((device.is_initialized, zigpys(device)))
            del device.endpoints[2], device.endpoints[1]  # the ZDO endpoint alone
            states.append((device.is_initialized, zigpys(device)))
            device.endpoints[1] = endpoint
        assert [ours for ours, _ in states] == [theirs for _, theirs in states]
        assert [ours for ours, _ in states] == [True, False, False, True, False] + [False] * 5
