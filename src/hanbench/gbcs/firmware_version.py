"""SR 11.2 Read Firmware Version: requests and responses for each kind of device.

* ECS52 (message 0x0059, ESME and CH): DLMS Access-Request GET of the Data object
  0-0:0.2.1.255 attribute 2 (class 1); the response carries the version as an octet-string,
  or null-data with a DLMS data-access-result on failure (RTDS: 1, hardware-fault).
* GCS38 (message 0x0084, GSME): GBZ, one ZCL Read Attributes of Metering (0x0702)
  attribute 0x0206 (CurrentMeterId, which GBCS uses for the firmware version); the response
  is a Read Attributes Response with an octet-string, or a ZCL status on failure (RTDS:
  0xC0, hardware failure). Defined from the RTDS 4.5.0 GCS38 vectors.
* CS08 (message 0x0129, PPMID and HCALCS): ASN.1; the request is NULL, the response
  ``SEQUENCE { firmwareVersion OCTET STRING, responseCode INTEGER (0 success, 1 failure) }``.
  In RTDS the DCC originates CS08 on the user's behalf and names that user in the header's
  supplementary other-information.

These reads are non-critical and unsigned (signature length 0); on the WAN the DCC wraps
them in a MAC envelope, which :mod:`hanbench.gbcs.frame` carries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core

from hanbench.gbcs import dlms
from hanbench.gbcs.asn1 import dump, load_der
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.dlms import AttributeRef, CosemDateTime, GetResult
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import check_bytes, check_enum, check_uint, decoded
from hanbench.gbcs.frame import Cra, GbcsMessage, Supplementary, new_message, new_response, require_kind
from hanbench.gbcs.gbz import GbzComponent, ZclFrame, decode_components, encode_components

FIRMWARE_VERSION_OBJECT = AttributeRef(class_id=1, obis=bytes([0, 0, 0, 2, 1, 255]), attribute=2)
"""The COSEM attribute ECS52 reads: Data 0-0:0.2.1.255, value."""

METERING_CLUSTER = 0x0702
CURRENT_METER_ID = 0x0206
_ZCL_READ_ATTRIBUTES = 0x00
_ZCL_READ_ATTRIBUTES_RESPONSE = 0x01
_ZCL_CLIENT_TO_SERVER = 0x00
_ZCL_SERVER_TO_CLIENT = 0x08
_ZCL_OCTET_STRING = 0x41
_ZCL_SUCCESS = 0x00


# --- ECS52 (ESME / CH, DLMS) ---------------------------------------------------------------

@dataclass(frozen=True)
class EsmeFirmwareVersionRequest:
    """ECS52 request: always the same GET; its invoke ID derives from the message counter."""

    def encode(self, counter: int) -> bytes:
        return dlms.encode_get_request(dlms.invoke_id_for(counter), [FIRMWARE_VERSION_OBJECT])

    @classmethod
    def decode(cls, data: bytes) -> "EsmeFirmwareVersionRequest":
        what = "ECS52 request payload"
        _, attributes = dlms.decode_get_request(data, what)
        if attributes != (FIRMWARE_VERSION_OBJECT,):
            raise MessageFormatError(f"{what}: reads {attributes}, not the firmware version object only")
        return cls()


@dataclass(frozen=True)
class EsmeFirmwareVersionResponse:
    """ECS52 response: the version, or None with the DLMS data-access-result that explains why."""

    firmware_version: bytes | None
    result: int = 0

    def __post_init__(self) -> None:
        decoded("ECS52 response", lambda: GetResult(self.firmware_version, self.result))

    @property
    def succeeded(self) -> bool:
        return self.result == 0

    def encode(self, counter: int) -> bytes:
        return dlms.encode_get_response(dlms.invoke_id_for(counter), [GetResult(self.firmware_version, self.result)])

    @classmethod
    def decode(cls, data: bytes) -> "EsmeFirmwareVersionResponse":
        what = "ECS52 response payload"
        _, results = dlms.decode_get_response(data, what)
        if len(results) != 1:
            raise MessageFormatError(f"{what}: expected one result, found {len(results)}")
        return cls(results[0].value, results[0].result)


# --- GCS38 (GSME, GBZ) -------------------------------------------------------------------------

@dataclass(frozen=True)
class GsmeFirmwareVersionRequest:
    """GCS38 request: ZCL Read Attributes of Metering CurrentMeterId."""

    sequence_number: int = 0

    def __post_init__(self) -> None:
        check_uint(self.sequence_number, 8, "ZCL sequence number")

    def encode(self) -> bytes:
        frame = ZclFrame(_ZCL_CLIENT_TO_SERVER, self.sequence_number, _ZCL_READ_ATTRIBUTES,
                         CURRENT_METER_ID.to_bytes(2, "little"))
        return encode_components([GbzComponent(METERING_CLUSTER, frame)])

    @classmethod
    def decode(cls, data: bytes) -> "GsmeFirmwareVersionRequest":
        what = "GCS38 request payload"
        frame = _single_metering_frame(data, what, _ZCL_CLIENT_TO_SERVER, _ZCL_READ_ATTRIBUTES)
        if frame.payload != CURRENT_METER_ID.to_bytes(2, "little"):
            raise MessageFormatError(f"{what}: reads attributes {frame.payload.hex()}, not CurrentMeterId (0x0206) only")
        return cls(frame.sequence_number)


@dataclass(frozen=True)
class GsmeFirmwareVersionResponse:
    """GCS38 response: the version, or None with the ZCL status that explains why."""

    firmware_version: bytes | None
    status: int = _ZCL_SUCCESS
    sequence_number: int = 0

    def __post_init__(self) -> None:
        check_uint(self.status, 8, "ZCL status")
        check_uint(self.sequence_number, 8, "ZCL sequence number")
        if self.firmware_version is not None:
            check_bytes(self.firmware_version, "firmware version", max_size=254)
        if (self.status == _ZCL_SUCCESS) != (self.firmware_version is not None):
            raise MessageFormatError("a successful GCS38 read carries a version; a failed one carries none")

    @property
    def succeeded(self) -> bool:
        return self.status == _ZCL_SUCCESS

    def encode(self) -> bytes:
        record = CURRENT_METER_ID.to_bytes(2, "little") + bytes([self.status])
        if self.firmware_version is not None:
            record += bytes([_ZCL_OCTET_STRING, len(self.firmware_version)]) + self.firmware_version
        frame = ZclFrame(_ZCL_SERVER_TO_CLIENT, self.sequence_number, _ZCL_READ_ATTRIBUTES_RESPONSE, record)
        return encode_components([GbzComponent(METERING_CLUSTER, frame)])

    @classmethod
    def decode(cls, data: bytes) -> "GsmeFirmwareVersionResponse":
        what = "GCS38 response payload"
        frame = _single_metering_frame(data, what, _ZCL_SERVER_TO_CLIENT, _ZCL_READ_ATTRIBUTES_RESPONSE)
        record = frame.payload
        if record[:2] != CURRENT_METER_ID.to_bytes(2, "little") or len(record) < 3:
            raise MessageFormatError(f"{what}: ZCL record {record.hex()} is not a CurrentMeterId (0x0206) result")
        status, value = record[2], record[3:]
        version: bytes | None = None
        if status == _ZCL_SUCCESS:
            if len(value) < 2 or value[0] != _ZCL_OCTET_STRING or value[1] != len(value) - 2:
                raise MessageFormatError(f"{what}: CurrentMeterId value {value.hex()} is not one ZCL octet string")
            version = value[2:]
        elif value:
            raise MessageFormatError(f"{what}: a failed read (status 0x{status:02X}) carries no value")
        return decoded(what, lambda: cls(version, status, frame.sequence_number))


def _single_metering_frame(data: bytes, what: str, frame_control: int, command: int) -> ZclFrame:
    components = decode_components(data, what)
    if len(components) != 1 or components[0].cluster != METERING_CLUSTER:
        raise MessageFormatError(f"{what}: expected one Metering (0x0702) component")
    frame = components[0].frame
    if (frame.frame_control, frame.command) != (frame_control, command):
        raise MessageFormatError(
            f"{what}: ZCL frame control 0x{frame.frame_control:02X} command 0x{frame.command:02X}, "
            f"expected 0x{frame_control:02X} / 0x{command:02X}"
        )
    return frame


# --- CS08 (PPMID / HCALCS, ASN.1) ------------------------------------------------------------

class ReadResult(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1


class _ReadFirmwareVersionResponse(core.Sequence):
    _fields = [("firmwareVersion", core.OctetString), ("responseCode", core.Integer)]


@dataclass(frozen=True)
class PpmidFirmwareVersionRequest:
    """CS08 request: NULL."""

    def encode(self) -> bytes:
        return dump(core.Null(), "CS08 request")

    @classmethod
    def decode(cls, data: bytes) -> "PpmidFirmwareVersionRequest":
        load_der(core.Null, data, "CS08 request payload")
        return cls()


@dataclass(frozen=True)
class PpmidFirmwareVersionResponse:
    """CS08 response: the version (RTDS sends zeros on failure) and the read result."""

    firmware_version: bytes
    result: ReadResult = ReadResult.SUCCESS

    def __post_init__(self) -> None:
        check_bytes(self.firmware_version, "firmwareVersion")
        object.__setattr__(self, "result", check_enum(ReadResult, self.result, "CS08 responseCode"))

    @property
    def succeeded(self) -> bool:
        return self.result is ReadResult.SUCCESS

    def encode(self) -> bytes:
        return dump(_ReadFirmwareVersionResponse({"firmwareVersion": self.firmware_version, "responseCode": int(self.result)}),
                    "CS08 response")

    @classmethod
    def decode(cls, data: bytes) -> "PpmidFirmwareVersionResponse":
        what = "CS08 response payload"
        der = load_der(_ReadFirmwareVersionResponse, data, what)
        return decoded(what, lambda: cls(der["firmwareVersion"].native, der["responseCode"].native))


# --- whole messages -----------------------------------------------------------------------------

FirmwareVersionRequest = EsmeFirmwareVersionRequest | GsmeFirmwareVersionRequest | PpmidFirmwareVersionRequest
FirmwareVersionResponse = EsmeFirmwareVersionResponse | GsmeFirmwareVersionResponse | PpmidFirmwareVersionResponse

_CODES: dict[type, MessageCode] = {
    EsmeFirmwareVersionRequest: MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION,
    EsmeFirmwareVersionResponse: MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION,
    GsmeFirmwareVersionRequest: MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION,
    GsmeFirmwareVersionResponse: MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION,
    PpmidFirmwareVersionRequest: MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION,
    PpmidFirmwareVersionResponse: MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION,
}


def firmware_version_payload(record: FirmwareVersionRequest | FirmwareVersionResponse, counter: int) -> bytes:
    """The payload of ``record`` sent under ``counter`` (ECS52 derives its DLMS invoke ID from it)."""
    if isinstance(record, (EsmeFirmwareVersionRequest, EsmeFirmwareVersionResponse)):
        return record.encode(counter)
    return record.encode()


def firmware_version_request(originator: EntityId | str, device: EntityId | str, counter: int,
                             request: FirmwareVersionRequest, *,
                             supplementary: Supplementary | None = None) -> GbcsMessage:
    """The (unsigned) SR 11.2 command message for ``request``."""
    return new_message(Cra.COMMAND, originator, device, counter, _CODES[type(request)],
                       firmware_version_payload(request, counter), supplementary=supplementary)


def firmware_version_response(command: GbcsMessage, response: FirmwareVersionResponse, *,
                              date_time: datetime | CosemDateTime | None = None) -> GbcsMessage:
    """The device's (unsigned) response message to an SR 11.2 ``command``."""
    require_kind(command, _CODES[type(response)], Cra.COMMAND)
    return new_response(command, firmware_version_payload(response, command.originator_counter), date_time=date_time)


def decode_firmware_version(msg: GbcsMessage) -> FirmwareVersionRequest | FirmwareVersionResponse:
    """The request or response record an SR 11.2 message carries."""
    code = msg.message_code
    pairs = {
        MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION: (EsmeFirmwareVersionRequest, EsmeFirmwareVersionResponse),
        MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION: (GsmeFirmwareVersionRequest, GsmeFirmwareVersionResponse),
        MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION: (PpmidFirmwareVersionRequest,
                                                              PpmidFirmwareVersionResponse),
    }
    if code not in pairs:
        raise MessageFormatError(f"GBCS message: message code {code!s} is not a firmware version read")
    request, response = pairs[MessageCode(code)]
    require_kind(msg, MessageCode(code), Cra.COMMAND, Cra.RESPONSE)
    return (request if msg.cra is Cra.COMMAND else response).decode(msg.payload)
