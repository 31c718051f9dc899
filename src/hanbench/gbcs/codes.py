"""GBCS message codes and alert codes, with the names GBCS gives them.

Message codes say which use case a message belongs to (they travel in the general-signing
header's other-information); alert codes say what an alert reports. Only the codes the
firmware flows and their failure paths need are listed; a decoder meeting another code keeps
it as a plain ``int`` (see :func:`message_code` / :func:`alert_code`).

Names follow the DCC's RTDS tooling (gbcs-parser ``util.ts``) and GBCS. 0x012B for CS09 is
the code the RTDS 4.5.0 CS09 vector carries.
"""

from __future__ import annotations

import enum


class _NamedCode(enum.IntEnum):
    """An IntEnum whose members also carry their GBCS name as ``gbcs_name``."""

    gbcs_name: str

    def __new__(cls, value: int, gbcs_name: str) -> "_NamedCode":
        member = int.__new__(cls, value)
        member._value_ = value
        member.gbcs_name = gbcs_name
        return member

    def __str__(self) -> str:
        return f"0x{self.value:04X} {self.gbcs_name}"


class MessageCode(_NamedCode):
    """GBCS message codes (use cases) of the firmware flows."""

    CS06_ACTIVATE_FIRMWARE = 0x0012, "CS06 Activate Firmware"
    CS02B_UPDATE_SECURITY_CREDENTIALS_SUPPLIER_BY_TRANSCOS = (
        0x0107, "CS02b Update Security Credentials (supplierByTransCoS)")
    ECS52_READ_ESME_CH_FIRMWARE_VERSION = 0x0059, "ECS52 Read ESME/Comms Hub Firmware Version"
    GCS38_READ_GSME_FIRMWARE_VERSION = 0x0084, "GCS38 Read GSME Firmware Version"
    FUTURE_DATED_FIRMWARE_ACTIVATION_ALERT = 0x00CA, "Future Dated Firmware Activation Alert"
    FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_ESME = 0x00CE, "Firmware Distribution Receipt Alert (ESME / Comms Hub, DLMS)"
    FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_GSME = 0x00CF, "Firmware Distribution Receipt Alert (GSME, GBZ)"
    CCS08_FIRMWARE_TRANSFER_ALERT = 0x0128, "CCS08 Firmware Transfer Alert"
    CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION = 0x0129, "CS08 Read PPMID/HCALCS Firmware Version"
    CS09_PPMID_FIRMWARE_ACTIVATION_ALERT = 0x012B, "CS09 PPMID Firmware Activation Alert"
    GENERIC_CRITICAL_ALERT = 0x1000, "Generic Critical Alert"
    GENERIC_NON_CRITICAL_ALERT = 0x1001, "Generic Non Critical Alert"


class AlertCode(_NamedCode):
    """GBCS alert codes of the firmware flows and of the refusals a device may send."""

    FIRMWARE_VERIFICATION_FAILED_AT_POWER_ON = 0x8F1B, "Firmware Verification Failed At Power On"
    FIRMWARE_VERIFICATION_FAILED = 0x8F1C, "Firmware Verification Failed"
    COMMAND_INTEGRITY_CHECK_FAILED = 0x8F1E, "Integrity check of content or format of command failed"
    LIMITED_DUTY_CYCLE_ACTION_TAKEN = 0x8F20, "Limited Duty Cycle Action Taken"
    DUTY_CYCLE_BELOW_NORMAL_LIMITED_THRESHOLD = 0x8F21, "Duty Cycle fallen below Normal-Limited Duty Cycle Threshold"
    CRITICAL_DUTY_CYCLE_ACTION_TAKEN = 0x8F22, "Critical Duty Cycle Action Taken"
    DUTY_CYCLE_BELOW_LIMITED_CRITICAL_THRESHOLD = 0x8F23, "Duty Cycle fallen below Limited-Critical Duty Cycle Threshold"
    REGULATED_DUTY_CYCLE_ACTION_TAKEN = 0x8F24, "Regulated Duty Cycle Action Taken"
    DUTY_CYCLE_BELOW_CRITICAL_REGULATED_THRESHOLD = 0x8F25, "Duty Cycle fallen below Critical-Regulated Duty Cycle Threshold"
    SUB_GHZ_CHANNEL_CHANGED = 0x8F26, "Sub GHz Channel Changed"
    SUB_GHZ_CHANNEL_SCAN_INITIATED = 0x8F27, "Sub GHz Channel Scan initiated"
    SUB_GHZ_CHANNEL_SCAN_ASSESSMENT_OUTCOME = 0x8F28, "Sub GHz Channel Scan Request Assessment Outcome"
    THREE_LOST_GSME_SEARCHES_FAILED = 0x8F29, "Three Lost GSME Searches Failed"
    SUB_GHZ_CONFIGURATION_CHANGED = 0x8F2A, "Sub GHz Configuration Changed"
    SUB_GHZ_CHANNEL_NOT_CHANGED = 0x8F2B, "Sub GHz Channel not changed due to Frequency Agility Parameters"
    MESSAGE_DISCARDED_DUTY_CYCLE = 0x8F2C, "Message Discarded Due to Duty Cycle Management"
    NO_MORE_SUB_GHZ_DEVICE_CAPACITY = 0x8F2D, "No More Sub GHz Device Capacity"
    SOURCE_DOES_NOT_HAVE_AUTHORITY = 0x8F30, "Source Does not have Authority for Command"
    TRUSTED_SOURCE_AUTHENTICATION_FAILURE = 0x8F3D, "Trusted Source Authentication Failure"
    EXECUTING_FIRMWARE_VERSION_CHANGED = 0x8F43, "Change in the executing Firmware version"
    FUTURE_DATED_COMMAND_ACTIONED = 0x8F66, "Future-date HAN Interface Command Successfully Actioned"
    FUTURE_DATED_COMMAND_NOT_ACTIONED = 0x8F67, "Future-date HAN Interface Command not Successfully Actioned"
    FIRMWARE_VERIFICATION_SUCCESSFUL = 0x8F72, "Firmware Verification Successful"
    FIRMWARE_TRANSFER_FAIL = 0x8F89, "Firmware transfer alert FAIL"
    FIRMWARE_TRANSFER_SUCCESS = 0x8F8A, "Firmware transfer alert SUCCESS"
    READ_FIRMWARE_VERSION_ALERT = 0x8F8B, "Read Firmware version alert"
    GSME_COMMAND_NOT_RETRIEVED = 0x819D, "GSME Command Not Retrieved"
    METROLOGY_FIRMWARE_VERIFICATION_FAILURE = 0x81AD, "Error Metrology Firmware Verification Failure"


CRITICAL_MESSAGE_CODES = frozenset({
    MessageCode.CS06_ACTIVATE_FIRMWARE,
    MessageCode.CS02B_UPDATE_SECURITY_CREDENTIALS_SUPPLIER_BY_TRANSCOS,
    MessageCode.FUTURE_DATED_FIRMWARE_ACTIVATION_ALERT,
    MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_ESME,
    MessageCode.FIRMWARE_DISTRIBUTION_RECEIPT_ALERT_GSME,
    MessageCode.CCS08_FIRMWARE_TRANSFER_ALERT,
    MessageCode.CS09_PPMID_FIRMWARE_ACTIVATION_ALERT,
    MessageCode.GENERIC_CRITICAL_ALERT,
})
"""The message codes GBCS classes critical (a CS06 command is SME.C.C): the originator signs them.
The reads (ECS52, GCS38, CS08: SME.C.NC) and the generic non-critical alert are not signed; what
protects them is a MAC (:mod:`hanbench.gbcs.protection`). As the RTDS 4.5.0 vectors carry them."""


def is_critical(code: MessageCode | int) -> bool:
    """Whether messages of ``code`` are critical (signed by their originator); a code hanbench
    does not name is taken as non-critical."""
    return code in CRITICAL_MESSAGE_CODES


def message_code(value: int) -> MessageCode | int:
    """The :class:`MessageCode` for ``value`` when it is one we name, else ``value``."""
    try:
        return MessageCode(value)
    except ValueError:
        return value


def alert_code(value: int) -> AlertCode | int:
    """The :class:`AlertCode` for ``value`` when it is one we name, else ``value``."""
    try:
        return AlertCode(value)
    except ValueError:
        return value
