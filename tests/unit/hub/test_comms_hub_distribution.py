"""Distribution over the virtual air: CommsHub -> Zigbee OTA -> emulated devices.

Every test runs a real zigpy coordinator (VirtualRadioApp) with the CommsHub on it and
emulated devices that join, get interviewed and pull images block by block, in virtual time.
"""

from __future__ import annotations

import asyncio

import pytest
from zigpy.zcl.clusters.general import Ota

from fixture_files import sample
from han_premises import ENTITIES, KEYS, OTHER_SUPPLIER, Premises, premises
from hanbench.devices.firmware import Activated, ActivationTrigger, Firmware, ImageHeld, ImageRefused
from hanbench.devices.ota_client import ClientResult
from hanbench.gbcs.alerts import FirmwareTransferAlert, PpmidActivationAlert, PpmidActivationOutcome, TransferResult
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.frame import verify_message
from hanbench.gbcs.entity import DCC_ENTITY
from hanbench.hub import hub_events
from hanbench.hub.comms_hub import CommsHubTiming
from hanbench.hub.ota_server import OtaServerConfig
from hanbench.hub.transfer import TransferOutcome
from hanbench.radio.link import LinkModel

pytestmark = pytest.mark.looptime

D = DeviceType


def ccs08(p: Premises) -> list[FirmwareTransferAlert]:
    out = []
    for msg, alert in p.alerts():
        if isinstance(alert, FirmwareTransferAlert):
            assert (msg.originator, msg.target) == (p.hub.entity_id, DCC_ENTITY)
            assert verify_message(msg, KEYS.public_key(p.hub.entity_id))
            out.append(alert)
    return out


@pytest.mark.parametrize("kind", [D.ESME, D.HCALCS])
async def test_awake_device_takes_the_image_on_image_notify_and_holds_it(kind: DeviceType) -> None:
    async with premises([kind]) as p:
        device = p.devices[kind]
        await p.hub.distribute(sample(kind), [ENTITIES[kind]])
        await p.until(lambda: device.firmware.held is not None, timeout_s=600)
        expected = sample(kind).manufacturer_image_hash
        assert device.firmware.held == Firmware(2, expected)
        assert device.firmware.running == Firmware(1)
        assert device.ota.outcomes[-1].upgrade_time == 0xFFFFFFFF
        [transfer] = ccs08(p)
        assert (transfer.device, transfer.result, transfer.firmware_version) == (
            ENTITIES[kind], TransferResult.SUCCESS, bytes.fromhex("00000002"))


async def test_nothing_activates_without_cs06_after_days() -> None:
    async with premises([D.ESME]) as p:
        esme = p.devices[D.ESME]
        await p.hub.distribute(sample(D.ESME), [ENTITIES[D.ESME]])
        await asyncio.sleep(5 * 24 * 3600)
        assert esme.firmware.running == Firmware(1)
        assert esme.firmware.held is not None and esme.firmware.held.file_version == 2
        assert esme.node.get_attribute(0x0019, "current_file_version", server=False) == 1


async def test_image_signed_by_another_party_is_refused_and_nothing_is_held() -> None:
    async with premises([D.ESME]) as p:
        esme = p.devices[D.ESME]
        events: list[object] = []
        esme.firmware.subscribe(events.append)
        forged = sample(D.ESME).signed(KEYS.private_key(OTHER_SUPPLIER))
        await p.hub.distribute(forged, [ENTITIES[D.ESME]])
        await p.until(lambda: esme.ota.outcomes and esme.ota.outcomes[-1].result is ClientResult.REFUSED)
        assert esme.firmware.held is None
        assert [type(e) for e in events if isinstance(e, (ImageHeld, ImageRefused))] == [ImageRefused]
        await p.until(lambda: ccs08(p))
        assert ccs08(p)[0].result is TransferResult.FILE_TRANSFER_FAILURE


async def test_hardware_version_outside_the_range_is_refused_by_the_ch_with_ccs08_2() -> None:
    async with premises([D.ESME], hardware_version=0x2000) as p:
        await p.hub.distribute(sample(D.ESME), [ENTITIES[D.ESME]])
        await p.until(lambda: ccs08(p))
        assert ccs08(p)[0].result is TransferResult.HARDWARE_VERSION_MISMATCH
        assert p.devices[D.ESME].firmware.held is None


async def test_ppmid_activates_by_itself_and_raises_cs09() -> None:
    async with premises([D.PPMID]) as p:
        ppmid = p.devices[D.PPMID]
        await p.hub.distribute(sample(D.PPMID), [ENTITIES[D.PPMID]])
        await p.until(lambda: ppmid.firmware.running.file_version == 2, timeout_s=600)
        assert ppmid.firmware.held is None
        await p.until(lambda: p.alerts(ENTITIES[D.PPMID]) != [])
        [(msg, cs09)] = p.alerts(ENTITIES[D.PPMID])
        assert isinstance(cs09, PpmidActivationAlert) and cs09.alert_code == AlertCode.READ_FIRMWARE_VERSION_ALERT
        assert (cs09.outcome, cs09.firmware_version) == (PpmidActivationOutcome.SUCCESS, bytes.fromhex("00000002"))
        assert verify_message(msg, KEYS.public_key(ENTITIES[D.PPMID]))


async def test_ihd_is_activated_by_the_ch_after_a_good_transfer() -> None:
    async with premises([D.IHD]) as p:
        ihd = p.devices[D.IHD]
        events: list[object] = []
        ihd.firmware.subscribe(events.append)
        await p.hub.distribute(sample(D.IHD), [ENTITIES[D.IHD]])
        await p.until(lambda: ihd.firmware.running.file_version == 2, timeout_s=600)
        assert ihd.ota.outcomes[-1].upgrade_time == 0xFFFFFFFF  # the OTA answer still says "wait"
        assert [type(e) for e in events] == [ImageHeld, Activated]
        assert events[1].trigger is ActivationTrigger.CH_UPGRADE_COMMAND
        assert ihd.firmware.held is None
        assert p.alerts(ENTITIES[D.IHD]) == []  # an IHD raises no GBCS alert


async def test_ihd_upgrade_time_from_the_ch_is_honoured_and_the_ihd_shows_its_count_down() -> None:
    async with premises([D.IHD], timing=CommsHubTiming(ihd_activation_delay_s=3600)) as p:
        ihd = p.devices[D.IHD]
        names = ("image_upgrade_status", "downloaded_file_version")
        await p.hub.distribute(sample(D.IHD), [ENTITIES[D.IHD]])
        await p.until(lambda: ihd.firmware.held is not None, timeout_s=600)
        await asyncio.sleep(3000)
        assert ihd.firmware.running.file_version == 1
        # ZCL OTA: told an upgrade time (the CH's own Upgrade End Response), the client counts down
        assert await p.hub.ota.read_client_attributes(ENTITIES[D.IHD], names) == {
            "image_upgrade_status": Ota.ImageUpgradeStatus.Count_down, "downloaded_file_version": 2}
        await asyncio.sleep(700)
        assert ihd.firmware.running.file_version == 2
        assert await p.hub.ota.read_client_attributes(ENTITIES[D.IHD], names) == {
            "image_upgrade_status": Ota.ImageUpgradeStatus.Normal, "downloaded_file_version": 0xFFFFFFFF}


async def test_discarded_image_is_reported_as_ccs08_1() -> None:
    async with premises([D.HCALCS, D.PPMID]) as p:
        # the HCALCS image overwrites the PPMID's (they share a slot); the PPMID's link is down, so it waits
        p.air.set_link(p.app.state.node_info.ieee, p.devices[D.PPMID].node.ieee, LinkModel(loss=1.0))
        assert await p.hub.distribute(sample(D.PPMID), [ENTITIES[D.PPMID]])
        assert await p.hub.distribute(sample(D.HCALCS), [ENTITIES[D.HCALCS]])
        discarded = [a for a in ccs08(p) if a.result is TransferResult.IMAGE_DISCARDED]
        assert [a.device for a in discarded] == [ENTITIES[D.PPMID]]


async def test_an_image_the_rules_discard_at_once_is_reported_and_distribute_says_so() -> None:
    async with premises([D.GSME, D.PPMID]) as p:
        # seed rules: the GSME's image has priority in the slot it shares with the PPMID's
        assert await p.hub.distribute(sample(D.GSME), [ENTITIES[D.GSME]])
        assert not await p.hub.distribute(sample(D.PPMID), [ENTITIES[D.PPMID]])
        discarded = [a for a in ccs08(p) if a.result is TransferResult.IMAGE_DISCARDED]
        assert [a.device for a in discarded] == [ENTITIES[D.PPMID]]


async def test_an_image_for_another_device_type_is_discarded_for_that_target_at_once_with_ccs08_1() -> None:
    async with premises([D.ESME, D.GSME]) as p:
        esme, gsme = ENTITIES[D.ESME], ENTITIES[D.GSME]
        await p.hub.distribute(sample(D.GSME), [esme, gsme])  # the SR 11.1 the DCC refuses for the ESME
        (discard,) = ccs08(p)
        assert (discard.device, discard.result) == (esme, TransferResult.IMAGE_DISCARDED)
        assert p.hub.ota.image_waiting(esme) is None and p.hub.ota.image_waiting(gsme) is not None
        await p.hub.distribute(sample(D.GSME), [esme])  # no target can take it: nothing is stored
        assert [a.device for a in ccs08(p)] == [esme, esme]
        assert len(p.hub.store.images) == 1


async def test_a_downgrade_is_discarded_for_the_device_at_its_query_with_ccs08_1() -> None:
    async with premises([D.ESME]) as p:
        esme = p.devices[D.ESME]
        await p.hub.distribute(sample(D.ESME, 2), [ENTITIES[D.ESME]])
        await p.until(lambda: esme.firmware.held is not None, timeout_s=600)
        esme.firmware.activate(esme.firmware.held.image_hash, ActivationTrigger.CS06)  # it now runs version 2
        await p.hub.distribute(sample(D.ESME, 1), [ENTITIES[D.ESME]])  # an older file, validly signed
        await p.until(lambda: len(ccs08(p)) == 2, timeout_s=600)
        assert ccs08(p)[1].result is TransferResult.IMAGE_DISCARDED
        assert p.hub.ota.image_waiting(ENTITIES[D.ESME]) is None
        assert esme.firmware.running.file_version == 2 and esme.firmware.held is None


async def test_a_device_whose_link_is_down_is_given_up_with_ccs08_3_after_the_target_wait() -> None:
    async with premises([D.ESME], timing=CommsHubTiming(ota=OtaServerConfig(target_wait_s=3600))) as p:
        esme = ENTITIES[D.ESME]
        p.air.set_link(p.app.state.node_info.ieee, p.devices[D.ESME].node.ieee, LinkModel(loss=0.9))
        await p.hub.distribute(sample(D.ESME), [esme])
        await p.until(lambda: ccs08(p), timeout_s=2 * 3600, step_s=60)
        (failure,) = ccs08(p)
        assert (failure.device, failure.result) == (esme, TransferResult.FILE_TRANSFER_FAILURE)
        assert p.hub.ota.image_waiting(esme) is None


def recorder(p: Premises) -> list[str]:
    """What the CH told its listeners, by kind, in order: its steps and the alerts it sent up."""
    calls: list[str] = []

    def step(event: hub_events.HubEvent) -> None:
        match event:
            case hub_events.Stored():
                calls.append("stored")
            case hub_events.Notified(delivered=delivered):
                calls.append(f"notify {delivered}")
            case TransferOutcome():
                calls.append("finished")

    p.hub.on_event(step)
    p.hub.on_alert(lambda alert: calls.append("ch alert" if alert.message.originator == p.hub.entity_id
                                              else "device alert"))
    return calls


async def test_listeners_hear_each_step_and_dropped_alerts_never_reach_the_ch() -> None:
    async with premises([D.ESME]) as p:
        calls = recorder(p)
        esme = p.devices[D.ESME]
        esme.outbox.drop_alerts()
        await p.hub.distribute(sample(D.ESME), [ENTITIES[D.ESME]])
        await p.until(lambda: "finished" in calls, timeout_s=600)
        await asyncio.sleep(60)
        assert esme.firmware.held is not None and esme.gbcs.alerts  # raised and recorded ...
        assert p.alerts(ENTITIES[D.ESME]) == []  # ... but never sent
        assert calls == ["stored", "notify True", "finished", "ch alert"]
