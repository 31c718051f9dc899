"""Properties: every record survives encode/decode; no input makes a decoder raise anything
but MessageFormatError; and anything a decoder accepts re-encodes to the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs_vectors import read_vector, vector_files
from hanbench.gbcs.alerts import (
    AlertForm, FirmwareReceiptAlert, FirmwareTransferAlert, GenericAlert, GsmeCommandNotRetrievedAlert,
    PpmidActivationAlert,
    ReceiptForm, alert_payload, decode_alert,
)
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import Accepted, ActivateFirmware, ExecutionOutcome, FutureDatedActivationAlert, decode_response
from hanbench.gbcs.dlms import CosemDateTime
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.firmware_version import (
    EsmeFirmwareVersionRequest, EsmeFirmwareVersionResponse, GsmeFirmwareVersionRequest,
    GsmeFirmwareVersionResponse, PpmidFirmwareVersionRequest, PpmidFirmwareVersionResponse,
    decode_firmware_version, firmware_version_payload,
)
from hanbench.gbcs.frame import Cra, GbcsMessage, MacEnvelope, Supplementary, decode_message, encode_message

FEW = settings(max_examples=60, deadline=None)

entities = st.binary(min_size=8, max_size=8).map(EntityId)
counters = st.integers(0, 2**64 - 1)
times = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(timezone.utc))
versions = st.binary(max_size=40)
hashes = st.binary(min_size=32, max_size=32)


@st.composite
def messages(draw: st.DrawFn) -> GbcsMessage:
    pre_command = draw(st.booleans())
    supplementary = draw(st.none() | st.builds(Supplementary, entities, st.none() | counters))
    return GbcsMessage(
        draw(st.sampled_from(Cra)), draw(counters), draw(entities), draw(entities), draw(st.integers(0, 0xFFFF)),
        draw(st.binary(max_size=300)), draw(st.none() | times.map(CosemDateTime.from_datetime)), supplementary,
        None if pre_command else draw(st.none() | st.binary(min_size=64, max_size=64)),
        None if pre_command else draw(st.none() | st.builds(MacEnvelope, st.binary(min_size=12, max_size=12))),
        pre_command,
    )


@FEW
@given(messages())
def test_message_round_trip(msg: GbcsMessage) -> None:
    assert decode_message(encode_message(msg)) == msg


_READ_CODES = {
    EsmeFirmwareVersionRequest: (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, Cra.COMMAND),
    EsmeFirmwareVersionResponse: (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, Cra.RESPONSE),
    GsmeFirmwareVersionRequest: (MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION, Cra.COMMAND),
    GsmeFirmwareVersionResponse: (MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION, Cra.RESPONSE),
    PpmidFirmwareVersionRequest: (MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION, Cra.COMMAND),
    PpmidFirmwareVersionResponse: (MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION, Cra.RESPONSE),
}
_outcomes = st.builds(ExecutionOutcome, st.integers(0, 3), versions)
_receipt_codes = st.sampled_from([AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, AlertCode.FIRMWARE_VERIFICATION_FAILED])
_generic_codes = st.integers(0, 0xFFFF).filter(lambda c: c != 0x819D)

#: Every record a payload decoder reads, by decoder (the names of DECODERS below).
RECORDS: dict[str, st.SearchStrategy[object]] = {
    "CS06 command": st.builds(ActivateFirmware, hashes, counters, st.none() | times),
    "CS06 response": _outcomes | st.just(Accepted()),
    "0x00CA alert": st.builds(FutureDatedActivationAlert, times, counters, _outcomes),
    "receipt DLMS": st.builds(FirmwareReceiptAlert, _receipt_codes, times, hashes, st.just(ReceiptForm.DLMS)),
    "receipt GBZ": st.builds(FirmwareReceiptAlert, _receipt_codes, times, hashes, st.just(ReceiptForm.GBZ)),
    "CCS08": st.builds(FirmwareTransferAlert, times, entities, versions, st.integers(0, 3)),
    "CS09": st.builds(PpmidActivationAlert, times, versions, st.integers(0, 1)),
    "generic critical": st.builds(GenericAlert, _generic_codes, times, st.just(True), st.sampled_from(AlertForm)),
    "generic non-critical": st.builds(GenericAlert, _generic_codes, times, st.just(False), st.sampled_from(AlertForm))
    | st.builds(GsmeCommandNotRetrievedAlert, times, entities, counters),
    "EsmeFirmwareVersionRequest": st.just(EsmeFirmwareVersionRequest()),
    "EsmeFirmwareVersionResponse": st.builds(EsmeFirmwareVersionResponse, versions, st.just(0))
    | st.builds(EsmeFirmwareVersionResponse, st.none(), st.integers(1, 255)),
    "GsmeFirmwareVersionRequest": st.builds(GsmeFirmwareVersionRequest, st.integers(0, 255)),
    "GsmeFirmwareVersionResponse": st.builds(GsmeFirmwareVersionResponse, versions, st.just(0), st.integers(0, 255))
    | st.builds(GsmeFirmwareVersionResponse, st.none(), st.integers(1, 255), st.integers(0, 255)),
    "PpmidFirmwareVersionRequest": st.just(PpmidFirmwareVersionRequest()),
    "PpmidFirmwareVersionResponse": st.builds(PpmidFirmwareVersionResponse, versions, st.integers(0, 1)),
}
records = st.one_of(*RECORDS.values())


def payload_of(record: object, counter: int) -> bytes:
    """``record``'s payload in a message sent under ``counter`` (DLMS forms take their invoke ID from it)."""
    if isinstance(record, (ActivateFirmware, ExecutionOutcome, Accepted)):
        return record.encode()
    if type(record) in _READ_CODES:
        return firmware_version_payload(record, counter)  # type: ignore[arg-type]
    return alert_payload(record, counter)  # type: ignore[arg-type]


@FEW
@given(records, counters)
def test_record_round_trip(record: object, counter: int) -> None:
    """Each record, carried in a message, decodes back to itself."""
    payload = payload_of(record, counter)
    if isinstance(record, ActivateFirmware):
        assert ActivateFirmware.decode(payload) == record
    elif isinstance(record, (ExecutionOutcome, Accepted)):
        assert decode_response(payload) == record
    elif type(record) in _READ_CODES:
        code, cra = _READ_CODES[type(record)]
        msg = GbcsMessage(cra, counter, EntityId(bytes(8)), EntityId(bytes(8)), code, payload)
        assert decode_firmware_version(decode_message(encode_message(msg))) == record
    else:
        msg = GbcsMessage(Cra.ALERT, counter, EntityId(bytes(8)), EntityId(bytes(8)),
                          record.message_code, payload)  # type: ignore[attr-defined]
        assert decode_alert(decode_message(encode_message(msg))) == record


def _payload_decoders() -> dict[str, Callable[[bytes], object]]:
    def in_message(code: int, cra: Cra, read: Callable[[GbcsMessage], object]) -> Callable[[bytes], object]:
        return lambda payload: read(GbcsMessage(cra, 1, EntityId(bytes(8)), EntityId(bytes(8)), code, payload))

    decoders: dict[str, Callable[[bytes], object]] = {
        "CS06 command": ActivateFirmware.decode,
        "CS06 response": decode_response,
        "0x00CA alert": FutureDatedActivationAlert.decode,
        "receipt DLMS": lambda b: FirmwareReceiptAlert.decode(b, ReceiptForm.DLMS),
        "receipt GBZ": lambda b: FirmwareReceiptAlert.decode(b, ReceiptForm.GBZ),
        "CCS08": FirmwareTransferAlert.decode,
        "CS09": PpmidActivationAlert.decode,
        "generic critical": in_message(MessageCode.GENERIC_CRITICAL_ALERT, Cra.ALERT, decode_alert),
        "generic non-critical": in_message(MessageCode.GENERIC_NON_CRITICAL_ALERT, Cra.ALERT, decode_alert),
    }
    for record, (code, cra) in _READ_CODES.items():
        decoders[record.__name__] = in_message(code, cra, decode_firmware_version)
    return decoders


DECODERS = _payload_decoders()


def test_every_payload_decoder_has_records_to_decode() -> None:
    assert sorted(RECORDS) == sorted(DECODERS)


@pytest.mark.parametrize("name", sorted(DECODERS))
@FEW
@given(data=st.data())
def test_payload_decoders_take_valid_payloads_and_refuse_noise_only_with_message_format_error(
    name: str, data: st.DataObject
) -> None:
    """A decoder that rejected everything would pass on noise alone, so each must also read
    its own records' payloads (encoded under counter 1, as the decoders here read them)."""
    record = data.draw(RECORDS[name], label="record")
    assert DECODERS[name](payload_of(record, 1)) == record
    noise = data.draw(st.binary(max_size=120), label="noise")
    try:
        DECODERS[name](noise)
    except MessageFormatError:
        pass


@FEW
@given(data=st.binary(max_size=200))
def test_random_bytes_into_message_decoder(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except MessageFormatError:
        return
    assert encode_message(msg) == data


VECTORS = {path.name: read_vector(path.name) for path in vector_files()}


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(VECTORS[draw(st.sampled_from(sorted(VECTORS)))])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[at]
    return bytes(data)


def _decode_use_case(msg: GbcsMessage) -> object:
    if msg.cra is Cra.ALERT:
        return decode_alert(msg)
    if msg.message_code == MessageCode.CS06_ACTIVATE_FIRMWARE:
        return ActivateFirmware.decode(msg.payload) if msg.cra is Cra.COMMAND else decode_response(msg.payload)
    return decode_firmware_version(msg)


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_mutated_vectors_decode_or_raise_only_message_format_error(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except MessageFormatError:
        return
    assert encode_message(msg) == data  # anything accepted is exactly what it re-encodes to
    try:
        _decode_use_case(msg)
    except MessageFormatError:
        pass


@st.composite
def payload_mutations(draw: st.DrawFn) -> GbcsMessage:
    msg = decode_message(VECTORS[draw(st.sampled_from(sorted(VECTORS)))])
    payload = bytearray(msg.payload)
    at = draw(st.integers(0, len(payload) - 1))
    if draw(st.booleans()):
        payload[at] ^= draw(st.integers(1, 255))
    else:
        del payload[at:]
    return replace(msg, payload=bytes(payload))


@settings(max_examples=300, deadline=None)
@given(payload_mutations())
def test_mutated_payloads_decode_or_raise_only_message_format_error(msg: GbcsMessage) -> None:
    try:
        _decode_use_case(msg)
    except MessageFormatError as exc:
        assert str(exc)  # a plain message, never empty
