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
from hanbench.gbcs.cs06 import ActivateFirmware, ExecutionOutcome, FutureDatedActivationAlert, decode_response
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


records = st.one_of(
    st.builds(ActivateFirmware, hashes, counters, st.none() | times),
    st.builds(ExecutionOutcome, st.integers(0, 3), versions),
    st.builds(FutureDatedActivationAlert, times, counters, st.builds(ExecutionOutcome, st.integers(0, 3), versions)),
    st.builds(FirmwareReceiptAlert, st.sampled_from([AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL,
                                                     AlertCode.FIRMWARE_VERIFICATION_FAILED]),
              times, hashes, st.sampled_from(ReceiptForm)),
    st.builds(FirmwareTransferAlert, times, entities, versions, st.integers(0, 3)),
    st.builds(PpmidActivationAlert, times, versions, st.integers(0, 1)),
    st.builds(GenericAlert, st.integers(0, 0xFFFF).filter(lambda c: c != 0x819D), times, st.booleans(),
              st.sampled_from(AlertForm)),
    st.builds(GsmeCommandNotRetrievedAlert, times, entities, counters),
    st.just(EsmeFirmwareVersionRequest()),
    st.builds(EsmeFirmwareVersionResponse, versions, st.just(0)),
    st.builds(EsmeFirmwareVersionResponse, st.none(), st.integers(1, 255)),
    st.builds(GsmeFirmwareVersionRequest, st.integers(0, 255)),
    st.builds(GsmeFirmwareVersionResponse, versions, st.just(0), st.integers(0, 255)),
    st.builds(GsmeFirmwareVersionResponse, st.none(), st.integers(1, 255), st.integers(0, 255)),
    st.just(PpmidFirmwareVersionRequest()),
    st.builds(PpmidFirmwareVersionResponse, versions, st.integers(0, 1)),
)

_READ_CODES = {
    EsmeFirmwareVersionRequest: (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, Cra.COMMAND),
    EsmeFirmwareVersionResponse: (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, Cra.RESPONSE),
    GsmeFirmwareVersionRequest: (MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION, Cra.COMMAND),
    GsmeFirmwareVersionResponse: (MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION, Cra.RESPONSE),
    PpmidFirmwareVersionRequest: (MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION, Cra.COMMAND),
    PpmidFirmwareVersionResponse: (MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION, Cra.RESPONSE),
}


@FEW
@given(records, counters)
def test_record_round_trip(record: object, counter: int) -> None:
    """Each record, carried in a message, decodes back to itself."""
    if isinstance(record, ActivateFirmware):
        assert ActivateFirmware.decode(record.encode()) == record
    elif isinstance(record, ExecutionOutcome):
        assert decode_response(record.encode()) == record
    elif type(record) in _READ_CODES:
        code, cra = _READ_CODES[type(record)]
        payload = firmware_version_payload(record, counter)  # type: ignore[arg-type]
        msg = GbcsMessage(cra, counter, EntityId(bytes(8)), EntityId(bytes(8)), code, payload)
        assert decode_firmware_version(decode_message(encode_message(msg))) == record
    else:
        payload = alert_payload(record, counter)  # type: ignore[arg-type]
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
        "generic critical": in_message(0x1000, Cra.ALERT, decode_alert),
        "generic non-critical": in_message(0x1001, Cra.ALERT, decode_alert),
    }
    for record, (code, cra) in _READ_CODES.items():
        decoders[record.__name__] = in_message(code, cra, decode_firmware_version)
    return decoders


DECODERS = _payload_decoders()


@pytest.mark.parametrize("name", sorted(DECODERS))
@FEW
@given(data=st.binary(max_size=120))
def test_random_bytes_into_payload_decoders(name: str, data: bytes) -> None:
    try:
        DECODERS[name](data)
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
