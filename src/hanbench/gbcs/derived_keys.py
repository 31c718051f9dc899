"""Keys for thousands of generated CHs and devices: derived from a seed, not read from files.

An estate bench has its own CH and HAN devices in every premises, each of which signs what
it sends and is verified by its certificate, like any other. Writing and reading tens of
thousands of PEM files would be slow and pointless: a real device's keys are put in at the
factory and its certificate issued by the SMKI, and the bench needs neither that history
nor the files, only a distinct P-256 key pair per entity and usage that every party (the
device, its CH, the DCC) agrees on.

:class:`DerivedKeyStore` is a :class:`~hanbench.gbcs.keystore.KeyStore` over the bench's key
store folder (users, the DCC) in which the listed entities also have a key pair of each
usage, derived as ``d = 1 + (SHA-256(label || seed || entity || usage) mod (n - 1))`` on
P-256, so the same estate gets the same keys on every run. Derived keys have no certificate
file: :meth:`DerivedKeyStore.certificate` says so; their public key comes from the private
key. They are test keys: no real device or SMKI would trust them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import KeyMissing
from hanbench.gbcs.keystore import KeyStore, Usage

_LABEL = b"hanbench derived entity key\x00"
# The order of the P-256 group (SEC 2, section 2.4.2).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derive_private_key(seed: int, entity: EntityId, usage: Usage) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of ``entity`` for ``usage`` under ``seed`` (see the module docstring)."""
    digest = hashlib.sha256(_LABEL + seed.to_bytes(8, "big", signed=True) + entity.raw + usage.value.encode()).digest()
    return ec.derive_private_key(1 + int.from_bytes(digest, "big") % (_P256_ORDER - 1), ec.SECP256R1())


class DerivedKeyStore(KeyStore):
    """The key store folder ``folder``, plus derived key pairs for ``entities`` (see the module docstring)."""

    def __init__(self, folder: Path | str, entities: Iterable[EntityId], *, seed: int) -> None:
        super().__init__(folder)
        self.seed = seed
        self._derived = frozenset(entities)
        self._keys: dict[tuple[EntityId, Usage], ec.EllipticCurvePrivateKey] = {}

    def derives(self, entity: EntityId | str) -> bool:
        """Whether ``entity``'s keys are derived here rather than read from the folder."""
        return EntityId.parse(entity) in self._derived

    def _key(self, entity: EntityId | str, usage: Usage | str) -> ec.EllipticCurvePrivateKey:
        wanted = (EntityId.parse(entity), Usage(usage))
        key = self._keys.get(wanted)
        if key is None:
            key = self._keys[wanted] = derive_private_key(self.seed, *wanted)
        return key

    def has_certificate(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> bool:
        return self.derives(entity) or super().has_certificate(entity, usage)

    def has_private_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> bool:
        return self.derives(entity) or super().has_private_key(entity, usage)

    def certificate(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> x509.Certificate:
        if self.derives(entity):
            raise KeyMissing(f"{EntityId.parse(entity)} has derived keys, which come without a certificate file; "
                             "ask for its public key")
        return super().certificate(entity, usage)

    def public_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> ec.EllipticCurvePublicKey:
        if self.derives(entity):
            return self._key(entity, usage).public_key()
        return super().public_key(entity, usage)

    def private_key(self, entity: EntityId | str, usage: Usage | str = Usage.DS) -> ec.EllipticCurvePrivateKey:
        if self.derives(entity):
            return self._key(entity, usage)
        return super().private_key(entity, usage)
