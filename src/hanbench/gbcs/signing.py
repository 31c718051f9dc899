"""ECDSA P-256 / SHA-256 signatures in the raw ``r || s`` form GBCS carries.

GBCS puts 64-byte signatures in images, commands and alerts; ``cryptography`` speaks DER.
These two functions are the only place the two forms meet.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hanbench.gbcs.errors import GbcsError

SIGNATURE_LENGTH = 64
_HALF = SIGNATURE_LENGTH // 2


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Sign ``data`` and return the 64-byte ``r || s`` signature."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise GbcsError(f"GBCS signs with P-256 keys, not {private_key.curve.name}")
    r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_HALF, "big") + s.to_bytes(_HALF, "big")


def verify_raw(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (64-byte ``r || s``) is valid for ``data`` under ``public_key``."""
    if len(signature) != SIGNATURE_LENGTH:
        return False
    r = int.from_bytes(signature[:_HALF], "big")
    s = int.from_bytes(signature[_HALF:], "big")
    if not (0 < r and 0 < s):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
