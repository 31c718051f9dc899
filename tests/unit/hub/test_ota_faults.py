"""The CH as a test instrument: each fault of its OTA server, frame by frame, and the server's log.

The probe of ``test_ota_server`` stands in for a device and records every frame the CH sends,
so each test says what a fault puts on the air: still well-formed ZCL frames, wrong only in
the way the fault says.
"""

from __future__ import annotations

import asyncio

import pytest
import zigpy.types as t
from zigpy.zcl.clusters.general import Ota

from hanbench.errors import BadInput
from hanbench.gbcs.image import parse_image
from hanbench.hub.ota_faults import (
    Abort, Answer, BlockPeriod, BlockSizeCap, CorruptBlock, Decision, Duplicate, ImageNotifyVariant, Late,
    OtaFaults, Restart, ShortBlock, Stall, Unanswered, UpgradeTime, WaitForData, WrongOffset,
)
from hanbench.hub.ota_log import Answered, Asked, OtaCommand, OtaLog
from test_ota_server import ESME, ESME_IMAGE, PROBE, Bench, Status, bench

pytestmark = pytest.mark.looptime


def served(b: Bench) -> None:
    assert b.server is not None
    b.server.offer(parse_image(ESME_IMAGE), [PROBE])


# -- the policy alone --------------------------------------------------------------------------------


def test_no_fault_means_the_server_checks_one_flag() -> None:
    faults = OtaFaults()
    assert not faults.active and faults.answer(0, 0.0) is None
    assert faults.shape(0, b"abc", b"abcdef").data == b"abc"
    assert (faults.block_size(50), faults.block_period_ms(0), faults.upgrade_time(0xFFFFFFFF)) == (50, 0, 0xFFFFFFFF)


def test_a_fault_fires_at_its_offset_for_its_count_then_is_spent() -> None:
    faults = OtaFaults()
    faults.set(WaitForData(at_offset=100, times=2, wait_s=7))
    assert faults.answer(50, 0.0) is None, "before its offset"
    assert faults.answer(100, 0.0) == Decision(Answer.WAIT_FOR_DATA, 7)
    assert faults.answer(150, 0.0) == Decision(Answer.WAIT_FOR_DATA, 7)
    assert faults.answer(200, 0.0) is None and not faults.active


def test_a_stall_lasts_its_seconds_from_the_first_request_it_silences() -> None:
    faults = OtaFaults()
    faults.set(Stall(at_offset=10, seconds=30))
    assert faults.answer(10, 100.0) == Decision(Answer.SILENT)
    assert faults.answer(10, 129.0) == Decision(Answer.SILENT)
    assert faults.answer(10, 130.0) is None and not faults.active


def test_settings_hold_until_cleared() -> None:
    faults = OtaFaults()
    faults.set(BlockSizeCap(size=16), BlockPeriod(ms=500), UpgradeTime(value=0))
    for _ in range(3):
        assert (faults.block_size(50), faults.block_period_ms(0), faults.upgrade_time(0xFFFFFFFF)) == (16, 500, 0)
    faults.clear()
    assert not faults.active and faults.block_size(50) == 50


@pytest.mark.parametrize("bad", [
    lambda: WaitForData(times=0), lambda: Unanswered(at_offset=-1), lambda: BlockSizeCap(size=0),
    lambda: BlockSizeCap(size=64), lambda: BlockPeriod(ms=70000), lambda: UpgradeTime(value=1 << 32),
    lambda: ImageNotifyVariant(payload_type=4), lambda: ImageNotifyVariant(query_jitter=101),
    lambda: OtaFaults().set("corrupt"),  # type: ignore[arg-type]
])
def test_a_fault_that_cannot_be_is_bad_input(bad: object) -> None:
    with pytest.raises(BadInput):
        bad()  # type: ignore[operator]


# -- on the air ------------------------------------------------------------------------------------------


async def test_a_corrupt_block_differs_from_the_image_in_one_bit_and_the_next_block_is_clean() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(CorruptBlock())
        first = (await b.probe.ask("image_block", **b.probe.block(0, size=50))).cmd
        damaged = int.from_bytes(first.image_data, "big") ^ int.from_bytes(ESME_IMAGE[:50], "big")
        assert first.status == Status.SUCCESS and damaged.bit_count() == 1
        second = (await b.probe.ask("image_block", **b.probe.block(50, size=50))).cmd
        assert second.image_data == ESME_IMAGE[50:100]


async def test_short_capped_and_misplaced_blocks_carry_the_image_s_bytes_for_the_offset_they_name() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(ShortBlock(length=5), WrongOffset(at_offset=100, shift=25), BlockSizeCap(size=20))
        short = (await b.probe.ask("image_block", **b.probe.block(0))).cmd
        assert (short.file_offset, short.image_data) == (0, ESME_IMAGE[:5])
        capped = (await b.probe.ask("image_block", **b.probe.block(5))).cmd
        assert (capped.file_offset, capped.image_data) == (5, ESME_IMAGE[5:25])
        moved = (await b.probe.ask("image_block", **b.probe.block(100))).cmd
        assert (moved.file_offset, moved.image_data) == (125, ESME_IMAGE[125:145])


async def test_a_duplicated_block_goes_twice_under_one_tsn_and_a_late_one_after_its_delay() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(Duplicate(), Late(at_offset=63, delay_s=12))
        tsn = await b.probe.send("image_block", **b.probe.block(0))
        await asyncio.sleep(1)
        assert [f.hdr.tsn for f in b.probe.frames] == [tsn, tsn]
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        await b.probe.send("image_block", **b.probe.block(63))
        await asyncio.sleep(11)
        assert len(b.probe.frames) == 2, "a late answer is not on time"
        await asyncio.sleep(2)
        late = b.probe.frames[2]
        assert late.at - asked_at >= 12 and late.cmd.file_offset == 63


async def test_wait_for_data_storm_unanswered_and_abort_answer_as_told() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(WaitForData(times=2, wait_s=9), Unanswered(at_offset=10), Abort(at_offset=20))
        for _ in range(2):
            wait = (await b.probe.ask("image_block", **b.probe.block(0))).cmd
            assert (wait.status, wait.request_time - wait.current_time) == (Status.WAIT_FOR_DATA, 9)
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.SUCCESS
        seen = len(b.probe.frames)
        await b.probe.send("image_block", **b.probe.block(10))
        await asyncio.sleep(5)
        assert len(b.probe.frames) == seen, "an unanswered request got an answer"
        assert (await b.probe.ask("image_block", **b.probe.block(10))).cmd.status == Status.SUCCESS
        assert (await b.probe.ask("image_block", **b.probe.block(20))).cmd.status == Status.ABORT


async def test_a_block_period_fault_makes_an_early_request_wait_and_says_the_period() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(BlockPeriod(ms=3000))
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.SUCCESS
        early = (await b.probe.ask("image_block", **b.probe.block(63))).cmd
        assert (early.status, early.minimum_block_period) == (Status.WAIT_FOR_DATA, 3000)
        assert early.request_time - early.current_time == 3


async def test_a_restart_forgets_the_transfer_answers_nothing_for_its_outage_then_serves_a_new_transfer() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        assert (await b.probe.ask("query_next_image", **b.probe.query())).cmd.status == Status.SUCCESS
        b.server.faults.set(Restart(at_offset=63, outage_s=20))
        assert (await b.probe.ask("image_block", **b.probe.block(0))).cmd.status == Status.SUCCESS
        seen = len(b.probe.frames)
        await b.probe.send("image_block", **b.probe.block(63))
        await asyncio.sleep(10)
        await b.probe.send("query_next_image", **b.probe.query())
        await asyncio.sleep(9)
        assert len(b.probe.frames) == seen and not b.server.transfers, "a restarting CH said something"
        assert not b.recorder.finished, "a restart reports no outcome: the CH forgot the transfer"
        await asyncio.sleep(2)
        resumed = (await b.probe.ask("image_block", **b.probe.block(63))).cmd
        assert (resumed.status, resumed.file_offset) == (Status.SUCCESS, 63)
        assert len(b.recorder.started) == 2


async def test_an_upgrade_time_fault_changes_the_upgrade_end_response() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        b.server.faults.set(UpgradeTime(value=0))
        await b.probe.ask("query_next_image", **b.probe.query())
        rsp = (await b.probe.ask("upgrade_end", **b.probe.end())).cmd
        assert rsp.upgrade_time == 0
        assert b.recorder.finished[-1].upgrade_time == 0


async def test_the_log_has_every_request_and_answer_while_watched_and_nothing_after() -> None:
    async with bench() as b:
        served(b)
        assert b.server is not None
        log = OtaLog()
        stop = b.server.watch(log)
        b.server.faults.set(WaitForData(at_offset=50, wait_s=4))
        await b.probe.ask("query_next_image", **b.probe.query())
        await b.probe.ask("image_block", **b.probe.block(0, size=50))
        await b.probe.ask("image_block", **b.probe.block(50, size=50))
        stop()
        await b.probe.ask("image_block", **b.probe.block(50, size=50))
        asked = [(r.command, r.offset, r.maximum_data_size, r.hardware_version) for r in log.asked(PROBE)]
        assert asked == [(OtaCommand.QUERY_NEXT_IMAGE, None, None, 0x1111), (OtaCommand.IMAGE_BLOCK, 0, 50, None),
                         (OtaCommand.IMAGE_BLOCK, 50, 50, None)]
        answers = [(r.status, r.offset, r.length, r.wait_s) for r in log.answered(PROBE)]
        assert answers == [(Status.SUCCESS, None, None, None), (Status.SUCCESS, 0, 50, None),
                           (Status.WAIT_FOR_DATA, None, None, 4.0)]
        assert all(isinstance(r, Asked | Answered) for r in log.records)


@pytest.mark.parametrize("payload_type", [0, 1, 2, 3])
async def test_image_notify_variants_carry_exactly_the_fields_of_their_payload_type(payload_type: int) -> None:
    async with bench() as b:
        assert b.server is not None
        variant = ImageNotifyVariant(payload_type, 42, ESME.manufacturer_code, ESME.image_type, 7)
        await b.server.send_image_notify(PROBE, variant)
        await asyncio.sleep(1)
        [frame] = b.probe.frames
        assert frame.hdr.command_id == Ota.ClientCommandDefs.image_notify.id
        cmd = frame.cmd
        assert (int(cmd.payload_type), cmd.query_jitter) == (payload_type, 42)
        present = [cmd.manufacturer_code, cmd.image_type, cmd.new_file_version]
        assert present[:payload_type] == [ESME.manufacturer_code, ESME.image_type, 7][:payload_type]
        assert present[payload_type:] == [None] * (3 - payload_type)


async def test_a_broadcast_image_notify_reaches_every_listening_device_without_asking_for_a_default_response() -> None:
    async with bench() as b:
        assert b.server is not None
        await b.server.send_image_notify(None, ImageNotifyVariant(0, 100, broadcast=True))
        await asyncio.sleep(1)
        [frame] = b.probe.frames
        assert frame.hdr.frame_control.disable_default_response
        assert (int(frame.cmd.payload_type), frame.cmd.query_jitter) == (0, 100)
        with pytest.raises(BadInput, match="carries manufacturer_code"):
            await b.server.send_image_notify(PROBE, ImageNotifyVariant(1, 100))


async def test_a_device_not_on_the_network_is_bad_input_for_a_unicast_notify() -> None:
    async with bench() as b:
        assert b.server is not None
        with pytest.raises(BadInput, match="not on the CH's network"):
            await b.server.send_image_notify(t.EUI64.convert("00:00:00:00:00:00:00:09"), ImageNotifyVariant(0))
