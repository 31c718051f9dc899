"""Distribution then activation, end to end over the virtual air, in virtual time.

distribute -> Zigbee OTA -> receipt alert through the tunnel -> CS06 through
CommsHub.send_command -> the device's signed response, and the gating cases around it.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from fixture_files import SUPPLIER, sample
from han_premises import ENTITIES, EPOCH, KEYS, OTHER_SUPPLIER, Premises, premises
from hanbench.devices import GsmeTiming
from hanbench.devices.firmware import Firmware
from hanbench.gbcs.alerts import FirmwareReceiptAlert, GsmeCommandNotRetrievedAlert, ReceiptForm
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import (
    CANCELLATION_DATETIME,
    Accepted,
    ActivationResult,
    ExecutionOutcome,
    FutureDatedActivationAlert,
    read_activate_firmware_response,
)
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import DCC_ENTITY
from hanbench.gbcs.frame import GbcsMessage, verify_message
from hanbench.gbcs.protection import MacCheck, check_mac
from hanbench.hub import hub_events
from hanbench.hub.comms_hub import CommsHubTiming
from hanbench.hub.errors import CommandNotDelivered, CommandNotRetrieved
from hanbench.radio.link import LinkModel

pytestmark = pytest.mark.looptime

D = DeviceType
V1, V2 = bytes.fromhex("00000001"), bytes.fromhex("00000002")


def image_hash(kind: DeviceType) -> bytes:
    return sample(kind).manufacturer_image_hash


async def activate(p: Premises, kind: DeviceType, command: GbcsMessage) -> Accepted | ExecutionOutcome:
    """Send ``command`` through the CH; the device's verified CS06 response."""
    response = await p.hub.send_command(command)
    assert response.originator == ENTITIES[kind] and response.target == SUPPLIER
    assert verify_message(response, KEYS.public_key(ENTITIES[kind]))
    return read_activate_firmware_response(response)


async def distributed(p: Premises, kind: DeviceType) -> FirmwareReceiptAlert:
    """Distribute the v2 sample image and wait for the device's receipt alert at the CH."""
    await p.hub.distribute(sample(kind), [ENTITIES[kind]])
    await p.until(lambda: receipts(p, kind) != [], timeout_s=7200)
    [receipt] = receipts(p, kind)
    return receipt


def receipts(p: Premises, kind: DeviceType) -> list[FirmwareReceiptAlert]:
    return [a for _, a in p.alerts(ENTITIES[kind]) if isinstance(a, FirmwareReceiptAlert)]


@pytest.mark.parametrize("kind", [D.ESME, D.HCALCS])
async def test_whole_flow_receipt_alert_then_cs06_activates(kind: DeviceType) -> None:
    async with premises([kind]) as p:
        receipt = await distributed(p, kind)
        assert receipt.alert_code == AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL
        assert receipt.form is ReceiptForm.DLMS and receipt.calculated_hash == image_hash(kind)
        [msg] = [m for m, a in p.alerts(ENTITIES[kind]) if isinstance(a, FirmwareReceiptAlert)]
        assert verify_message(msg, KEYS.public_key(ENTITIES[kind])) and msg.target == SUPPLIER
        assert p.devices[kind].firmware.running == Firmware(1)
        outcome = await activate(p, kind, p.cs06(kind, receipt.calculated_hash))
        assert outcome == ExecutionOutcome(ActivationResult.SUCCESS, V2)
        assert p.devices[kind].firmware.running == Firmware(2, image_hash(kind))


async def test_wrong_hash_answers_2_and_the_old_version_keeps_running() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        outcome = await activate(p, D.ESME, p.cs06(D.ESME, bytes(32)))
        assert outcome == ExecutionOutcome(ActivationResult.HASH_MISMATCH, V1)
        assert p.devices[D.ESME].firmware.running == Firmware(1)


async def test_cs06_without_an_image_answers_no_image_held() -> None:
    async with premises([D.ESME]) as p:
        outcome = await activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME)))
        assert outcome == ExecutionOutcome(ActivationResult.NO_IMAGE_HELD, V1)


async def unanswered(p: Premises, command: GbcsMessage) -> None:
    """Send ``command``: no response comes within a virtual day, and the CH still waits for one."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(p.hub.send_command(command), 24 * 3600)


async def test_cs06_signed_by_another_supplier_is_refused_with_0x8F3D_and_nothing_activates() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        await unanswered(p, p.cs06(D.ESME, image_hash(D.ESME), signer=OTHER_SUPPLIER))
        assert p.devices[D.ESME].firmware.running == Firmware(1)
        assert AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE in p.alert_codes(ENTITIES[D.ESME])


async def test_replayed_cs06_is_refused() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        wrong = p.cs06(D.ESME, bytes(32))
        assert (await activate(p, D.ESME, wrong)).code is ActivationResult.HASH_MISMATCH
        await unanswered(p, wrong)
        replay = p.cs06(D.ESME, image_hash(D.ESME), counter=p.counter)  # same counter, right hash
        await unanswered(p, replay)
        assert p.devices[D.ESME].firmware.running == Firmware(1)
        assert p.alert_codes(ENTITIES[D.ESME]).count(AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE) == 2


async def test_future_dated_activation_fires_at_its_date_time_with_0x8F66() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        when = EPOCH + dt.timedelta(days=3)
        assert await activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME), when=when)) == Accepted()
        esme = p.devices[D.ESME]
        assert esme.gbcs.pending is not None and esme.gbcs.pending.execution == when
        await asyncio.sleep((when - p.clock.now()).total_seconds() - 1)
        assert esme.firmware.running == Firmware(1)
        await p.until(lambda: esme.firmware.running.file_version == 2, timeout_s=10)
        assert p.clock.now() - when < dt.timedelta(seconds=2)
        await p.until(lambda: any(isinstance(a, FutureDatedActivationAlert) for _, a in p.alerts()))
        [alert] = [a for _, a in p.alerts(ENTITIES[D.ESME]) if isinstance(a, FutureDatedActivationAlert)]
        assert alert.alert_code == AlertCode.FUTURE_DATED_COMMAND_ACTIONED
        assert (alert.execution_datetime, alert.outcome) == (when, ExecutionOutcome(ActivationResult.SUCCESS, V2))


async def test_cancellation_prevents_a_future_dated_activation() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        when = EPOCH + dt.timedelta(days=1)
        assert await activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME), when=when)) == Accepted()
        assert await activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME), when=CANCELLATION_DATETIME)) == Accepted()
        await asyncio.sleep(3 * 24 * 3600)
        assert p.devices[D.ESME].firmware.running == Firmware(1)
        assert p.devices[D.ESME].gbcs.pending is None
        assert not any(isinstance(a, FutureDatedActivationAlert) for _, a in p.alerts())


# --- GSME: only through its wake cycle ---------------------------------------------------------

GSME_TIMING = GsmeTiming(wake_interval_s=1800, phase_s=600)


async def test_gsme_takes_the_image_at_its_first_wake_and_activates_by_a_queued_cs06() -> None:
    async with premises([D.GSME], gsme_timing=GSME_TIMING) as p:
        gsme = p.devices[D.GSME]
        assert not gsme.node.awake
        start = asyncio.get_running_loop().time()
        receipt = await distributed(p, D.GSME)
        assert receipt.form is ReceiptForm.GBZ and receipt.calculated_hash == image_hash(D.GSME)
        assert len(gsme.wakes) == 1 and gsme.wakes[0] - start <= 600  # the first wake after distribution
        response = asyncio.ensure_future(p.hub.send_command(p.cs06(D.GSME, receipt.calculated_hash)))
        await asyncio.sleep(60)
        assert not response.done() and gsme.firmware.running == Firmware(1)  # queued until it wakes
        await p.until(response.done, timeout_s=1800)
        assert len(gsme.wakes) == 2
        assert read_activate_firmware_response(response.result()) == ExecutionOutcome(ActivationResult.SUCCESS, V2)
        assert gsme.firmware.running == Firmware(2, image_hash(D.GSME))
        assert not gsme.node.awake


async def test_gsme_queue_expiry_raises_0x819D_and_command_not_retrieved() -> None:
    async with premises([D.GSME], gsme_timing=GSME_TIMING, timing=CommsHubTiming(queue_expiry_s=2 * 3600)) as p:
        gsme = p.devices[D.GSME]
        await gsme.close()  # the GSME never wakes again (flat battery)
        command = p.cs06(D.GSME, image_hash(D.GSME))
        with pytest.raises(CommandNotRetrieved):
            await p.hub.send_command(command)
        [(msg, alert)] = [(m, a) for m, a in p.alerts() if isinstance(a, GsmeCommandNotRetrievedAlert)]
        assert (alert.gsme, alert.command_counter) == (ENTITIES[D.GSME], command.originator_counter)
        # A non-critical alert: MAC'd by the CH for the DCC, not signed
        assert msg.originator == p.hub.entity_id and msg.target == DCC_ENTITY and msg.signature is None
        assert check_mac(msg, KEYS) is MacCheck.VALID
        assert p.clock.now() - EPOCH >= dt.timedelta(hours=2)


# --- commands that do not get through, or whose acknowledgement does not come back ---------------

async def test_a_command_whose_acknowledgement_is_lost_still_gets_its_response_once_the_link_is_back() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        esme, ch = p.devices[D.ESME].node.ieee, p.app.state.node_info.ieee
        loop = asyncio.get_running_loop()

        def cut_once_whole(message: bytes) -> None:
            # The CS06 came in GBT blocks: from its last one on, the device hears and the CH does not.
            p.air.set_link(esme, ch, LinkModel(loss=1.0), both_ways=False)
            loop.call_later(60, lambda: p.air.set_link(esme, ch, LinkModel(), both_ways=False))
            remove()

        remove = p.devices[D.ESME].tunnel.on_message(cut_once_whole)
        outcome = await asyncio.wait_for(activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME))), 3600)
        assert outcome == ExecutionOutcome(ActivationResult.SUCCESS, V2)
        assert p.devices[D.ESME].firmware.running.file_version == 2


async def test_a_command_for_a_device_without_a_tunnel_is_not_delivered_at_once() -> None:
    async with premises([D.ESME]) as p:
        p.hub.tunnels.uninstall()
        p.hub.tunnels.install(p.app)  # the CH forgot every tunnel; the ESME has not asked again
        with pytest.raises(CommandNotDelivered, match="has not opened a tunnel"):
            await asyncio.wait_for(p.hub.send_command(p.cs06(D.ESME, image_hash(D.ESME))), 1)


async def test_a_command_to_a_device_that_was_off_is_sent_again_once_it_opens_a_new_tunnel() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        esme = p.devices[D.ESME]
        await esme.power_off()
        sent = asyncio.ensure_future(activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME))))
        await asyncio.sleep(60)
        assert not sent.done(), "unacknowledged: the CH waits for the response"
        await esme.power_on()  # a new tunnel: the CH sends the command again
        assert await asyncio.wait_for(sent, 600) == ExecutionOutcome(ActivationResult.SUCCESS, V2)
        assert esme.firmware.running.file_version == 2


async def test_a_command_sent_while_the_ch_was_down_goes_when_it_is_back() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        p.hub.power_off()
        await p.app.disconnect()
        sent = asyncio.ensure_future(activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME))))
        await asyncio.sleep(30)
        await p.app.connect()
        await p.hub.power_on()
        assert await asyncio.wait_for(sent, 600) == ExecutionOutcome(ActivationResult.SUCCESS, V2)


def resends(p: Premises) -> list[hub_events.Resending]:
    events: list[hub_events.Resending] = []
    p.hub.on_event(lambda event: events.append(event) if isinstance(event, hub_events.Resending) else None)
    return events


async def test_a_command_whose_block_transfer_failed_is_sent_again_to_an_awake_device_until_it_goes() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        esme, ch = p.devices[D.ESME].node.ieee, p.app.state.node_info.ieee
        tries = resends(p)
        # The ESME hears the CS06's first GBT block, but no acknowledgement of it reaches the CH for
        # two minutes: the block transfer fails after its retries, and the ESME opens no new tunnel.
        p.air.set_link(esme, ch, LinkModel(loss=1.0), both_ways=False)
        asyncio.get_running_loop().call_later(120, lambda: p.air.set_link(esme, ch, LinkModel(), both_ways=False))
        outcome = await asyncio.wait_for(activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME))), 3600)
        assert outcome == ExecutionOutcome(ActivationResult.SUCCESS, V2)
        assert p.devices[D.ESME].firmware.running.file_version == 2
        assert tries and [t.attempt for t in tries] == list(range(1, len(tries) + 1)), "sent again by the CH"


async def test_a_command_an_awake_device_never_acknowledges_ends_not_delivered_after_the_resends() -> None:
    timing = CommsHubTiming(command_retry_s=10, command_retries=3)
    async with premises([D.ESME], timing=timing) as p:
        await distributed(p, D.ESME)
        esme, ch = p.devices[D.ESME].node.ieee, p.app.state.node_info.ieee
        tries = resends(p)
        gave_up: list[hub_events.Undelivered] = []
        p.hub.on_event(lambda event: gave_up.append(event) if isinstance(event, hub_events.Undelivered) else None)
        p.air.set_link(esme, ch, LinkModel(loss=1.0), both_ways=False)  # for good
        command = p.cs06(D.ESME, image_hash(D.ESME))
        began = p.clock.now()
        with pytest.raises(CommandNotDelivered, match=rf"{ENTITIES[D.ESME]}.*sent again 3 times") as failed:
            await asyncio.wait_for(p.hub.send_command(command), 3600)
        assert failed.value.target == ENTITIES[D.ESME]
        assert [(t.attempt, t.attempts, t.after_s) for t in tries] == [(1, 3, 10), (2, 3, 20), (3, 3, 40)]
        [undelivered] = gave_up
        assert (undelivered.device, undelivered.counter) == (ENTITIES[D.ESME], command.originator_counter)
        assert undelivered.attempts == 3 and undelivered.over_s >= 10 + 20 + 40
        assert p.clock.now() - began >= dt.timedelta(seconds=10 + 20 + 40), "backed off, doubling"
        assert p.devices[D.ESME].firmware.running.file_version == 1


async def test_a_command_sent_again_under_its_key_has_one_resend_schedule_not_two() -> None:
    async with premises([D.ESME], timing=CommsHubTiming(command_retry_s=100, command_retries=5)) as p:
        await distributed(p, D.ESME)
        esme, ch = p.devices[D.ESME].node.ieee, p.app.state.node_info.ieee
        tries = resends(p)
        p.air.set_link(esme, ch, LinkModel(loss=1.0), both_ways=False)  # for good
        command = p.cs06(D.ESME, image_hash(D.ESME))
        with pytest.raises(TimeoutError):  # the DCC stops waiting while the CH is sending it again
            await asyncio.wait_for(p.hub.send_command(command), 200)
        assert tries, "the CH had not sent it again yet: the test waits too little"
        tries.clear()
        with pytest.raises(TimeoutError):  # the same command again: its resends start afresh
            await asyncio.wait_for(p.hub.send_command(command), 600)
        assert [t.attempt for t in tries] == list(range(1, len(tries) + 1)), \
            f"two resend schedules under one key: tries {[t.attempt for t in tries]}"


async def test_a_command_refused_for_a_tunnel_the_device_lost_goes_on_its_new_tunnel() -> None:
    async with premises([D.ESME]) as p:
        await distributed(p, D.ESME)
        esme = p.devices[D.ESME]
        esme.tunnel.forget()  # reset: the device's tunnel is gone, the CH has not heard yet
        sent = asyncio.ensure_future(activate(p, D.ESME, p.cs06(D.ESME, image_hash(D.ESME))))
        await asyncio.sleep(30)
        assert not sent.done(), "refused NO_SUCH_TUNNEL: the command cannot have arrived; the CH tries again"
        await esme.tunnel.open()
        assert await asyncio.wait_for(sent, 600) == ExecutionOutcome(ActivationResult.SUCCESS, V2)
