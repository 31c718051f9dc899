"""Each known-bad behaviour an emulated device can be given does what its field report says,
and the same device without it does not; and the OTA client attributes a server reads.

Every case runs one ESME on the virtual air with the CH (``han_premises``), once with the
defect and once without, and reads what the device did on the wire (the CH's OTA log) or in
its firmware state. That the device conformance suite catches each defect is proven by
``tests/device_conformance/test_defects_caught.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable

import pytest
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from fixture_files import relabelled, sample
from han_premises import ENTITIES, KEYS, OTHER_SUPPLIER, Premises, premises
from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.devices.firmware import ActivationTrigger, Activated
from hanbench.devices.ota_client import OVERSIZED_BLOCK, ClientResult
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.frame import GbcsMessage
from hanbench.gbcs.cs06 import CANCELLATION_DATETIME, Accepted, ActivationResult, read_activate_firmware_response
from hanbench.hub.ota_faults import Duplicate, ImageNotifyVariant, Unanswered, UpgradeTime, WaitForData
from hanbench.hub.ota_log import OtaCommand, OtaLog

pytestmark = pytest.mark.looptime

ESME = DeviceType.ESME
DEVICE = ENTITIES[ESME]
Status = foundation.Status


async def with_esme(defects: Defects, body: Callable[[Premises, OtaLog], Awaitable[None]]) -> None:
    async with premises([ESME], defects={ESME: defects}) as p:
        log = OtaLog()
        p.hub.ota.watch(log)
        await body(p, log)


async def downloaded(p: Premises, log: OtaLog, image: object = None) -> Status | None:
    """Distribute ``image`` (the sample) to the ESME; the status it ended the upgrade with, or None."""
    await p.hub.distribute(image or sample(ESME), [DEVICE])  # type: ignore[arg-type]
    try:
        await log.until(lambda: bool(log.asked(DEVICE, OtaCommand.UPGRADE_END)), 600, "Upgrade End")
    except TimeoutError:
        return None
    status = log.asked(DEVICE, OtaCommand.UPGRADE_END)[-1].status
    await asyncio.sleep(5)  # the answer to Upgrade End and what the device does with it
    return status


# -- parsing ----------------------------------------------------------------------------------------


def test_every_defect_is_described_and_named_as_a_bench_file_writes_it() -> None:
    assert Defects.parse([d.value for d in Defect]) == frozenset(Defect)
    assert all(d.description and d.device_types for d in Defect)


@pytest.mark.parametrize(("names", "device_type", "message"), [
    (["ignores_everything"], None, "no defect 'ignores_everything'; known defects: ignores_wait_for_data"),
    (["skips_the_mac_check", "skips_the_mac_check"], None, "listed twice"),
    (["skips_the_mac_check"], DeviceType.IHD, "a device of type ihd cannot have defect 'skips_the_mac_check'"),
    (["runs_image_on_upgrade_end_response"], DeviceType.PPMID, "a device of type ppmid cannot have"),
])
def test_a_defect_a_device_cannot_have_is_bad_input(names: list[str], device_type: DeviceType | None,
                                                    message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Defects.parse(names, device_type)


# -- the OTA client's ------------------------------------------------------------------------------------


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.OVERSIZED_BLOCK_REQUESTS})], ids=["good", "bad"])
async def test_oversized_block_requests(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        sizes = {r.maximum_data_size for r in log.blocks_asked(DEVICE)}
        assert sizes == ({OVERSIZED_BLOCK} if defects else {63})

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.IGNORES_WAIT_FOR_DATA})], ids=["good", "bad"])
async def test_ignoring_wait_for_data(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        p.hub.ota.faults.set(WaitForData(at_offset=1000, times=3, wait_s=30))
        assert await downloaded(p, log) == Status.SUCCESS
        told = log.answered(DEVICE, Status.WAIT_FOR_DATA)[0].at
        back = next(r.at for r in log.blocks_asked(DEVICE) if r.at > told)
        assert (back - told < 1) if defects else (back - told >= 30)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.RESTARTS_AFTER_LOST_BLOCK})], ids=["good", "bad"])
async def test_restarting_from_zero_after_a_lost_block(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        p.hub.ota.faults.set(Unanswered(at_offset=1000))
        assert await downloaded(p, log) == Status.SUCCESS
        offsets = [r.offset for r in log.blocks_asked(DEVICE)]
        lost = next(i for i, offset in enumerate(offsets) if offset is not None and offset >= 1000)
        assert offsets[lost + 1] == (0 if defects else offsets[lost])

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.QUERIES_WITHOUT_HARDWARE_VERSION})],
                         ids=["good", "bad"])
async def test_leaving_the_hardware_version_out_of_the_query(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        named = {q.hardware_version for q in log.asked(DEVICE, OtaCommand.QUERY_NEXT_IMAGE)}
        assert named == ({None} if defects else {p.devices[ESME].settings.hardware_version})

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.IGNORES_QUERY_JITTER})], ids=["good", "bad"])
async def test_ignoring_the_query_jitter(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        for _ in range(5):
            await p.hub.ota.send_image_notify(None, ImageNotifyVariant(0, 1, broadcast=True))
            await asyncio.sleep(10)
        queries = len(log.asked(DEVICE, OtaCommand.QUERY_NEXT_IMAGE))
        assert queries == 5 if defects else queries <= 1  # a fair draw of 1..100 is at most 1 once in 100

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.GIVES_UP_ON_WAIT_FOR_DATA})], ids=["good", "bad"])
async def test_giving_up_after_a_run_of_wait_for_data(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        p.hub.ota.faults.set(WaitForData(at_offset=1000, times=10, wait_s=1))
        await downloaded(p, log)
        first = next(o.result for o in p.devices[ESME].ota.outcomes if o.result is not ClientResult.NO_IMAGE)
        assert first is (ClientResult.INTERRUPTED if defects else ClientResult.KEPT)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.APPENDS_DUPLICATE_BLOCKS})], ids=["good", "bad"])
async def test_appending_a_duplicated_block_twice(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        p.hub.ota.faults.set(Duplicate(at_offset=1000))
        assert await downloaded(p, log) == (Status.INVALID_IMAGE if defects else Status.SUCCESS)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.NEVER_SENDS_INVALID_IMAGE})], ids=["good", "bad"])
async def test_never_sending_invalid_image(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        forged = sample(ESME).signed(KEYS.private_key(OTHER_SUPPLIER))
        status = await downloaded(p, log, forged)
        assert status == (None if defects else Status.INVALID_IMAGE)
        assert p.devices[ESME].firmware.held is None

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.RUNS_IMAGE_ON_UPGRADE_END})], ids=["good", "bad"])
async def test_running_the_image_on_an_upgrade_time(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        activations: list[Activated] = []
        p.devices[ESME].firmware.subscribe(lambda e: activations.append(e) if isinstance(e, Activated) else None)
        p.hub.ota.faults.set(UpgradeTime(value=0))
        assert await downloaded(p, log) == Status.SUCCESS
        assert [a.trigger for a in activations] == ([ActivationTrigger.CH_UPGRADE_COMMAND] if defects else [])

    await with_esme(defects, body)


async def test_the_ota_client_attributes_follow_the_download_and_the_activation() -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        read = p.hub.ota.read_client_attributes
        names = ("image_upgrade_status", "file_offset")
        assert await read(DEVICE, names) == {"image_upgrade_status": Ota.ImageUpgradeStatus.Normal, "file_offset": 0}
        p.hub.ota.faults.set(Unanswered(at_offset=1000, times=3))
        await p.hub.distribute(sample(ESME), [DEVICE])
        await log.until(lambda: any(r.offset >= 1000 for r in log.blocks_asked(DEVICE) if r.offset), 600, "offset 1000")
        during = await read(DEVICE, names)
        assert during["image_upgrade_status"] == Ota.ImageUpgradeStatus.Download_in_progress
        assert during["file_offset"] == log.blocks_asked(DEVICE)[-1].offset
        await log.until(lambda: bool(log.answered(DEVICE, Status.SUCCESS)[-1:] and
                                     log.answered(DEVICE)[-1].command is OtaCommand.UPGRADE_END), 600, "the end")
        await asyncio.sleep(1)
        after = await read(DEVICE, names)
        assert after == {"image_upgrade_status": Ota.ImageUpgradeStatus.Waiting_to_upgrade,
                         "file_offset": sample(ESME).header.total_image_size}
        held = p.devices[ESME].firmware.held
        assert held is not None and held.image_hash is not None
        await p.hub.send_command(p.cs06(ESME, held.image_hash))
        assert await read(DEVICE, names) == {"image_upgrade_status": Ota.ImageUpgradeStatus.Normal, "file_offset": 0}

    await with_esme(NO_DEFECTS, body)


# -- the image check's and the GBCS command checks' --------------------------------------------------------


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.ACCEPTS_BAD_SIGNATURE})], ids=["good", "bad"])
async def test_accepting_a_bad_signature(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        forged = sample(ESME).signed(KEYS.private_key(OTHER_SUPPLIER))
        assert await downloaded(p, log, forged) == (Status.SUCCESS if defects else Status.INVALID_IMAGE)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.VERSION_FROM_OTA_HEADER})], ids=["good", "bad"])
async def test_believing_the_ota_header(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        lie = relabelled(sample(ESME), file_version=0xFFFFFFFE)
        assert await downloaded(p, log, lie) == (Status.SUCCESS if defects else Status.INVALID_IMAGE)
        held = p.devices[ESME].firmware.held
        assert (held.file_version if held else None) == (0xFFFFFFFE if defects else None)

    await with_esme(defects, body)


def _unmacd(command: GbcsMessage) -> GbcsMessage:
    return dataclasses.replace(command, mac=None)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.SKIPS_MAC_CHECK})], ids=["good", "bad"])
async def test_skipping_the_mac_check(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        command = _unmacd(p.cs06(ESME, sample(ESME).manufacturer_image_hash))
        with pytest.raises(TimeoutError) if not defects else contextlib.nullcontext():
            await asyncio.wait_for(p.hub.send_command(command), 60)
        assert (p.devices[ESME].firmware.running.file_version == 2) == bool(defects)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.SKIPS_COUNTER_CHECK})], ids=["good", "bad"])
async def test_skipping_the_counter_check(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        stale = p.cs06(ESME, bytes(32))  # authentic, answered: hash mismatch
        await p.hub.send_command(stale)
        replay = p.cs06(ESME, sample(ESME).manufacturer_image_hash, counter=stale.originator_counter)
        with pytest.raises(TimeoutError) if not defects else contextlib.nullcontext():
            await asyncio.wait_for(p.hub.send_command(replay), 60)
        assert (p.devices[ESME].firmware.running.file_version == 2) == bool(defects)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.FORGETS_FUTURE_DATED_ACTIVATION})],
                         ids=["good", "bad"])
async def test_forgetting_a_future_dated_activation_over_a_power_cycle(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        device = p.devices[ESME]
        at = (p.clock.now() + dt.timedelta(hours=2)).replace(microsecond=0)
        await p.hub.send_command(p.cs06(ESME, sample(ESME).manufacturer_image_hash, when=at))
        await device.power_off()
        await asyncio.sleep(600)
        await device.power_on()
        await asyncio.sleep(3 * 3600)
        assert (device.firmware.running.file_version == 2) == (not defects)

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.CHECKS_HASH_BEFORE_DATE_TIME})], ids=["good", "bad"])
async def test_checking_a_future_dated_activations_hash_on_arrival(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        at = (p.clock.now() + dt.timedelta(hours=2)).replace(microsecond=0)
        answer = read_activate_firmware_response(await p.hub.send_command(p.cs06(ESME, bytes(32), when=at)))
        assert (answer.code if defects else answer) == (ActivationResult.HASH_MISMATCH if defects else Accepted())

    await with_esme(defects, body)


@pytest.mark.parametrize("defects", [NO_DEFECTS, Defects({Defect.RESTORES_CANCELLED_ACTIVATION})], ids=["good", "bad"])
async def test_restoring_a_cancelled_activation_after_a_power_cycle(defects: Defects) -> None:
    async def body(p: Premises, log: OtaLog) -> None:
        assert await downloaded(p, log) == Status.SUCCESS
        device = p.devices[ESME]
        image_hash = sample(ESME).manufacturer_image_hash
        at = (p.clock.now() + dt.timedelta(hours=2)).replace(microsecond=0)
        await p.hub.send_command(p.cs06(ESME, image_hash, when=at))
        await p.hub.send_command(p.cs06(ESME, image_hash, when=CANCELLATION_DATETIME))
        await device.power_off()
        await asyncio.sleep(600)
        await device.power_on()
        await asyncio.sleep(3 * 3600)
        assert (device.firmware.running.file_version == 2) == bool(defects)

    await with_esme(defects, body)
