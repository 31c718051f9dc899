"""The DCC updates a CH's own firmware: the CH checks, holds and activates it, and a meter
transfer in progress is not disturbed (the CH switches once it has ended)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fixture_files import bench_copy
from hanbench import Outcome, open_bench, run_virtual
from hanbench.bench.events import TransferFinished, TransferStarted
from hanbench.dcc.ch_firmware import ChFirmware, ChOutcome, ch_image
from hanbench.dcc.records import UpdateState
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import DCC_ENTITY
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

PAYLOAD = b"CH firmware " * 100


def test_the_dcc_distributes_and_activates_ch_firmware_and_the_inventory_follows(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_bench(bench_copy(tmp_path)) as bench:
            ch = bench.config.hub.id
            image = ch_image(bench.dcc.keystore, NEXT_FILE_VERSION, PAYLOAD, signer=DCC_ENTITY)
            update = await ChFirmware(bench.dcc).update(ch, image)
            assert update.outcome is ChOutcome.ACTIVATED, update
            assert (update.previous_version, update.running_version, update.waited_s) == (1, NEXT_FILE_VERSION, 0.0)
            record = bench.dcc.inventory.device(ch)
            assert record.firmware_version == NEXT_FILE_VERSION and record.update_state is UpdateState.ACTIVATED
            assert bench.hub.firmware.running_version == NEXT_FILE_VERSION and bench.hub.firmware.held is None

    run_virtual(session())


def test_the_ch_refuses_an_image_not_signed_by_the_dcc_not_newer_or_not_its_own(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_bench(bench_copy(tmp_path)) as bench:
            ch, dcc = bench.config.hub.id, bench.dcc
            supplier = bench.supplier.id
            forged = ch_image(dcc.keystore, NEXT_FILE_VERSION, PAYLOAD, signer=supplier)
            stale = ch_image(dcc.keystore, 1, PAYLOAD, signer=DCC_ENTITY)
            esme_image = bench.image(bench.device("esme"), NEXT_FILE_VERSION)
            for image, why in ((forged, "signature does not verify"), (stale, "not newer"),
                               (parse_image(esme_image), "not a CH image")):
                update = await ChFirmware(dcc).update(ch, image)
                assert update.outcome is ChOutcome.REFUSED and why in update.detail, update
                record = dcc.inventory.device(ch)
                assert record.update_state is UpdateState.FAILED and why in record.update_detail
                assert record.firmware_version == 1 and bench.hub.firmware.running_version == 1

    run_virtual(session())


def test_a_ch_image_waits_for_the_meter_transfer_in_progress_and_does_not_disturb_it(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_bench(bench_copy(tmp_path)) as bench:
            supplier, esme, ch = bench.supplier, bench.device("esme"), bench.config.hub.id
            mark = bench.events.last_seq
            sent = await supplier.update_firmware(bench.image(esme, NEXT_FILE_VERSION), [esme])
            assert sent.target(esme.id).outcome is Outcome.DISTRIBUTED
            await bench.events.wait_for(lambda e: isinstance(e, TransferStarted) and e.device == esme.id, 600,
                                        since=mark)
            image = ch_image(bench.dcc.keystore, NEXT_FILE_VERSION, PAYLOAD, signer=DCC_ENTITY)
            update = asyncio.ensure_future(ChFirmware(bench.dcc).update(ch, image))
            await asyncio.sleep(0.1)
            assert not update.done(), "the CH switched in the middle of a transfer"
            assert bench.hub.firmware.held is not None and bench.hub.ota.image_waiting(esme.id) is not None
            finished = await bench.events.wait_for(
                lambda e: isinstance(e, TransferFinished) and e.device == esme.id, 3600, since=mark)
            assert finished.result is TransferResult.SUCCESS, "the meter's transfer ran to its end"
            done = await update
            assert done.outcome is ChOutcome.ACTIVATED and done.waited_s > 0
            assert done.at >= finished.at, "the CH switched only after the transfer ended"
            alert = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
            assert (await supplier.activate_firmware(esme, alert.calculated_hash)).outcome is Outcome.ACTIVATED
            assert esme.state.running_version == NEXT_FILE_VERSION

    run_virtual(session())
