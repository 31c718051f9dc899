"""The emulator's drop_alerts control: which alerts a device keeps to itself, and for how long."""

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
