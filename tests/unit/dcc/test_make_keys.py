"""fixtures/make_keys.py: the bench key store it makes, its copies of RTDS, and that it never
overwrites keys unless forced."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from cryptography import x509

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.signing import sign_raw, verify_raw

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _module():
    spec = importlib.util.spec_from_file_location("make_keys", FIXTURES / "make_keys.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


make_keys = _module()


def test_makes_every_entity_with_matching_keys(tmp_path):
    results = make_keys.make_keys(tmp_path)
    assert all(written for _, written in results)
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(f"{e.hex}-ds.{ext}" for e in make_keys.ENTITIES for ext in ("pem", "key"))
    assert names == expected
    store = KeyStore(tmp_path)
    for entity in make_keys.ENTITIES:
        key = store.private_key(entity.duis)
        assert verify_raw(store.public_key(entity.duis), b"probe", sign_raw(key, b"probe"))
        usage = store.certificate(entity.duis).extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature


def test_rtds_supplier_is_a_copy_so_rtds_signed_images_verify(tmp_path):
    make_keys.make_keys(tmp_path)
    supplier = "90b3d51f30010000-ds"
    for ext in (".pem", ".key"):
        assert (tmp_path / f"{supplier}{ext}").read_bytes() == \
            (FIXTURES / "rtds" / "keystore" / f"{supplier}{ext}").read_bytes()
    assert (tmp_path / "90b3d51f30000002-ds.key").read_bytes() == \
        (FIXTURES / "rtds" / "keystore" / "90b3d51f30000002-ds.key").read_bytes()
    sample = next((FIXTURES.parent / "firmware_images").glob("ESME-*-00000002.ota"))
    assert parse_image(sample.read_bytes()).verify(KeyStore(tmp_path).public_key("90-B3-D5-1F-30-01-00-00"))


def test_keeps_existing_keys_unless_forced(tmp_path):
    make_keys.make_keys(tmp_path)
    rsa = tmp_path / "90b3d51f300a0001-ds.key"
    before = rsa.read_bytes()
    assert not any(written for _, written in make_keys.make_keys(tmp_path))
    assert rsa.read_bytes() == before
    make_keys.make_keys(tmp_path, force=True)
    assert rsa.read_bytes() != before
    assert not list(tmp_path.glob(".*.tmp"))


def test_refuses_half_an_entry(tmp_path):
    make_keys.make_keys(tmp_path)
    (tmp_path / "90b3d51f300a0002-ds.pem").unlink()
    with pytest.raises(SystemExit, match="exists without its pair"):
        make_keys.make_keys(tmp_path)


def test_committed_key_store_is_complete_and_documented():
    store = KeyStore(FIXTURES / "keys")
    readme = (FIXTURES / "keys" / "README.md").read_text()
    for entity in make_keys.ENTITIES:
        assert store.has_certificate(entity.duis) and store.has_private_key(entity.duis)
        assert entity.duis in readme and f"{entity.hex}-ds.pem" in readme
    assert EntityId.parse("90-B3-D5-1F-30-01-00-00") in store.entities()
