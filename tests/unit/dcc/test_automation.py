"""Supplier automation, both paths: activation on the receipt alert, and the 11.2 fallback when
the alert is dropped on purpose."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dcc_support import (
    ESME, GSME, HCALCS, RSA_1, START, SUPPLIER_A, V1, V2, activation_responder, distribute, receipt_alert, signed_image,
    transfer_alert, version_responder,
)

from hanbench.dcc.automation import Action, Branch, SupplierAutomation
from hanbench.dcc.records import UpdateState
from hanbench.dcc.service_requests import Outcome, UpdateFirmware
from hanbench.gbcs import alerts
from hanbench.gbcs.frame import new_response


def device_answers(keystore, *, running: int):
    """A device that activates CS06 to V2 and reports ``running`` to 11.2 reads."""
    activate = activation_responder(keystore, version=V2)
    read = version_responder(running)

    async def respond(target, msg):
        return await (activate if msg.message_code == 0x0012 else read)(target, msg)
    return respond


@pytest.mark.looptime
async def test_receipt_alert_with_matching_hash_triggers_activation(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await distribute(dcc, RSA_1, keystore, [ESME, GSME])
    digest = inventory.device(ESME).pending.hash
    hub.responder = device_answers(keystore, running=V1)

    async def devices_report() -> None:
        await asyncio.sleep(120)
        hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, digest))
        hub.alert(receipt_alert(keystore, GSME, SUPPLIER_A, bytes(32)))

    reporter = asyncio.create_task(devices_report())
    outcomes = await SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(hours=1)).follow([ESME, GSME])
    await reporter
    esme, gsme = outcomes
    assert (esme.branch, esme.action, esme.activation.outcome) == (Branch.RECEIPT_ALERT, Action.ACTIVATION_SENT,
                                                                 Outcome.ACTIVATED)
    assert (gsme.branch, gsme.action) == (Branch.RECEIPT_ALERT, Action.NEEDS_ACTION)
    assert "calculated hash" in gsme.detail
    (activation,) = hub.commands
    assert activation.target == ESME and activation.originator == SUPPLIER_A
    assert inventory.device(ESME).firmware_version == V2


@pytest.mark.looptime
async def test_dropped_receipt_alert_falls_back_to_read_then_activates_when_delivered(make_dcc, inventory, hub,
                                                                                       keystore):
    dcc = make_dcc("mp207")
    await distribute(dcc, SUPPLIER_A, keystore, [ESME, GSME, HCALCS])
    hub.alert(transfer_alert(keystore, ESME, alerts.TransferResult.SUCCESS))  # receipt alert dropped on purpose
    hub.responder = device_answers(keystore, running=V1)
    automation = SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(minutes=30))
    esme, gsme, hcalcs = await automation.follow([ESME, GSME, HCALCS])
    assert (esme.branch, esme.action, esme.activation.outcome) == (Branch.NO_RECEIPT_ALERT, Action.ACTIVATION_SENT,
                                                                 Outcome.ACTIVATED)
    for nothing_heard in (gsme, hcalcs):
        assert (nothing_heard.branch, nothing_heard.action) == (Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION)
        assert "nothing says the image reached the device" in nothing_heard.detail
    reads = [m for m in hub.commands if m.message_code != 0x0012]
    assert len(reads) == 3
    assert inventory.device(ESME).update_state is UpdateState.ACTIVATED


@pytest.mark.looptime
async def test_dropped_receipt_but_version_already_running_needs_nothing(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.responder = device_answers(keystore, running=V2)
    (outcome,) = await SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(minutes=5)).follow([ESME])
    assert outcome.action is Action.ALREADY_RUNNING
    assert inventory.device(ESME).pending is None


@pytest.mark.looptime
async def test_rejected_image_and_missing_pending_image_need_action(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, inventory.device(ESME).pending.hash, ok=False))
    automation = SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(minutes=5))
    rejected, nothing = await automation.follow([ESME, HCALCS])
    assert rejected.action is Action.NEEDS_ACTION and "0x8F1C" in rejected.detail
    assert nothing.action is Action.NEEDS_ACTION and "no pending image" in nothing.detail
    assert hub.commands == []


@pytest.mark.looptime
async def test_failed_fallback_read_needs_action(make_dcc, inventory, hub, keystore):
    dcc = make_dcc("mp207")
    await distribute(dcc, SUPPLIER_A, keystore, [GSME])

    async def garbage(target, msg):
        return new_response(msg, b"\x01", date_time=START)  # a response whose content is no use case

    hub.responder = garbage
    (outcome,) = await SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(minutes=5)).follow([GSME])
    assert outcome.action is Action.NEEDS_ACTION and "SR 11.2 failed" in outcome.detail


@pytest.mark.looptime
async def test_alerts_from_before_the_mark_are_not_taken_for_this_update(make_dcc, inventory, hub, keystore):
    # An earlier bench session on the same inventory: same clock readings, same image, same alerts.
    dcc = make_dcc("mp207")
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    digest = inventory.device(ESME).pending.hash
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, digest))
    hub.alert(transfer_alert(keystore, ESME, alerts.TransferResult.SUCCESS))
    mark = dcc.inbox(SUPPLIER_A).messages()[-1].seq
    inventory.reset_device(ESME, status="commissioned", firmware_version=V1)
    # This session: the same distribution, and every alert of it lost.
    await dcc.submit(SUPPLIER_A, UpdateFirmware(signed_image(keystore, SUPPLIER_A), [ESME]))
    hub.responder = device_answers(keystore, running=V1)

    [outcome] = await SupplierAutomation(dcc, SUPPLIER_A, receipt_wait=timedelta(hours=1), after=mark).follow([ESME])

    assert (outcome.branch, outcome.action) == (Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION)
    assert "nothing says the image reached the device" in outcome.detail
    assert len(hub.commands) == 1, "the SR 11.2 read, and no SR 11.3"
