"""Alert intake and routing: supplier always, the distributing RSA under MP207 for its
update's alerts only, N60/N61 from CCS08, inbox sequencing and waits, no loss or duplication."""

from __future__ import annotations

import asyncio
import random

import pytest
from dcc_support import (
    CH, ESME, GSME, HCALCS, PPMID, RSA_1, START, SUPPLIER_A, V2, device_macd, receipt_alert, resign, signed_image,
    transfer_alert,
)

from hanbench.dcc.alert_routing import AlertDelivery, DccAlert
from hanbench.dcc.errors import InboxTimeout, UnknownUser
from hanbench.dcc.hub_port import ForwardedAlert
from hanbench.dcc.inbox import Match
from hanbench.dcc.records import PendingImage, UpdateState
from hanbench.dcc.service_requests import UpdateFirmware
from hanbench.gbcs import alerts, cs06
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.entity import DCC_ENTITY, EntityId


def codes(dcc, user) -> list[tuple[str, EntityId | None]]:
    return [(m.alert.code, m.alert.device) for m in dcc.inbox(user).messages()]


async def test_supplier_and_rsa_both_receive_the_receipt_alert_of_the_rsas_update(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    digest = inventory.device(ESME).pending.hash
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, digest))
    supplier_msg = await dcc.inbox(SUPPLIER_A).wait_for(Match("0x8F72", ESME), timeout=1)
    rsa_msg = await dcc.inbox(RSA_1).wait_for(Match("0x8F72", ESME), timeout=1)
    assert supplier_msg.alert.id == rsa_msg.alert.id and rsa_msg.alert.hash == digest
    assert inventory.device(ESME).update_state is UpdateState.RECEIVED


async def test_rsa_gets_nothing_for_updates_it_did_not_distribute(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, inventory.device(ESME).pending.hash))
    hub.alert(transfer_alert(keystore, ESME, alerts.TransferResult.SUCCESS))
    assert codes(dcc, SUPPLIER_A) == [("0x8F72", ESME), ("0x8F8A", ESME), ("N60", ESME)]
    assert codes(dcc, RSA_1) == []


async def test_under_baseline_the_distributor_gets_no_alerts(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("baseline")
    inventory.record_distribution(ESME, PendingImage(bytes(32), V2, START, RSA_1))
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, bytes(32)))
    assert codes(dcc, SUPPLIER_A) == [("0x8F72", ESME)]
    assert codes(dcc, RSA_1) == []


@pytest.mark.parametrize(("result", "dcc_alert"), [(alerts.TransferResult.SUCCESS, "N60"),
                                                   (alerts.TransferResult.FILE_TRANSFER_FAILURE, "N61")])
async def test_ccs08_for_meters_raises_n60_or_n61_to_supplier_and_distributing_rsa(
        make_dcc, inventory, hub, keystore, result, dcc_alert):
    dcc = make_dcc("mp207")
    await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A, device_type="gsme"), [GSME]))
    hub.alert(transfer_alert(keystore, GSME, result))
    expected = [(f"0x{int(alerts.FirmwareTransferAlert(START, GSME, b'1', result).alert_code):04X}", GSME),
                (dcc_alert, GSME)]
    assert codes(dcc, SUPPLIER_A) == expected
    assert codes(dcc, RSA_1) == expected
    n6x = inventory.alerts(GSME)[-1]
    assert (n6x.origin.value, n6x.sender) == ("dcc", EntityId.parse("90-B3-D5-1F-30-00-00-02"))
    state = inventory.device(GSME).update_state
    assert state is (UpdateState.TRANSFERRED if dcc_alert == "N60" else UpdateState.FAILED)


async def test_ccs08_for_other_devices_raises_no_dcc_alert(make_dcc, hub, keystore):
    dcc = make_dcc("mp207")
    hub.alert(transfer_alert(keystore, HCALCS, alerts.TransferResult.SUCCESS))
    assert codes(dcc, SUPPLIER_A) == [("0x8F8A", HCALCS)]


async def test_receipt_with_a_different_hash_or_failure_needs_action(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A, device_type="gsme"), [GSME]))
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, bytes(32)))
    hub.alert(receipt_alert(keystore, GSME, SUPPLIER_A, inventory.device(GSME).pending.hash, ok=False))
    assert "is not the pending image's" in inventory.device(ESME).update_detail
    assert inventory.device(ESME).needs_action and inventory.device(GSME).needs_action


async def test_future_dated_outcome_and_ppmid_activation_alerts_update_versions(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    outcome = cs06.FutureDatedActivationAlert(START, 5, cs06.ExecutionOutcome(cs06.ActivationResult.SUCCESS,
                                                                               V2.to_bytes(4, "big")))
    hub.alert(cs06.future_dated_activation_alert(ESME, SUPPLIER_A, 2, outcome, keystore.private_key(ESME)))
    ppmid = alerts.PpmidActivationAlert(START, V2.to_bytes(4, "big"), alerts.PpmidActivationOutcome.SUCCESS)
    hub.alert(alerts.alert_message(PPMID, SUPPLIER_A, 1, ppmid, keystore.private_key(PPMID)))
    assert inventory.device(ESME).firmware_version == V2 and inventory.device(ESME).pending is None
    assert inventory.device(PPMID).firmware_version == V2
    assert codes(dcc, RSA_1) == [("0x8F66", ESME)]  # the outcome of its update; nothing about the PPMID
    assert codes(dcc, SUPPLIER_A) == [("0x8F66", ESME), ("0x8F8B", PPMID)]


async def test_alert_whose_signature_fails_is_recorded_but_not_acted_on(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    forged = resign(receipt_alert(keystore, ESME, SUPPLIER_A, inventory.device(ESME).pending.hash),
                    keystore.private_key(GSME))
    hub.alert(forged)
    assert inventory.device(ESME).update_state is UpdateState.DISTRIBUTED
    assert "not acted on" in inventory.alerts(ESME)[-1].detail
    assert codes(dcc, SUPPLIER_A) == [("0x8F72", ESME)]


async def test_undecodable_alerts_are_recorded_and_never_raise_into_the_ch(make_dcc, inventory, hub):
    dcc = make_dcc("mp207")
    hub.forward(ForwardedAlert(b"\xde\xad", None, "not a GBCS message"))
    (record,) = inventory.alerts()
    assert record.code == "undecodable" and record.raw == b"\xde\xad"
    assert codes(dcc, SUPPLIER_A) == []


async def test_gsme_command_not_retrieved_goes_to_the_supplier_only(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A, device_type="gsme"), [GSME]))
    record = alerts.GsmeCommandNotRetrievedAlert(START, GSME, 42)
    hub.alert(device_macd(alerts.alert_message(CH, DCC_ENTITY, 9, record, keystore.private_key(CH))))
    assert codes(dcc, SUPPLIER_A) == [("0x819D", GSME)]
    assert codes(dcc, RSA_1) == []
    assert "not acted on" not in inventory.alerts(GSME)[-1].detail


@pytest.mark.looptime
async def test_wait_for_times_out_saying_what_was_awaited_and_what_came(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    hub.alert(transfer_alert(keystore, HCALCS, alerts.TransferResult.SUCCESS))
    with pytest.raises(InboxTimeout) as caught:
        await dcc.inbox(SUPPLIER_A).wait_for(Match("0x8F72", ESME), timeout=60)
    text = str(caught.value)
    assert "no alert 0x8F72 about 00-DB-12-34-56-78-91-00 within 60 s" in text
    assert "#1 0x8F8A about 00-DB-12-34-56-78-91-05" in text


@pytest.mark.looptime
async def test_wait_for_wakes_when_the_alert_arrives_later(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")

    async def later() -> None:
        await asyncio.sleep(600)
        hub.alert(receipt_alert(keystore, GSME, SUPPLIER_A, bytes(32)))

    task = asyncio.create_task(later())
    message = await dcc.inbox(SUPPLIER_A).wait_for(Match(device=GSME), timeout=3600)
    await task
    assert (message.seq, message.alert.code) == (1, "0x8F72")


async def test_no_alert_is_lost_or_duplicated_across_200_devices(make_dcc, inventory, hub, keystore):
    """200 ESMEs, half updated by the RSA, half by the supplier; three alerts each, shuffled."""
    dcc = make_dcc("mp207")
    meters = [EntityId(bytes.fromhex(f"00db12345678{i:04x}")) for i in range(0x1000, 0x1000 + 200)]
    for meter in meters:
        inventory.add_device(meter, "esme", ch=CH, import_supplier=SUPPLIER_A)
    image = signed_image(keystore, SUPPLIER_A)
    by_rsa, by_supplier = meters[:100], meters[100:]
    await dcc.submit(RSA_1, UpdateFirmware(image, by_rsa))
    await dcc.submit(SUPPLIER_A, UpdateFirmware(image, by_supplier))
    digest = inventory.device(meters[0]).pending.hash
    key = keystore.private_key(CH)  # no device certificates: signatures are taken on trust
    batch = [alerts.alert_message(m, SUPPLIER_A, 1, alerts.FirmwareReceiptAlert(
        AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, START, digest), key) for m in meters]
    batch += [alerts.alert_message(CH, SUPPLIER_A, n, alerts.FirmwareTransferAlert(
        START, m, V2.to_bytes(4, "big"), alerts.TransferResult.SUCCESS), key) for n, m in enumerate(meters)]
    random.Random(207).shuffle(batch)

    async def send(chunk) -> None:
        for msg in chunk:
            hub.alert(msg)
            await asyncio.sleep(0)

    await asyncio.gather(*(send(batch[i::4]) for i in range(4)))

    supplier = dcc.inbox(SUPPLIER_A).messages()
    rsa = dcc.inbox(RSA_1).messages()
    assert [m.seq for m in supplier] == list(range(1, 601))
    assert [m.seq for m in rsa] == list(range(1, 301))
    assert len({m.alert.id for m in supplier}) == 600
    per_device = {}
    for m in supplier:
        per_device.setdefault(m.alert.device, []).append(m.alert.code)
    assert all(sorted(c) == ["0x8F72", "0x8F8A", "N60"] for c in per_device.values())
    assert set(per_device) == set(meters)
    assert {m.alert.device for m in rsa} == set(by_rsa)
    assert all(inventory.device(m).update_state is UpdateState.RECEIVED for m in meters)


def test_match_describes_itself():
    assert str(Match("N61", GSME)) == "alert N61 about 00-DB-12-34-56-78-91-01"
    assert str(Match()) == "alert (any code)"


async def test_inbox_of_unknown_user_is_bad_input(make_dcc):
    dcc = make_dcc("mp207")
    with pytest.raises(UnknownUser):
        dcc.inbox("90-B3-D5-1F-30-99-00-00")



async def test_each_delivery_is_announced_typed_once_it_is_in_the_inbox(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    heard: list[tuple[AlertDelivery, list[str]]] = []
    dcc.on_delivery(lambda d: heard.append((d, [m.alert.code for m in dcc.inbox(d.user).messages()])))
    await dcc.submit(RSA_1, UpdateFirmware(signed_image(keystore, SUPPLIER_A, device_type="gsme"), [GSME]))
    hub.alert(transfer_alert(keystore, GSME, alerts.TransferResult.SUCCESS))
    assert [d for d, _ in heard] == [
        AlertDelivery(SUPPLIER_A, GSME, AlertCode.FIRMWARE_TRANSFER_SUCCESS),
        AlertDelivery(RSA_1, GSME, AlertCode.FIRMWARE_TRANSFER_SUCCESS),
        AlertDelivery(SUPPLIER_A, GSME, DccAlert.FIRMWARE_DELIVERED),
        AlertDelivery(RSA_1, GSME, DccAlert.FIRMWARE_DELIVERED),
    ]
    # announced after the commit: the listener already reads the alert in the user's inbox
    assert heard[0][1] == ["0x8F8A", "N60"] and heard[-1][1] == ["0x8F8A", "N60"]


async def test_an_undecodable_alert_is_recorded_and_announced_to_nobody(make_dcc, inventory, hub):
    dcc = make_dcc("mp207")
    heard: list[AlertDelivery] = []
    dcc.on_delivery(heard.append)
    hub.forward(ForwardedAlert(b"\x01\x02", None, "not a GBCS message"))
    assert heard == [] and inventory.alerts()[-1].code == "undecodable"
