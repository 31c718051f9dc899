"""GbcsDevice on its own: image checks, receipt alerts, command authentication (MAC, signature,
counter) and CS06 gating, future dates, SR 11.2, and what the device MACs.

Real signatures and MACs with the bench key store and the sample images; virtual time for dates.
The over-the-air flows are in ``tests/unit/hub/test_comms_hub_*.py``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization

from dataclasses import replace

from fixture_files import SUPPLIER, acb_protected, bench_keys, built_image, relabelled, sample_bytes
from hanbench.clock import BenchClock
from hanbench.devices.firmware import (
    Activated,
    ActivationTrigger,
    AlertRaised,
    CommandCheck,
    CommandDropped,
    Firmware,
    FirmwareEvent,
    FirmwareState,
    FutureDatedCancelled,
    ImageHeld,
    ImageRefused,
)
from hanbench.devices.gbcs_device import DeviceKeys, GbcsDevice
from hanbench.gbcs import firmware_version as fv
from hanbench.gbcs.alerts import AlertForm, FirmwareReceiptAlert, GenericAlert, ReceiptForm, decode_alert
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import (
    CANCELLATION_DATETIME,
    Accepted,
    ActivateFirmware,
    ActivationResult,
    ExecutionOutcome,
    FutureDatedActivationAlert,
    activate_firmware_command,
    read_activate_firmware_response,
)
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage, Supplementary, decode_message, encode_message, verify_message
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import profile_for
from hanbench.gbcs.keystore import Usage
from hanbench.gbcs.protection import MacCheck, check_mac, mac_required, protect_from_store

pytestmark = pytest.mark.looptime

KEYS = bench_keys()
OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
OTHER_USER = EntityId.parse("90-B3-D5-1F-30-0F-00-01")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
EPOCH = datetime(2030, 1, 15, 9, 0, tzinfo=timezone.utc)
HW = 0x1111


def sample(kind: DeviceType, version: int = 2) -> bytes:
    return sample_bytes(kind, version)


def resigned(data: bytes, signer: EntityId) -> bytes:
    """The sample image signed by ``signer`` instead of the Supplier."""
    return parse_image(data).signed(KEYS.private_key(signer)).to_bytes()


class Bench:
    """One device with its outbox and its event stream."""

    def __init__(self, kind: DeviceType = DeviceType.ESME, entity: EntityId = ESME,
                 form: ReceiptForm | None = ReceiptForm.DLMS, alert_form: AlertForm = AlertForm.DLMS) -> None:
        self.sent: list[bytes] = []
        self.events: list[FirmwareEvent] = []
        clock = BenchClock(EPOCH)
        self.device = GbcsDevice(
            entity_id=entity, device_type=kind, supplier=SUPPLIER,
            keys=DeviceKeys.from_keystore(KEYS, entity, SUPPLIER), clock=clock,
            firmware=FirmwareState(entity, Firmware(1), clock.now), hardware_version=HW, outbox=self,
            receipt_form=form, alert_form=alert_form)
        self.device.firmware.subscribe(self.events.append)
        self.counter = 1000

    def put_alert(self, code: int, message: bytes) -> None:
        """The device's outbox: keeps every alert the device signed, in order."""
        self.sent.append(message)

    def cs06_message(self, image_hash: bytes, *, when: datetime | None = None, counter: int | None = None,
                     signer: EntityId = SUPPLIER, originator: EntityId = SUPPLIER) -> GbcsMessage:
        """A CS06 signed by ``signer``, not yet MAC'd."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        return activate_firmware_command(originator, self.device.entity_id,
                                         ActivateFirmware(image_hash, counter, when), KEYS.private_key(signer))

    def cs06(self, image_hash: bytes, **kwargs: object) -> bytes:
        """A CS06 as the DCC sends it: signed, then MAC'd by the Access Control Broker."""
        return encode_message(acb_protected(self.cs06_message(image_hash, **kwargs)))

    def answer(self, command: bytes) -> Accepted | ExecutionOutcome:
        response = self.device.handle_message(command)
        assert response is not None, "the device did not answer"
        msg = decode_message(response)
        assert verify_message(msg, KEYS.public_key(self.device.entity_id)) and msg.mac is None
        return read_activate_firmware_response(msg)

    def alerts(self) -> list[tuple[int, object]]:
        """(alert code, record) of every alert sent, checking addressing and its signature or MAC."""
        out = []
        for data in self.sent:
            msg = decode_message(data)
            assert (msg.originator, msg.target) == (self.device.entity_id, SUPPLIER)
            if mac_required(msg):
                assert check_mac(msg, KEYS) is MacCheck.VALID and msg.signature is None
            else:
                assert verify_message(msg, KEYS.public_key(self.device.entity_id)) and msg.mac is None
            record = decode_alert(msg)
            out.append((int(record.alert_code), record))
        return out

    def dropped(self) -> CommandDropped:
        """The one command the device dropped."""
        [dropped] = [e for e in self.events if isinstance(e, CommandDropped)]
        return dropped


def v2_hash(kind: DeviceType = DeviceType.ESME) -> bytes:
    return parse_image(sample(kind), signed=profile_for(kind).signed).manufacturer_image_hash


# --- distribution ----------------------------------------------------------------------------

async def test_good_image_is_held_and_0x8F72_carries_the_calculated_hash() -> None:
    bench = Bench()
    assert bench.device.receive_image(sample(DeviceType.ESME)) is True
    assert bench.device.firmware.held == Firmware(2, v2_hash())
    assert bench.device.firmware.running == Firmware(1)
    [(code, alert)] = bench.alerts()
    assert code == AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL
    assert isinstance(alert, FirmwareReceiptAlert) and alert.form is ReceiptForm.DLMS
    assert alert.calculated_hash == v2_hash() and alert.timestamp == EPOCH
    assert [type(e) for e in bench.events] == [ImageHeld, AlertRaised]


async def test_gsme_receipt_alert_uses_the_gbz_form() -> None:
    bench = Bench(DeviceType.GSME, GSME, ReceiptForm.GBZ)
    assert bench.device.receive_image(sample(DeviceType.GSME))
    [(code, alert)] = bench.alerts()
    assert code == AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL and alert.form is ReceiptForm.GBZ


@pytest.mark.parametrize("make, why", [
    (lambda: resigned(sample(DeviceType.ESME), OTHER_SUPPLIER), "not signed by this device's Supplier"),
    (lambda: sample(DeviceType.GSME), "the signed firmware is for GSME, the device is ESME"),
    (lambda: sample(DeviceType.ESME)[:-10], "not a well-formed image"),
    # The OTA header rewritten after signing: the signature still verifies, the signed facts disagree
    (lambda: relabelled(parse_image(sample(DeviceType.ESME)), file_version=0xFFFFFFFE).to_bytes(),
     "the header says file version 0xFFFFFFFE, the signed firmware 0x00000002"),
    (lambda: relabelled(parse_image(sample(DeviceType.GSME)), image_type=profile_for(DeviceType.ESME).image_type,
                        manufacturer_code=profile_for(DeviceType.ESME).manufacturer_code).to_bytes(),
     "the signed firmware is for GSME, the device is ESME; the header is for ESME, the signed firmware for GSME"),
    (lambda: built_image(DeviceType.ESME, body=b"a real manufacturer's firmware", emulated=False).to_bytes(),
     "not hanbench emulated firmware"),
])
async def test_bad_image_raises_0x8F1C_and_nothing_is_held(make, why) -> None:
    bench = Bench()
    assert bench.device.receive_image(make()) is False
    assert bench.device.firmware.held is None
    [(code, _)] = bench.alerts()
    assert code == AlertCode.FIRMWARE_VERIFICATION_FAILED
    [refused] = [e for e in bench.events if isinstance(e, ImageRefused)]
    assert why in refused.reason


async def test_a_relabelled_header_on_the_gsme_is_refused_for_what_the_signed_content_says() -> None:
    # An ESME image labelled with the GSME's manufacturer code and image type: the GSME's
    # query would be answered with it, and the GSME refuses it from the signed facts.
    bench = Bench(DeviceType.GSME, GSME, ReceiptForm.GBZ, AlertForm.GBZ)
    gsme = profile_for(DeviceType.GSME)
    forged = relabelled(parse_image(sample(DeviceType.ESME)), manufacturer_code=gsme.manufacturer_code,
                        image_type=gsme.image_type)
    assert bench.device.receive_image(forged.to_bytes()) is False
    [(code, alert)] = bench.alerts()
    assert code == AlertCode.FIRMWARE_VERIFICATION_FAILED and alert.form is ReceiptForm.GBZ
    assert bench.device.firmware.held is None


async def test_the_version_a_device_runs_is_the_signed_one() -> None:
    bench = Bench()
    assert bench.device.receive_image(sample(DeviceType.ESME))
    assert bench.device.firmware.held == Firmware(2, v2_hash())
    bench.answer(bench.cs06(v2_hash()))
    assert bench.device.firmware.running.file_version == 2


async def test_hardware_version_outside_the_image_range_is_refused() -> None:
    bench = Bench()
    bench.device.hardware_version = 0x2000
    assert bench.device.receive_image(sample(DeviceType.ESME)) is False
    assert bench.alerts()[0][0] == AlertCode.FIRMWARE_VERIFICATION_FAILED


# --- CS06 -------------------------------------------------------------------------------------

async def test_cs06_with_the_held_hash_activates_and_answers_the_new_version() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    outcome = bench.answer(bench.cs06(v2_hash()))
    assert outcome == ExecutionOutcome(ActivationResult.SUCCESS, bytes.fromhex("00000002"))
    assert bench.device.firmware.running == Firmware(2, v2_hash())
    assert bench.device.firmware.held is None
    assert bench.device.last_counter == 1001
    assert any(isinstance(e, Activated) and e.trigger is ActivationTrigger.CS06 for e in bench.events)


async def test_cs06_hash_mismatch_answers_2_and_the_old_version_keeps_running() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    outcome = bench.answer(bench.cs06(bytes(32)))
    assert outcome == ExecutionOutcome(ActivationResult.HASH_MISMATCH, bytes.fromhex("00000001"))
    assert bench.device.firmware.running == Firmware(1)
    assert bench.device.firmware.held == Firmware(2, v2_hash())


async def test_cs06_without_a_held_image_answers_1() -> None:
    bench = Bench()
    assert bench.answer(bench.cs06(v2_hash())).code is ActivationResult.NO_IMAGE_HELD


@pytest.mark.parametrize("signer, originator", [
    (OTHER_SUPPLIER, OTHER_SUPPLIER),   # another Supplier's genuine command
    (OTHER_SUPPLIER, SUPPLIER),         # claims to be the Supplier, signed with another key
])
async def test_cs06_not_signed_by_the_supplier_is_refused_with_0x8F3D(signer, originator) -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    bench.sent.clear()
    assert bench.device.handle_message(bench.cs06(v2_hash(), signer=signer, originator=originator)) is None
    assert bench.device.firmware.running == Firmware(1)
    assert bench.device.last_counter is None
    [(code, alert)] = bench.alerts()
    assert code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE and isinstance(alert, GenericAlert)
    dropped = bench.events[-2]
    assert isinstance(dropped, CommandDropped) and dropped.command is MessageCode.CS06_ACTIVATE_FIRMWARE


async def test_replayed_cs06_is_refused_and_activates_nothing() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    first = bench.cs06(bytes(32))
    assert bench.answer(first).code is ActivationResult.HASH_MISMATCH
    bench.sent.clear()
    replay = bench.cs06(v2_hash(), counter=1001)  # the same counter, now with the right hash
    assert bench.device.handle_message(replay) is None
    assert bench.device.handle_message(first) is None
    assert bench.device.firmware.running == Firmware(1)
    assert [code for code, _ in bench.alerts()] == [AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE] * 2
    assert bench.answer(bench.cs06(v2_hash())).code is ActivationResult.SUCCESS


async def test_malformed_messages_are_refused_with_0x8F1E() -> None:
    bench = Bench()
    assert bench.device.handle_message(b"\xdf\x09") is None
    assert [code for code, _ in bench.alerts()] == [AlertCode.COMMAND_INTEGRITY_CHECK_FAILED]


async def test_a_cs06_for_another_device_is_refused_unanswered_with_0x8F3D_and_activates_nothing() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    bench.sent.clear()
    other = Bench(DeviceType.GSME, GSME).cs06(v2_hash())  # addressed to the GSME, signed by the Supplier
    assert bench.device.handle_message(other) is None
    assert [code for code, _ in bench.alerts()] == [AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE]
    (dropped,) = [e for e in bench.events if isinstance(e, CommandDropped)]
    assert dropped.command == MessageCode.CS06_ACTIVATE_FIRMWARE and str(GSME) in dropped.reason
    assert bench.device.firmware.running == Firmware(1) and bench.device.last_counter is None


async def test_a_response_or_alert_for_another_device_is_ignored() -> None:
    bench = Bench()
    alert = Bench(DeviceType.GSME, GSME)
    alert.device.receive_image(sample(DeviceType.GSME))
    assert bench.device.handle_message(alert.sent[0]) is None and bench.sent == []


# --- future-dated -----------------------------------------------------------------------------

async def test_future_dated_cs06_activates_at_its_date_time_and_raises_0x8F66() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    when = EPOCH + timedelta(days=2, hours=3)
    assert bench.answer(bench.cs06(v2_hash(), when=when)) == Accepted()
    assert bench.device.pending is not None and bench.device.pending.execution == when
    await asyncio.sleep((when - EPOCH).total_seconds() - 1)
    assert bench.device.firmware.running == Firmware(1)
    await asyncio.sleep(2)
    assert bench.device.firmware.running == Firmware(2, v2_hash())
    assert bench.device.pending is None
    code, alert = bench.alerts()[-1]
    assert code == AlertCode.FUTURE_DATED_COMMAND_ACTIONED
    assert alert == FutureDatedActivationAlert(when, 1001, ExecutionOutcome(ActivationResult.SUCCESS,
                                                                            bytes.fromhex("00000002")))
    [activated] = [e for e in bench.events if isinstance(e, Activated)]
    assert activated.at == when


async def test_future_dated_cs06_with_a_wrong_hash_raises_0x8F67_with_the_outcome() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    when = EPOCH + timedelta(hours=5)
    assert bench.answer(bench.cs06(bytes(32), when=when)) == Accepted()
    await asyncio.sleep(6 * 3600)
    code, alert = bench.alerts()[-1]
    assert code == AlertCode.FUTURE_DATED_COMMAND_NOT_ACTIONED
    assert alert.outcome.code is ActivationResult.HASH_MISMATCH
    assert bench.device.firmware.running == Firmware(1)


async def test_cancellation_stops_a_pending_future_dated_activation() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    when = EPOCH + timedelta(hours=5)
    bench.answer(bench.cs06(v2_hash(), when=when))
    await asyncio.sleep(3600)
    assert bench.answer(bench.cs06(v2_hash(), when=CANCELLATION_DATETIME)) == Accepted()
    assert bench.device.pending is None
    assert any(isinstance(e, FutureDatedCancelled) for e in bench.events)
    sent = len(bench.sent)
    await asyncio.sleep(10 * 3600)
    assert bench.device.firmware.running == Firmware(1)
    assert len(bench.sent) == sent


async def test_a_later_future_dated_cs06_replaces_the_pending_one() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    bench.answer(bench.cs06(v2_hash(), when=EPOCH + timedelta(hours=1)))
    later = EPOCH + timedelta(hours=4)
    bench.answer(bench.cs06(v2_hash(), when=later))
    await asyncio.sleep(2 * 3600)
    assert bench.device.firmware.running == Firmware(1)
    await asyncio.sleep(3 * 3600)
    assert bench.device.firmware.running.file_version == 2
    assert [a.originator_counter for _, a in bench.alerts() if isinstance(a, FutureDatedActivationAlert)] == [1002]


# --- SR 11.2 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, entity, request_record", [
    (DeviceType.ESME, ESME, fv.EsmeFirmwareVersionRequest()),
    (DeviceType.GSME, GSME, fv.GsmeFirmwareVersionRequest(7)),
])
async def test_read_firmware_version_answers_the_running_version_macd_for_the_requester(
        kind, entity, request_record) -> None:
    bench = Bench(kind, entity)
    command = acb_protected(fv.firmware_version_request(SUPPLIER, entity, 5, request_record))
    response = bench.device.handle_message(encode_message(command))
    assert response is not None
    msg = decode_message(response)
    # A response to a non-critical command: MAC'd by the device for the Supplier, not signed
    assert msg.signature is None and msg.mac is not None
    assert check_mac(msg, KEYS) is MacCheck.VALID
    record = fv.decode_firmware_version(msg)
    assert record.firmware_version == bytes.fromhex("00000001")
    if isinstance(record, fv.GsmeFirmwareVersionResponse):
        assert record.sequence_number == 7


async def test_a_read_from_a_party_the_device_does_not_know_needs_its_ka_certificate() -> None:
    bench = Bench()
    read = fv.firmware_version_request(OTHER_USER, ESME, 5, fv.EsmeFirmwareVersionRequest())
    assert bench.device.handle_message(encode_message(acb_protected(read))) is None
    assert bench.dropped().check is CommandCheck.REMOTE_PARTY
    assert bench.alerts()[0][0] == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE
    # With the party's KA certificate in other-information the device MACs its answer for it
    certificate = KEYS.certificate(OTHER_USER, Usage.KA).public_bytes(serialization.Encoding.DER)
    read = fv.firmware_version_request(OTHER_USER, ESME, 6, fv.EsmeFirmwareVersionRequest(),
                                       supplementary=Supplementary(OTHER_USER, 6, ka_certificate=certificate))
    response = decode_message(bench.device.handle_message(encode_message(acb_protected(read))))
    assert response.target == OTHER_USER and check_mac(response, KEYS) is MacCheck.VALID


async def test_an_unsupported_command_is_refused_with_0x8F1E() -> None:
    bench = Bench()
    command = acb_protected(fv.firmware_version_request(SUPPLIER, ESME, 5, fv.PpmidFirmwareVersionRequest()))
    assert bench.device.handle_message(encode_message(command)) is None
    assert bench.alerts()[0][0] == AlertCode.COMMAND_INTEGRITY_CHECK_FAILED
    assert bench.dropped().check is CommandCheck.UNSUPPORTED


# --- the Access Control Broker's MAC, checked first --------------------------------------------

def _flip_mac_bit(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[-1] ^= 0x01  # the last byte of the 12-byte MAC
    return bytes(damaged)


@pytest.mark.parametrize("make, why", [
    (lambda b: encode_message(b.cs06_message(v2_hash())), "carries no MAC"),
    (lambda b: _flip_mac_bit(b.cs06(v2_hash())), "does not verify"),
    # MAC'd with the Supplier's KA key as if it were the ACB: the device trusts the ACB's only
    (lambda b: encode_message(protect_from_store(b.cs06_message(v2_hash()), 1, KEYS, acb=SUPPLIER)),
     "does not verify"),
])
async def test_a_cs06_without_the_acbs_mac_is_refused_with_0x8F3D_before_anything_else(make, why) -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    bench.sent.clear()
    assert bench.device.handle_message(make(bench)) is None
    assert bench.device.firmware.running == Firmware(1) and bench.device.last_counter is None
    dropped = bench.dropped()
    assert dropped.check is CommandCheck.MAC and why in dropped.reason
    assert dropped.command is MessageCode.CS06_ACTIVATE_FIRMWARE
    [(code, alert)] = bench.alerts()
    assert code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE and isinstance(alert, GenericAlert)
    # The same command with the ACB's MAC goes through: the MAC was all that was wrong
    assert bench.answer(bench.cs06(v2_hash())).code is ActivationResult.SUCCESS


async def test_a_read_without_the_acbs_mac_is_refused_too() -> None:
    bench = Bench()
    read = fv.firmware_version_request(SUPPLIER, ESME, 5, fv.EsmeFirmwareVersionRequest())
    assert bench.device.handle_message(encode_message(read)) is None
    assert bench.dropped().check is CommandCheck.MAC


async def test_checks_run_in_gbcs_order_mac_then_signature_then_counter() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    assert bench.answer(bench.cs06(bytes(32))).code is ActivationResult.HASH_MISMATCH  # counter 1001 accepted
    cases = [
        # a stale counter and a foreign signature and no MAC: the MAC is what is reported
        (encode_message(bench.cs06_message(v2_hash(), counter=1001, signer=OTHER_SUPPLIER)), CommandCheck.MAC),
        # a stale counter and a foreign signature, MAC'd: the signature
        (bench.cs06(v2_hash(), counter=1001, signer=OTHER_SUPPLIER), CommandCheck.SIGNATURE),
        # only the counter is stale
        (bench.cs06(v2_hash(), counter=1001), CommandCheck.COUNTER),
    ]
    for command, check in cases:
        bench.events.clear()
        assert bench.device.handle_message(command) is None
        assert bench.dropped().check is check
    assert bench.device.firmware.running == Firmware(1)


async def test_a_gsme_sends_its_generic_alerts_in_gbz_form_and_an_esme_in_dlms() -> None:
    for kind, entity, receipt, form in ((DeviceType.GSME, GSME, ReceiptForm.GBZ, AlertForm.GBZ),
                                        (DeviceType.ESME, ESME, ReceiptForm.DLMS, AlertForm.DLMS)):
        bench = Bench(kind, entity, receipt, form)
        unmacd = encode_message(bench.cs06_message(v2_hash(kind)))
        assert bench.device.handle_message(unmacd) is None
        [(code, alert)] = bench.alerts()
        assert code == AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE
        assert isinstance(alert, GenericAlert) and alert.form is form and alert.critical
        payload = decode_message(bench.sent[0]).payload
        # GBZ starts with the profile ID 0x0109; DLMS with a Data-Notification, 0x0F
        assert (payload[:2] == b"\x01\x09") == (form is AlertForm.GBZ)
        assert (payload[:1] == b"\x0f") == (form is AlertForm.DLMS)


async def test_a_non_critical_alert_is_macd_for_the_supplier_not_signed() -> None:
    bench = Bench(DeviceType.GSME, GSME, ReceiptForm.GBZ, AlertForm.GBZ)
    bench.device.raise_alert(GenericAlert(0x810E, EPOCH, critical=False, form=AlertForm.GBZ))
    msg = decode_message(bench.sent[0])
    assert msg.message_code == MessageCode.GENERIC_NON_CRITICAL_ALERT
    assert msg.signature is None and check_mac(msg, KEYS) is MacCheck.VALID
    tampered = replace(msg, payload=msg.payload[:-1] + bytes([msg.payload[-1] ^ 1]))
    assert check_mac(tampered, KEYS) is MacCheck.INVALID


async def test_alert_counters_increase() -> None:
    bench = Bench()
    bench.device.receive_image(sample(DeviceType.ESME))
    bench.device.receive_image(sample(DeviceType.GSME))
    counters = [decode_message(m).originator_counter for m in bench.sent]
    assert counters == sorted(set(counters)) and len(counters) == 2
