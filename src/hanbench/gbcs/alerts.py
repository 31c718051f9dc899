"""Firmware alerts: typed records, their payload encodings, and whole alert messages.

* Firmware Distribution Receipt Alert (GBCS 11.2.6): 0x8F72 verified / 0x8F1C failed, with
  the Manufacturer Image Hash the device calculated. DLMS Data-Notification in message
  0x00CE (ESME and CH), GBZ in message 0x00CF (GSME).
* CCS08 Firmware Transfer Alert (message 0x0128, ASN.1) from the CH: 0x8F8A / 0x8F89.
* CS09 PPMID Firmware Activation Alert (message 0x012B as in RTDS, ASN.1): 0x8F8B.
* Generic alerts (messages 0x1000 critical / 0x1001 non-critical): an alert code and a time,
  in one of two forms. ESME and CH send DLMS (a Data-Notification whose structure holds the
  code and a COSEM date-time: RTDS ``GCA-DLMS`` 0x8F30, ``GNCA-DLMS`` 0x810E); a GSME sends GBZ
  (profile 0x0109, component count 0, the code, then seconds since 2000-01-01: RTDS
  ``GCA-ZigBee`` 0x8F30, ``GNCA-ZigBee`` 0x810E). The decoder picks the form from the first
  byte, as Wireshark's packet-gbcs.c and the DCC's gbcs-parser both do: 0x0F is a DLMS
  Data-Notification, 0x01 0x09 the GBZ profile ID; anything else is refused.
* 0x819D GSME Command Not Retrieved, raised by the CH when a command queued for a sleepy
  GSME expires. No RTDS vector or public encoding exists; hanbench's own choice is the
  generic non-critical DLMS alert (message 0x1001) whose structure adds the GSME's entity ID
  (octet-string 8) and the originator counter of the expired command (long64-unsigned), so
  the DCC can tell which request died.

The future-dated CS06 outcome (0x00CA) lives in :mod:`hanbench.gbcs.cs06`; :func:`decode_alert`
turns any of these alert messages into its record.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs import dlms, gbz
from hanbench.gbcs.asn1 import dump, generalized_time, load_der, native_time
from hanbench.gbcs.codes import AlertCode, MessageCode, alert_code, is_critical
from hanbench.gbcs.cs06 import HASH_LENGTH, FutureDatedActivationAlert
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import (
    Cursor, check_bytes, check_entity, check_enum, check_uint, decoded, require_utc, whole_seconds_utc,
)
from hanbench.gbcs.frame import Cra, GbcsMessage, new_message, sign_message


def _hundredths(value: datetime, field: str) -> datetime:
    """DLMS times carry hundredths of a second; keep records equal to their round trip."""
    utc = require_utc(value, field)
    return utc.replace(microsecond=utc.microsecond // 10_000 * 10_000)


# --- Firmware Distribution Receipt Alert -------------------------------------------------------

class ReceiptForm(enum.Enum):
    """Which encoding a receipt alert uses, by the kind of device that sends it."""

    DLMS = MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_ESME
    GBZ = MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_GSME


#: The alert codes of a firmware receipt: the image was kept (0x8F72) or refused (0x8F1C).
RECEIPT_CODES = (AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, AlertCode.FIRMWARE_VERIFICATION_FAILED)


@dataclass(frozen=True)
class FirmwareReceiptAlert:
    """The device's word that it received (0x8F72) or rejected (0x8F1C) an image, with its hash."""

    alert_code: AlertCode
    timestamp: datetime
    calculated_hash: bytes
    form: ReceiptForm = ReceiptForm.DLMS

    def __post_init__(self) -> None:
        if self.alert_code not in RECEIPT_CODES:
            raise MessageFormatError(f"receipt alert code {alert_code(self.alert_code)!s} is not 0x8F72 or 0x8F1C")
        object.__setattr__(self, "alert_code", AlertCode(self.alert_code))
        check_bytes(self.calculated_hash, "calculated Manufacturer Image Hash", size=HASH_LENGTH)
        if not isinstance(self.form, ReceiptForm):
            raise MessageFormatError("form must be a ReceiptForm")
        tidy = _hundredths if self.form is ReceiptForm.DLMS else whole_seconds_utc
        object.__setattr__(self, "timestamp", tidy(self.timestamp, "receipt alert time"))

    @property
    def succeeded(self) -> bool:
        return self.alert_code is AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL

    @property
    def message_code(self) -> MessageCode:
        return self.form.value

    def encode(self, counter: int) -> bytes:
        """The payload; the DLMS form's invoke ID derives from the message ``counter``."""
        if self.form is ReceiptForm.GBZ:
            return (gbz.encode_alert_header(self.alert_code, self.timestamp, components=1)
                    + dlms.encode_octet_string(self.calculated_hash))
        body = dlms.encode_structure(dlms.encode_long_unsigned(self.alert_code),
                                     dlms.encode_date_time(dlms.CosemDateTime.from_datetime(self.timestamp)),
                                     dlms.encode_octet_string(self.calculated_hash))
        return dlms.encode_data_notification(dlms.invoke_id_for(counter), body)

    @classmethod
    def decode(cls, data: bytes, form: ReceiptForm) -> "FirmwareReceiptAlert":
        what = f"receipt alert payload ({form.name})"
        if form is ReceiptForm.GBZ:
            cur = Cursor(data, what)
            code, when = gbz.read_alert_header(cur, components=1)
        else:
            cur = dlms.read_data_notification(data, what)
            dlms.read_structure(cur, "alert structure", 3)
            code = dlms.read_long_unsigned(cur, "alert code")
            when = dlms.read_date_time(cur, "alert time").datetime
        digest = dlms.read_octet_string(cur, "calculated Manufacturer Image Hash", size=HASH_LENGTH)
        cur.done()
        return decoded(what, lambda: cls(code, when, digest, form))  # type: ignore[arg-type]


# --- CCS08 Firmware Transfer Alert ------------------------------------------------------------

class TransferResult(enum.IntEnum):
    """CCS08 responseCode: how the CH's transfer of an image to a device ended."""

    SUCCESS = 0
    IMAGE_DISCARDED = 1
    HARDWARE_VERSION_MISMATCH = 2
    FILE_TRANSFER_FAILURE = 3


class _FirmwareTransferAlert(core.Sequence):
    _fields = [("alertCode", core.Integer), ("executionDateTime", core.GeneralizedTime),
               ("entityId", core.OctetString), ("firmwareVersion", core.OctetString),
               ("responseCode", core.Integer)]


@dataclass(frozen=True)
class FirmwareTransferAlert:
    """CCS08: the CH reports the transfer of an image to ``device``; 0x8F8A only for SUCCESS."""

    timestamp: datetime
    device: EntityId
    firmware_version: bytes
    result: TransferResult

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", whole_seconds_utc(self.timestamp, "executionDateTime"))
        check_entity(self.device, "CCS08 device")
        check_bytes(self.firmware_version, "firmwareVersion")
        object.__setattr__(self, "result", check_enum(TransferResult, self.result, "CCS08 responseCode"))

    @property
    def alert_code(self) -> AlertCode:
        return (AlertCode.FIRMWARE_TRANSFER_SUCCESS if self.result is TransferResult.SUCCESS
                else AlertCode.FIRMWARE_TRANSFER_FAIL)

    @property
    def message_code(self) -> MessageCode:
        return MessageCode.CCS08_FIRMWARE_TRANSFER_ALERT

    def encode(self) -> bytes:
        return dump(_FirmwareTransferAlert({"alertCode": int(self.alert_code),
                                  "executionDateTime": generalized_time(self.timestamp),
                                  "entityId": bytes(self.device), "firmwareVersion": self.firmware_version,
                                  "responseCode": int(self.result)}), "CCS08 alert")

    @classmethod
    def decode(cls, data: bytes) -> "FirmwareTransferAlert":
        what = "CCS08 alert payload"
        der = load_der(_FirmwareTransferAlert, data, what)
        entity = der["entityId"].native
        if len(entity) != 8:
            raise MessageFormatError(f"{what}: entityId must be 8 bytes, got {len(entity)}")
        alert = decoded(what, lambda: cls(native_time(der["executionDateTime"].native, "executionDateTime", what),
                                          EntityId(entity), der["firmwareVersion"].native,
                                          der["responseCode"].native))
        _check_alert_code(what, der["alertCode"].native, alert.alert_code)
        return alert


def _check_alert_code(what: str, carried: int, expected: AlertCode) -> None:
    if carried != expected:
        raise MessageFormatError(f"{what}: alertCode {carried} is not {expected!s}, which the result requires")


# --- CS09 PPMID Firmware Activation Alert ----------------------------------------------------

class PpmidActivationOutcome(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1


class _FirmwareActivationAlert(core.Sequence):
    _fields = [("alertCode", core.Integer), ("executionDateTime", core.GeneralizedTime),
               ("firmwareVersion", core.OctetString), ("activateImage", core.Integer)]


@dataclass(frozen=True)
class PpmidActivationAlert:
    """CS09 (0x8F8B): a PPMID reports activating an image delivered by SR 11.4."""

    timestamp: datetime
    firmware_version: bytes
    outcome: PpmidActivationOutcome

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", whole_seconds_utc(self.timestamp, "executionDateTime"))
        check_bytes(self.firmware_version, "firmwareVersion")
        object.__setattr__(self, "outcome", check_enum(PpmidActivationOutcome, self.outcome, "CS09 activateImage"))

    @property
    def alert_code(self) -> AlertCode:
        return AlertCode.READ_FIRMWARE_VERSION_ALERT

    @property
    def message_code(self) -> MessageCode:
        return MessageCode.CS09_PPMID_FIRMWARE_ACTIVATION_ALERT

    def encode(self) -> bytes:
        return dump(_FirmwareActivationAlert({"alertCode": int(self.alert_code),
                               "executionDateTime": generalized_time(self.timestamp),
                               "firmwareVersion": self.firmware_version,
                               "activateImage": int(self.outcome)}), "CS09 alert")

    @classmethod
    def decode(cls, data: bytes) -> "PpmidActivationAlert":
        what = "CS09 alert payload"
        der = load_der(_FirmwareActivationAlert, data, what)
        alert = decoded(what, lambda: cls(native_time(der["executionDateTime"].native, "executionDateTime", what),
                                          der["firmwareVersion"].native, der["activateImage"].native))
        _check_alert_code(what, der["alertCode"].native, alert.alert_code)
        return alert


# --- generic alerts and 0x819D ---------------------------------------------------------------

class AlertForm(enum.Enum):
    """How a generic alert's payload is encoded: DLMS (ESME, CH) or GBZ (GSME)."""

    DLMS = "dlms"
    GBZ = "gbz"


@dataclass(frozen=True)
class GenericAlert:
    """An alert with no use-case content (e.g. 0x8F30): code and time, critical or not, in the
    DLMS form (ESME, CH) or the GBZ form (GSME)."""

    alert_code: AlertCode | int
    timestamp: datetime
    critical: bool = True
    form: AlertForm = AlertForm.DLMS

    def __post_init__(self) -> None:
        object.__setattr__(self, "alert_code", alert_code(check_uint(self.alert_code, 16, "alert code")))
        if not isinstance(self.form, AlertForm):
            raise MessageFormatError("form must be an AlertForm")
        tidy = _hundredths if self.form is AlertForm.DLMS else whole_seconds_utc
        object.__setattr__(self, "timestamp", tidy(self.timestamp, "alert time"))

    @property
    def message_code(self) -> MessageCode:
        return MessageCode.GENERIC_CRITICAL_ALERT if self.critical else MessageCode.GENERIC_NON_CRITICAL_ALERT

    def encode(self, counter: int) -> bytes:
        if self.form is AlertForm.GBZ:
            return gbz.encode_alert_header(self.alert_code, self.timestamp, components=0)
        return _generic_payload(counter, self.alert_code, self.timestamp)


@dataclass(frozen=True)
class GsmeCommandNotRetrievedAlert:
    """0x819D from the CH: a command queued for ``gsme`` expired before the GSME fetched it.

    Encoding is hanbench's own (see the module docstring); ``command_counter`` is the
    originator counter of the command that was never retrieved.
    """

    timestamp: datetime
    gsme: EntityId
    command_counter: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", _hundredths(self.timestamp, "alert time"))
        check_entity(self.gsme, "0x819D GSME")
        check_uint(self.command_counter, 64, "command counter")

    @property
    def alert_code(self) -> AlertCode:
        return AlertCode.GSME_COMMAND_NOT_RETRIEVED

    @property
    def message_code(self) -> MessageCode:
        return MessageCode.GENERIC_NON_CRITICAL_ALERT

    def encode(self, counter: int) -> bytes:
        return _generic_payload(counter, self.alert_code, self.timestamp,
                                dlms.encode_octet_string(bytes(self.gsme)),
                                dlms.encode_long64_unsigned(self.command_counter))


def _generic_payload(counter: int, code: int, when: datetime, *extra: bytes) -> bytes:
    body = dlms.encode_structure(dlms.encode_long_unsigned(code),
                                 dlms.encode_date_time(dlms.CosemDateTime.from_datetime(when)), *extra)
    return dlms.encode_data_notification(dlms.invoke_id_for(counter), body)


def _decode_generic(data: bytes, critical: bool) -> GenericAlert | GsmeCommandNotRetrievedAlert:
    what = "generic alert payload"
    if data[:2] == gbz.PROFILE_ID.to_bytes(2, "big"):
        cur = Cursor(data, f"{what} (GBZ)")
        code, when = gbz.read_alert_header(cur, components=0)
        cur.done()
        return decoded(what, lambda: GenericAlert(code, when, critical, AlertForm.GBZ))
    if data[:1] != bytes([dlms.DATA_NOTIFICATION]):
        first = data[:2].hex().upper() or "nothing"
        raise MessageFormatError(f"{what}: at offset 0: expected a DLMS Data-Notification (0F) or the GBZ "
                                 f"profile ID (0109), found {first}")
    cur = dlms.read_data_notification(data, what)
    at = cur.offset
    size = dlms.read_structure_size(cur, "alert structure")
    if size not in (2, 4):
        raise cur.fail("alert structure", f"expected 2 elements (or 4 for 0x819D), found {size}", at)
    at = cur.offset
    code = dlms.read_long_unsigned(cur, "alert code")
    when = dlms.read_date_time(cur, "alert time").datetime
    if size == 2:
        cur.done()
        return decoded(what, lambda: GenericAlert(code, when, critical))
    if code != AlertCode.GSME_COMMAND_NOT_RETRIEVED or critical:
        raise cur.fail("alert code", "only the non-critical 0x819D alert carries 4 elements", at)
    gsme = EntityId(dlms.read_octet_string(cur, "GSME entity ID", size=8))
    command_counter = dlms.read_long64_unsigned(cur, "command counter")
    cur.done()
    return decoded(what, lambda: GsmeCommandNotRetrievedAlert(when, gsme, command_counter))


# --- one entry point ----------------------------------------------------------------------------

Alert = (FirmwareReceiptAlert | FirmwareTransferAlert | PpmidActivationAlert | FutureDatedActivationAlert
         | GenericAlert | GsmeCommandNotRetrievedAlert)


def decode_alert(msg: GbcsMessage) -> Alert:
    """The typed record of any alert message this package understands."""
    if msg.cra is not Cra.ALERT:
        raise MessageFormatError(f"GBCS message: expected an alert, got a {msg.cra.name.lower()}")
    code = msg.message_code
    if code == MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_ESME:
        return FirmwareReceiptAlert.decode(msg.payload, ReceiptForm.DLMS)
    if code == MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_GSME:
        return FirmwareReceiptAlert.decode(msg.payload, ReceiptForm.GBZ)
    if code == MessageCode.CCS08_FIRMWARE_TRANSFER_ALERT:
        return FirmwareTransferAlert.decode(msg.payload)
    if code == MessageCode.CS09_PPMID_FIRMWARE_ACTIVATION_ALERT:
        return PpmidActivationAlert.decode(msg.payload)
    if code == MessageCode.FUTURE_DATED_FIRMWARE_ACTIVATION_ALERT:
        return FutureDatedActivationAlert.decode(msg.payload)
    if code in (MessageCode.GENERIC_CRITICAL_ALERT, MessageCode.GENERIC_NON_CRITICAL_ALERT):
        return _decode_generic(msg.payload, critical=code == MessageCode.GENERIC_CRITICAL_ALERT)
    raise MessageFormatError(f"GBCS message: message code {code!s} is not an alert hanbench decodes")


def alert_payload(alert: Alert, counter: int) -> bytes:
    """The payload of ``alert`` sent under ``counter`` (DLMS forms derive their invoke ID from it)."""
    if isinstance(alert, (FirmwareReceiptAlert, GenericAlert, GsmeCommandNotRetrievedAlert)):
        return alert.encode(counter)
    return alert.encode()


def alert_message(originator: EntityId | str, recipient: EntityId | str, counter: int, alert: Alert,
                  private_key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
    """The alert message from a device or the CH to ``recipient``: signed by ``originator``
    (``private_key``, its DS key) when the alert is critical; a non-critical one (0x1001) is
    left unsigned, for the originator to MAC (:func:`hanbench.gbcs.protection.protect`).

    ``counter`` is the originator's own alert counter (the frame's originator counter).
    """
    msg = new_message(Cra.ALERT, originator, recipient, counter, alert.message_code, alert_payload(alert, counter))
    return sign_message(msg, private_key) if is_critical(alert.message_code) else msg
