"""One entry point from a decoded frame to its use-case record, and back to payload bytes.

Tools that meet GBCS messages of any use case (``hanbench gbcs decode``, the CI's second
opinion on a session's traffic) read the payload through :func:`read_payload` and check it
with :func:`payload_of`, so the dispatch by message code lives here once.
"""

from __future__ import annotations

from hanbench.gbcs import cs06
from hanbench.gbcs.alerts import Alert, alert_payload, decode_alert
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.firmware_version import (
    FirmwareVersionRequest, FirmwareVersionResponse, decode_firmware_version, firmware_version_payload,
)
from hanbench.gbcs.frame import Cra, GbcsMessage
from hanbench.gbcs.security_credentials import (
    CredentialsOutcome, UpdateSecurityCredentials, read_update_credentials, read_update_credentials_response,
)

_FIRMWARE_VERSION = (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION,
                     MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION)

Record = (cs06.ActivateFirmware | cs06.Accepted | cs06.ExecutionOutcome | FirmwareVersionRequest
          | FirmwareVersionResponse | Alert | UpdateSecurityCredentials | CredentialsOutcome)


def read_payload(msg: GbcsMessage) -> Record:
    """The typed record ``msg`` carries; MessageFormatError if the payload is not what its
    message code and CRA flag say (or the use case is not one hanbench decodes)."""
    if msg.message_code == MessageCode.CS06_ACTIVATE_FIRMWARE and msg.cra is not Cra.ALERT:
        if msg.cra is Cra.COMMAND:
            return cs06.read_activate_firmware(msg)
        return cs06.read_activate_firmware_response(msg)
    if msg.message_code == MessageCode.CS02B_UPDATE_SECURITY_CREDENTIALS_SUPPLIER_BY_TRANSCOS:
        if msg.cra is Cra.COMMAND:
            return read_update_credentials(msg)
        return read_update_credentials_response(msg)
    if msg.cra is Cra.ALERT:
        return decode_alert(msg)
    return decode_firmware_version(msg)


def payload_of(record: Record, counter: int) -> bytes:
    """The payload bytes of ``record`` sent under ``counter`` (DLMS forms derive their invoke
    ID from it)."""
    if isinstance(record, (cs06.ActivateFirmware, cs06.Accepted, cs06.ExecutionOutcome, UpdateSecurityCredentials,
                           CredentialsOutcome)):
        return record.encode()
    if isinstance(record, FirmwareVersionRequest | FirmwareVersionResponse):
        return firmware_version_payload(record, counter)
    return alert_payload(record, counter)
