"""The device's Zigbee OTA Upgrade client as a GB Comms Hub's OTA server drives it (ZCL OTA,
chapter 11 of the ZCL: 07-5123), with the CH's faults as the instrument.

Each test puts the image under test in front of the device under test and reads the device's
requests from the CH's OTA log; a fault test sets the CH's fault first.
"""

from __future__ import annotations

import pytest

from hanbench import Bench, BenchDevice
from hanbench.bench.bench_config import BenchKind
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.image_types import profile_for
from hanbench.gbcs.roles import CS06_DEVICE_TYPES
from hanbench.hub.ota_faults import (
    MAX_BLOCK_SIZE_LIMIT, Abort, BlockPeriod, BlockSizeCap, CorruptBlock, Duplicate, ImageNotifyVariant, Late,
    Restart, ShortBlock, Stall, Unanswered, UpgradeTime, WaitForData, WrongOffset,
)
from hanbench.bench.events import ImageFlagged, ImageNotifySent
from hanbench.hub.ota_log import OtaCommand, OtaLogTimeout
from hanbench.suites.device.steps import (
    Status, answer_timeout_s, deliver, needs, offer, ota_server, quiet_s, read, relabelled, requests_after,
    wait_s, watching,
)

AWAKE = frozenset(DeviceType) - {DeviceType.GSME}

#: The share of a WAIT_FOR_DATA's wait a device must be seen to keep: the CH logs its answer once
#: the frame is confirmed, a few milliseconds after the device got it and started waiting (a
#: device that ignores the wait asks again within milliseconds).
KEPT_SHARE = 0.9

# Marked for strict mode too: a suite run from the installed package has no ini to set auto mode.
pytestmark = pytest.mark.asyncio


def all_fired(bench: Bench) -> None:
    """Every fault the test set reached the device: a download that never came to a fault's
    offset would pass a test of that fault on any device."""
    left = ota_server(bench).faults.faults
    assert not left, f"the download ended before these faults fired: {left}"


def kept(device: BenchDevice, image: bytes) -> None:
    """The device kept exactly the image under test. A CS06 device type (ESME, GSME, HCALCS)
    holds it: a CS06 names the hash of the image to activate, so one that runs that image
    already and kept nothing has nothing to activate. A PPMID (SR 11.4) or an IHD (the CH's
    upgrade command) may run it at once instead."""
    digest = read(device, image).manufacturer_image_hash
    state = device.state
    if device.type in CS06_DEVICE_TYPES:
        assert state.held_hash == digest, (
            f"{device.name} holds {_hex(state.held_hash)} (runs {_hex(state.running_hash)}), not the image's hash "
            f"{digest.hex()}: a CS06 names the hash of the image to activate")
        return
    assert digest in (state.held_hash, state.running_hash), \
        f"{device.name} holds {_hex(state.held_hash)} and runs {_hex(state.running_hash)}, not the image's hash " \
        f"{digest.hex()}"


def _hex(digest: bytes | None) -> str:
    return "none" if digest is None else digest.hex()


@pytest.mark.clause("ZCL OTA 11.13.4 Query Next Image Request: hardware version")
async def test_query_next_image_names_the_hardware_version(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    assert end.status == Status.SUCCESS
    queries = log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE)
    assert queries and all(q.hardware_version == device_under_test.config.hardware_version for q in queries), \
        f"GBCS devices name their hardware version so the CH can refuse a misfit; asked {queries}"


@pytest.mark.clause("ZCL OTA 11.13.4 Query Next Image Request: with the hardware version, no image for other hardware")
async def test_an_image_for_other_hardware_is_not_offered_to_a_device_that_names_its_own(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    hardware = device_under_test.config.hardware_version
    low, high = (hardware + 1, 0xFFFF) if hardware < 0xFFFF else (0, hardware - 1)
    foreign = relabelled(read(device_under_test, image_under_test), hw_min=low, hw_max=high)
    with watching(bench) as log:
        await offer(bench, device_under_test, foreign)

        def refused() -> bool:
            return any(a.command is OtaCommand.QUERY_NEXT_IMAGE
                       for a in log.answered(device_under_test.id, Status.NO_IMAGE_AVAILABLE))

        await log.until(refused, wait_s(bench), "NO_IMAGE_AVAILABLE to the device's query")
        await bench.advance(answer_timeout_s(bench))
    queries = log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE)
    assert all(q.hardware_version == hardware for q in queries), \
        f"queried with hardware versions {[q.hardware_version for q in queries]}, not its own 0x{hardware:04X}: " \
        "a query without the field leaves the CH no way to keep an image for other hardware from it"
    assert log.blocks_asked(device_under_test.id) == [], f"downloaded an image for hardware 0x{low:04X}..0x{high:04X}"
    assert device_under_test.state.held_hash is None


#: Broadcast Image Notifies sent, and the query jitter they carry: a device drawing 1..100 fairly
#: queries after some and not all of them (all or none: a chance of 2 in 2**16).
JITTER_NOTIFIES = 16
JITTER = 50


@pytest.mark.clause("ZCL OTA 11.13.3 Image Notify: broadcast, a query only when the device's draw is within the jitter")
async def test_a_broadcast_image_notify_is_answered_only_within_its_query_jitter(
        bench: Bench, device_under_test: BenchDevice) -> None:
    needs(device_under_test, AWAKE, "a sleepy GSME hears no Image Notify; it pulls at its wakes")
    profile = profile_for(device_under_test.type)
    notify = ImageNotifyVariant(3, JITTER, profile.manufacturer_code, profile.image_type,
                                device_under_test.state.running_version + 1, broadcast=True)
    queried = 0
    with watching(bench) as log:
        def queries() -> int:
            return len(log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE))

        for _ in range(JITTER_NOTIFIES):
            before = queries()
            await ota_server(bench).send_image_notify(None, notify)
            try:
                await log.until(lambda: queries() > before, answer_timeout_s(bench), "a query")
            except OtaLogTimeout:
                continue
            queried += 1
            await log.until(lambda: len(log.answered(device_under_test.id, Status.NO_IMAGE_AVAILABLE)) >= queried,
                            answer_timeout_s(bench), "the CH's answer")
    assert 0 < queried < JITTER_NOTIFIES, \
        f"queried after {queried} of {JITTER_NOTIFIES} broadcasts with query jitter {JITTER}: a device draws 1..100 " \
        "for each and queries only when its draw is at most the jitter"


@pytest.mark.clause("ZCL OTA 11.13.3 Image Notify: payload types 0-3, unicast and broadcast, query jitter")
async def test_image_notify_of_every_payload_type_starts_a_query_and_jitter_0_does_not(
        bench: Bench, device_under_test: BenchDevice) -> None:
    needs(device_under_test, AWAKE, "a sleepy GSME hears no Image Notify; it pulls at its wakes")
    profile = profile_for(device_under_test.type)
    server = ota_server(bench)
    newer = device_under_test.state.running_version + 1
    fields = (profile.manufacturer_code, profile.image_type, newer)
    with watching(bench) as log:
        for payload_type in range(4):
            asked = len(log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE))
            await server.send_image_notify(device_under_test.id, ImageNotifyVariant(payload_type, 100, *fields))
            await log.until(lambda: len(log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE)) > asked,
                            quiet_s(bench), f"a query after Image Notify of payload type {payload_type}")
        asked = len(log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE))
        await server.send_image_notify(None, ImageNotifyVariant(3, 0, *fields, broadcast=True))
        await bench.advance(quiet_s(bench))
        assert len(log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE)) == asked, \
            "query jitter 0 leaves no device drawing a number at or below it: nobody queries"


@pytest.mark.clause("ZCL OTA 11.13.6 Image Block Request: Maximum Data Size; 11.13.8 a smaller block")
async def test_blocks_asked_fit_the_server_and_smaller_answers_are_taken(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    ota_server(bench).faults.set(BlockSizeCap(size=16))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    sizes = sorted({r.maximum_data_size for r in log.blocks_asked(device_under_test.id)})
    assert sizes and max(sizes) <= MAX_BLOCK_SIZE_LIMIT, \
        f"asked for blocks of {sizes} bytes; an unfragmented Image Block Response carries {MAX_BLOCK_SIZE_LIMIT}"
    assert end.status == Status.SUCCESS
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: WAIT_FOR_DATA (current time, request time), "
                    "a storm of them, each honoured, then completed")
async def test_a_storm_of_wait_for_data_is_waited_out_and_the_download_completes(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    """Each WAIT_FOR_DATA holds the next request until its request time (a wait of 2 s, so a
    device that waits a fixed second instead fails too), and a run of them longer than a
    device's retries is waited out, not taken for a dead server."""
    wait, storm = 2, 8
    ota_server(bench).faults.set(WaitForData(at_offset=len(image_under_test) // 3, times=storm, wait_s=wait))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log, extra_s=storm * wait)
    told = log.answered(device_under_test.id, Status.WAIT_FOR_DATA)
    assert len(told) == storm, f"told WAIT_FOR_DATA {len(told)} times, not {storm}: the device stopped asking"
    gaps = [requests_after(log, device_under_test, w.at)[0].at - w.at for w in told]
    assert min(gaps) >= KEPT_SHARE * wait, f"told to come back in {wait} s, asked again after {min(gaps):.3f} s"
    assert max(gaps) <= wait + answer_timeout_s(bench), \
        f"told to come back in {wait} s, asked again only after {max(gaps):.1f} s: it gave up in the storm"
    assert end.status == Status.SUCCESS, f"ended the upgrade with {end.status!r}"
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.6 Image Block Request: a stalled server asked again at the same offset")
async def test_a_stalled_server_is_asked_again_at_the_same_offset_and_the_download_completes(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    stalled_at, seconds = len(image_under_test) // 2, 2.5 * answer_timeout_s(bench)
    ota_server(bench).faults.set(Stall(at_offset=stalled_at, seconds=seconds))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log, extra_s=seconds)
    blocks = log.blocks_asked(device_under_test.id)
    first = next(r for r in blocks if (r.offset or 0) >= stalled_at)
    during = [r.offset for r in blocks if first.at <= r.at <= first.at + seconds]
    assert len(during) >= 2 and set(during) == {first.offset}, \
        f"the CH went quiet at offset {first.offset} for {seconds:g} s; meanwhile the device asked for {during}"
    assert end.status == Status.SUCCESS, f"ended the upgrade with {end.status!r}"
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: every block sent twice, each taken once")
async def test_duplicated_blocks_do_not_corrupt_the_image(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    ota_server(bench).faults.set(Duplicate(at_offset=0, times=len(image_under_test)))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    copies = [a.copies for a in log.answered(device_under_test.id, Status.SUCCESS) if a.command is OtaCommand.IMAGE_BLOCK]
    assert copies and set(copies) == {2}, f"the CH's blocks went {sorted(set(copies))} times, not twice"
    assert end.status == Status.SUCCESS, f"ended the upgrade with {end.status!r}: the image was put together wrong"
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.7 Image Page Request: the response spacing kept, each page put together in order")
async def test_image_pages_are_spaced_as_asked_and_put_together_in_order(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    if bench.config.kind is not BenchKind.LAB and device_under_test.config.image_page_size is None:
        pytest.skip(f"{device_under_test.name} downloads with Image Block Requests (no image_page_size)")
    middle = len(image_under_test) // 2
    ota_server(bench).faults.set(Duplicate(at_offset=middle // 2), WrongOffset(at_offset=middle, shift=40))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    pages = log.asked(device_under_test.id, OtaCommand.IMAGE_PAGE)
    if not pages and bench.config.kind is BenchKind.LAB:
        pytest.skip(f"{device_under_test.name} downloaded with Image Block Requests, not pages")
    assert pages, f"{device_under_test.name} has image_page_size set but asked only for blocks"
    all_fired(bench)
    sent = [a for a in log.answered(device_under_test.id, Status.SUCCESS) if a.command is OtaCommand.IMAGE_BLOCK]
    short = []
    for page, following in zip(pages, [*pages[1:], None]):
        spacing = (page.response_spacing_ms or 0) / 1000
        times = [a.at for a in sent if a.at >= page.at and (following is None or a.at < following.at)]
        short += [later - earlier for earlier, later in zip(times, times[1:]) if later - earlier < spacing]
    assert not short, f"the CH spaced a page's blocks by {min(short) * 1000:.0f} ms, under the spacing the device asked for"
    assert end.status == Status.SUCCESS, f"ended the upgrade with {end.status!r}: a page was put together wrong"
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: MinimumBlockPeriod")
async def test_the_servers_minimum_block_period_is_kept_once_told(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    if device_under_test.config.image_page_size is not None:
        pytest.skip(f"{device_under_test.name} downloads by Image Page Requests: the CH spaces a page's blocks by "
                    "its period itself, and the device asks per page, not per block")
    period_ms = 1000  # above the honest air's own block pacing and a GSME's polling, so the device's keeping it shows
    asked = 4
    ota_server(bench).faults.set(BlockPeriod(ms=period_ms))
    with watching(bench) as log:
        await offer(bench, device_under_test, image_under_test)

        def arrivals() -> list[float]:
            told = log.answered(device_under_test.id, Status.WAIT_FOR_DATA)
            return [r.at for r in requests_after(log, device_under_test, told[0].at)] if told else []

        await log.until(lambda: len(arrivals()) >= asked, wait_s(bench) + 2 * asked * period_ms / 1000,
                        f"{asked} requests after the server told its period")
    times = arrivals()
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    # Measured where the requests arrive, so a little of the air's jitter is allowed for.
    assert min(gaps) >= 0.8 * period_ms / 1000, \
        f"told a period of {period_ms} ms, the device asked again after {min(gaps) * 1000:.0f} ms"


@pytest.mark.clause("ZCL OTA 11.13.6 Image Block Request: resume from the last offset, not from 0")
async def test_a_lost_block_is_asked_again_at_the_same_offset(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    lost_at = len(image_under_test) // 2
    ota_server(bench).faults.set(Unanswered(at_offset=lost_at))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log, extra_s=2 * answer_timeout_s(bench))
    offsets = [r.offset for r in log.blocks_asked(device_under_test.id)]
    first = next(i for i, offset in enumerate(offsets) if offset is not None and offset >= lost_at)
    assert offsets[first + 1] == offsets[first], \
        f"the answer at offset {offsets[first]} was lost; the device asked next for offset {offsets[first + 1]}"
    assert end.status == Status.SUCCESS
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: duplicated and late answers")
async def test_duplicated_and_late_blocks_are_taken_once(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    middle = len(image_under_test) // 2
    ota_server(bench).faults.set(Duplicate(at_offset=middle // 2),
                                 Late(at_offset=middle, delay_s=answer_timeout_s(bench) + 1))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    all_fired(bench)
    assert end.status == Status.SUCCESS, "the image was put together from every block once, in order"
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: short blocks and a block at another offset")
async def test_short_and_misplaced_blocks_do_not_corrupt_the_image(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    middle = len(image_under_test) // 2
    ota_server(bench).faults.set(ShortBlock(at_offset=0, length=7), WrongOffset(at_offset=middle, shift=40))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    all_fired(bench)
    assert end.status == Status.SUCCESS
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.9 Upgrade End Request: INVALID_IMAGE for a corrupt download")
async def test_a_corrupt_block_ends_in_invalid_image_and_nothing_is_kept(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    if not profile_for(device_under_test.type).signed:
        pytest.skip(f"{device_under_test.name} takes unsigned SR 11.4 images: no signature a flipped bit breaks")
    before = device_under_test.state
    ota_server(bench).faults.set(CorruptBlock(at_offset=len(image_under_test) // 2))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    assert end.status == Status.INVALID_IMAGE, f"ended the upgrade with {end.status!r}"
    after = device_under_test.state
    assert after.held_hash is None and after.running_version == before.running_version


@pytest.mark.clause("ZCL OTA 11.13.8 Image Block Response: ABORT")
async def test_abort_ends_the_download(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes, request: pytest.FixtureRequest) -> None:
    """ABORT ends the download and drops its bytes. The client may start the upgrade again
    later with a new Query Next Image (ZCL OTA), as a sleepy device does at its next wake while
    the CH still offers the image (so a sleepy device is watched through its next wakes): that
    passes if the new download starts from offset 0. Blocks of the aborted download asked for
    after the ABORT, or a new download that resumes it, fail. Which of the two the device did
    is recorded as the test's ``after_abort`` property."""
    aborted_at = len(image_under_test) // 2
    ota_server(bench).faults.set(Abort(at_offset=aborted_at))
    with watching(bench) as log:
        await offer(bench, device_under_test, image_under_test)
        await log.until(lambda: bool(log.answered(device_under_test.id, Status.ABORT)), wait_s(bench), "ABORT")
        told = log.answered(device_under_test.id, Status.ABORT)[0].at
        await bench.advance(answer_timeout_s(bench) * 3 if device_under_test.type in AWAKE else quiet_s(bench))
        queries = [q.at for q in log.asked(device_under_test.id, OtaCommand.QUERY_NEXT_IMAGE) if q.at > told]
        if queries:  # the upgrade started again: its first block request says whether the old bytes went
            await log.until(lambda: bool(requests_after(log, device_under_test, queries[0])), wait_s(bench),
                            "the first block request of the download started again after ABORT")
    again = queries[0] if queries else float("inf")
    blocks = requests_after(log, device_under_test, told)
    assert [r.offset for r in blocks if r.at < again] == [], "after ABORT a device asks for no more blocks"
    if queries:
        first = requests_after(log, device_under_test, again)[0].offset
        assert first == 0, f"queried again after ABORT and resumed the aborted download at offset {first}"
        request.node.user_properties.append(
            ("after_abort", f"queried again {again - told:.1f} s later and started over from offset 0"))
    else:
        assert device_under_test.state.held_hash is None, "holds an image whose download was aborted"
        request.node.user_properties.append(("after_abort", "asked for nothing more"))


@pytest.mark.clause("ZCL OTA 11.13.6 Image Block Request: the CH restarts mid-transfer, the device resumes")
async def test_a_restart_of_the_ch_mid_transfer_is_resumed_from_the_devices_offset(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    restart_at = len(image_under_test) // 2
    outage = 2 * answer_timeout_s(bench)
    ota_server(bench).faults.set(Restart(at_offset=restart_at, outage_s=outage))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log, extra_s=outage + quiet_s(bench))
    offsets = [r.offset or 0 for r in log.blocks_asked(device_under_test.id)]
    first = next(i for i, offset in enumerate(offsets) if offset >= restart_at)
    assert min(offsets[first:]) >= offsets[first], \
        f"after the CH's restart at offset {offsets[first]} the device went back to {min(offsets[first:])}"
    assert end.status == Status.SUCCESS
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.13.5 Query Next Image Response: NO_IMAGE_AVAILABLE")
async def test_no_image_available_starts_no_download(bench: Bench, device_under_test: BenchDevice) -> None:
    needs(device_under_test, AWAKE, "a sleepy GSME asks only when its mirror flag says an image waits")
    profile = profile_for(device_under_test.type)
    with watching(bench) as log:
        await ota_server(bench).send_image_notify(device_under_test.id, ImageNotifyVariant(1, 100, profile.manufacturer_code))
        await log.until(lambda: bool(log.answered(device_under_test.id, Status.NO_IMAGE_AVAILABLE)), quiet_s(bench),
                        "NO_IMAGE_AVAILABLE to the device's query")
        await bench.advance(quiet_s(bench))
    assert log.blocks_asked(device_under_test.id) == [], "asked for blocks of an image nobody offered"


@pytest.mark.clause("GBCS 10.4 sleepy devices: the image flagged on the GSME's mirror, pulled at its wake")
async def test_a_sleepy_device_pulls_its_image_through_the_mirror_flag(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    needs(device_under_test, frozenset({DeviceType.GSME}), "only a GSME sleeps")
    mark = bench.events.last_seq
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    offered = [type(e).__name__ for e in bench.events.history
               if isinstance(e, (ImageFlagged, ImageNotifySent)) and e.seq > mark and e.device == device_under_test.id]
    assert offered == ["ImageFlagged"], f"offered by {offered}: the CH flags a sleepy device's mirror, never notifies"
    assert end.status == Status.SUCCESS
    kept(device_under_test, image_under_test)


@pytest.mark.clause("ZCL OTA 11.10 client attributes: ImageUpgradeStatus, FileOffset")
async def test_image_upgrade_status_and_file_offset_follow_the_download(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    needs(device_under_test, AWAKE - {DeviceType.PPMID, DeviceType.IHD},
          "a sleepy GSME answers reads only awake; a PPMID or IHD runs the image instead of waiting")
    server = ota_server(bench)
    names = ("image_upgrade_status", "file_offset")
    normal = await server.read_client_attributes(device_under_test.id, names)
    assert normal["image_upgrade_status"] == 0, f"before any download: {normal}"
    held_at = len(image_under_test) // 2
    server.faults.set(Stall(at_offset=held_at, seconds=3 * answer_timeout_s(bench)))
    with watching(bench) as log:
        await offer(bench, device_under_test, image_under_test)
        await log.until(lambda: any((r.offset or 0) >= held_at for r in log.blocks_asked(device_under_test.id)),
                        wait_s(bench), f"a block request at offset {held_at}")
        during = await server.read_client_attributes(device_under_test.id, names)
        asked = [r.offset for r in log.blocks_asked(device_under_test.id)]
        await log.until(lambda: bool(log.asked(device_under_test.id, OtaCommand.UPGRADE_END)),
                        wait_s(bench) + 3 * answer_timeout_s(bench), "the Upgrade End Request")
        await bench.advance(answer_timeout_s(bench))
    assert during["image_upgrade_status"] == 1, f"downloading: {during}"
    assert during["file_offset"] == asked[-1], f"FileOffset {during['file_offset']}, last asked {asked[-1]}"
    after = await server.read_client_attributes(device_under_test.id, names)
    assert after["image_upgrade_status"] == 3, f"waiting to upgrade (for CS06): {after}"


@pytest.mark.clause("GBCS 11.2.1: Upgrade End Response says wait; only CS06 runs the image")
async def test_an_upgrade_time_never_runs_the_image_without_cs06(
        bench: Bench, device_under_test: BenchDevice, image_under_test: bytes) -> None:
    needs(device_under_test, CS06_DEVICE_TYPES, "only CS06 runs a held image on an ESME, GSME or HCALCS")
    before = device_under_test.state.running_version
    ota_server(bench).faults.set(UpgradeTime(value=0))
    with watching(bench) as log:
        end = await deliver(bench, device_under_test, image_under_test, log)
    assert end.status == Status.SUCCESS
    await bench.advance(quiet_s(bench))
    assert device_under_test.state.running_version == before, "the device ran the image on the CH's upgrade time"
    kept(device_under_test, image_under_test)
