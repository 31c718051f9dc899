"""GBCS message protection end to end: the Access Control Broker's MAC on every command, checked
by the device before anything else, and the device's own alerts reaching the supplier decoded,
in the device's form (GBZ from a GSME)."""

from __future__ import annotations

import asyncio

import pytest

from hanbench.suites.conformance.flows import NEW, OLD, distribute, quiet_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome
from hanbench.gbcs.alerts import AlertForm, GenericAlert, decode_alert
from hanbench.dcc.records import AlertRecord
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import ActivateFirmware, activate_firmware_command
from hanbench.gbcs.frame import GbcsMessage, decode_message


def signed_cs06(bench: Bench, supplier: BenchUser, device: BenchDevice, image_hash: bytes) -> GbcsMessage:
    """A CS06 the supplier signed under its next counter, without the ACB's MAC."""
    counter = bench.dcc.inventory.next_originator_counter(supplier.id)
    return activate_firmware_command(supplier.id, device.id, ActivateFirmware(image_hash, counter),
                                     bench.dcc.keystore.private_key(supplier.id))


def inbox_alert(bench: Bench, supplier: BenchUser, seq: int) -> tuple[AlertRecord, GenericAlert]:
    """The DCC's record of inbox message ``seq``, and the alert decoded from the bytes the device sent."""
    [message] = [m for m in bench.dcc.inbox(supplier.id).messages() if m.seq == seq]
    assert message.alert.raw is not None
    alert = decode_alert(decode_message(message.alert.raw))
    assert isinstance(alert, GenericAlert)
    return message.alert, alert


@pytest.mark.clause("GBCS 6.2.4")
@pytest.mark.asyncio
async def test_a_cs06_without_the_acbs_mac_is_refused_by_the_device_and_with_it_activates(
        bench: Bench, supplier: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    bare = signed_cs06(bench, supplier, esme, alert.calculated_hash)
    # Signed by the right supplier, right hash, fresh counter: only the ACB's MAC is missing.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(bare), quiet_s(bench))
    refusal = await supplier.wait_alert(0x8F3D, device=esme, timeout=quiet_s(bench))
    assert inbox_alert(bench, supplier, refusal.seq)[1].form is AlertForm.DLMS, "an ESME speaks DLMS"
    assert esme.state.running_version == OLD and esme.state.held_version == NEW
    # The same activation as the DCC sends it, MAC'd by its ACB, verifies on the device.
    result = await supplier.activate_firmware(esme, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED and esme.state.running_version == NEW


@pytest.mark.clause("GBCS 6.2.4")
@pytest.mark.asyncio
async def test_a_gsme_generic_alert_reaches_the_supplier_decoded_in_gbz_form(
        bench: Bench, supplier: BenchUser, gsme: BenchDevice) -> None:
    command = signed_cs06(bench, supplier, gsme, bytes(32))  # no MAC: the GSME refuses it at its next wake
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(command), quiet_s(bench))
    refusal = await supplier.wait_alert(0x8F3D, device=gsme, timeout=quiet_s(bench))
    record, alert = inbox_alert(bench, supplier, refusal.seq)
    assert alert.alert_code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE
    assert alert.form is AlertForm.GBZ and alert.critical, "a GSME sends its generic alerts in GBZ"
    assert record.device == gsme.id and "not acted on" not in record.detail, "signed by the GSME, and verified"
    assert gsme.state.running_version == OLD
