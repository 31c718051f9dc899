"""What the DCC does with accepted requests: distribution, CS06 signing and counters, the
activation response (in time, late, never, expired), SR 11.2 reads and the missing-response flag."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest
from dcc_support import (
    ESME, GSME, HCALCS, PPMID, START, SUPPLIER_A, SUPPLIER_B, V1, V2, FakeHub, activation_responder, device_key, loop_clock,
    resign, seed, signed_image, unsigned_image, version_responder,
)

from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_port import CommandNotDelivered, CommandNotRetrieved
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.records import UpdateState
from hanbench.dcc.service_requests import ActivateFirmware, Outcome, ReadFirmwareVersion, UpdateFirmware, \
    UpdatePpmidFirmware
from hanbench.errors import BadInput, InfrastructureFault
from hanbench.gbcs import cs06
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import new_response, verify_message
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.roles import RefusalRule

HASH = bytes(range(32))


async def test_distribution_records_the_pending_image(make_dcc, inventory, hub, keystore):
    dcc = make_dcc()
    image = signed_image(keystore, SUPPLIER_A)
    await dcc.submit(SUPPLIER_A, UpdateFirmware(image, [ESME]))
    assert hub.distributed == [(parse_image(image), (ESME,))], "the image as the DCC read it, once"
    pending = inventory.device(ESME).pending
    assert pending is not None
    assert pending.hash == parse_image(image).manufacturer_image_hash
    assert (pending.file_version, pending.distributed_by) == (V2, SUPPLIER_A)
    assert inventory.device(ESME).update_state is UpdateState.DISTRIBUTED


async def test_ppmid_update_distributes_the_unsigned_image(make_dcc, inventory, hub):
    dcc = make_dcc()
    result = await dcc.submit(SUPPLIER_A, UpdatePpmidFirmware(unsigned_image(), [PPMID]))
    assert result.target(PPMID).outcome is Outcome.DISTRIBUTED
    assert inventory.device(PPMID).pending is not None


async def test_a_ch_that_cannot_store_the_image_is_an_infrastructure_fault_logged_as_such(make_dcc, inventory, hub,
                                                                                         keystore):
    dcc = make_dcc()
    hub.fail_distribute = InfrastructureFault("NCP stopped answering")
    with pytest.raises(InfrastructureFault):
        await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    assert inventory.requests()[0].targets[0].outcome == "not_stored"
    assert inventory.device(ESME).pending is None


async def test_an_image_the_chs_rules_discard_at_once_is_not_recorded_as_distributed(make_dcc, inventory, hub,
                                                                                    keystore):
    dcc = make_dcc()
    hub.stores = False
    result = await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    target = result.target(ESME)
    assert target.accepted and target.outcome is Outcome.NOT_STORED
    assert "image rules discarded it" in target.message
    assert inventory.device(ESME).pending is None


async def test_cs06_verifies_with_the_suppliers_certificate_and_counters_increase(make_dcc, inventory, hub,
                                                                                  keystore):
    dcc = make_dcc()
    hub.responder = activation_responder(keystore)
    for _ in range(3):
        result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
        assert result.target(ESME).outcome is Outcome.ACTIVATED
    messages = hub.commands
    counters = [m.originator_counter for m in messages]
    assert counters == sorted(counters) and len(set(counters)) == 3
    certificate_key = keystore.public_key(SUPPLIER_A)
    for msg in messages:
        assert msg.originator == SUPPLIER_A and msg.target == ESME
        assert verify_message(msg, certificate_key)
        assert cs06.read_activate_firmware(msg).manufacturer_image_hash == HASH
    assert not verify_message(messages[0], keystore.public_key(EntityId.parse("90-B3-D5-1F-30-02-00-00")))


async def test_counters_persist_across_dcc_instances(tmp_path, keystore):
    path = tmp_path / "bench.db"
    counters = []
    for run in range(2):
        inv = Inventory(path) if run else seed(Inventory(path))
        hub = FakeHub()
        hub.responder = activation_responder(keystore)
        dcc = Dcc(inv, keystore, hub, "mp207", loop_clock)
        await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
        counters.append(hub.commands[0].originator_counter)
        inv.close()
    assert counters[1] > counters[0]


async def test_activation_response_updates_the_running_version_and_clears_the_pending_image(
        make_dcc, inventory, hub, keystore):
    dcc = make_dcc()
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.responder = activation_responder(keystore, version=V2)
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, inventory.device(ESME).pending.hash))
    assert result.target(ESME).firmware_version == V2
    device = inventory.device(ESME)
    assert (device.firmware_version, device.pending, device.update_state) == (V2, None, UpdateState.ACTIVATED)


async def test_failed_activation_is_recorded_as_needing_action(make_dcc, inventory, hub, keystore):
    dcc = make_dcc()
    hub.responder = activation_responder(keystore, result=cs06.ActivationResult.NO_IMAGE_HELD, version=V1)
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
    assert result.target(ESME).outcome is Outcome.ACTIVATION_FAILED
    device = inventory.device(ESME)
    assert device.needs_action and "NO_IMAGE_HELD" in device.update_detail


async def test_future_dated_activation_and_its_cancellation(make_dcc, inventory, hub, keystore):
    dcc = make_dcc()
    hub.responder = activation_responder(keystore)
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(HCALCS, HASH, execution=START + timedelta(days=1)))
    assert result.target(HCALCS).outcome is Outcome.ACTIVATION_SCHEDULED
    assert inventory.device(HCALCS).update_state is UpdateState.ACTIVATION_SCHEDULED
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(HCALCS, HASH, cancel=True))
    assert result.target(HCALCS).outcome is Outcome.ACTIVATION_CANCELLED
    sent = cs06.read_activate_firmware(hub.commands[-1])
    assert sent.is_cancellation


def executing_at_once(keystore, hub, result: cs06.ActivationResult, *, alert: bool = True):
    """A device that answers a CS06 dated in the past NULL, as GBCS step 2 has it, then carries it
    out at once and raises 0x8F66 / 0x8F67 with the outcome (unless ``alert`` is False)."""
    accept = activation_responder(keystore)

    async def respond(target, msg):
        command = cs06.read_activate_firmware(msg)
        response = await accept(target, msg)
        version = (V2 if result is cs06.ActivationResult.SUCCESS else V1).to_bytes(4, "big")
        record = cs06.FutureDatedActivationAlert(command.execution_datetime, command.originator_counter,
                                                 cs06.ExecutionOutcome(result, version))
        if alert:
            asyncio.get_running_loop().call_soon(hub.alert, cs06.future_dated_activation_alert(
                target, msg.originator, 7, record, device_key(keystore, target)))
        return response
    return respond


@pytest.mark.looptime
@pytest.mark.parametrize(("result", "outcome", "state"), [
    (cs06.ActivationResult.SUCCESS, Outcome.ACTIVATED, UpdateState.ACTIVATED),
    (cs06.ActivationResult.HASH_MISMATCH, Outcome.ACTIVATION_FAILED, UpdateState.FAILED),
])
async def test_a_cs06_dated_in_the_past_reports_what_the_device_did_at_once_not_scheduled(
        make_dcc, inventory, hub, keystore, result, outcome, state):
    dcc = make_dcc()
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.responder = executing_at_once(keystore, hub, result)
    past = loop_clock() - timedelta(hours=1)
    done = (await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH, execution=past))).target(ESME)
    assert done.outcome is outcome and "had passed, so the device acted at once" in done.message
    assert inventory.device(ESME).update_state is state
    (logged,) = inventory.requests()[-1].targets
    assert logged.outcome == outcome.value


@pytest.mark.looptime
async def test_a_cs06_dated_in_the_past_whose_outcome_alert_never_comes_is_flagged(make_dcc, inventory, hub,
                                                                                    keystore):
    dcc = make_dcc(response_wait=timedelta(hours=1))
    hub.responder = executing_at_once(keystore, hub, cs06.ActivationResult.SUCCESS, alert=False)
    past = loop_clock() - timedelta(seconds=1)
    done = (await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH, execution=past))).target(ESME)
    assert done.outcome is Outcome.RESPONSE_MISSING and "no 0x8F66 / 0x8F67" in done.message
    assert inventory.device(ESME).needs_action


@pytest.mark.looptime
async def test_missing_activation_response_flags_the_device_and_11_2_clears_it(make_dcc, inventory, hub, keystore):
    dcc = make_dcc(response_wait=timedelta(hours=1))
    never = asyncio.Event()

    async def silent(target, msg):
        await never.wait()
        raise AssertionError("unreachable")

    hub.responder = silent
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(GSME, HASH))
    assert result.target(GSME).outcome is Outcome.RESPONSE_MISSING
    assert inventory.device(GSME).activation_response_missing
    assert inventory.device(GSME).needs_action

    hub.responder = version_responder(V2)
    read = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(GSME))
    assert read.target(GSME).outcome is Outcome.VERSION_READ and read.target(GSME).firmware_version == V2
    device = inventory.device(GSME)
    assert not device.activation_response_missing and device.firmware_version == V2


@pytest.mark.looptime
async def test_a_late_activation_response_still_updates_the_inventory(make_dcc, inventory, hub, keystore):
    dcc = make_dcc(response_wait=timedelta(minutes=30))
    hub.responder = activation_responder(keystore, version=V2, delay=3 * 3600)
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(GSME, HASH))
    assert result.target(GSME).outcome is Outcome.RESPONSE_MISSING
    await asyncio.sleep(3 * 3600)
    await asyncio.sleep(0)
    device = inventory.device(GSME)
    assert (device.firmware_version, device.activation_response_missing) == (V2, False)
    assert inventory.requests()[-1].targets[0].outcome == "activated"


@pytest.mark.looptime
async def test_a_read_unanswered_within_the_dccs_wait_is_not_delivered(make_dcc, inventory, hub):
    dcc = make_dcc(response_wait=timedelta(hours=2))
    waited: list[float] = []

    async def silent(target, msg):
        start = asyncio.get_running_loop().time()
        try:
            await asyncio.Event().wait()
        finally:
            waited.append(asyncio.get_running_loop().time() - start)

    hub.responder = silent
    read = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(ESME))
    assert read.target(ESME).outcome is Outcome.NOT_DELIVERED
    assert "no response within 2:00:00" in read.target(ESME).message
    assert waited == [pytest.approx(7200)], "the DCC's wait is the only bound: it gives the CH's wait up"
    assert inventory.device(ESME).firmware_version == V1


async def test_expired_command_is_not_delivered(make_dcc, inventory, hub, keystore):
    dcc = make_dcc()

    async def expire(target, msg):
        raise CommandNotRetrieved(target, "queue expiry 24 h")

    hub.responder = expire
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(GSME, HASH))
    assert result.target(GSME).outcome is Outcome.NOT_DELIVERED
    assert inventory.device(GSME).update_state is UpdateState.FAILED
    read = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(GSME))
    assert read.target(GSME).outcome is Outcome.NOT_DELIVERED


async def test_a_command_the_ch_cannot_hand_over_is_not_delivered(make_dcc, inventory, hub, keystore):
    dcc = make_dcc()

    async def no_tunnel(target, msg):
        raise CommandNotDelivered(target, f"{target} has not opened a tunnel to the CH")

    hub.responder = no_tunnel
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
    assert result.target(ESME).outcome is Outcome.NOT_DELIVERED
    assert "has not opened a tunnel" in result.target(ESME).message
    assert inventory.device(ESME).needs_action
    read = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(ESME))
    assert read.target(ESME).outcome is Outcome.NOT_DELIVERED


async def test_responses_that_do_not_verify_or_answer_another_command_are_refused(make_dcc, inventory, hub,
                                                                                 keystore):
    dcc = make_dcc()
    forged = activation_responder(keystore)

    async def wrong_signer(target, msg):
        # ESME's response, signed by the GSME's key: does not verify with the ESME certificate
        return await forged(GSME, msg)

    hub.responder = wrong_signer
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
    assert result.target(ESME).outcome is Outcome.BAD_RESPONSE
    assert "does not verify" in result.target(ESME).message

    async def answers_an_earlier_command(target, msg):
        # the target's own signed response, but under the previous command's counter
        response = await activation_responder(keystore)(target, msg)
        earlier = dataclasses.replace(response, originator_counter=response.originator_counter - 1)
        return resign(earlier, device_key(keystore, target))

    hub.responder = answers_an_earlier_command
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
    assert result.target(ESME).outcome is Outcome.BAD_RESPONSE
    assert "not the response to counter" in result.target(ESME).message

    async def garbage(target, msg):
        return new_response(msg, b"\x00\x01", date_time=START)  # a response whose content is no use case

    hub.responder = garbage
    result = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(ESME))
    assert result.target(ESME).outcome is Outcome.BAD_RESPONSE
    assert inventory.device(ESME).firmware_version == V1


@pytest.mark.parametrize("device", [ESME, GSME, PPMID, HCALCS])
async def test_read_version_uses_each_device_types_use_case(make_dcc, inventory, hub, device):
    dcc = make_dcc()
    hub.responder = version_responder(0x0123ABCD)
    result = await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(device))
    assert result.target(device).firmware_version == 0x0123ABCD
    assert inventory.device(device).firmware_version == 0x0123ABCD


def test_request_records_refuse_bad_input():
    with pytest.raises(BadInput, match="empty"):
        UpdateFirmware(b"x", [])
    with pytest.raises(BadInput, match="more than once"):
        UpdateFirmware(b"x", [ESME, ESME])
    with pytest.raises(BadInput, match="not a single one"):
        UpdateFirmware(b"x", ESME)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="32 bytes"):
        ActivateFirmware(ESME, b"short")
    with pytest.raises(BadInput, match="time zone"):
        ActivateFirmware(ESME, HASH, execution=datetime(2030, 1, 1))
    with pytest.raises(BadInput, match="no execution date-time"):
        ActivateFirmware(ESME, HASH, execution=START, cancel=True)


async def test_refused_result_lookup_of_an_unknown_target(make_dcc, keystore):
    dcc = make_dcc()
    result = await dcc.submit(SUPPLIER_A, ActivateFirmware(EntityId.parse("00-00-00-00-00-00-00-01"), HASH))
    assert result.refused == {EntityId.parse("00-00-00-00-00-00-00-01"): RefusalRule.UNKNOWN_DEVICE}
    with pytest.raises(BadInput, match="no target"):
        result.target(ESME)


@pytest.mark.asyncio
async def test_sr_8_4_corrects_a_ppmid_variant_for_the_devices_supplier_only(make_dcc, inventory):
    from hanbench.dcc.service_requests import UpdateInventory
    from hanbench.gbcs.device_types import DeviceType, PpmidVariant

    dcc = make_dcc()
    refused = await dcc.submit(SUPPLIER_B, UpdateInventory(PPMID, PpmidVariant.B1))
    assert refused.refused == {PPMID: RefusalRule.SUPPLIER_DOES_NOT_OWN_DEVICE}
    out_of_scope = await dcc.submit(SUPPLIER_A, UpdateInventory(ESME, PpmidVariant.B1))
    assert out_of_scope.refused == {ESME: RefusalRule.DEVICE_TYPE_OUT_OF_SCOPE}
    done = await dcc.submit(SUPPLIER_A, UpdateInventory(PPMID, "b1"))
    assert done.target(PPMID).outcome is Outcome.INVENTORY_UPDATED
    device = inventory.device(PPMID)
    assert (device.type, device.ppmid_variant) == (DeviceType.ALT_HAN, PpmidVariant.B1)
    assert inventory.requests()[-1].request == "8.4"
