"""A GBCS image from the CH's store to an emulated device, over the virtual air, in virtual time.

The CH side is the real :class:`~hanbench.hub.ota_server.OtaServer` on zigpy's coordinator
(``VirtualRadioApp``); the device is an :class:`~hanbench.devices.ota_client.OtaClientNode`
that joined and was interviewed by zigpy. Everything between them is zigpy frames on the
air. Durations are loop time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota

from fixture_files import sample_bytes
from hanbench.clock import BenchClock
from hanbench.devices.ota_client import ClientResult, OtaClientConfig, OtaClientNode, OtaIdentity
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION, NEXT_FILE_VERSION, profile_for
from hanbench.hub.image_store import ImageStore
from hanbench.hub.ota_server import OtaServer, OtaServerConfig, entity_of
from hanbench.hub.transfer import TransferRecorder, TransferResult
from hanbench.radio.air import AirFrame, VirtualAir
from hanbench.radio.link import LinkModel
from hanbench.radio.se_profile import SeDeviceType
from hanbench.radio.virtual_app import VIRTUAL_RADIO_IEEE, VirtualRadioApp, virtual_coordinator

pytestmark = pytest.mark.looptime

ESME = profile_for("esme")
IMAGE = sample_bytes("esme", NEXT_FILE_VERSION)
SHA = hashlib.sha256(IMAGE).digest()
DEVICE_IEEE = "00:11:22:33:44:55:66:01"
DEVICE = entity_of(t.EUI64.convert(DEVICE_IEEE))
Status = foundation.Status


@dataclass
class OtaBench:
    air: VirtualAir
    app: VirtualRadioApp
    server: OtaServer
    recorder: TransferRecorder
    node: OtaClientNode
    received: list[bytes] = field(default_factory=list)
    block_requests: list[int] = field(default_factory=list)
    block_sizes: list[int] = field(default_factory=list)

    def watch(self, frame: AirFrame) -> None:
        """Record the offsets the device asks for and the sizes the server sends."""
        packet = frame.packet
        if packet.cluster_id != Ota.cluster_id:
            return
        hdr, rest = foundation.ZCLHeader.deserialize(packet.data.serialize())
        if not hdr.frame_control.is_cluster:
            return
        if hdr.command_id == Ota.ServerCommandDefs.image_block.id and hdr.direction == 0:
            self.block_requests.append(Ota.ImageBlockCommand.deserialize(rest)[0].file_offset)
        if hdr.command_id == Ota.ClientCommandDefs.image_block_response.id:
            rsp, _ = Ota.ImageBlockResponseCommand.deserialize(rest)
            if rsp.status == Status.SUCCESS:
                self.block_sizes.append(len(rsp.image_data))


@asynccontextmanager
async def ota_bench(
    *,
    server_config: OtaServerConfig | None = None,
    client_config: OtaClientConfig | None = None,
    hardware_version: int = 0x1111,
    verdict: Status = Status.SUCCESS,
    sleepy: bool = False,
) -> AsyncIterator[OtaBench]:
    air = VirtualAir(seed=170)
    async with virtual_coordinator(air) as app:
        recorder = TransferRecorder()
        server = OtaServer(ImageStore(), BenchClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)), server_config)
        server.on_transfer(recorder)
        server.install(app)
        received: list[bytes] = []

        class Device:
            """What the OTA client downloads for: it takes 2 s to check an image, then says ``verdict``."""

            async def judge_image(self, data: bytes) -> Status:
                received.append(data)
                await asyncio.sleep(2)  # the device checks the signature
                return verdict

        node = OtaClientNode(
            air, DEVICE_IEEE, 0x4A01, device_type=SeDeviceType.METERING_DEVICE, manufacturer="hanbench",
            model="ESME", server_clusters=[Basic.cluster_id], client_clusters=[Ota.cluster_id],
            manufacturer_code=ESME.manufacturer_code, current_file_version=INITIAL_FILE_VERSION,
            ota_identity=OtaIdentity(ESME.manufacturer_code, ESME.image_type, hardware_version),
            judge=Device(), ota_config=client_config, rx_on_when_idle=not sleepy,
        )
        await app.permit(60)
        await node.join()
        for _ in range(1000):  # zigpy's interview, and the query its Image Notify causes
            await asyncio.sleep(0.1)
            device = app.devices.get(node.ieee)
            if device is not None and device.is_initialized and node.ota.outcomes:
                break
        assert node.ota.outcomes[-1].result is ClientResult.NO_IMAGE
        bench = OtaBench(air, app, server, recorder, node, received)
        air.add_observer(bench.watch)
        try:
            yield bench
        finally:
            await node.close()
            server.uninstall()


async def test_image_notify_leads_to_the_exact_stored_bytes_and_wait_for_upgrade_command() -> None:
    async with ota_bench() as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        assert b.server.image_waiting(DEVICE) is not None
        before = len(b.node.ota.outcomes)
        await b.server.notify(DEVICE)
        while len(b.node.ota.outcomes) == before:
            await asyncio.sleep(1)
        outcome = b.node.ota.outcomes[-1]
        assert outcome.result is ClientResult.KEPT
        assert [hashlib.sha256(d).digest() for d in b.received] == [SHA] == [outcome.image_sha256]
        assert outcome.upgrade_time == 0xFFFFFFFF and outcome.end_status == Status.SUCCESS
        assert set(b.block_sizes[:-1]) == {50}, "the server's 50-byte cap, although the device asked 63"
        assert outcome.blocks == len(b.block_sizes) == -(-len(IMAGE) // 50)
        (server_outcome,) = b.recorder.finished
        assert server_outcome.result is TransferResult.SUCCESS and server_outcome.device == DEVICE
        assert (server_outcome.blocks, server_outcome.bytes_sent) == (outcome.blocks, len(IMAGE))
        assert b.server.image_waiting(DEVICE) is None


async def test_the_device_asks_for_each_block_as_it_takes_the_answer_before_it_off_the_air() -> None:
    """The device's firmware acts on a frame as it gets it: each Image Block Request goes out
    from the air's delivery of the answer before it (the offer, then each block), not on a
    later pass of the event loop."""
    async with ota_bench() as b:
        inside: list[bool] = []
        receiving = False
        receive = b.node.receive

        def take_off_the_air(packet: t.ZigbeePacket) -> None:
            nonlocal receiving
            receiving = True
            try:
                receive(packet)
            finally:
                receiving = False

        def watch(frame: AirFrame) -> None:
            before = len(b.block_requests)
            b.watch(frame)
            if len(b.block_requests) > before:
                inside.append(receiving)

        b.node.receive = take_off_the_air  # type: ignore[method-assign]
        b.air.add_observer(watch)
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert len(inside) == outcome.blocks and all(inside)


async def test_block_size_follows_the_configured_maximum() -> None:
    async with ota_bench(server_config=OtaServerConfig(max_block_size=63),
                         client_config=OtaClientConfig(maximum_data_size=40)) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert max(b.block_sizes) == 40


async def test_wait_for_data_paces_the_whole_transfer() -> None:
    async with ota_bench(server_config=OtaServerConfig(minimum_block_period_ms=250)) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert outcome.waits >= 1
        download_s = outcome.duration - 2  # minus the device's signature check
        assert download_s >= 0.25 * (outcome.blocks - 1)
        (server_outcome,) = b.recorder.finished
        assert server_outcome.waits == outcome.waits


async def test_busy_server_makes_the_device_wait_then_finish() -> None:
    async with ota_bench(server_config=OtaServerConfig(busy_backoff_s=3)) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        b.server.busy = True
        loop = asyncio.get_running_loop()
        loop.call_later(10, setattr, b.server, "busy", False)
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert outcome.waits == 4 and outcome.wait_s == pytest.approx(12)  # 3 s apart, past the 10 s
        assert outcome.duration >= 10


async def test_hardware_version_mismatch_gets_no_image_and_ccs08_code_2() -> None:
    async with ota_bench(hardware_version=0x2000) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.NO_IMAGE and b.received == []
        (server_outcome,) = b.recorder.finished
        assert server_outcome.result is TransferResult.HARDWARE_VERSION_MISMATCH


async def test_refused_image_ends_with_the_device_status_and_ccs08_code_3() -> None:
    async with ota_bench(verdict=Status.INVALID_IMAGE) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.REFUSED and outcome.end_status == Status.INVALID_IMAGE
        assert outcome.upgrade_time is None, "a refusal is answered by a Default Response"
        (server_outcome,) = b.recorder.finished
        assert server_outcome.result is TransferResult.FILE_TRANSFER_FAILURE
        assert server_outcome.device_status == Status.INVALID_IMAGE


async def test_lost_frames_are_re_requested_from_the_same_offset() -> None:
    async with ota_bench() as b:
        b.air.set_link(VIRTUAL_RADIO_IEEE, b.node.ieee, LinkModel(loss=0.1))
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert outcome.retries > 0 and b.air.total_stats().lost > 0
        assert b.block_requests == sorted(b.block_requests), "never back to an earlier offset"
        assert len(b.block_requests) > outcome.blocks, "some offsets were asked for again"


@pytest.mark.parametrize("interval_s", [300.0, None], ids=["queries-again", "waits-to-be-told"])
async def test_a_download_out_of_retries_is_resumed_by_the_devices_own_query_some_minutes_later(
        interval_s: float | None) -> None:
    config = OtaClientConfig(block_timeout_s=5, max_retries=2, query_interval_s=interval_s)
    async with ota_bench(client_config=config) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])

        def cut(frame: AirFrame) -> None:
            if len(b.block_sizes) == 20:  # the link fails as the 20th block is on its way
                b.air.set_link(VIRTUAL_RADIO_IEEE, b.node.ieee, LinkModel(loss=1.0))

        stop_cutting = b.air.add_observer(cut)
        first = await b.node.ota.update()
        assert first.result is ClientResult.INTERRUPTED and first.offset > 0
        stop_cutting()
        b.air.set_link(VIRTUAL_RADIO_IEEE, b.node.ieee, LinkModel())
        await asyncio.sleep(299)
        assert b.node.ota.outcomes[-1] is first, "queried again before its interval"
        await asyncio.sleep(120)
        if interval_s is None:
            assert b.node.ota.outcomes[-1] is first and b.received == []
            return
        again = b.node.ota.outcomes[-1]
        assert again.result is ClientResult.KEPT and again.resumed_from == first.offset
        assert b.received == [IMAGE]


async def test_device_sleeping_mid_transfer_resumes_from_the_last_good_offset() -> None:
    async with ota_bench(sleepy=True) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])

        def nap(frame: AirFrame) -> None:
            # The device turns its receiver off as the 20th block is on its way to it.
            if len(b.block_sizes) == 20 and b.node.awake:
                b.node.sleep()

        b.air.add_observer(nap)
        first = await b.node.ota.update()
        assert first.result is ClientResult.INTERRUPTED
        assert first.offset == 19 * 50 == b.node.ota.partial_offset
        await asyncio.sleep(60)
        (stalled,) = b.recorder.interrupted
        assert stalled.offset == 19 * 50 and b.recorder.finished == [], "interrupted, no CCS08: it may resume"
        assert b.server.image_waiting(DEVICE) is not None
        b.node.wake()
        second = await b.node.ota.update()
        assert second.result is ClientResult.KEPT and second.resumed_from == first.offset
        assert b.received == [IMAGE]
        assert second.blocks == -(-(len(IMAGE) - first.offset) // 50)
        assert b.block_requests == sorted(b.block_requests)
        assert [o.result for o in b.recorder.finished] == [TransferResult.SUCCESS]


async def test_image_page_mode_delivers_the_image() -> None:
    async with ota_bench(client_config=OtaClientConfig(page_size=500, response_spacing_ms=20)) as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert outcome.pages == -(-len(IMAGE) // 500) and b.block_requests == []
        spacing_s = 0.02 * (outcome.blocks - outcome.pages)
        assert outcome.duration - 2 == pytest.approx(spacing_s) or outcome.duration - 2 > spacing_s


async def test_image_page_mode_recovers_a_lost_block_from_the_gap() -> None:
    async with ota_bench(client_config=OtaClientConfig(page_size=500, block_timeout_s=1)) as b:
        b.air.set_link(VIRTUAL_RADIO_IEEE, b.node.ieee, LinkModel(loss=0.2))
        b.server.offer(parse_image(IMAGE), [DEVICE])
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.KEPT and b.received == [IMAGE]
        assert b.air.total_stats().lost > 0
        assert outcome.retries > 0 and outcome.pages > -(-len(IMAGE) // 500)
        assert outcome.resumed_from == 0


async def test_image_overwritten_mid_transfer_aborts_the_device_and_reports_discarded() -> None:
    async with ota_bench() as b:
        b.server.offer(parse_image(IMAGE), [DEVICE])
        other = parse_image(sample_bytes("esme", INITIAL_FILE_VERSION))

        def overwrite(frame: AirFrame) -> None:
            # The CH gets a new image as the device asks for its 11th block.
            if len(b.block_requests) == 11 and b.server.image_waiting(DEVICE) is not None:
                b.server.offer(other, ["00-11-22-33-44-55-66-99"])

        b.air.add_observer(overwrite)
        outcome = await b.node.ota.update()
        assert outcome.result is ClientResult.ABORTED and b.node.ota.partial_offset == 0
        (server_outcome,) = b.recorder.finished
        assert server_outcome.result is TransferResult.IMAGE_DISCARDED and server_outcome.blocks == 10
