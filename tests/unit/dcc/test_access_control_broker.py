"""The DCC as Access Control Broker: every command it sends carries the ACB's MAC under an
invocation counter that never repeats (across runs too), and what comes back is refused unless
its MAC verifies where GBCS MACs it. Real MACs with the bench key store."""

from __future__ import annotations

import dataclasses

import pytest
from dcc_support import (
    CH, ESME, ESME_B, GSME, SUPPLIER_A, SUPPLIER_B, START, FakeHub, activation_responder, device_macd, loop_clock,
    seed, signed_image, version_responder,
)

from hanbench.dcc.access_control_broker import AccessControlBroker
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.service_requests import ActivateFirmware, Outcome, ReadFirmwareVersion
from hanbench.gbcs import alerts, firmware_version
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.entity import DCC_ENTITY
from hanbench.gbcs.errors import KeyMissing, MacInvalid
from hanbench.gbcs.frame import Cra, GbcsMessage, MacEnvelope
from hanbench.gbcs.keystore import Usage
from hanbench.gbcs.protection import verify_mac

HASH = bytes(range(32))


def verifies_at_the_device(command: GbcsMessage, keystore) -> bool:
    """Whether ``command``'s MAC verifies as the target device checks it: its own KA key and the ACB's."""
    try:
        verify_mac(command, keystore.private_key(command.target, Usage.KA), keystore.public_key(DCC_ENTITY, Usage.KA))
    except MacInvalid:
        return False
    return True


async def test_every_command_the_dcc_sends_carries_the_acbs_mac(make_dcc, hub, keystore):
    dcc = make_dcc()
    hub.responder = activation_responder(keystore)
    await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, HASH))
    hub.responder = version_responder(2)
    for device in (ESME, GSME):
        await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(device))
    assert [c.message_code for c in hub.commands] == [MessageCode.CS06_ACTIVATE_FIRMWARE,
                                                      MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION,
                                                      MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION]
    for command in hub.commands:
        assert command.mac is not None and verifies_at_the_device(command, keystore)
    assert hub.commands[0].signature is not None, "CS06 is signed by the Supplier inside the MAC"
    assert hub.commands[1].signature is None, "a read carries the MAC alone"
    counters = [c.mac.invocation_counter for c in hub.commands]
    assert counters == sorted(set(counters))


async def test_the_invocation_counter_never_repeats_across_runs(tmp_path, keystore):
    path = tmp_path / "bench.db"
    seed(Inventory(path)).close()
    used: list[int] = []
    for _run in range(3):
        hub = FakeHub()
        hub.responder = version_responder(1)
        with Inventory(path) as inventory:
            dcc = Dcc(inventory, keystore, hub, "mp207", loop_clock)
            for _ in range(2):
                await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(ESME))
            await dcc.aclose()
        used += [c.mac.invocation_counter for c in hub.commands]
    assert len(used) == 6 and used == sorted(set(used))


def test_a_key_the_acb_lacks_is_a_typed_error(keystore, inventory):
    acb = AccessControlBroker(keystore, inventory)
    read = firmware_version.firmware_version_request(SUPPLIER_B, ESME_B, 1, firmware_version.EsmeFirmwareVersionRequest())
    with pytest.raises(KeyMissing, match="00db123456789200-ka.pem"):
        acb.protect(read)


async def test_a_device_the_key_store_cannot_mac_for_is_logged_then_raised(make_dcc, inventory, hub):
    dcc = make_dcc()
    with pytest.raises(KeyMissing):
        await dcc.submit(SUPPLIER_B, ReadFirmwareVersion(ESME_B))
    [target] = inventory.requests()[-1].targets
    assert target.outcome == Outcome.NOT_DELIVERED.value
    assert hub.commands == []


def _tampered(msg: GbcsMessage) -> GbcsMessage:
    assert msg.mac is not None
    return dataclasses.replace(msg, mac=MacEnvelope(bytes(12), msg.mac.security_control, msg.mac.invocation_counter))


@pytest.mark.parametrize("spoil, why", [
    (lambda m: dataclasses.replace(m, mac=None), "carries no MAC"),
    (_tampered, "does not verify"),
])
async def test_a_read_response_whose_mac_fails_is_a_bad_response(make_dcc, inventory, hub, spoil, why):
    dcc = make_dcc()
    honest = version_responder(7)

    async def respond(target, msg):
        return spoil(await honest(target, msg))

    hub.responder = respond
    result = (await dcc.submit(SUPPLIER_A, ReadFirmwareVersion(ESME))).target(ESME)
    assert result.outcome is Outcome.BAD_RESPONSE and why in result.message
    assert inventory.device(ESME).firmware_version != 7
    assert inventory.requests()[-1].targets[0].outcome == "bad_response"


@pytest.mark.parametrize("spoil, why", [
    (lambda m: m, "carries no MAC"),
    (lambda m: _tampered(device_macd(m)), "does not verify"),
])
async def test_a_non_critical_alert_whose_mac_fails_is_recorded_not_acted_on(make_dcc, inventory, hub, keystore,
                                                                            spoil, why):
    make_dcc()
    record = alerts.GsmeCommandNotRetrievedAlert(START, GSME, 42)
    message = alerts.alert_message(CH, DCC_ENTITY, 9, record, keystore.private_key(CH))
    assert message.cra is Cra.ALERT and message.signature is None, "a non-critical alert is not signed"
    hub.alert(spoil(message))
    detail = inventory.alerts(GSME)[-1].detail
    assert "not acted on" in detail and why in detail
