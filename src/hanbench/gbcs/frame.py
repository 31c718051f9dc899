"""GBCS message framing: the general-signing block, its optional MAC envelope, signatures.

This is the wire form of every GBCS message the bench handles (it travels in the Zigbee
Smart Energy Tunneling cluster between the CH and devices, and in DUIS between the DCC and
users). Layout, as the RTDS 4.5.0 vectors carry it::

    [MAC envelope, present on MAC'd messages such as CS06 commands and SME.C.NC reads]
    DD 00 00 00 00 00 00        general-ciphering; transaction id, system titles, date-time,
                                other-information all empty; key-info absent
    len                         ciphered-content length (DLMS length form)
    SC IC(4)                    security control (0x11) and invocation counter
    [general-signing block]
    <MAC (12)>

    general-signing block:
    DF 09 CRA counter(8)        transaction ID: CRA flag + originator counter
    08 <originator (8)>         business originator ID
    08 <target (8)>             business target ID
    00 | 0C <COSEM date-time>   date-time (responses carry it)
    len code(2) [supplementary] other-information: message code, optionally a supplementary
                                remote party ID (8), its counter (8), then either an originator
                                counter (8) or the supplementary remote party's KA certificate
                                (DER, any length: commands for an unknown remote party)
    len <payload>               content: the use-case specific payload
    00 | 40 <signature (64)>    signature; absent altogether in a pre-command

The signature is ECDSA P-256 / SHA-256 over the general-signing block from the byte after
the 0xDF tag to the end of the content (proved by every signed RTDS vector verifying against
its originator's certificate). The MAC is carried here; :mod:`hanbench.gbcs.protection`
computes and verifies it.

Other-information beyond 26 bytes is laid out as the DCC's own RTDS parser reads it
(SmartDCCInnovation/gbcs-parser ``src/parser.ts``: message code, remote party ID, remote party
counter, then the certificate); an older Wireshark plugin put the certificate after a 26-byte
prefix instead. Lengths 2, 10, 18 and 26 keep their fixed meaning; anything longer must be
exactly 18 bytes followed by one DER X.509 certificate, or the frame is refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.codes import MessageCode, message_code
from hanbench.gbcs.dlms import CosemDateTime, as_cosem
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import Cursor, check_bytes, check_entity, check_uint, encode_length
from hanbench.gbcs.signing import SIGNATURE_LENGTH, sign_raw, verify_raw

GENERAL_SIGNING = 0xDF
GENERAL_CIPHERING = 0xDD
MAC_LENGTH = 12
_TRANSACTION_ID_LENGTH = 9
_ENTITY_LENGTH = 8
_CIPHERING_EMPTY_FIELDS = bytes(6)
_SECURITY_HEADER_LENGTH = 5
_OTHER_INFO_FIXED_LENGTHS = (2, 10, 18, 26)
_CERTIFICATE_AFTER = 18
_WHAT = "GBCS message"


class Cra(enum.IntEnum):
    """The CRA flag: what kind of message this is."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


@dataclass(frozen=True)
class MacEnvelope:
    """The general-ciphering wrapper of a MAC'd message: security header and the 12-byte MAC."""

    mac: bytes
    security_control: int = 0x11
    invocation_counter: int = 0

    def __post_init__(self) -> None:
        check_bytes(self.mac, "MAC", size=MAC_LENGTH)
        check_uint(self.security_control, 8, "security control")
        check_uint(self.invocation_counter, 32, "invocation counter")


@dataclass(frozen=True)
class Supplementary:
    """Other-information beyond the message code, used when the DCC sends on a user's behalf.

    In the RTDS CS08 vectors the DCC (ACB) originates the frame and names here the user it
    acts for (supplementary remote party ID) and that user's request counter. A command for
    an unknown remote party carries that party's key agreement certificate instead of an
    originator counter (``ka_certificate``, DER), so the device can protect its response.
    """

    remote_party: EntityId
    remote_party_counter: int | None = None
    originator_counter: int | None = None
    ka_certificate: bytes | None = None

    def __post_init__(self) -> None:
        check_entity(self.remote_party, "supplementary remote party")
        if self.remote_party_counter is not None:
            check_uint(self.remote_party_counter, 64, "supplementary remote party counter")
        if (self.originator_counter is not None or self.ka_certificate is not None) and self.remote_party_counter is None:
            raise MessageFormatError("a supplementary originator counter or certificate needs a remote party counter")
        if self.originator_counter is not None:
            check_uint(self.originator_counter, 64, "supplementary originator counter")
            if self.ka_certificate is not None:
                raise MessageFormatError("other-information carries an originator counter or a certificate, not both")
        if self.ka_certificate is not None:
            check_bytes(self.ka_certificate, "supplementary remote party KA certificate")
            _check_certificate(self.ka_certificate)

    @property
    def certificate(self) -> x509.Certificate | None:
        """The supplementary remote party's KA certificate, parsed, if the frame carries one."""
        return None if self.ka_certificate is None else x509.load_der_x509_certificate(self.ka_certificate)

    def encode(self) -> bytes:
        out = bytes(self.remote_party)
        for counter in (self.remote_party_counter, self.originator_counter):
            if counter is not None:
                out += counter.to_bytes(8, "big")
        return out + (self.ka_certificate or b"")


def _check_certificate(der: bytes) -> None:
    """``der`` must be one DER X.509 certificate and nothing else (it fills other-information)."""
    cur = Cursor(der, "supplementary remote party KA certificate")
    cur.expect(b"\x30", "certificate SEQUENCE tag")
    cur.take(cur.length("certificate length"), "certificate")
    cur.done("end of certificate")
    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MessageFormatError(f"supplementary remote party KA certificate is not an X.509 certificate: {exc}") from None


@dataclass(frozen=True)
class GbcsMessage:
    """One GBCS message, header fields decoded and the use-case payload kept as bytes.

    ``signature`` is None when the message carries none (signature length 0, or a
    pre-command, which has no signature field at all: ``pre_command=True``). ``mac`` is the
    general-ciphering envelope when the message has one.
    """

    cra: Cra
    originator_counter: int
    originator: EntityId
    target: EntityId
    message_code: MessageCode | int
    payload: bytes
    date_time: CosemDateTime | None = None
    supplementary: Supplementary | None = None
    signature: bytes | None = None
    mac: MacEnvelope | None = None
    pre_command: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "cra", Cra(self.cra))
        except ValueError:
            raise MessageFormatError(f"CRA flag {self.cra!r} is not 1 (command), 2 (response) or 3 (alert)") from None
        check_uint(self.originator_counter, 64, "originator counter")
        check_entity(self.originator, "originator")
        check_entity(self.target, "target")
        object.__setattr__(self, "message_code", message_code(check_uint(self.message_code, 16, "message code")))
        check_bytes(self.payload, "payload")
        if self.date_time is not None and not isinstance(self.date_time, CosemDateTime):
            raise MessageFormatError("date_time must be a CosemDateTime or None")
        if self.signature is not None:
            check_bytes(self.signature, "signature", size=SIGNATURE_LENGTH)
        if self.pre_command and (self.signature is not None or self.mac is not None):
            raise MessageFormatError("a pre-command carries neither a signature nor a MAC")

    @property
    def signed_bytes(self) -> bytes:
        """Exactly the bytes a GBCS signature covers."""
        return _encode_signed_part(self)[1:]

    @property
    def datetime(self) -> datetime | None:
        """The header date-time as an aware UTC datetime, if the message carries one."""
        return None if self.date_time is None else self.date_time.datetime


def _encode_signed_part(msg: GbcsMessage) -> bytes:
    other_info = msg.message_code.to_bytes(2, "big")
    if msg.supplementary is not None:
        other_info += msg.supplementary.encode()
    date_time = b"" if msg.date_time is None else msg.date_time.encode()
    return (bytes([GENERAL_SIGNING, _TRANSACTION_ID_LENGTH, msg.cra]) + msg.originator_counter.to_bytes(8, "big")
            + bytes([_ENTITY_LENGTH]) + bytes(msg.originator) + bytes([_ENTITY_LENGTH]) + bytes(msg.target)
            + encode_length(len(date_time)) + date_time
            + encode_length(len(other_info)) + other_info
            + encode_length(len(msg.payload)) + msg.payload)


def general_signing_block(msg: GbcsMessage) -> bytes:
    """The general-signing block from the 0xDF tag through the signature field: what a MAC covers."""
    block = _encode_signed_part(msg)
    if not msg.pre_command:
        block += b"\x00" if msg.signature is None else encode_length(SIGNATURE_LENGTH) + msg.signature
    return block


def encode_message(msg: GbcsMessage) -> bytes:
    """The wire bytes of ``msg``."""
    block = general_signing_block(msg)
    if msg.mac is None:
        return block
    ciphered = (bytes([msg.mac.security_control]) + msg.mac.invocation_counter.to_bytes(4, "big")
                + block + msg.mac.mac)
    return bytes([GENERAL_CIPHERING]) + _CIPHERING_EMPTY_FIELDS + encode_length(len(ciphered)) + ciphered


def decode_message(data: bytes) -> GbcsMessage:
    """Parse wire bytes into a :class:`GbcsMessage`; any defect raises MessageFormatError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MessageFormatError(f"{_WHAT}: expected bytes, got {type(data).__name__}")
    cur = Cursor(bytes(data), _WHAT)
    if cur.remaining == 0:
        raise cur.fail("first byte", "message is empty")
    first = bytes(data)[0]
    if first == GENERAL_SIGNING:
        msg = _read_general_signing(cur, inside_mac=False)
        cur.done()
        return msg
    if first != GENERAL_CIPHERING:
        raise cur.fail("first byte", f"0x{first:02X} is neither general-signing 0xDF nor general-ciphering 0xDD")
    cur.take(1, "general-ciphering tag")
    cur.expect(_CIPHERING_EMPTY_FIELDS, "general-ciphering empty header fields")
    at = cur.offset
    length = cur.length("ciphered-content length")
    if length < _SECURITY_HEADER_LENGTH + MAC_LENGTH:
        raise cur.fail("ciphered-content length", f"{length} is too short for a security header and MAC", at)
    ciphered = cur.sub(length, "ciphered content")
    cur.done()
    security_control = ciphered.byte("security control")
    invocation_counter = ciphered.uint(4, "invocation counter")
    inner = ciphered.sub(length - _SECURITY_HEADER_LENGTH - MAC_LENGTH, "general-signing block")
    msg = _read_general_signing(inner, inside_mac=True)
    inner.done("end of general-signing block")
    envelope = MacEnvelope(ciphered.take(MAC_LENGTH, "MAC"), security_control, invocation_counter)
    return replace(msg, mac=envelope)


def _read_general_signing(cur: Cursor, inside_mac: bool) -> GbcsMessage:
    cur.expect(bytes([GENERAL_SIGNING, _TRANSACTION_ID_LENGTH]), "general-signing tag and transaction ID length")
    at = cur.offset
    cra = cur.byte("CRA flag")
    if cra not in tuple(Cra):
        raise cur.fail("CRA flag", f"{cra} is not 1 (command), 2 (response) or 3 (alert)", at)
    counter = cur.uint(8, "originator counter")
    originator = _read_entity(cur, "business originator ID")
    target = _read_entity(cur, "business target ID")
    at = cur.offset
    dt_length = cur.length("date-time length")
    if dt_length not in (0, CosemDateTime.LENGTH):
        raise cur.fail("date-time length", f"must be 0 or 12, found {dt_length}", at)
    date_time = CosemDateTime.read(cur, "date-time") if dt_length else None
    at = cur.offset
    info_length = cur.length("other-information length")
    if info_length not in _OTHER_INFO_FIXED_LENGTHS and info_length <= _OTHER_INFO_FIXED_LENGTHS[-1]:
        raise cur.fail("other-information length",
                       f"must be one of {_OTHER_INFO_FIXED_LENGTHS} or longer than 26 (a certificate), "
                       f"found {info_length}", at)
    info = cur.sub(info_length, "other-information")
    code = info.uint(2, "message code")
    supplementary = _read_supplementary(info, info_length)
    info.done("end of other-information")
    payload = cur.take(cur.length("content length"), "content")
    signature: bytes | None = None
    pre_command = not inside_mac and cur.remaining == 0
    if not pre_command:
        at = cur.offset
        sig_length = cur.length("signature length")
        if sig_length not in (0, SIGNATURE_LENGTH):
            raise cur.fail("signature length", f"must be 0 or 64, found {sig_length}", at)
        signature = cur.take(sig_length, "signature") if sig_length else None
    return GbcsMessage(Cra(cra), counter, originator, target, code, payload, date_time, supplementary,
                       signature, None, pre_command)


def _read_entity(cur: Cursor, field: str) -> EntityId:
    cur.expect(bytes([_ENTITY_LENGTH]), f"{field} length")
    return EntityId(cur.take(_ENTITY_LENGTH, field))


def _read_supplementary(cur: Cursor, info_length: int) -> Supplementary | None:
    if info_length == 2:
        return None
    party = EntityId(cur.take(_ENTITY_LENGTH, "supplementary remote party ID"))
    party_counter = cur.uint(8, "supplementary remote party counter") if info_length >= 18 else None
    originator_counter = cur.uint(8, "supplementary originator counter") if info_length == 26 else None
    certificate = None
    if info_length > 26:
        at = cur.offset
        certificate = cur.rest()
        try:
            _check_certificate(certificate)
        except MessageFormatError as exc:
            raise cur.fail("supplementary remote party KA certificate", str(exc), at) from None
    return Supplementary(party, party_counter, originator_counter, certificate)


# --- signatures --------------------------------------------------------------------------------

def sign_message(msg: GbcsMessage, private_key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
    """``msg`` signed by ``private_key`` (a pre-command becomes a full message)."""
    return replace(msg, signature=sign_raw(private_key, msg.signed_bytes), pre_command=False)


def verify_message(msg: GbcsMessage, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True when ``msg`` carries a signature that verifies under ``public_key``."""
    return msg.signature is not None and verify_raw(public_key, msg.signed_bytes, msg.signature)


# --- constructors -------------------------------------------------------------------------------

def new_message(
    cra: Cra,
    originator: EntityId | str,
    target: EntityId | str,
    counter: int,
    code: MessageCode | int,
    payload: bytes,
    *,
    date_time: datetime | CosemDateTime | None = None,
    supplementary: Supplementary | None = None,
) -> GbcsMessage:
    """A new, unsigned message; sign it with :func:`sign_message`."""
    return GbcsMessage(cra, counter, EntityId.parse(originator), EntityId.parse(target), code, payload,
                       None if date_time is None else as_cosem(date_time), supplementary)


def new_response(command: GbcsMessage, payload: bytes, *, date_time: datetime | CosemDateTime | None) -> GbcsMessage:
    """The unsigned response to ``command``: ends swapped, same counter, code and supplementary info."""
    if command.cra is not Cra.COMMAND:
        raise MessageFormatError(f"can only respond to a command, not a {command.cra.name.lower()}")
    return new_message(Cra.RESPONSE, command.target, command.originator, command.originator_counter,
                       command.message_code, payload, date_time=date_time, supplementary=command.supplementary)


def require_kind(msg: GbcsMessage, code: MessageCode, *cras: Cra) -> None:
    """Refuse ``msg`` unless it has message code ``code`` and one of the CRA flags ``cras``.

    Use-case readers call this first so a message routed to the wrong decoder says so plainly
    instead of failing somewhere inside its payload.
    """
    if msg.message_code != code:
        raise MessageFormatError(f"{_WHAT}: message code {msg.message_code!s} is not {code!s}")
    if msg.cra not in cras:
        wanted = " or ".join(c.name.lower() for c in cras)
        raise MessageFormatError(f"{_WHAT}: {code.gbcs_name} expected a {wanted}, got a {msg.cra.name.lower()}")
