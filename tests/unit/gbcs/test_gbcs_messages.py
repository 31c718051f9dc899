"""Building, signing and reading GBCS firmware messages as the CH, devices and DCC will."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import SUPPLIER
from gbcs_vectors import CHF, DCC, ESME, GSME, KEYS, PPMID, read_vector
from hanbench.gbcs.alerts import (
    FirmwareReceiptAlert, FirmwareTransferAlert, GsmeCommandNotRetrievedAlert, ReceiptForm, TransferResult,
    alert_message, decode_alert,
)
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import (
    CANCELLATION_DATETIME, Accepted, ActivateFirmware, ActivationResult, ExecutionOutcome,
    FutureDatedActivationAlert, activate_firmware_command, activate_firmware_response, future_dated_activation_alert,
    read_activate_firmware, read_activate_firmware_response,
)
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.firmware_version import (
    EsmeFirmwareVersionRequest, EsmeFirmwareVersionResponse, PpmidFirmwareVersionRequest,
    decode_firmware_version, firmware_version_request, firmware_version_response,
)
from hanbench.gbcs.frame import (
    Cra, Supplementary, decode_message, encode_message, new_message, new_response, sign_message, verify_message,
)

UTC = timezone.utc
HASH = bytes(range(32))
SUPPLIER_KEY = KEYS.private_key(SUPPLIER)
SUPPLIER_PUB = KEYS.public_key(SUPPLIER)


@pytest.fixture(scope="module")
def device_key() -> ec.EllipticCurvePrivateKey:
    # The RTDS key store holds device certificates but not device private keys; emulated
    # devices sign with keys of their own, as this one does.
    return ec.generate_private_key(ec.SECP256R1())


# --- signing ----------------------------------------------------------------------------------

def test_supplier_signed_cs06_command_round_trips_and_verifies() -> None:
    command = ActivateFirmware(HASH, 4242, datetime(2031, 6, 1, 12, tzinfo=UTC))
    msg = activate_firmware_command(SUPPLIER, ESME, command, SUPPLIER_KEY)
    back = decode_message(encode_message(msg))
    assert back == msg
    assert (back.cra, back.originator, back.target, back.originator_counter) == (Cra.COMMAND, SUPPLIER, ESME, 4242)
    assert verify_message(back, SUPPLIER_PUB)
    assert not verify_message(back, KEYS.public_key(DCC))
    assert read_activate_firmware(back) == command


def test_signing_the_rtds_pre_command_gives_a_verifying_command() -> None:
    pre = decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_PRECOMMAND_GBCS.HEX"))
    signed = sign_message(pre, SUPPLIER_KEY)
    assert not signed.pre_command and verify_message(signed, SUPPLIER_PUB)
    assert encode_message(signed)[: len(encode_message(pre))] == encode_message(pre)
    assert not verify_message(pre, SUPPLIER_PUB)  # nothing to verify on an unsigned message


def test_any_single_flipped_byte_fails_verification() -> None:
    msg = activate_firmware_command(SUPPLIER, ESME, ActivateFirmware(HASH, 7), SUPPLIER_KEY)
    data = encode_message(msg)
    checked = 0
    for i in range(len(data)):
        mutated = bytearray(data)
        mutated[i] ^= 0x01
        try:
            other = decode_message(bytes(mutated))
        except MessageFormatError:
            continue  # the flip broke the framing: refused before any signature check
        assert not verify_message(other, SUPPLIER_PUB), f"flip at offset {i} still verifies"
        checked += 1
    assert checked > len(data) - 10  # nearly every flip still parses, and every one fails


def test_device_response_and_future_dated_alert_are_signed_by_the_device(device_key: ec.EllipticCurvePrivateKey) -> None:
    command = activate_firmware_command(SUPPLIER, ESME, ActivateFirmware(HASH, 10, datetime(2030, 1, 15, 9, tzinfo=UTC)),
                                        SUPPLIER_KEY)
    response = activate_firmware_response(command, Accepted(), device_key, date_time=datetime(2029, 1, 1, tzinfo=UTC))
    back = decode_message(encode_message(response))
    assert (back.cra, back.originator, back.target, back.originator_counter) == (Cra.RESPONSE, ESME, SUPPLIER, 10)
    assert back.datetime == datetime(2029, 1, 1, tzinfo=UTC)
    assert read_activate_firmware_response(back) == Accepted()
    assert verify_message(back, device_key.public_key())

    outcome = ExecutionOutcome(ActivationResult.HASH_MISMATCH, b"\x01\x02")
    alert = FutureDatedActivationAlert(datetime(2030, 1, 15, 9, tzinfo=UTC), 10, outcome)
    msg = decode_message(encode_message(future_dated_activation_alert(ESME, SUPPLIER, 77, alert, device_key)))
    assert msg.message_code == MessageCode.FUTURE_DATED_FIRMWARE_ACTIVATION_ALERT
    assert decode_alert(msg) == alert
    assert decode_alert(msg).alert_code is AlertCode.FUTURE_DATED_COMMAND_NOT_ACTIONED
    assert verify_message(msg, device_key.public_key())


# --- CS06 semantics -----------------------------------------------------------------------------

def test_cancellation_and_future_dating() -> None:
    cancel = ActivateFirmware(HASH, 1, CANCELLATION_DATETIME)
    assert cancel.is_cancellation and not cancel.is_future_dated
    assert cancel.encode().endswith(b"\x18\x0f99991231235959Z")
    later = ActivateFirmware(HASH, 1, datetime(2030, 1, 15, 10, tzinfo=timezone(timedelta(hours=1))))
    assert later.is_future_dated and later.execution_datetime == datetime(2030, 1, 15, 9, tzinfo=UTC)
    assert not ActivateFirmware(HASH, 1).is_future_dated


def test_future_dated_alert_code_must_match_its_outcome() -> None:
    good = FutureDatedActivationAlert(datetime(2030, 1, 1, tzinfo=UTC), 5, ExecutionOutcome(0, b"\x01"))
    assert good.alert_code is AlertCode.FUTURE_DATED_COMMAND_ACTIONED
    lying = good.encode().replace(b"\x02\x03\x00\x8f\x66", b"\x02\x03\x00\x8f\x67")
    with pytest.raises(MessageFormatError, match="alertCode"):
        FutureDatedActivationAlert.decode(lying)


def test_cs06_payload_counter_must_match_the_frame() -> None:
    msg = new_message(Cra.COMMAND, SUPPLIER, ESME, 11, MessageCode.CS06_ACTIVATE_FIRMWARE,
                      ActivateFirmware(HASH, 12).encode())
    with pytest.raises(MessageFormatError, match="originatorCounter 12 differs"):
        read_activate_firmware(msg)


def test_cs06_reader_refuses_other_messages() -> None:
    alert = decode_message(read_vector("FDRA-DLMS_NA_8F72_ALERT_GBCS.HEX"))
    with pytest.raises(MessageFormatError, match="is not 0x0012 CS06"):
        read_activate_firmware(alert)
    with pytest.raises(MessageFormatError, match="expected an alert"):
        decode_alert(decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")))


@pytest.mark.parametrize("bad", [
    dict(manufacturer_image_hash=b"\x00" * 31, originator_counter=1),
    dict(manufacturer_image_hash=HASH, originator_counter=-1),
    dict(manufacturer_image_hash=HASH, originator_counter=1, execution_datetime=datetime(2030, 1, 1)),
])
def test_activate_firmware_refuses_values_it_cannot_encode(bad: dict[str, object]) -> None:
    with pytest.raises(MessageFormatError):
        ActivateFirmware(**bad)  # type: ignore[arg-type]


# --- alerts -------------------------------------------------------------------------------------

def test_receipt_alert_in_both_forms(device_key: ec.EllipticCurvePrivateKey) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for device, form, code in ((ESME, ReceiptForm.DLMS, 0x00CE), (GSME, ReceiptForm.GBZ, 0x00CF)):
        alert = FirmwareReceiptAlert(AlertCode.FIRMWARE_VERIFICATION_FAILED, when, HASH, form)
        msg = decode_message(encode_message(alert_message(device, SUPPLIER, 3000, alert, device_key)))
        assert msg.message_code == code and msg.originator == device and msg.target == SUPPLIER
        assert decode_alert(msg) == alert and not decode_alert(msg).succeeded
    with pytest.raises(MessageFormatError, match="0x8F72 or 0x8F1C"):
        FirmwareReceiptAlert(AlertCode.FIRMWARE_TRANSFER_SUCCESS, when, HASH)


def test_ccs08_and_gsme_command_not_retrieved_from_the_ch(device_key: ec.EllipticCurvePrivateKey) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    transfer = FirmwareTransferAlert(when, PPMID, b"\x00\x02", TransferResult.HARDWARE_VERSION_MISMATCH)
    assert transfer.alert_code is AlertCode.FIRMWARE_TRANSFER_FAIL
    expired = GsmeCommandNotRetrievedAlert(when, GSME, 1234)
    for alert in (transfer, expired):
        msg = decode_message(encode_message(alert_message(CHF, DCC, 9, alert, device_key)))
        assert decode_alert(msg) == alert
    # CCS08 is critical: signed. 0x819D is not (0x1001): left unsigned, for the CH to MAC.
    critical = alert_message(CHF, DCC, 9, transfer, device_key)
    assert critical.message_code == 0x0128 and verify_message(critical, device_key.public_key())
    non_critical = alert_message(CHF, DCC, 9, expired, device_key)
    assert non_critical.message_code == 0x1001 and non_critical.signature is None


# --- read firmware version -----------------------------------------------------------------------

def test_ecs52_builders_reproduce_the_rtds_payloads() -> None:
    command = firmware_version_request(SUPPLIER, ESME, 1000, EsmeFirmwareVersionRequest())
    rtds = decode_message(read_vector("ECS52_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    assert replace(rtds, mac=None) == command
    response = firmware_version_response(command, EsmeFirmwareVersionResponse(bytes.fromhex("0123ABCD")))
    rtds_response = decode_message(read_vector("ECS52_11.2_SUCCESS_RESPONSE_GBCS.HEX"))
    assert replace(rtds_response, mac=None) == response
    assert decode_firmware_version(response) == EsmeFirmwareVersionResponse(bytes.fromhex("0123ABCD"))


def test_cs08_on_behalf_of_a_user_keeps_the_supplementary_information() -> None:
    command = firmware_version_request(DCC, PPMID, 1300, PpmidFirmwareVersionRequest(),
                                       supplementary=Supplementary(SUPPLIER, 1000))
    rtds = decode_message(read_vector("CS08_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    assert replace(rtds, mac=None) == command
    response = new_response(command, b"\x05\x00", date_time=None)
    assert response.supplementary == command.supplementary and response.target == DCC


def test_failed_ecs52_read_carries_no_version() -> None:
    with pytest.raises(MessageFormatError):
        EsmeFirmwareVersionResponse(None, result=0)
    with pytest.raises(MessageFormatError):
        EsmeFirmwareVersionResponse(b"\x01", result=1)


# --- error reporting -------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field, offset", [
    (b"", "first byte", 0),
    (b"\x30\x00", "first byte", 0),
    (bytes.fromhex("DF0904"), "CRA flag", 2),
    (bytes.fromhex("DF0901") + bytes(8) + bytes.fromhex("07"), "business originator ID length", 11),
    (bytes.fromhex("DD00000000000001"), "ciphered-content length", 7),
])
def test_errors_name_field_and_offset(data: bytes, field: str, offset: int) -> None:
    with pytest.raises(MessageFormatError, match=f"{field} at offset {offset}"):
        decode_message(data)


def test_every_truncation_of_every_kind_of_message_is_a_typed_error() -> None:
    for name in ("CS06_11.3_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX", "CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX",
                 "CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX", "FDRA-ZigBee_NA_8F72_ALERT_GBCS.HEX"):
        data = read_vector(name)
        for cut in range(len(data)):
            if data[0] == 0xDF and cut == len(data) - 65:
                continue  # cut right after the content: a valid pre-command, not an error
            with pytest.raises(MessageFormatError, match="offset"):
                decode_message(data[:cut])


def test_header_date_time_must_be_utc() -> None:
    data = bytearray(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX"))
    at = data.index(bytes.fromhex("07DF0101FF000000008000FF"))
    data[at + 9 : at + 11] = b"\x00\x3c"  # deviation 60 minutes
    with pytest.raises(MessageFormatError, match="date-time at offset 30.*UTC"):
        decode_message(bytes(data))
