"""The key store turns every bad file into a typed error (no cryptography exception escapes)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import RTDS, SUPPLIER
from gbcs_vectors import ESME
from hanbench.gbcs.errors import KeyMissing, KeyStoreError
from hanbench.gbcs.keystore import KeyStore, Usage, load_certificate, load_private_key, public_key_of


@pytest.fixture()
def store(tmp_path: Path) -> KeyStore:
    for name in ("90b3d51f30010000-ds.pem", "90b3d51f30010000-ka.pem", "90b3d51f30010000-ka.key"):
        shutil.copy(RTDS / "keystore" / name, tmp_path / name)
    return KeyStore(tmp_path)


def test_ka_and_ds_keys_load_side_by_side(store: KeyStore) -> None:
    assert store.public_key(SUPPLIER, Usage.KA) != store.public_key(SUPPLIER, Usage.DS)
    assert store.private_key(SUPPLIER, Usage.KA).public_key() == store.public_key(SUPPLIER, Usage.KA)


def test_a_missing_file_is_key_missing(store: KeyStore) -> None:
    with pytest.raises(KeyMissing, match="no private key 00db1234567890a0-ka.key"):
        store.private_key(ESME, Usage.KA)
    with pytest.raises(KeyMissing, match="no certificate 00db1234567890a0-ds.pem"):
        store.public_key(ESME)


def test_a_signing_certificate_is_not_taken_for_key_agreement(store: KeyStore) -> None:
    (store.folder / "90b3d51f30010000-ka.pem").write_bytes((store.folder / "90b3d51f30010000-ds.pem").read_bytes())
    with pytest.raises(KeyStoreError, match="does not allow keyAgreement"):
        store.public_key(SUPPLIER, Usage.KA)


@pytest.mark.parametrize("content", [b"", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                                     bytes(range(256))])
def test_garbage_certificate_and_key_files_are_key_store_errors(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "00db1234567890a0-ka.pem").write_bytes(content)
    (tmp_path / "00db1234567890a0-ka.key").write_bytes(content)
    store = KeyStore(tmp_path)
    with pytest.raises(KeyStoreError) as cert_error:
        store.public_key(ESME, Usage.KA)
    with pytest.raises(KeyStoreError) as key_error:
        store.private_key(ESME, Usage.KA)
    assert type(cert_error.value) is KeyStoreError and type(key_error.value) is KeyStoreError


def test_a_key_on_another_curve_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "00db1234567890a0-ka.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(KeyStoreError, match="P-256"):
        KeyStore(tmp_path).private_key(ESME, Usage.KA)


# Files a fuzzer made from the fixture keys: each once a cryptography exception

FIXTURE_KEYS = Path(__file__).resolve().parents[3] / "fixtures" / "keys"
FIXTURE_ESME = "00db123456789100"
P256_OID = bytes.fromhex("2a8648ce3d030107")  # 1.2.840.10045.3.1.7
EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
V3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2 (version 3)


def certificate_der() -> bytes:
    pem = (FIXTURE_KEYS / f"{FIXTURE_ESME}-ds.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def private_key_der() -> bytes:
    key = serialization.load_pem_private_key((FIXTURE_KEYS / f"{FIXTURE_ESME}-ds.key").read_bytes(), None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def mutate(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


def test_the_fixture_key_store_loads(tmp_path: Path) -> None:
    (tmp_path / "c.der").write_bytes(certificate_der())
    (tmp_path / "k.der").write_bytes(private_key_der())
    public = public_key_of(load_certificate(tmp_path / "c.der"))
    assert public.public_numbers() == load_private_key(tmp_path / "k.der").public_key().public_numbers()


@pytest.mark.parametrize(("old", "new"), [
    pytest.param(V3, bytes.fromhex("a003020110"), id="version 17"),
    pytest.param(P256_OID, bytes.fromhex("2a8648ce3d030108"), id="unknown curve"),
    pytest.param(EC_PUBLIC_KEY_OID, bytes.fromhex("2a8648ce3d0209"), id="unknown key algorithm"),
    pytest.param(bytes.fromhex("047e11a82744"), bytes.fromhex("047e11a82745"), id="point off the curve"),
])
def test_a_mutated_certificate_is_a_key_store_error(tmp_path: Path, old: bytes, new: bytes) -> None:
    path = tmp_path / "mutated.der"
    path.write_bytes(mutate(certificate_der(), old, new))
    with pytest.raises(KeyStoreError, match="mutated.der"):
        public_key_of(load_certificate(path), path)


def test_a_mutated_pem_certificate_is_a_key_store_error(tmp_path: Path) -> None:
    der = mutate(certificate_der(), V3, bytes.fromhex("a003020110"))
    cert_pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    (tmp_path / f"{FIXTURE_ESME}-ds.pem").write_bytes(cert_pem)
    with pytest.raises(KeyStoreError, match="X509 version"):
        KeyStore(tmp_path).public_key(FIXTURE_ESME)


@pytest.mark.parametrize(("old", "new"), [
    pytest.param(P256_OID, bytes.fromhex("2a8648ce3d030108"), id="unknown curve"),
    pytest.param(EC_PUBLIC_KEY_OID, bytes.fromhex("2a8648ce3d0209"), id="unknown key algorithm"),
])
def test_a_mutated_private_key_is_a_key_store_error(tmp_path: Path, old: bytes, new: bytes) -> None:
    path = tmp_path / "mutated.key"
    path.write_bytes(mutate(private_key_der(), old, new))
    with pytest.raises(KeyStoreError, match="mutated.key"):
        load_private_key(path)
