"""Every RTDS 4.5.0 GBCS vector decodes to its documented values, re-encodes byte for byte,
and (where its signer's certificate is in the key store) its signature verifies.

Which signatures cannot be verified, and why:
* ECS52, GCS38 and CS08 commands and responses are non-critical reads, and 0x1001 alerts are
  non-critical: they carry no signature (length 0), only the 12-byte MAC of the general-ciphering
  envelope, which ``test_protection.py`` verifies.
* CS06 pre-commands are unsigned by definition (the Supplier signs them next); the CS06
  command's own signature is verified, and shown to cover exactly the pre-command's bytes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fixture_files import SUPPLIER
from gbcs_vectors import CHF, DCC, ESME, GSME, HCALCS, KEYS, PPMID, read_vector, vector_files
from hanbench.gbcs.alerts import (
    AlertForm, FirmwareReceiptAlert, FirmwareTransferAlert, GenericAlert, PpmidActivationAlert, PpmidActivationOutcome,
    ReceiptForm, TransferResult,
)
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import (
    CANCELLATION_DATETIME, Accepted, ActivateFirmware, ActivationResult, ExecutionOutcome,
    FutureDatedActivationAlert, read_activate_firmware,
)
from hanbench.gbcs.dlms import CosemDateTime
from hanbench.gbcs.firmware_version import (
    EsmeFirmwareVersionRequest, EsmeFirmwareVersionResponse, GsmeFirmwareVersionRequest,
    GsmeFirmwareVersionResponse, PpmidFirmwareVersionRequest, PpmidFirmwareVersionResponse, ReadResult,
)
from hanbench.gbcs.frame import Cra, Supplementary, decode_message, encode_message, verify_message
from hanbench.gbcs.use_cases import payload_of, read_payload

C, R, A = Cra.COMMAND, Cra.RESPONSE, Cra.ALERT
UTC = timezone.utc
DUMMY_HASH = bytes.fromhex("AA758690730934FF0685AA758690730934FF0685657788990011223344556677")
RTDS_TIME = CosemDateTime(2015, 1, 1, 0, 0, 0)  # 07DF0101FF000000008000FF
JAN_2015 = datetime(2015, 1, 1, tzinfo=UTC)
V = bytes.fromhex


def cs06_command(counter: int, when: datetime | None) -> ActivateFirmware:
    return ActivateFirmware(DUMMY_HASH, counter, when)


def cs08(counter: int) -> Supplementary:
    return Supplementary(SUPPLIER, counter)


# name: (cra, counter, originator, target, message code, header date-time, supplementary, signed?, MAC?, record)
EXPECTED: dict[str, tuple] = {
    "CS06_11.3_IMMEDIATE_SUCCESS_PRECOMMAND_GBCS.HEX": (C, 1000, SUPPLIER, ESME, 0x0012, None, None, False, False,
                                                        cs06_command(1000, None)),
    "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX": (C, 1000, SUPPLIER, ESME, 0x0012, None, None, True, True,
                                                     cs06_command(1000, None)),
    "CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE_GBCS.HEX": (R, 1000, ESME, SUPPLIER, 0x0012, RTDS_TIME, None, True, False,
                                                      ExecutionOutcome(ActivationResult.SUCCESS, V("0123ABCE"))),
    "CS06_11.3_IMMEDIATE_ERROR_PRECOMMAND_GBCS.HEX": (C, 1005, SUPPLIER, ESME, 0x0012, None, None, False, False,
                                                      cs06_command(1005, None)),
    "CS06_11.3_IMMEDIATE_ERROR_COMMAND_GBCS.HEX": (C, 1005, SUPPLIER, ESME, 0x0012, None, None, True, True,
                                                   cs06_command(1005, None)),
    "CS06_11.3_IMMEDIATE_ERROR_RESPONSE_GBCS.HEX": (R, 1005, ESME, SUPPLIER, 0x0012, RTDS_TIME, None, True, False,
                                                    ExecutionOutcome(ActivationResult.NO_IMAGE_HELD, V("0123ABCF"))),
    "CS06_11.3_FUTURE_DATED_SUCCESS_PRECOMMAND_GBCS.HEX": (C, 1001, SUPPLIER, ESME, 0x0012, None, None, False, False,
                                                           cs06_command(1001, datetime(2030, 1, 15, 9, tzinfo=UTC))),
    "CS06_11.3_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX": (C, 1001, SUPPLIER, ESME, 0x0012, None, None, True, True,
                                                        cs06_command(1001, datetime(2030, 1, 15, 9, tzinfo=UTC))),
    "CS06_11.3_FUTURE_DATED_SUCCESS_RESPONSE_GBCS.HEX": (R, 1001, ESME, SUPPLIER, 0x0012, RTDS_TIME, None, True, False,
                                                         Accepted()),
    "CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT_GBCS.HEX": (
        A, 2000, ESME, SUPPLIER, 0x00CA, None, None, True, False,
        FutureDatedActivationAlert(datetime(2030, 1, 15, 9, tzinfo=UTC), 1001,
                                   ExecutionOutcome(ActivationResult.SUCCESS, V("0123ABCF")))),
    "CS06_11.3_FUTURE_DATED_ERROR_PRECOMMAND_GBCS.HEX": (C, 1004, SUPPLIER, ESME, 0x0012, None, None, False, False,
                                                         cs06_command(1004, datetime(2030, 1, 1, tzinfo=UTC))),
    "CS06_11.3_FUTURE_DATED_ERROR_COMMAND_GBCS.HEX": (C, 1004, SUPPLIER, ESME, 0x0012, None, None, True, True,
                                                      cs06_command(1004, datetime(2030, 1, 1, tzinfo=UTC))),
    "CS06_11.3_FUTURE_DATED_ERROR_RESPONSE_GBCS.HEX": (R, 1004, ESME, SUPPLIER, 0x0012, RTDS_TIME, None, True, False,
                                                       Accepted()),
    "CS06_11.3_8F67_FUTURE_DATED_ERROR_ALERT_GBCS.HEX": (
        A, 2001, ESME, SUPPLIER, 0x00CA, None, None, True, False,
        FutureDatedActivationAlert(datetime(2030, 1, 1, tzinfo=UTC), 1004,
                                   ExecutionOutcome(ActivationResult.HASH_MISMATCH, V("0123ABCF")))),
    "CS06_11.3_CANCELLATION_SUCCESS_PRECOMMAND_GBCS.HEX": (C, 1002, SUPPLIER, ESME, 0x0012, None, None, False, False,
                                                           cs06_command(1002, CANCELLATION_DATETIME)),
    "CS06_11.3_CANCELLATION_SUCCESS_COMMAND_GBCS.HEX": (C, 1002, SUPPLIER, ESME, 0x0012, None, None, True, True,
                                                        cs06_command(1002, CANCELLATION_DATETIME)),
    "CS06_11.3_CANCELLATION_SUCCESS_RESPONSE_GBCS.HEX": (R, 1002, ESME, SUPPLIER, 0x0012, RTDS_TIME, None, True, False,
                                                         Accepted()),
    "ECS52_11.2_SUCCESS_COMMAND_GBCS.HEX": (C, 1000, SUPPLIER, ESME, 0x0059, None, None, False, True,
                                            EsmeFirmwareVersionRequest()),
    "ECS52_11.2_SUCCESS_RESPONSE_GBCS.HEX": (R, 1000, ESME, SUPPLIER, 0x0059, None, None, False, True,
                                             EsmeFirmwareVersionResponse(V("0123ABCD"))),
    "ECS52_11.2_ERROR_COMMAND_GBCS.HEX": (C, 1002, SUPPLIER, ESME, 0x0059, None, None, False, True,
                                          EsmeFirmwareVersionRequest()),
    "ECS52_11.2_ERROR_RESPONSE_GBCS.HEX": (R, 1002, ESME, SUPPLIER, 0x0059, None, None, False, True,
                                           EsmeFirmwareVersionResponse(None, result=1)),
    "CS08_11.2_SUCCESS_COMMAND_GBCS.HEX": (C, 1300, DCC, PPMID, 0x0129, None, cs08(1000), False, True,
                                           PpmidFirmwareVersionRequest()),
    "CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX": (R, 1300, PPMID, DCC, 0x0129, None, cs08(1000), False, True,
                                            PpmidFirmwareVersionResponse(V("0123ABCD"), ReadResult.SUCCESS)),
    "CS08_11.2_ERROR_COMMAND_GBCS.HEX": (C, 1301, DCC, HCALCS, 0x0129, None, cs08(1001), False, True,
                                         PpmidFirmwareVersionRequest()),
    "CS08_11.2_ERROR_RESPONSE_GBCS.HEX": (R, 1301, HCALCS, DCC, 0x0129, None, cs08(1001), False, True,
                                          PpmidFirmwareVersionResponse(V("00000000"), ReadResult.FAILURE)),
    "CCS08_NA_NA_ALERT_GBCS.HEX": (A, 4000, CHF, DCC, 0x0128, None, None, True, False,
                                   FirmwareTransferAlert(JAN_2015, PPMID, V("0123ABCD"), TransferResult.SUCCESS)),
    "CS09_NA_8F8B_ALERT_GBCS.HEX": (A, 5000, PPMID, DCC, 0x012B, None, None, True, False,
                                    PpmidActivationAlert(JAN_2015, V("1234ABCD"), PpmidActivationOutcome.SUCCESS)),
    "FDRA-DLMS_NA_8F72_ALERT_GBCS.HEX": (A, 2000, ESME, SUPPLIER, 0x00CE, None, None, True, False,
                                         FirmwareReceiptAlert(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, JAN_2015,
                                                              b"\x01" * 32, ReceiptForm.DLMS)),
    "FDRA-ZigBee_NA_8F72_ALERT_GBCS.HEX": (A, 3000, GSME, SUPPLIER, 0x00CF, None, None, True, False,
                                           FirmwareReceiptAlert(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, JAN_2015,
                                                                b"\xa1" * 32, ReceiptForm.GBZ)),
    "GCA-DLMS_NA_8F30_ALERT_GBCS.HEX": (A, 2000, ESME, SUPPLIER, 0x1000, None, None, True, False,
                                        GenericAlert(AlertCode.SOURCE_DOES_NOT_HAVE_AUTHORITY, JAN_2015, critical=True)),
    "GCA-ZigBee_NA_8F30_ALERT_GBCS.HEX": (A, 3000, GSME, SUPPLIER, 0x1000, None, None, True, False,
                                          GenericAlert(AlertCode.SOURCE_DOES_NOT_HAVE_AUTHORITY, JAN_2015,
                                                       critical=True, form=AlertForm.GBZ)),
    "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX": (A, 2000, ESME, SUPPLIER, 0x1001, None, None, False, True,
                                         GenericAlert(0x810E, JAN_2015, critical=False)),
    "GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX": (A, 3000, GSME, SUPPLIER, 0x1001, None, None, False, True,
                                           GenericAlert(0x810E, JAN_2015, critical=False, form=AlertForm.GBZ)),
}

# RTDS 4.5.0 GCS38 vectors (SmartDCCInnovation/gbcs-parser, test/rtds/RTDS-4.5.0/11.2_GCS38/), not among
# the copied fixtures; kept here because they define the GSME read that GCS38 uses.
GCS38 = {
    "GCS38_11.2_SUCCESS_COMMAND_GBCS.HEX": (
        "DD000000000000411100000000DF090100000000000003E80890B3D51F300100000800DB1234567890A1000200840D01090101"
        "07020005000000060200C26CDDC920A24F352AA2DEA0",
        (C, 1000, SUPPLIER, GSME, 0x0084, None, None, False, True, GsmeFirmwareVersionRequest())),
    "GCS38_11.2_SUCCESS_RESPONSE_GBCS.HEX": (
        "DD000000000000481100000000DF090200000000000003E80800DB1234567890A10890B3D51F300100000002008414010901"
        "010702000C08000106020041040123ABCD000040D6C8A9CE73DFDB8845D7",
        (R, 1000, GSME, SUPPLIER, 0x0084, None, None, False, True, GsmeFirmwareVersionResponse(V("0123ABCD")))),
    "GCS38_11.2_ERROR_COMMAND_GBCS.HEX": (
        "DD000000000000411100000000DF090100000000000003EA0890B3D51F300100000800DB1234567890A1000200840D01090101"
        "07020005000000060200" "1ABE79F78460DB99BB908832",
        (C, 1002, SUPPLIER, GSME, 0x0084, None, None, False, True, GsmeFirmwareVersionRequest())),
    "GCS38_11.2_ERROR_RESPONSE_GBCS.HEX": (
        "DD000000000000421100000000DF090200000000000003EA0800DB1234567890A10890B3D51F30010000000200840E01090101"
        "070200060800010602C0007DA6367A6255A663183DEC1C",
        (R, 1002, GSME, SUPPLIER, 0x0084, None, None, False, True, GsmeFirmwareVersionResponse(None, status=0xC0))),
}

ALL = {name: (read_vector(name), exp) for name, exp in EXPECTED.items()}
ALL.update({name: (bytes.fromhex(hexed), exp) for name, (hexed, exp) in GCS38.items()})


def test_every_fixture_vector_has_expectations() -> None:
    """A vector added to fixtures/rtds/gbcs fails here until its values are written down."""
    assert {p.name for p in vector_files()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(ALL))
def test_vector_decodes_to_documented_values(name: str) -> None:
    data, (cra, counter, originator, target, code, date_time, supplementary, signed, macd, record) = ALL[name]
    msg = decode_message(data)
    assert msg.cra is cra
    assert msg.originator_counter == counter
    assert msg.originator == originator and msg.target == target
    assert msg.message_code == code
    assert msg.date_time == date_time
    assert msg.supplementary == supplementary
    assert (msg.signature is not None) is signed
    assert (msg.mac is not None) is macd
    assert msg.pre_command is ("PRECOMMAND" in name)
    assert read_payload(msg) == record


@pytest.mark.parametrize("name", sorted(ALL))
def test_vector_reencodes_byte_identically(name: str) -> None:
    data, expected = ALL[name]
    msg = decode_message(data)
    assert encode_message(msg) == data
    # The typed record alone regenerates the payload: nothing is carried through unparsed.
    assert payload_of(expected[-1], msg.originator_counter) == msg.payload


SIGNED = sorted(name for name, (_, exp) in ALL.items() if exp[7])


@pytest.mark.parametrize("name", SIGNED)
def test_vector_signature_verifies_with_originators_certificate(name: str) -> None:
    msg = decode_message(ALL[name][0])
    assert verify_message(msg, KEYS.public_key(msg.originator))
    other = SUPPLIER if msg.originator != SUPPLIER else ESME
    assert not verify_message(msg, KEYS.public_key(other))


def test_all_eighteen_signed_vectors_are_checked() -> None:
    # 5 CS06 commands (Supplier), 5 CS06 responses, 2 future-dated alerts, FDRA x2, GCA x2 (ESME DLMS,
    # GSME GBZ), CCS08 (CH), CS09 (PPMID). The other 19 (pre-commands, ECS52, CS08, GCS38, the two
    # non-critical generic alerts) carry no signature.
    assert len(SIGNED) == 18
    assert len(ALL) - len(SIGNED) == 19


@pytest.mark.parametrize("kind", ["IMMEDIATE_SUCCESS", "IMMEDIATE_ERROR", "FUTURE_DATED_SUCCESS",
                                  "FUTURE_DATED_ERROR", "CANCELLATION_SUCCESS"])
def test_supplier_signature_covers_exactly_the_pre_command(kind: str) -> None:
    pre = read_vector(f"CS06_11.3_{kind}_PRECOMMAND_GBCS.HEX")
    command = decode_message(read_vector(f"CS06_11.3_{kind}_COMMAND_GBCS.HEX"))
    assert pre == b"\xdf" + command.signed_bytes
    assert decode_message(pre).signed_bytes == command.signed_bytes


def test_cs06_vectors_follow_the_duis_requests() -> None:
    """The DUIS 11.3 requests' counters and dates are what the GBCS commands carry."""
    immediate = read_activate_firmware(decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")))
    future = read_activate_firmware(decode_message(read_vector("CS06_11.3_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX")))
    cancel = read_activate_firmware(decode_message(read_vector("CS06_11.3_CANCELLATION_SUCCESS_COMMAND_GBCS.HEX")))
    assert (immediate.originator_counter, immediate.is_future_dated, immediate.is_cancellation) == (1000, False, False)
    assert (future.originator_counter, future.is_future_dated, future.is_cancellation) == (1001, True, False)
    assert (cancel.originator_counter, cancel.is_future_dated, cancel.is_cancellation) == (1002, False, True)
    assert cancel.encode().endswith(b"\x18\x0f99991231235959Z")

