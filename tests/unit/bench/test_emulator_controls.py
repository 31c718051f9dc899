"""The emulator's controls: which alerts a device keeps to itself, and for how long; what a power cycle keeps."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from test_bench_open import emu_copy

from hanbench import InboxTimeout, open_bench
from hanbench.bench.events import ReceiptAlertRaised
from hanbench.errors import BadInput
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import ActivateFirmware, activate_firmware_command

pytestmark = pytest.mark.looptime


async def test_drop_alerts_drops_all_or_some_codes_and_only_those(tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)
    async with open_bench(bench_file) as bench:
        supplier, esme = bench.supplier, bench.device("esme")
        with pytest.raises(BadInput, match="raises no GBCS alerts"):
            bench.emulator.drop_alerts(bench.device("ihd").config)

        bench.emulator.drop_alerts(esme.config)  # every alert
        await supplier.update_firmware(bench.image(esme, 2), [esme])
        raised = await bench.events.wait_for(ReceiptAlertRaised, 3600, since=bench.opened_seq)
        assert raised.device == esme.id, "the device raised its receipt alert ..."
        await supplier.wait_alert("N60", device=esme, timeout=600)  # the CH's side still reports
        with pytest.raises(InboxTimeout):
            await supplier.wait_alert(0x8F72, device=esme, timeout=600)  # ... and never sent it

        bench.emulator.drop_alerts(esme.config, {AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL})
        at = bench.now() + dt.timedelta(hours=1)
        await supplier.activate_firmware(esme, raised.image_hash, at=at)
        await supplier.wait_alert(0x8F66, device=esme, timeout=2 * 3600)  # not among the codes: sent

        bench.emulator.drop_alerts(esme.config)
        bench.emulator.drop_alerts(esme.config, set())  # drops nothing any more
        # A CS06 signed by another supplier, MAC'd by the ACB but past the DCC's authorisation:
        # unanswered, and alert 0x8F3D.
        other = bench.other_supplier(supplier)
        command = bench.dcc.acb.protect(activate_firmware_command(
            other.id, esme.id, ActivateFirmware(bytes(32), 1, None), bench.dcc.keystore.private_key(other.id)))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bench.hub.send_command(command), 60)
        await supplier.wait_alert(0x8F3D, device=esme, timeout=60)


async def test_an_alert_the_device_cannot_send_waits_in_its_state_survives_a_power_cycle_and_goes_later(
        tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)
    async with open_bench(bench_file) as bench:
        supplier, esme = bench.supplier, bench.device("esme")
        await supplier.update_firmware(bench.image(esme, 2), [esme])
        receipt = await supplier.wait_alert(0x8F72, device=esme, timeout=3600)
        at = bench.now() + dt.timedelta(hours=1)
        await supplier.activate_firmware(esme, receipt.calculated_hash, at=at)
        bench.emulator.set_link_loss(esme.config, 1.0)  # the CH and the ESME hear nothing of each other
        await bench.sleep_until(at + dt.timedelta(seconds=30))
        state = esme.state
        assert state.running_version == 2, "it activated at its date-time ..."
        assert state.alerts_pending == 1, "... and its 0x8F66 waits"
        assert state.next_retry_at is not None and state.next_retry_at > bench.now()
        await bench.emulator.power_cycle(esme.config, off_s=60)
        assert esme.state.alerts_pending == 1 and esme.state.held_version is None
        bench.emulator.set_link_loss(esme.config, 0.0)
        await supplier.wait_alert(0x8F66, device=esme, timeout=bench.config.timing.device_retry_max_s + 60)
        assert esme.state.alerts_pending == 0 and esme.state.next_retry_at is None
        # Counters are kept: a CS06 under a counter the device has seen is still a replay.
        other = activate_firmware_command(supplier.id, esme.id, ActivateFirmware(bytes(32), 1, None),
                                          bench.dcc.keystore.private_key(supplier.id))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bench.hub.send_command(bench.dcc.acb.protect(other)), 60)
        await supplier.wait_alert(0x8F3D, device=esme, timeout=60)
        with pytest.raises(BadInput, match="0 s or more"):
            await bench.emulator.power_cycle(esme.config, off_s=-1)
