"""CS02b Update Security Credentials in its change-of-supplier form (supplierByTransCoS, 0x0107).

On a change of supplier the device's trust moves with the inventory: the Transitional Change
of Supplier party (the DCC) replaces the Supplier's certificates in the device's trust anchor
cells by a command it signs (a Known Remote Party signature) under its own originator counter,
MAC'd by the Access Control Broker like every command (GBCS 13.3.3.1: "MAC Header || Grouping
Header || CommandPayload || 0x40 || KRP Signature || ACB-SMD MAC"). The same command sets the
floor of the new Supplier's originator counter, so that nothing it signed before (for another
premises, or long ago) replays here. After it, the device verifies CS06 and images with the
new Supplier's key only: the old Supplier's commands fail their signature check.

The payload is ASN.1 DER (GBCS 13.3.5.11), as the DCC's GBCS parser reads it::

    UpdateSecurityCredentialsCommand ::= SEQUENCE {
        authorisingRemotePartyControl SEQUENCE {
            credentialsReplacementMode INTEGER,               -- 7 supplierByTransCoS
            plaintextSymmetricKey [0] IMPLICIT OCTET STRING OPTIONAL,
            applyTimeBasedCPVChecks [1] IMPLICIT INTEGER OPTIONAL,
            authorisingRemotePartyTACellIdentifier [2] IMPLICIT TrustAnchorCellIdentifier OPTIONAL,
            authorisingRemotePartySeqNumber INTEGER,          -- the TransCoS party's counter
            newRemotePartyFloorSeqNumber [4] IMPLICIT INTEGER OPTIONAL, ... },
        replacements SEQUENCE OF SEQUENCE { replacingCertificate Certificate,
                                            targetTrustAnchorCell TrustAnchorCellIdentifier },
        certificationPathCertificates SEQUENCE OF Certificate,
        executionDateTime GeneralizedTime OPTIONAL }
    TrustAnchorCellIdentifier ::= SEQUENCE { remotePartyRole INTEGER, keyUsage BIT STRING,
                                             cellUsage INTEGER DEFAULT management }
    UpdateSecurityCredentialsResponse ::= SEQUENCE { commandAccepted NULL,
                                                     executionOutcome ExecutionOutcome OPTIONAL }
    ExecutionOutcome ::= SEQUENCE { authorisingRemotePartySeqNumber INTEGER,
        credentialsReplacementMode INTEGER, remotePartySeqNumberChanges SEQUENCE OF SEQUENCE {
        remotePartyRole INTEGER, floorSeqNumber INTEGER }, replacementOutcomes SEQUENCE OF SEQUENCE {
        affectedTrustAnchorCell TrustAnchorCellIdentifier, statusCode ENUMERATED,
        existingSubjectUniqueID OCTET STRING, existingSubjectKeyID OCTET STRING,
        replacingSubjectUniqueID OCTET STRING, replacingSubjectKeyID OCTET STRING } }

The bench sends the change-of-supplier form only (immediate, one Supplier's DS and KA cells);
the other replacement modes and the options it never sets are not modelled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hanbench.gbcs.asn1 import dump, load_der
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import check_uint, decoded
from hanbench.gbcs.keystore import Usage, entity_of, public_key_of
from hanbench.gbcs.signed_command import SignedCommand

_CODE = MessageCode.CS02B_UPDATE_SECURITY_CREDENTIALS_SUPPLIER_BY_TRANSCOS


class ReplacementMode(enum.IntEnum):
    """credentialsReplacementMode: who replaces whose credentials."""

    SUPPLIER_BY_SUPPLIER = 2
    SUPPLIER_BY_TRANSCOS = 7


class RemotePartyRole(enum.IntEnum):
    """remotePartyRole of a trust anchor cell."""

    ROOT = 0
    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_CHANGE_OF_SUPPLIER = 5


class StatusCode(enum.IntEnum):
    """statusCode of a replacement outcome (those the bench gives)."""

    SUCCESS = 0
    BAD_CERTIFICATE = 5


# keyUsage BIT STRING bits (X.509): digitalSignature (0), keyAgreement (4).
_KEY_USAGE_BIT = {Usage.DS: "digital_signature", Usage.KA: "key_agreement"}
_USAGE_OF_BITS = {frozenset({bit}): usage for usage, bit in _KEY_USAGE_BIT.items()}


class _KeyUsage(core.BitString):
    _map = {0: "digital_signature", 4: "key_agreement"}


class _CellIdentifier(core.Sequence):
    _fields = [("remotePartyRole", core.Integer), ("keyUsage", _KeyUsage),
               ("cellUsage", core.Integer, {"default": 0})]


class _Control(core.Sequence):
    _fields = [
        ("credentialsReplacementMode", core.Integer),
        ("plaintextSymmetricKey", core.OctetString, {"implicit": 0, "optional": True}),
        ("applyTimeBasedCPVChecks", core.Integer, {"implicit": 1, "optional": True}),
        ("authorisingRemotePartyTACellIdentifier", _CellIdentifier, {"implicit": 2, "optional": True}),
        ("authorisingRemotePartySeqNumber", core.Integer),
        ("newRemotePartyFloorSeqNumber", core.Integer, {"implicit": 4, "optional": True}),
    ]


class _Replacement(core.Sequence):
    _fields = [("replacingCertificate", asn1_x509.Certificate), ("targetTrustAnchorCell", _CellIdentifier)]


class _Replacements(core.SequenceOf):
    _child_spec = _Replacement


class _Certificates(core.SequenceOf):
    _child_spec = asn1_x509.Certificate


class _Command(core.Sequence):
    _fields = [("authorisingRemotePartyControl", _Control), ("replacements", _Replacements),
               ("certificationPathCertificates", _Certificates),
               ("executionDateTime", core.GeneralizedTime, {"optional": True})]


class _SeqNumberChange(core.Sequence):
    _fields = [("remotePartyRole", core.Integer), ("floorSeqNumber", core.Integer)]


class _SeqNumberChanges(core.SequenceOf):
    _child_spec = _SeqNumberChange


class _Status(core.Enumerated):
    _map = {code.value: code.name.lower() for code in StatusCode}


class _ReplacementOutcome(core.Sequence):
    _fields = [("affectedTrustAnchorCell", _CellIdentifier), ("statusCode", _Status),
               ("existingSubjectUniqueID", core.OctetString), ("existingSubjectKeyID", core.OctetString),
               ("replacingSubjectUniqueID", core.OctetString), ("replacingSubjectKeyID", core.OctetString)]


class _ReplacementOutcomes(core.SequenceOf):
    _child_spec = _ReplacementOutcome


class _ExecutionOutcome(core.Sequence):
    _fields = [("authorisingRemotePartySeqNumber", core.Integer), ("credentialsReplacementMode", core.Integer),
               ("remotePartySeqNumberChanges", _SeqNumberChanges), ("replacementOutcomes", _ReplacementOutcomes)]


class _Response(core.Sequence):
    _fields = [("commandAccepted", core.Null), ("executionOutcome", _ExecutionOutcome, {"optional": True})]


@dataclass(frozen=True)
class TrustAnchorCell:
    """A trust anchor cell of the device: whose key (role) for what (DS or KA)."""

    role: RemotePartyRole
    usage: Usage

    def _der(self) -> _CellIdentifier:
        return _CellIdentifier({"remotePartyRole": int(self.role), "keyUsage": {_KEY_USAGE_BIT[self.usage]}})

    @classmethod
    def _read(cls, der: _CellIdentifier, what: str) -> "TrustAnchorCell":
        usage = _USAGE_OF_BITS.get(frozenset(der["keyUsage"].native))
        if usage is None:
            raise MessageFormatError(f"{what}: keyUsage {sorted(der['keyUsage'].native)} names neither "
                                     "digitalSignature nor keyAgreement alone")
        return decoded(what, lambda: cls(RemotePartyRole(der["remotePartyRole"].native), usage))


@dataclass(frozen=True)
class Replacement:
    """One certificate (DER) for one cell."""

    certificate: bytes
    cell: TrustAnchorCell

    @property
    def x509(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate)


@dataclass(frozen=True)
class UpdateSecurityCredentials:
    """The CS02b command payload (see the module docstring)."""

    mode: ReplacementMode
    authorising_counter: int
    replacements: tuple[Replacement, ...]
    new_floor_counter: int | None = None

    def __post_init__(self) -> None:
        check_uint(self.authorising_counter, 64, "authorisingRemotePartySeqNumber")
        if self.new_floor_counter is not None:
            check_uint(self.new_floor_counter, 64, "newRemotePartyFloorSeqNumber")
        if not self.replacements:
            raise MessageFormatError("CS02b command: replacements cannot be empty")

    @property
    def counter(self) -> int:
        """The TransCoS party's counter it runs under (:class:`~hanbench.gbcs.signed_command.CountedPayload`)."""
        return self.authorising_counter

    def encode(self) -> bytes:
        control: dict[str, object] = {"credentialsReplacementMode": int(self.mode),
                                      "authorisingRemotePartySeqNumber": self.authorising_counter}
        if self.new_floor_counter is not None:
            control["newRemotePartyFloorSeqNumber"] = self.new_floor_counter
        replacements = [_Replacement({"replacingCertificate": asn1_x509.Certificate.load(r.certificate),
                                      "targetTrustAnchorCell": r.cell._der()}) for r in self.replacements]
        return dump(_Command({"authorisingRemotePartyControl": _Control(control), "replacements": replacements,
                              "certificationPathCertificates": []}), "CS02b command")

    @classmethod
    def decode(cls, data: bytes) -> "UpdateSecurityCredentials":
        what = "CS02b command payload"
        der = load_der(_Command, data, what)
        control = der["authorisingRemotePartyControl"]
        replacements = tuple(Replacement(r["replacingCertificate"].dump(),
                                         TrustAnchorCell._read(r["targetTrustAnchorCell"], what))
                             for r in der["replacements"])
        return decoded(what, lambda: cls(ReplacementMode(control["credentialsReplacementMode"].native),
                                         control["authorisingRemotePartySeqNumber"].native, replacements,
                                         control["newRemotePartyFloorSeqNumber"].native))


@dataclass(frozen=True)
class ReplacementOutcome:
    """What became of one cell: the subject (entity ID) and key ID it held and now holds."""

    cell: TrustAnchorCell
    status: StatusCode
    existing_subject: bytes
    existing_key_id: bytes
    replacing_subject: bytes
    replacing_key_id: bytes

    def _der(self) -> _ReplacementOutcome:
        return _ReplacementOutcome({
            "affectedTrustAnchorCell": self.cell._der(), "statusCode": self.status.name.lower(),
            "existingSubjectUniqueID": self.existing_subject, "existingSubjectKeyID": self.existing_key_id,
            "replacingSubjectUniqueID": self.replacing_subject, "replacingSubjectKeyID": self.replacing_key_id})


@dataclass(frozen=True)
class CredentialsOutcome:
    """The executed command: the TransCoS counter it ran under, the new Supplier's counter floor
    and each cell's outcome."""

    authorising_counter: int
    mode: ReplacementMode
    supplier_floor: int | None
    outcomes: tuple[ReplacementOutcome, ...]

    @property
    def succeeded(self) -> bool:
        return all(o.status is StatusCode.SUCCESS for o in self.outcomes)

    def encode(self) -> bytes:
        changes = [] if self.supplier_floor is None else [
            _SeqNumberChange({"remotePartyRole": int(RemotePartyRole.SUPPLIER), "floorSeqNumber": self.supplier_floor})]
        outcome = _ExecutionOutcome({"authorisingRemotePartySeqNumber": self.authorising_counter,
                                     "credentialsReplacementMode": int(self.mode),
                                     "remotePartySeqNumberChanges": changes,
                                     "replacementOutcomes": [o._der() for o in self.outcomes]})
        return dump(_Response({"commandAccepted": core.Null(), "executionOutcome": outcome}), "CS02b response")

    @classmethod
    def decode(cls, data: bytes) -> "CredentialsOutcome":
        what = "CS02b response payload"
        der = load_der(_Response, data, what)
        outcome = der["executionOutcome"]
        if not outcome.native:
            raise MessageFormatError(f"{what}: an immediate command's response carries its execution outcome")
        floors = [c["floorSeqNumber"].native for c in outcome["remotePartySeqNumberChanges"]
                  if c["remotePartyRole"].native == RemotePartyRole.SUPPLIER]
        outcomes = tuple(decoded(what, lambda o=o: ReplacementOutcome(
            TrustAnchorCell._read(o["affectedTrustAnchorCell"], what), StatusCode[o["statusCode"].native.upper()],
            o["existingSubjectUniqueID"].native, o["existingSubjectKeyID"].native,
            o["replacingSubjectUniqueID"].native, o["replacingSubjectKeyID"].native))
            for o in outcome["replacementOutcomes"])
        return decoded(what, lambda: cls(outcome["authorisingRemotePartySeqNumber"].native,
                                         ReplacementMode(outcome["credentialsReplacementMode"].native),
                                         floors[0] if floors else None, outcomes))


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """A key's identifier as a trust anchor cell reports it: its certificate's 8-octet Subject
    Key Identifier, RFC 5280's method 2 (0100 and the low 60 bits of the SHA-1 of the
    uncompressed point), as the DCC's test certificates carry it and a device in the DCC's test
    environment reports it in CS02a (``tests/unit/gbcs/test_security_credentials.py``)."""
    digest = hashes.Hash(hashes.SHA1())
    digest.update(public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    low = digest.finalize()[-8:]
    return bytes([0x40 | (low[0] & 0x0F)]) + low[1:]


def supplier_cells(ds_certificate: bytes, ka_certificate: bytes) -> tuple[Replacement, Replacement]:
    """The two replacements a change of supplier makes: the new Supplier's DS and KA certificates
    into the Supplier cells."""
    return (Replacement(ds_certificate, TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.DS)),
            Replacement(ka_certificate, TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.KA)))


def replacing_party(command: UpdateSecurityCredentials) -> tuple[EntityId, ec.EllipticCurvePublicKey,
                                                                  ec.EllipticCurvePublicKey]:
    """The new Supplier a change-of-supplier command names, with its DS and KA keys; a command
    that does not replace exactly the Supplier's DS and KA cells with one party's certificates
    is a :class:`MessageFormatError`."""
    by_usage: dict[Usage, x509.Certificate] = {}
    for replacement in command.replacements:
        if replacement.cell.role is not RemotePartyRole.SUPPLIER or replacement.cell.usage in by_usage:
            raise MessageFormatError(f"CS02b supplierByTransCoS replaces the Supplier's DS and KA cells once each, "
                                     f"not {replacement.cell}")
        try:
            by_usage[replacement.cell.usage] = replacement.x509
        except ValueError as exc:
            raise MessageFormatError(f"CS02b: a replacing certificate does not read: {exc}") from None
    if set(by_usage) != {Usage.DS, Usage.KA}:
        raise MessageFormatError("CS02b supplierByTransCoS must replace both the Supplier's DS and KA cells")
    parties = {entity_of(cert) for cert in by_usage.values()}
    if len(parties) != 1:
        raise MessageFormatError(f"CS02b: the replacing certificates name different parties {sorted(map(str, parties))}")
    return parties.pop(), public_key_of(by_usage[Usage.DS]), public_key_of(by_usage[Usage.KA])


def _supplier_by_transcos(data: bytes) -> UpdateSecurityCredentials:
    """A payload of message code 0x0107, which names its mode: supplierByTransCoS, replacing
    one new Supplier's DS and KA cells (:func:`replacing_party` says what else is malformed)."""
    command = UpdateSecurityCredentials.decode(data)
    if command.mode is not ReplacementMode.SUPPLIER_BY_TRANSCOS:
        raise MessageFormatError(f"CS02b 0x0107: credentialsReplacementMode {command.mode.name} is not "
                                 "supplierByTransCoS")
    replacing_party(command)
    return command


CS02B = SignedCommand(_CODE, "CS02b", "authorisingRemotePartySeqNumber", _supplier_by_transcos,
                      CredentialsOutcome.decode)
"""CS02b supplierByTransCoS as a signed command (:mod:`hanbench.gbcs.signed_command`): the TransCoS
party signs it, the frame's originator counter is the authorising counter, the device signs its
response."""

update_credentials_command = CS02B.command
read_update_credentials = CS02B.read
update_credentials_response = CS02B.response
read_update_credentials_response = CS02B.read_response
