"""The CH's OTA server, frame by frame, on a real zigpy coordinator on the virtual air.

A *probe* stands in for a device: it puts hand-made (zigpy-encoded) OTA requests on the
air and records every frame the coordinator sends back, so each test can say exactly what
went over the air, including that zigpy itself said nothing. The first tests pin the zigpy
2.4 behaviour the server relies on (see ``hanbench.hub.ota_server``); if a zigpy upgrade
changes it, they fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import zigpy.device
import zigpy.endpoint
import zigpy.exceptions
import zigpy.ota
import zigpy.ota.providers
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from fixture_files import sample_bytes
from hanbench.clock import BenchClock
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION, NEXT_FILE_VERSION, profile_for
from hanbench.hub.image_store import ImageKey, ImageStore
from hanbench.hub.ota_faults import BlockPeriod
from hanbench.hub.ota_server import (
    WAIT_FOR_UPGRADE_COMMAND,
    ZIGBEE_EPOCH,
    OtaPeer,
    OtaServer,
    OtaServerConfig,
    entity_of,
    eui64_of,
)
from hanbench.hub.transfer import TransferRecorder, TransferResult
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_profile import SE_PROFILE_ID
from hanbench.radio.virtual_app import VirtualRadioApp, virtual_coordinator

pytestmark = pytest.mark.looptime

ESME = profile_for("esme")
ESME_IMAGE = sample_bytes("esme", NEXT_FILE_VERSION)
PROBE_IEEE = t.EUI64.convert("00:11:22:33:44:55:66:01")
PROBE_NWK = t.NWK(0x1234)
PROBE = entity_of(PROBE_IEEE)
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
Status = foundation.Status


@dataclass
class Frame:
    at: float
    hdr: foundation.ZCLHeader
    cmd: Any


class Probe:
    """A device on the air that sends what a test tells it and records what comes back."""

    def __init__(self, air: VirtualAir) -> None:
        self.air = air
        self.awake = True
        self.frames: list[Frame] = []
        self._tsn = 0

    @property
    def nwk(self) -> t.NWK:
        return PROBE_NWK

    @property
    def ieee(self) -> t.EUI64:
        return PROBE_IEEE

    def receive(self, packet: t.ZigbeePacket) -> None:
        if packet.cluster_id != Ota.cluster_id:
            return
        hdr, rest = foundation.ZCLHeader.deserialize(packet.data.serialize())
        if hdr.frame_control.is_cluster:
            schema = Ota.client_commands[hdr.command_id].schema
        else:
            schema = foundation.GENERAL_COMMANDS[hdr.command_id].schema
        cmd, _ = schema.deserialize(rest)
        self.frames.append(Frame(asyncio.get_running_loop().time(), hdr, cmd))

    async def send(self, name: str, **fields: Any) -> int:
        """Put one OTA client->server command on the air; its TSN."""
        self._tsn = (self._tsn + 1) % 256
        command = getattr(Ota.ServerCommandDefs, name)
        hdr = foundation.ZCLHeader.cluster(self._tsn, command.id, direction=foundation.Direction.Client_to_Server)
        data = hdr.serialize() + command.schema(**fields).serialize()
        await self.air.transmit(t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=PROBE_NWK), src_ep=1,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), dst_ep=1,
            tsn=self._tsn, profile_id=SE_PROFILE_ID, cluster_id=Ota.cluster_id,
            data=t.SerializableBytes(data),
        ))
        return self._tsn

    async def ask(self, name: str, **fields: Any) -> Frame:
        """Send and wait for the reply with the same TSN."""
        seen = len(self.frames)
        tsn = await self.send(name, **fields)
        for _ in range(100):
            await asyncio.sleep(0)
            for frame in self.frames[seen:]:
                if frame.hdr.tsn == tsn:
                    return frame
        raise AssertionError(f"no reply to {name} (TSN {tsn})")

    def query(self, *, version: int = INITIAL_FILE_VERSION, hw: int | None = 0x1111) -> dict[str, Any]:
        control = Ota.QueryNextImageCommand.FieldControl(0 if hw is None else 1)
        fields = dict(field_control=control, manufacturer_code=ESME.manufacturer_code,
                      image_type=ESME.image_type, current_file_version=version)
        if hw is not None:
            fields["hardware_version"] = hw
        return fields

    @staticmethod
    def block(offset: int, size: int = 63, version: int = NEXT_FILE_VERSION) -> dict[str, Any]:
        return dict(field_control=0, manufacturer_code=ESME.manufacturer_code, image_type=ESME.image_type,
                    file_version=version, file_offset=offset, maximum_data_size=size)

    @staticmethod
    def end(status: Status = Status.SUCCESS) -> dict[str, Any]:
        return dict(status=status, manufacturer_code=ESME.manufacturer_code, image_type=ESME.image_type,
                    file_version=NEXT_FILE_VERSION)


def _known_device(app: VirtualRadioApp) -> zigpy.device.Device:
    """Tell zigpy about the probe as an interviewed SE device with an OTA client cluster."""
    device = app.add_device(PROBE_IEEE, PROBE_NWK)
    device.node_desc = zdo_t.NodeDescriptor(logical_type=zdo_t.LogicalType.Router)
    endpoint = device.add_endpoint(1)
    endpoint.profile_id = SE_PROFILE_ID
    endpoint.add_output_cluster(Ota.cluster_id)
    endpoint.status = zigpy.endpoint.Status.ZDO_INIT
    return device


@dataclass
class Bench:
    app: VirtualRadioApp
    probe: Probe
    device: zigpy.device.Device
    store: ImageStore
    recorder: TransferRecorder
    server: OtaServer | None


@asynccontextmanager
async def bench(config: OtaServerConfig | None = None, *, install: bool = True) -> AsyncIterator[Bench]:
    air = VirtualAir()
    probe = Probe(air)
    air.attach(probe)
    async with virtual_coordinator(air) as app:
        device = _known_device(app)
        store, recorder = ImageStore(), TransferRecorder()
        server = None
        if install:
            server = OtaServer(store, BenchClock(EPOCH), config)
            server.on_transfer(recorder)
            server.install(app)
        yield Bench(app, probe, device, store, recorder, server)
        if server is not None:
            server.uninstall()


# -- the zigpy behaviour the server relies on -------------------------------------------------


async def test_plain_zigpy_refuses_device_initiated_ota() -> None:
    """Why the CH needs its own server: zigpy answers NO_IMAGE_AVAILABLE and ABORT."""
    async with bench(install=False) as b:
        assert (await b.probe.ask("query_next_image", **b.probe.query())).cmd.status == Status.NO_IMAGE_AVAILABLE
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.ABORT


async def test_server_is_the_only_one_answering() -> None:
    """Listeners run before the cluster handler, and ``ota_in_progress`` silences zigpy's."""
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        reply = await b.probe.ask("query_next_image", **b.probe.query())
        assert reply.cmd.status == Status.SUCCESS
        await asyncio.sleep(1)
        assert [f.hdr.tsn for f in b.probe.frames] == [reply.hdr.tsn], "zigpy answered too"
        assert b.device.ota_in_progress


async def test_claimed_device_cannot_be_pushed_by_zigpy_and_is_released_on_uninstall() -> None:
    async with bench() as b:
        assert b.server is not None
        image = zigpy.ota.OtaImageWithMetadata(
            metadata=zigpy.ota.providers.BaseOtaImageMetadata(file_version=2), firmware=None)
        assert await b.device.update_firmware(image) is None
        b.server.uninstall()
        assert not b.device.ota_in_progress
        reply = await b.probe.ask("query_next_image", **b.probe.query())
        assert reply.cmd.status == Status.NO_IMAGE_AVAILABLE


# -- Query Next Image -------------------------------------------------------------------------


async def test_query_offers_the_stored_image_with_its_original_size() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        rsp = (await b.probe.ask("query_next_image", **b.probe.query())).cmd
        assert (rsp.status, rsp.manufacturer_code, rsp.image_type, rsp.file_version, rsp.image_size) == (
            Status.SUCCESS, ESME.manufacturer_code, ESME.image_type, NEXT_FILE_VERSION, len(ESME_IMAGE))
        assert [s.device for s in b.recorder.started] == [PROBE]


async def test_query_for_another_image_type_gets_no_image_and_no_report() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        fields = b.probe.query()
        fields["image_type"] = 0x0001
        assert (await b.probe.ask("query_next_image", **fields)).cmd.status == Status.NO_IMAGE_AVAILABLE
        assert b.recorder.finished == [] and b.recorder.started == []
        assert b.server.image_waiting(PROBE) is not None


@pytest.mark.parametrize("running", [NEXT_FILE_VERSION, NEXT_FILE_VERSION + 1], ids=["re-sent", "downgrade"])
async def test_an_image_that_is_not_newer_than_what_the_device_runs_is_discarded_for_it_with_ccs08_1(
        running: int) -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        reply = await b.probe.ask("query_next_image", **b.probe.query(version=running))
        assert reply.cmd.status == Status.NO_IMAGE_AVAILABLE
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.IMAGE_DISCARDED and outcome.blocks == 0
        assert f"runs file version 0x{running:08X}" in outcome.reason and "not" in outcome.reason
        assert b.server.image_waiting(PROBE) is None and b.recorder.started == []
        await asyncio.sleep(3 * 24 * 3600)
        assert len(b.recorder.finished) == 1, "reported once, and the CH waits for nothing more"


async def test_hardware_version_mismatch_is_refused_and_reported_once() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        for _ in range(2):
            rsp = (await b.probe.ask("query_next_image", **b.probe.query(hw=0x2000))).cmd
            assert rsp.status == Status.NO_IMAGE_AVAILABLE
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.HARDWARE_VERSION_MISMATCH and outcome.device == PROBE
        assert "0x2000" in outcome.reason and outcome.blocks == 0
        assert b.server.image_waiting(PROBE) is None


async def test_query_without_hardware_version_is_served() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        assert (await b.probe.ask("query_next_image", **b.probe.query(hw=None))).cmd.status == Status.SUCCESS


# -- Image Block --------------------------------------------------------------------------------


async def _download(b: Bench, size: int = 63) -> bytes:
    data = b""
    while len(data) < len(ESME_IMAGE):
        rsp = (await b.probe.ask("image_block", **b.probe.block(len(data), size))).cmd
        assert rsp.status == Status.SUCCESS and rsp.file_offset == len(data)
        data += rsp.image_data
    return data


@pytest.mark.parametrize(("cap", "asked", "served"), [(50, 63, 50), (63, 63, 63), (50, 20, 20)])
async def test_blocks_are_the_stored_bytes_capped_at_the_configured_size(cap: int, asked: int, served: int) -> None:
    async with bench(config=OtaServerConfig(max_block_size=cap)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await b.probe.ask("query_next_image", **b.probe.query())
        data = await _download(b, asked)
        assert hashlib.sha256(data).digest() == hashlib.sha256(ESME_IMAGE).digest()
        sizes = {len(f.cmd.image_data) for f in b.probe.frames if hasattr(f.cmd, "image_data")}
        assert max(sizes) == served


async def test_block_requests_the_server_cannot_serve() -> None:
    async with bench() as b:
        assert b.server is not None
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.ABORT
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        assert (await b.probe.ask("image_block", **b.probe.block(0, version=7))).cmd.status == Status.ABORT
        past_end = b.probe.block(len(ESME_IMAGE))
        assert (await b.probe.ask("image_block", **past_end)).cmd.status == Status.MALFORMED_COMMAND
        assert (await b.probe.ask("image_block", **b.probe.block(0, size=0))).cmd.status == Status.MALFORMED_COMMAND


async def test_block_without_a_query_resumes_the_waiting_image_and_counts_retries() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        for offset in (0, 50, 50, 100, 0):
            assert (await b.probe.ask("image_block", **b.probe.block(offset))).cmd.status == Status.SUCCESS
        transfer = b.server.transfers[PROBE]
        assert (transfer.blocks, transfer.retries, transfer.bytes_sent, transfer.high_water) == (5, 2, 250, 150)
        assert len(b.recorder.started) == 1


async def test_minimum_block_period_answers_early_requests_with_wait_for_data() -> None:
    async with bench(config=OtaServerConfig(minimum_block_period_ms=2500)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        first = await b.probe.ask("image_block", **b.probe.block(0))
        early = await b.probe.ask("image_block", **b.probe.block(50))
        rsp = early.cmd
        assert rsp.status == Status.WAIT_FOR_DATA and rsp.minimum_block_period == 2500
        now = int((EPOCH - ZIGBEE_EPOCH).total_seconds() + early.at)
        assert rsp.current_time == now
        assert rsp.request_time == now + 3  # 2.5 s after the first block, rounded up to a second
        await asyncio.sleep(2.5 - (early.at - first.at))
        assert (await b.probe.ask("image_block", **b.probe.block(50))).cmd.status == Status.SUCCESS
        assert b.server.transfers[PROBE].waits == 1


async def test_minimum_block_period_counts_from_the_request_served_not_from_its_slow_answer() -> None:
    """A client keeps the period between its own requests; an answer that takes long on the air
    (a poll, retries) must not make the next request early."""
    async with bench(config=OtaServerConfig(minimum_block_period_ms=1000)) as b:
        assert b.server is not None
        send = OtaPeer.send

        async def slow_link(peer: OtaPeer, frame: bytes) -> bool:  # each answer takes 0.4 s to get through
            await asyncio.sleep(0.4)
            return await send(peer, frame)

        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(OtaPeer, "send", slow_link)
            for offset in (0, 50, 100):
                await b.probe.send("image_block", **b.probe.block(offset))
                await asyncio.sleep(1.0)  # the period, from this request
        statuses = [f.cmd.status for f in b.probe.frames]
        assert statuses == [Status.SUCCESS] * 3 and b.server.transfers[PROBE].waits == 0


async def test_busy_server_answers_wait_for_data_until_released() -> None:
    async with bench(config=OtaServerConfig(busy_backoff_s=7)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        b.server.busy = True
        rsp = (await b.probe.ask("image_block", **b.probe.block(0))).cmd
        assert rsp.status == Status.WAIT_FOR_DATA and rsp.request_time - rsp.current_time == 7
        b.server.busy = False
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.SUCCESS


async def test_progress_is_throttled_to_steps_of_the_image() -> None:
    async with bench(config=OtaServerConfig(progress_step_percent=25)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await _download(b, 10)
        percents = [p.percent for p in b.recorder.progress]
        assert len(ESME_IMAGE) // 10 > 100 and 4 <= len(percents) <= 5
        assert percents == sorted(percents) and percents[-1] == 100.0
        assert all(later - earlier >= 25 for earlier, later in zip(percents[:-2], percents[1:-1], strict=True))


# -- Image Page -------------------------------------------------------------------------------


async def test_image_page_streams_spaced_blocks() -> None:
    async with bench(config=OtaServerConfig(minimum_block_period_ms=100)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await b.probe.send("image_page", field_control=0, manufacturer_code=ESME.manufacturer_code,
                           image_type=ESME.image_type, file_version=NEXT_FILE_VERSION, file_offset=100,
                           maximum_data_size=63, page_size=200, response_spacing=40)
        await asyncio.sleep(5)
        blocks = [f for f in b.probe.frames if hasattr(f.cmd, "image_data")]
        assert [(f.cmd.file_offset, len(f.cmd.image_data)) for f in blocks] == [
            (100, 50), (150, 50), (200, 50), (250, 50)]
        assert b"".join(f.cmd.image_data for f in blocks) == ESME_IMAGE[100:300]
        gaps = [later.at - earlier.at for earlier, later in zip(blocks, blocks[1:], strict=False)]
        assert gaps == pytest.approx([0.1] * 3), "the larger of response spacing and block period"
        assert len({f.hdr.tsn for f in blocks}) == 4


async def test_a_block_period_set_as_a_fault_spaces_a_pages_blocks_too() -> None:
    # The period the CH imposes is one: told in WAIT_FOR_DATA to a device asking per block, kept
    # by the CH itself between the blocks of a page (a paging device asks per page).
    async with bench(config=OtaServerConfig(minimum_block_period_ms=0)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        b.server.faults.set(BlockPeriod(ms=300))
        await b.probe.send("image_page", field_control=0, manufacturer_code=ESME.manufacturer_code,
                           image_type=ESME.image_type, file_version=NEXT_FILE_VERSION, file_offset=0,
                           maximum_data_size=63, page_size=150, response_spacing=40)
        await asyncio.sleep(5)
        blocks = [f for f in b.probe.frames if hasattr(f.cmd, "image_data")]
        gaps = [later.at - earlier.at for earlier, later in zip(blocks, blocks[1:], strict=False)]
        assert len(blocks) == 3 and gaps == pytest.approx([0.3] * 2), "the fault's period, not the configured one"


# -- Upgrade End, stall, discard, notify -------------------------------------------------------


async def test_upgrade_end_success_is_answered_wait_for_upgrade_command() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await b.probe.ask("query_next_image", **b.probe.query())
        await _download(b)
        await asyncio.sleep(12)  # the device checks the signature
        reply = await b.probe.ask("upgrade_end", **b.probe.end())
        rsp = reply.cmd
        assert rsp.upgrade_time == WAIT_FOR_UPGRADE_COMMAND == 0xFFFFFFFF
        assert rsp.current_time == int((EPOCH - ZIGBEE_EPOCH).total_seconds() + reply.at)
        assert (rsp.manufacturer_code, rsp.image_type, rsp.file_version) == (
            ESME.manufacturer_code, ESME.image_type, NEXT_FILE_VERSION)
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.SUCCESS and outcome.device_status == Status.SUCCESS
        assert outcome.bytes_sent == len(ESME_IMAGE) and outcome.blocks == -(-len(ESME_IMAGE) // 50)
        assert outcome.image_sha256 == hashlib.sha256(ESME_IMAGE).digest()
        assert outcome.duration == pytest.approx(12)
        assert outcome.upgrade_time == 0xFFFFFFFF
        assert b.server.image_waiting(PROBE) is None and PROBE not in b.server.transfers


async def test_upgrade_end_just_before_the_timeout_ends_once_in_success_however_slow_its_answer() -> None:
    async with bench() as b:
        assert b.server is not None
        send = OtaPeer.send

        async def slow_link(peer: OtaPeer, frame: bytes) -> bool:  # the answer takes 5 s to be confirmed
            await asyncio.sleep(5)  # (a sleepy device's poll)
            return await send(peer, frame)

        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await _download(b)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(OtaPeer, "send", slow_link)
            await asyncio.sleep(59)  # the device checks the signature for most of upgrade_end_timeout_s
            await b.probe.send("upgrade_end", **b.probe.end())
            await asyncio.sleep(10)
        assert [o.result for o in b.recorder.finished] == [TransferResult.SUCCESS]


async def test_upgrade_end_refusal_gets_a_default_response_and_file_transfer_failure() -> None:
    async with bench() as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await _download(b)
        rsp = (await b.probe.ask("upgrade_end", **b.probe.end(Status.INVALID_IMAGE))).cmd
        assert isinstance(rsp, foundation.DefaultResponse)
        assert (rsp.command_id, rsp.status) == (Ota.ServerCommandDefs.upgrade_end.id, Status.SUCCESS)
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.FILE_TRANSFER_FAILURE
        assert outcome.device_status == Status.INVALID_IMAGE and "INVALID_IMAGE" in outcome.reason


async def test_a_stalled_transfer_is_interrupted_without_ccs08_and_the_device_resumes_it() -> None:
    async with bench(config=OtaServerConfig(stall_timeout_s=20)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await b.probe.ask("image_block", **b.probe.block(0))
        await asyncio.sleep(19.9)
        await b.probe.ask("image_block", **b.probe.block(50))
        await asyncio.sleep(19.9)
        assert b.recorder.interrupted == []
        await asyncio.sleep(0.2)
        (interrupted,) = b.recorder.interrupted
        assert "20 s" in interrupted.reason and interrupted.offset == 100 and interrupted.size == len(ESME_IMAGE)
        assert b.recorder.finished == [], "no CCS08: the device may come back"
        # The image still waits; the device comes back and resumes from its offset, as a new transfer.
        assert b.server.image_waiting(PROBE) is not None
        assert (await b.probe.ask("image_block", **b.probe.block(100))).cmd.status == Status.SUCCESS
        assert len(b.recorder.started) == 2


async def test_a_device_that_never_starts_its_transfer_is_given_up_with_ccs08_3_after_the_target_wait() -> None:
    async with bench(config=OtaServerConfig(target_wait_s=3600)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await asyncio.sleep(3599)
        assert b.recorder.finished == [] and b.server.image_waiting(PROBE) is not None
        await asyncio.sleep(2)
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.FILE_TRANSFER_FAILURE and outcome.blocks == 0
        assert "started no transfer within 3600 s" in outcome.reason
        assert b.server.image_waiting(PROBE) is None
        assert (await b.probe.ask("query_next_image", **b.probe.query())).cmd.status == Status.NO_IMAGE_AVAILABLE
        await asyncio.sleep(2 * 3600)
        assert len(b.recorder.finished) == 1


async def test_a_device_that_does_not_come_back_to_its_transfer_is_given_up_with_what_it_was_sent() -> None:
    async with bench(config=OtaServerConfig(stall_timeout_s=20, target_wait_s=3600)) as b:
        assert b.server is not None
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await asyncio.sleep(3000)  # a transfer that starts late ...
        await b.probe.ask("image_block", **b.probe.block(0))
        await asyncio.sleep(20 + 3599)  # ... goes quiet: interrupted, then the full wait again
        assert b.recorder.finished == [] and len(b.recorder.interrupted) == 1
        await asyncio.sleep(2)
        (outcome,) = b.recorder.finished
        assert outcome.result is TransferResult.FILE_TRANSFER_FAILURE and outcome.blocks == 1
        assert "did not come back to its transfer within 3600 s" in outcome.reason


async def test_overwritten_image_ends_the_transfer_as_discarded() -> None:
    async with bench() as b:
        assert b.server is not None
        old = b.server.offer(parse_image(ESME_IMAGE), [PROBE, "00-11-22-33-44-55-66-99"])
        await b.probe.ask("image_block", **b.probe.block(0))
        newer = sample_bytes("esme", INITIAL_FILE_VERSION)
        assert b.server.offer(parse_image(newer), [PROBE]) is not None
        results = {(o.device, o.result, o.blocks) for o in b.recorder.finished}
        assert results == {(PROBE, TransferResult.IMAGE_DISCARDED, 1),
                           (EntityId.parse("00-11-22-33-44-55-66-99"), TransferResult.IMAGE_DISCARDED, 0)}
        assert all(o.image == old.key for o in b.recorder.finished if old is not None)
        assert (await b.probe.ask("image_block", **b.probe.block(50))).cmd.status == Status.ABORT


async def test_notify_sends_image_notify_with_the_waiting_image() -> None:
    async with bench() as b:
        assert b.server is not None
        with pytest.raises(BadInput, match="no image is waiting"):
            await b.server.notify(PROBE)
        b.server.offer(parse_image(ESME_IMAGE), [PROBE])
        await b.server.notify(PROBE_IEEE)
        await asyncio.sleep(0)
        (frame,) = b.probe.frames
        cmd = frame.cmd
        payload = Ota.ImageNotifyCommand.PayloadType
        assert cmd.payload_type == payload.QueryJitter_ManufacturerCode_ImageType_NewFileVersion
        assert (cmd.query_jitter, cmd.manufacturer_code, cmd.image_type, cmd.new_file_version) == (
            100, ESME.manufacturer_code, ESME.image_type, NEXT_FILE_VERSION)
        b.probe.awake = False
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await b.server.notify(PROBE)


async def test_upgrade_command_tells_the_device_when_to_switch() -> None:
    async with bench() as b:
        assert b.server is not None
        key = ImageKey(ESME.manufacturer_code, ESME.image_type, NEXT_FILE_VERSION)
        assert await b.server.send_upgrade_command(PROBE, key, 3600)
        await asyncio.sleep(0)
        (frame,) = b.probe.frames
        cmd = frame.cmd
        assert cmd.current_time == int((EPOCH - ZIGBEE_EPOCH).total_seconds() + frame.at)
        assert cmd.upgrade_time == cmd.current_time + 3600
        assert (cmd.manufacturer_code, cmd.image_type, cmd.file_version) == (
            ESME.manufacturer_code, ESME.image_type, NEXT_FILE_VERSION)
        b.probe.awake = False
        assert not await b.server.send_upgrade_command(PROBE, key, 0)
        with pytest.raises(BadInput, match="not on the CH's network"):
            await b.server.send_upgrade_command(EntityId.parse("00-11-22-33-44-55-66-99"), key, 0)


def test_entity_and_eui64_round_trip() -> None:
    assert str(PROBE) == "00-11-22-33-44-55-66-01"
    assert eui64_of(PROBE) == PROBE_IEEE


@pytest.mark.parametrize("bad", [
    {"max_block_size": 64}, {"max_block_size": 0}, {"stall_timeout_s": 0}, {"minimum_block_period_ms": -1},
    {"query_jitter": 101}, {"upgrade_time": 1 << 32},
])
def test_config_refuses_out_of_range_knobs(bad: dict[str, Any]) -> None:
    with pytest.raises(BadInput):
        OtaServerConfig(**bad)
