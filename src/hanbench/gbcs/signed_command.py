"""What every signed GBCS command shares, whatever its use case: envelope, signature, counter.

A critical command (CS06 Activate Firmware from the Supplier, CS02b Update Security
Credentials from the Transitional Change of Supplier party) is a General Signing frame from a
Known Remote Party to a device, signed with that party's DS key (GBCS 6.3.3, the KRP
Signature). Its payload repeats the frame's originator counter (CS06's originatorCounter,
CS02b's authorisingRemotePartySeqNumber), so the counter the signature covers and the one the
use case acts on are the same, and a payload that names another is malformed. The device
accepts it only when the signature is its sender's and the counter is above the last one it
accepted from that sender (GBCS 6.2.4: authenticity, then anti-replay), and answers with a
response it signs itself.

:class:`SignedCommand` holds those steps once; each use case's module keeps its own payload
(its ASN.1 and its meaning) and describes itself with one instance: its message code, how its
payload names the counter, and how its command and response payloads read. The MAC the Access
Control Broker adds around a command is not part of this (:mod:`hanbench.gbcs.protection`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.dlms import CosemDateTime
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import CounterReplayed, MessageFormatError, SignatureInvalid
from hanbench.gbcs.frame import Cra, GbcsMessage, new_message, new_response, require_kind, sign_message, verify_message


class CountedPayload(Protocol):
    """A signed command's payload: it encodes itself and names the originator counter it runs under."""

    @property
    def counter(self) -> int: ...

    def encode(self) -> bytes: ...


class Encodable(Protocol):
    """A response payload."""

    def encode(self) -> bytes: ...


C = TypeVar("C", bound=CountedPayload)
R = TypeVar("R", bound=Encodable)


@dataclass(frozen=True)
class SignedCommand(Generic[C, R]):
    """One use case's signed command: ``code``, the use case's ``name`` (``CS06``), the name its
    payload gives the counter (``counter_field``), and its payload readers."""

    code: MessageCode
    name: str
    counter_field: str
    read_command_payload: Callable[[bytes], C]
    read_response_payload: Callable[[bytes], R]

    def command(self, sender: EntityId | str, device: EntityId | str, payload: C,
                sender_key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
        """The command from ``sender`` to ``device``, signed with ``sender_key``; the frame's
        originator counter is the payload's, as GBCS requires."""
        return sign_message(new_message(Cra.COMMAND, sender, device, payload.counter, self.code, payload.encode()),
                            sender_key)

    def read(self, msg: GbcsMessage) -> C:
        """The payload a command carries; one that names another counter than its frame is malformed."""
        require_kind(msg, self.code, Cra.COMMAND)
        payload = self.read_command_payload(msg.payload)
        if payload.counter != msg.originator_counter:
            raise MessageFormatError(f"{self.name} command: {self.counter_field} {payload.counter} differs from "
                                     f"the message's originator counter {msg.originator_counter}")
        return payload

    def accept(self, msg: GbcsMessage, sender: EntityId, sender_key: ec.EllipticCurvePublicKey | None,
               floor: int | None, *, who: str | None = None) -> C:
        """The payload of a command a device takes from ``sender``, checked as GBCS has the device
        check it: the signature with ``sender_key`` (None: the device trusts no key for that
        sender), then the payload (:meth:`read`), then the counter against ``floor``, the last
        one accepted from the sender (None: none yet).
        ``who`` names the sender in the refusal (default: its entity ID).

        Raises :class:`SignatureInvalid`, :class:`~hanbench.gbcs.errors.GbcsError` for a
        malformed payload, or :class:`CounterReplayed`, each saying why.
        """
        if sender_key is None or msg.originator != sender or not verify_message(msg, sender_key):
            raise SignatureInvalid(f"{self.name} from {msg.originator} is not signed by {who or sender}")
        payload = self.read(msg)
        if floor is not None and msg.originator_counter <= floor:
            raise CounterReplayed(f"originator counter {msg.originator_counter} is not above the last accepted {floor}")
        return payload

    def response(self, command: GbcsMessage, payload: R, device_key: ec.EllipticCurvePrivateKey, *,
                 date_time: datetime | CosemDateTime) -> GbcsMessage:
        """The device's response to ``command``, dated ``date_time`` and signed with ``device_key``."""
        require_kind(command, self.code, Cra.COMMAND)
        return sign_message(new_response(command, payload.encode(), date_time=date_time), device_key)

    def read_response(self, msg: GbcsMessage) -> R:
        """The payload a response to this command carries."""
        require_kind(msg, self.code, Cra.RESPONSE)
        return self.read_response_payload(msg.payload)
