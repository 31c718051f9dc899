"""The key store turns every bad file into a typed error (no cryptography exception escapes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import RTDS, SUPPLIER
from gbcs_vectors import ESME
from hanbench.gbcs.errors import KeyMissing, KeyStoreError
from hanbench.gbcs.keystore import KeyStore, Usage


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
