"""Change of supplier moves the device's trust, not only the DCC's records.

GBCS replaces the Supplier's certificates in the device's trust anchor cells on a change of
supplier with CS02b Update Security Credentials (supplierByTransCoS), signed by the
Transitional Change of Supplier party under its own counter and MAC'd by the ACB
(:mod:`hanbench.gbcs.security_credentials`). After it, the new supplier's CS06 runs on the
device and the old supplier's fails its signature check there (0x8F3D), whatever the DCC
would let through. What the old supplier sent and the device holds stays held: GBCS checks
an image when it arrives, and activates a held image on a CS06 from the device's Supplier
whose hash matches, so the new supplier may activate it. SECMP0024's TABASC asked what
becomes of a firmware deployment in flight when the supplier changes: an SR 11.1 whose image
reaches the device after the change is checked against the new supplier's key, so the old
supplier's image is refused, the failed receipt alert reaches the new supplier (the device's
Supplier now), the old supplier hears only its CCS08 and its RSA loses the device.
"""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from hanbench.suites.conformance.flows import NEW, OLD, cs06, distribute, quiet_s, receipt_wait_s
from hanbench import Bench, BenchDevice, BenchUser, Outcome, RefusalRule
from hanbench.gbcs.keystore import Usage
from hanbench.gbcs.security_credentials import (
    RemotePartyRole,
    ReplacementMode,
    StatusCode,
    UpdateSecurityCredentials,
    supplier_cells,
    update_credentials_command,
)

pytestmark = pytest.mark.clause("GBCS CS02b supplierByTransCoS; SECMP0024 TABASC: change of supplier mid-deployment")

TRUSTED_SOURCE_AUTHENTICATION_FAILURE = 0x8F3D
FIRMWARE_VERIFICATION_FAILED = 0x8F1C


@pytest.mark.asyncio
async def test_after_a_change_of_supplier_the_new_supplier_activates_and_the_old_one_cannot(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice) -> None:
    alert = await distribute(bench, supplier, esme)
    outcome = await bench.change_supplier(esme, supplier_b)
    assert outcome is not None and outcome.succeeded
    assert {(o.cell.role, o.cell.usage.value) for o in outcome.outcomes} == {
        (RemotePartyRole.SUPPLIER, "ds"), (RemotePartyRole.SUPPLIER, "ka")}
    assert all((o.status, o.existing_subject, o.replacing_subject) == (StatusCode.SUCCESS, supplier.id.raw,
                                                                       supplier_b.id.raw) for o in outcome.outcomes)
    # Past the DCC, straight to the CH: the device itself no longer trusts the old supplier.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(cs06(bench, supplier, esme, alert.calculated_hash)),
                               quiet_s(bench))
    await supplier_b.wait_alert(TRUSTED_SOURCE_AUTHENTICATION_FAILURE, device=esme, timeout=quiet_s(bench))
    assert esme.state.running_version == OLD and esme.state.held_version == NEW, "the held image stays held"
    result = await supplier_b.activate_firmware(esme, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED, result
    assert esme.state.running_version == NEW


@pytest.mark.asyncio
async def test_a_change_of_supplier_replayed_is_refused_by_the_device(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice) -> None:
    """The TransCoS party's command carries its own counter: a replay of the command that
    gave the device to supplier B cannot give it back to B after it moved on to A."""
    captured = []
    send = bench.hub.send_command

    async def recording(command):  # type: ignore[no-untyped-def]
        captured.append(command)
        return await send(command)

    bench.hub.send_command = recording  # type: ignore[method-assign]
    await bench.change_supplier(esme, supplier_b)
    bench.hub.send_command = send  # type: ignore[method-assign]
    await bench.change_supplier(esme, supplier)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(captured[0]), quiet_s(bench))
    await supplier.wait_alert(TRUSTED_SOURCE_AUTHENTICATION_FAILURE, device=esme, timeout=quiet_s(bench))
    alert = await distribute(bench, supplier, esme)
    result = await supplier.activate_firmware(esme, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED, "the device still trusts A, not the replayed B"


@pytest.mark.emu  # on the honest air the transfer takes minutes of bench time, so the change lands inside it
@pytest.mark.asyncio
async def test_an_sr_11_1_in_flight_when_the_supplier_changes_ends_defined_for_both_suppliers_and_the_rsa(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, rsa: BenchUser, esme: BenchDevice) -> None:
    """The RSA distributes for the old supplier (MP207); the supplier changes before the device
    has the image. The device checks the image with the new supplier's key and refuses it."""
    result = await rsa.update_firmware(bench.image(esme, NEW), [esme])
    assert result.target(esme.id).outcome is Outcome.DISTRIBUTED
    await bench.change_supplier(esme, supplier_b)
    refused = await supplier_b.wait_alert(FIRMWARE_VERIFICATION_FAILED, device=esme, timeout=receipt_wait_s(bench))
    assert refused.device == esme.id
    assert esme.state.held_version is None and esme.state.running_version == OLD
    assert [a.code for a in supplier.alerts() if a.device == esme.id] == [], \
        "the old supplier hears nothing more of the device"
    again = await rsa.update_firmware(bench.image(esme, NEW), [esme])
    assert again.refused == {esme.id: RefusalRule.RSA_NOT_APPOINTED}, "the old supplier's RSA has lost the device"


@pytest.mark.asyncio
async def test_a_change_of_supplier_not_signed_by_the_transcos_party_is_refused(
        bench: Bench, supplier: BenchUser, supplier_b: BenchUser, esme: BenchDevice) -> None:
    """Supplier B signs the replacement itself (MAC'd by the ACB, so only the signature is wrong):
    the device keeps trusting its supplier, who can still activate."""
    certificate = bench.dcc.keystore.certificate
    command = UpdateSecurityCredentials(
        ReplacementMode.SUPPLIER_BY_TRANSCOS, bench.dcc.inventory.next_invocation_counter(bench.dcc.acb.entity_id),
        supplier_cells(certificate(supplier_b.id, Usage.DS).public_bytes(Encoding.DER),
                       certificate(supplier_b.id, Usage.KA).public_bytes(Encoding.DER)))
    forged = bench.dcc.acb.protect(update_credentials_command(
        bench.dcc.acb.entity_id, esme.id, command, bench.dcc.keystore.private_key(supplier_b.id)))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bench.hub.send_command(forged), quiet_s(bench))
    await supplier.wait_alert(TRUSTED_SOURCE_AUTHENTICATION_FAILURE, device=esme, timeout=quiet_s(bench))
    alert = await distribute(bench, supplier, esme)
    result = await supplier.activate_firmware(esme, alert.calculated_hash)
    assert result.outcome is Outcome.ACTIVATED, "the device still trusts its supplier"
