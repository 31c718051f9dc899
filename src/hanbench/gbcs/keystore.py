"""Certificates and private keys by entity ID and usage.

A key store is a folder laid out like the RTDS test key store: ``<entity-hex>-<usage>.pem``
for certificates and ``<entity-hex>-<usage>.key`` for private keys, where usage is ``ds``
(digital signing), ``ka`` (key agreement) or ``pp-ka`` (prepayment key agreement).

Every device and party has a DS pair (it signs) and a KA pair (it agrees MAC keys, see
:mod:`hanbench.gbcs.protection`). A certificate asked for as KA must allow key agreement and one
asked for as DS must allow digital signatures, where it says (keyUsage), so a swapped file is
found at load time rather than as a MAC that never verifies.

This is the one module under ``gbcs/`` that reads files: it reads them when asked for a key
and keeps what it parsed, so callers above it never deal with PEM. Whatever is wrong with a
file (missing, unreadable, not PEM/DER, not P-256, wrong usage) is a :class:`KeyStoreError`
(:class:`KeyMissing` when the file is not there); no ``cryptography`` exception escapes.
"""

from __future__ import annotations

import enum
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import KeyMissing, KeyStoreError

# What `cryptography` raises for bytes it cannot read as a key or certificate: malformed
# DER (ValueError), an algorithm or curve it does not know (UnsupportedAlgorithm), a
# certificate version other than v1 or v3 (InvalidVersion)
_UNREADABLE = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)


class Usage(enum.StrEnum):
    """What a key is for, as the key store file names spell it."""

    DS = "ds"
    KA = "ka"
    PP_KA = "pp-ka"


class KeyStore:
    """Read-only view of a key store folder."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise KeyStoreError(f"key store {self.folder} is not a folder")

    def _path(self, entity: EntityId | str, usage: Usage | str, suffix: str) -> Path:
        return self.folder / f"{EntityId.parse(entity).hex}-{Usage(usage).value}{suffix}"

    def has_certificate(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> bool:
        return self._path(entity, usage, ".pem").is_file()

    def has_private_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> bool:
        return self._path(entity, usage, ".key").is_file()

    def certificate(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> x509.Certificate:
        """The X.509 certificate of ``entity`` for ``usage``."""
        return _load_certificate(self._path(entity, usage, ".pem"))

    def public_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> ec.EllipticCurvePublicKey:
        """The P-256 public key from ``entity``'s certificate for ``usage``."""
        path = self._path(entity, usage, ".pem")
        cert = self.certificate(entity, usage)
        _check_usage(cert, Usage(usage), path)
        return public_key_of(cert, path)

    def private_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> ec.EllipticCurvePrivateKey:
        """The P-256 private key of ``entity`` for ``usage``."""
        return load_private_key(self._path(entity, usage, ".key"))

    def entities(self) -> list[EntityId]:
        """Every entity that has at least one certificate here, sorted."""
        found = {EntityId.parse(p.name[:16]) for p in self.folder.glob("*.pem") if len(p.name) > 16}
        return sorted(found)


def _check_usage(cert: x509.Certificate, usage: Usage, where: Path) -> None:
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    except ValueError as exc:
        raise KeyStoreError(f"{where}: unreadable certificate extensions: {exc}") from None
    allowed = key_usage.digital_signature if usage is Usage.DS else key_usage.key_agreement
    if not allowed:
        wanted = "digitalSignature" if usage is Usage.DS else "keyAgreement"
        raise KeyStoreError(f"{where}: its keyUsage does not allow {wanted}, so it is not a {usage.value} certificate")


def public_key_of(cert: x509.Certificate, where: Path | str = "certificate") -> ec.EllipticCurvePublicKey:
    """The certificate's public key, which GBCS requires to be P-256."""
    try:
        key = cert.public_key()
    except _UNREADABLE as exc:
        raise KeyStoreError(f"{where}: unreadable public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyStoreError(f"{where}: GBCS certificates carry P-256 keys")
    return key


_X500_UNIQUE_IDENTIFIER = x509.ObjectIdentifier("2.5.4.45")


def entity_of(cert: x509.Certificate) -> EntityId:
    """The entity a certificate is for: its subject's x500UniqueIdentifier (an RTDS organisation
    certificate: a DER BIT STRING of the 8-octet entity ID) or, failing that, its serialNumber
    in DUIS form (the bench's own certificates)."""
    for attribute in cert.subject.get_attributes_for_oid(_X500_UNIQUE_IDENTIFIER):
        value = attribute.value if isinstance(attribute.value, bytes) else bytes(str(attribute.value), "latin-1")
        return EntityId(value[-8:])
    for attribute in cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER):
        try:
            return EntityId.parse(str(attribute.value))
        except ValueError:
            break
    raise KeyStoreError(f"certificate {cert.subject.rfc4514_string()} names no entity (no x500UniqueIdentifier or "
                        "serialNumber in its subject)")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyMissing(f"no {what} {path.name} in key store {path.parent}") from None
    except OSError as exc:
        raise KeyStoreError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


@cache
def _load_certificate(path: Path) -> x509.Certificate:
    data = _read(path, "certificate")
    load = x509.load_pem_x509_certificate if b"-----BEGIN" in data else x509.load_der_x509_certificate
    try:
        return load(data)
    except _UNREADABLE as exc:
        raise KeyStoreError(f"{path} is not a PEM or DER X.509 certificate ({exc})") from None


def load_certificate(path: Path | str) -> x509.Certificate:
    """Load one certificate file (PEM or DER), for callers given a path rather than an ID."""
    return _load_certificate(Path(path).resolve())


@cache
def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = _read(path, "private key")
    load = (serialization.load_pem_private_key if b"-----BEGIN" in data
            else serialization.load_der_private_key)
    try:
        key = load(data, password=None)
    except _UNREADABLE as exc:
        raise KeyStoreError(f"{path} is not an unencrypted PEM or DER private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyStoreError(f"{path}: GBCS keys are P-256 EC keys")
    return key


def load_private_key(path: Path | str) -> ec.EllipticCurvePrivateKey:
    """Load one private key file (PEM or DER, unencrypted P-256)."""
    return _load_private_key(Path(path).resolve())
