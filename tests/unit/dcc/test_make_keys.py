"""fixtures/make_keys.py: the bench key store it makes, its copies of RTDS, and that it never
overwrites keys unless forced."""

from __future__ import annotations

import tomllib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import IMAGES, ROOT, script_module
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.signing import sign_raw, verify_raw

FIXTURES = ROOT / "fixtures"
make_keys = script_module(FIXTURES / "make_keys.py")


def test_makes_every_entity_with_matching_keys(tmp_path):
    results = make_keys.make_keys(tmp_path)
    assert all(written for *_, written in results)
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(f"{e.hex}-{usage}.{ext}" for e in make_keys.ENTITIES for usage in ("ds", "ka")
                      for ext in ("pem", "key"))
    assert names == expected
    store = KeyStore(tmp_path)
    for entity in make_keys.ENTITIES:
        key = store.private_key(entity.duis)
        assert verify_raw(store.public_key(entity.duis), b"probe", sign_raw(key, b"probe"))
        usage = store.certificate(entity.duis).extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and not usage.key_agreement
        ka = store.certificate(entity.duis, Usage.KA).extensions.get_extension_for_class(x509.KeyUsage).value
        assert ka.key_agreement and not ka.digital_signature
        assert store.private_key(entity.duis, Usage.KA).public_key() == store.public_key(entity.duis, Usage.KA)


def test_every_device_of_the_bench_files_can_mac_with_the_acb(tmp_path):
    make_keys.make_keys(tmp_path)
    store = KeyStore(tmp_path)
    acb = DCC_ENTITY
    for bench in sorted((FIXTURES.parent / "bench").glob("*.toml")):
        config = tomllib.loads(bench.read_text())
        # an estate's CHs and devices have derived keys (gbcs/derived_keys.py), not the fixture's
        for device in [config["hub"], *config["devices"]] if "estate" not in config else []:
            entity = EntityId.parse(device["id"])
            # static-static ECDH: the ACB's side and the device's side agree
            assert store.private_key(acb, Usage.KA).exchange(ec.ECDH(), store.public_key(entity, Usage.KA)) == \
                store.private_key(entity, Usage.KA).exchange(ec.ECDH(), store.public_key(acb, Usage.KA)), bench.name


def test_rtds_supplier_is_a_copy_so_rtds_signed_images_verify(tmp_path):
    make_keys.make_keys(tmp_path)
    supplier = "90b3d51f30010000-ds"
    for name in (supplier, "90b3d51f30010000-ka", "90b3d51f30000002-ds", "90b3d51f30000002-ka"):
        for ext in (".pem", ".key"):
            assert (tmp_path / f"{name}{ext}").read_bytes() == \
                (FIXTURES / "rtds" / "keystore" / f"{name}{ext}").read_bytes()
    sample = next(IMAGES.glob("ESME-*-00000002.ota"))
    assert parse_image(sample.read_bytes()).verify(KeyStore(tmp_path).public_key("90-B3-D5-1F-30-01-00-00"))


def test_keeps_existing_keys_unless_forced(tmp_path):
    make_keys.make_keys(tmp_path)
    rsa = tmp_path / "90b3d51f300a0001-ds.key"
    before = rsa.read_bytes()
    assert not any(written for *_, written in make_keys.make_keys(tmp_path))
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
        for usage in (Usage.DS, Usage.KA):
            assert store.has_certificate(entity.duis, usage) and store.has_private_key(entity.duis, usage)
            assert entity.duis in readme and f"{entity.hex}-{usage.value}.pem" in readme
    assert EntityId.parse("90-B3-D5-1F-30-01-00-00") in store.entities()
