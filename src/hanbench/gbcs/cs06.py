"""CS06 Activate Firmware: the critical command that turns a distributed image into running firmware.

The Supplier signs it (it is SME.C.C); the device checks signature, counter and the
Manufacturer Image Hash before activating, now or at ``execution_datetime``. A future-dated
command is answered with NULL (accepted) and its outcome arrives later as alert 0x8F66 /
0x8F67 in message 0x00CA; an execution date-time of 9999-12-31T23:59:59Z cancels a pending
future-dated activation. Payloads are ASN.1 DER (GBCS; gbcs-research §1.4)::

    ActivateFirmwareCommand ::= SEQUENCE { manufacturerImageHash OCTET STRING (32),
        originatorCounter INTEGER, executionDateTime GeneralizedTime OPTIONAL }
    Response ::= NULL | ExecutionOutcome
    ExecutionOutcome ::= SEQUENCE { activateImageResponseCode INTEGER, firmwareVersion OCTET STRING }
    FutureDatedActivateFirmwareAlert ::= SEQUENCE { alertCode INTEGER, executionDateTime
        GeneralizedTime, originatorCounter INTEGER, executionOutcome ExecutionOutcome }
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import core
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.asn1 import dump, generalized_time, load_der, native_time
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import check_bytes, check_enum, check_uint, decoded, whole_seconds_utc
from hanbench.gbcs.frame import Cra, GbcsMessage, new_message, sign_message
from hanbench.gbcs.signed_command import SignedCommand

HASH_LENGTH = 32
CANCELLATION_DATETIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
"""The execution date-time that cancels a pending future-dated activation (99991231235959Z)."""

_CS06 = MessageCode.CS06_ACTIVATE_FIRMWARE
_ALERT = MessageCode.FUTURE_DATED_FIRMWARE_ACTIVATION_ALERT


class ActivationResult(enum.IntEnum):
    """activateImageResponseCode: what the device did with the activation."""

    SUCCESS = 0
    NO_IMAGE_HELD = 1
    HASH_MISMATCH = 2
    ACTIVATION_FAILURE = 3


class _ActivateFirmwareCommand(core.Sequence):
    _fields = [
        ("manufacturerImageHash", core.OctetString),
        ("originatorCounter", core.Integer),
        ("executionDateTime", core.GeneralizedTime, {"optional": True}),
    ]


class _ExecutionOutcome(core.Sequence):
    _fields = [("activateImageResponseCode", core.Integer), ("firmwareVersion", core.OctetString)]


class _FutureDatedActivateFirmwareAlert(core.Sequence):
    _fields = [
        ("alertCode", core.Integer),
        ("executionDateTime", core.GeneralizedTime),
        ("originatorCounter", core.Integer),
        ("executionOutcome", _ExecutionOutcome),
    ]


@dataclass(frozen=True)
class ActivateFirmware:
    """The CS06 command payload."""

    manufacturer_image_hash: bytes
    originator_counter: int
    execution_datetime: datetime | None = None

    def __post_init__(self) -> None:
        check_bytes(self.manufacturer_image_hash, "manufacturerImageHash", size=HASH_LENGTH)
        check_uint(self.originator_counter, 64, "originatorCounter")
        if self.execution_datetime is not None:
            object.__setattr__(self, "execution_datetime",
                               whole_seconds_utc(self.execution_datetime, "executionDateTime"))

    @property
    def counter(self) -> int:
        """The originator counter it runs under (:class:`~hanbench.gbcs.signed_command.CountedPayload`)."""
        return self.originator_counter

    @property
    def is_cancellation(self) -> bool:
        """True when this command cancels a pending future-dated activation."""
        return self.execution_datetime == CANCELLATION_DATETIME

    @property
    def is_future_dated(self) -> bool:
        """True when the device must wait for ``execution_datetime`` (and answer NULL now)."""
        return self.execution_datetime is not None and not self.is_cancellation

    def encode(self) -> bytes:
        fields: dict[str, object] = {"manufacturerImageHash": self.manufacturer_image_hash,
                                     "originatorCounter": self.originator_counter}
        if self.execution_datetime is not None:
            fields["executionDateTime"] = generalized_time(self.execution_datetime)
        return dump(_ActivateFirmwareCommand(fields), "CS06 command")

    @classmethod
    def decode(cls, data: bytes) -> "ActivateFirmware":
        what = "CS06 command payload"
        der = load_der(_ActivateFirmwareCommand, data, what)
        when = der["executionDateTime"].native
        return decoded(what, lambda: cls(der["manufacturerImageHash"].native, der["originatorCounter"].native,
                                        None if when is None else native_time(when, "executionDateTime", what)))


@dataclass(frozen=True)
class Accepted:
    """The NULL response: a future-dated activation (or its cancellation) was accepted."""

    def encode(self) -> bytes:
        return dump(core.Null(), "CS06 response")


@dataclass(frozen=True)
class ExecutionOutcome:
    """What happened when the device tried to activate, and the firmware version it now runs."""

    code: ActivationResult
    firmware_version: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", check_enum(ActivationResult, self.code, "activateImageResponseCode"))
        check_bytes(self.firmware_version, "firmwareVersion")

    @property
    def succeeded(self) -> bool:
        return self.code is ActivationResult.SUCCESS

    def _der(self) -> _ExecutionOutcome:
        return _ExecutionOutcome({"activateImageResponseCode": int(self.code), "firmwareVersion": self.firmware_version})

    def encode(self) -> bytes:
        return dump(self._der(), "CS06 execution outcome")


ActivateFirmwareResponse = Accepted | ExecutionOutcome


def decode_response(data: bytes) -> ActivateFirmwareResponse:
    """A CS06 response payload: NULL (:class:`Accepted`) or an :class:`ExecutionOutcome`."""
    what = "CS06 response payload"
    if data[:1] == b"\x05":
        load_der(core.Null, data, what)
        return Accepted()
    der = load_der(_ExecutionOutcome, data, what)
    return decoded(what, lambda: ExecutionOutcome(der["activateImageResponseCode"].native,
                                                 der["firmwareVersion"].native))


@dataclass(frozen=True)
class PendingActivation:
    """A future-dated CS06 a device accepted and has yet to carry out.

    At ``execution`` the device activates the held image whose Manufacturer Image Hash is
    ``image_hash``, and reports the outcome in a :class:`FutureDatedActivationAlert` that
    repeats the command's originator ``counter``. One record for the device that keeps it and
    for the board that reports it (``hardware.protocol``); the board control protocol carries
    no counter, so a pending activation read from a board has ``counter`` None.
    """

    execution: datetime
    counter: int | None
    image_hash: bytes


@dataclass(frozen=True)
class FutureDatedActivationAlert:
    """Alert 0x8F66 / 0x8F67 (message 0x00CA): the outcome of a future-dated CS06.

    The alert code follows from the outcome, so a record cannot claim success for a failure.
    """

    execution_datetime: datetime
    originator_counter: int
    outcome: ExecutionOutcome

    def __post_init__(self) -> None:
        object.__setattr__(self, "execution_datetime", whole_seconds_utc(self.execution_datetime, "executionDateTime"))
        check_uint(self.originator_counter, 64, "originatorCounter")
        if not isinstance(self.outcome, ExecutionOutcome):
            raise MessageFormatError("outcome must be an ExecutionOutcome")

    @property
    def alert_code(self) -> AlertCode:
        return (AlertCode.FUTURE_DATED_COMMAND_ACTIONED if self.outcome.succeeded
                else AlertCode.FUTURE_DATED_COMMAND_NOT_ACTIONED)

    @property
    def message_code(self) -> MessageCode:
        return _ALERT

    def encode(self) -> bytes:
        return dump(_FutureDatedActivateFirmwareAlert({"alertCode": int(self.alert_code),
                               "executionDateTime": generalized_time(self.execution_datetime),
                               "originatorCounter": self.originator_counter,
                               "executionOutcome": self.outcome._der()}), "future-dated activation alert")

    @classmethod
    def decode(cls, data: bytes) -> "FutureDatedActivationAlert":
        what = "future-dated activation alert payload"
        der = load_der(_FutureDatedActivateFirmwareAlert, data, what)
        outcome = der["executionOutcome"]
        alert = decoded(what, lambda: cls(native_time(der["executionDateTime"].native, "executionDateTime", what),
                                         der["originatorCounter"].native,
                                         ExecutionOutcome(outcome["activateImageResponseCode"].native,
                                                          outcome["firmwareVersion"].native)))
        if der["alertCode"].native != alert.alert_code:
            raise MessageFormatError(
                f"{what}: alertCode 0x{der['alertCode'].native & 0xFFFFFFFF:04X} does not match outcome "
                f"{alert.outcome.code.name} (expected {alert.alert_code!s})"
            )
        return alert


# --- whole messages -----------------------------------------------------------------------------

CS06 = SignedCommand(_CS06, "CS06", "payload originatorCounter", ActivateFirmware.decode, decode_response)
"""CS06 as a signed command (:mod:`hanbench.gbcs.signed_command`): the Supplier signs it with its
DS key, the frame's originator counter is the payload's, the device signs its response. The
DCC's MAC envelope is not added here (see :mod:`hanbench.gbcs.frame`)."""

activate_firmware_command = CS06.command
read_activate_firmware = CS06.read
activate_firmware_response = CS06.response
read_activate_firmware_response = CS06.read_response


def future_dated_activation_alert(device: EntityId | str, supplier: EntityId | str, counter: int,
                                  alert: FutureDatedActivationAlert,
                                  device_key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
    """Message 0x00CA from ``device`` to ``supplier`` under the device's alert ``counter``, signed."""
    return sign_message(new_message(Cra.ALERT, device, supplier, counter, _ALERT, alert.encode()), device_key)
