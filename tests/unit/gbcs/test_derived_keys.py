"""DerivedKeyStore: a key pair per generated entity and usage, the same for the same seed, beside the folder's keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.derived_keys import DerivedKeyStore, derive_private_key
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import KeyMissing
from hanbench.gbcs.keystore import KeyStore, Usage

KEYS = Path(__file__).resolve().parents[3] / "fixtures" / "keys"
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")
ESME, GSME = EntityId.parse("00-DB-20-00-00-00-00-01"), EntityId.parse("00-DB-20-00-00-00-00-02")


def number(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


def test_the_same_seed_entity_and_usage_give_the_same_key_and_nothing_else_does() -> None:
    assert number(derive_private_key(7, ESME, Usage.DS)) == number(derive_private_key(7, ESME, Usage.DS))
    keys = {number(derive_private_key(seed, entity, usage))
            for seed in (7, 8) for entity in (ESME, GSME) for usage in (Usage.DS, Usage.KA)}
    assert len(keys) == 8


def test_derived_entities_sign_and_verify_and_the_folder_still_answers_for_the_rest() -> None:
    store = DerivedKeyStore(KEYS, [ESME, GSME], seed=7)
    assert store.derives(ESME) and not store.derives(SUPPLIER)
    assert store.has_certificate(GSME, Usage.KA) and store.has_private_key(ESME)
    signature = store.private_key(ESME).sign(b"alert", ec.ECDSA(hashes.SHA256()))
    store.public_key(ESME).verify(signature, b"alert", ec.ECDSA(hashes.SHA256()))
    assert store.private_key(ESME) is store.private_key(ESME), "derived once"
    folder = KeyStore(KEYS)
    assert number(store.private_key(SUPPLIER)) == number(folder.private_key(SUPPLIER))
    assert not store.has_certificate(EntityId.parse("00-DB-99-00-00-00-00-01"))
    with pytest.raises(KeyMissing, match="derived keys, which come without a certificate file"):
        store.certificate(ESME)
    # a party agrees a key with a derived entity as with any other
    shared = store.private_key(SUPPLIER, Usage.KA).exchange(ec.ECDH(), store.public_key(ESME, Usage.KA))
    assert shared == store.private_key(ESME, Usage.KA).exchange(ec.ECDH(), store.public_key(SUPPLIER, Usage.KA))
