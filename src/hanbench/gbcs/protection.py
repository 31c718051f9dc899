"""GBCS message protection: the GMAC of the general-ciphering envelope (GBCS 4.3.3, 6.2.3, 7.2.5).

What GBCS protects, and how (read off the RTDS 4.5.0 vectors in ``fixtures/rtds/gbcs``, which
:mod:`tests.unit.gbcs.test_protection` checks one by one):

* every Command carries the Access Control Broker's MAC, critical or not: the five CS06
  commands (SME.C.C: the Supplier's signature inside, the ACB's MAC around it) and the CS08,
  ECS52 and GCS38 reads (SME.C.NC: signature length 0, MAC only). The device checks the MAC
  first, then the signature, then the payload (GBCS 11.5 for CS06);
* a Response to a non-critical command carries the device's MAC (ECS52, GCS38, CS08 responses);
  a Response to a critical command is signed by the device and not MAC'd (CS06 responses);
* a non-critical Alert carries the device's MAC (generic non-critical alert 0x1001, RTDS
  ``GNCA-DLMS`` and ``GNCA-ZigBee``); a critical Alert is signed and not MAC'd (0x1000
  ``GCA-*``, the firmware receipt alerts 0x00CE / 0x00CF, 0x00CA, CCS08, CS09).

The recipe (reproduces the MAC of every MAC'd RTDS vector byte for byte)::

    key  = first 16 bytes of ConcatKDF-SHA256( ECDH(P-256) shared secret, OtherInfo )
           between the MAC originator's KA private key and the MAC recipient's KA public key
           (a command: the ACB and the target device; a response or alert: the device that
           sends it and the message's target)
    OtherInfo = 60 85 74 06 08 03 00              AlgorithmID
              || business originator ID (8)       originator system title
              || 09 || CRA flag || counter (8)    the transaction ID *with* its length byte
              || business target ID (8)           recipient system title
    IV   = business originator ID (8) || invocation counter (4)
    AAD  = security control (0x11) || invocation counter (4) || 0x00
           || the general-signing block from DF through the signature (length 0 when unsigned)
    MAC  = first 12 bytes of the AES-128-GCM tag over no plaintext (a GMAC)

``cryptography`` does the ECDH, the KDF (ConcatKDFHash) and AES-GCM. Written here by hand is
only what no library knows: the GBCS framing of OtherInfo, IV and AAD, and which parties' keys
a message's MAC uses. The Access Control Broker is the DCC
(:data:`~hanbench.gbcs.entity.DCC_ENTITY`). The invocation counter is the caller's: GBCS forbids reusing one under a
key, so the sender must persist it (the DCC, for the ACB's commands); this module only puts it
in the frame.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from hanbench.gbcs.codes import is_critical
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.errors import KeyStoreError, MacInvalid, MessageFormatError
from hanbench.gbcs.fields import check_uint
from hanbench.gbcs.frame import MAC_LENGTH, Cra, GbcsMessage, MacEnvelope, general_signing_block
from hanbench.gbcs.keystore import KeyStore, Usage

SECURITY_CONTROL = 0x11
ALGORITHM_ID = bytes.fromhex("60857406080300")
_KEY_LENGTH = 16
_TRANSACTION_ID_LENGTH = 9


def kdf_other_info(msg: GbcsMessage) -> bytes:
    """OtherInfo of the GBCS key derivation for ``msg`` (see the module docstring)."""
    return (ALGORITHM_ID + bytes(msg.originator)
            + bytes([_TRANSACTION_ID_LENGTH, msg.cra]) + msg.originator_counter.to_bytes(8, "big")
            + bytes(msg.target))


def mac_key(own_key: ec.EllipticCurvePrivateKey, peer_key: ec.EllipticCurvePublicKey, msg: GbcsMessage) -> bytes:
    """The AES-128 key of ``msg``'s MAC: static-static ECDH, then the SP 800-56A KDF.

    ECDH is symmetric, so the sender (its private key, the receiver's public key) and the
    receiver (the other way round) derive the same key.
    """
    if not isinstance(own_key.curve, ec.SECP256R1) or not isinstance(peer_key.curve, ec.SECP256R1):
        raise KeyStoreError("GBCS key agreement uses P-256 keys")
    shared = own_key.exchange(ec.ECDH(), peer_key)
    return ConcatKDFHash(hashes.SHA256(), _KEY_LENGTH, kdf_other_info(msg)).derive(shared)


def mac_iv(msg: GbcsMessage, invocation_counter: int) -> bytes:
    return bytes(msg.originator) + check_uint(invocation_counter, 32, "invocation counter").to_bytes(4, "big")


def mac_aad(msg: GbcsMessage, invocation_counter: int, security_control: int = SECURITY_CONTROL) -> bytes:
    """The authenticated data: security header, a zero byte, then the general-signing block."""
    return (bytes([check_uint(security_control, 8, "security control")])
            + check_uint(invocation_counter, 32, "invocation counter").to_bytes(4, "big")
            + b"\x00" + general_signing_block(msg))


def gmac(key: bytes, iv: bytes, aad: bytes) -> bytes:
    """AES-128-GCM over no plaintext, tag cut to GBCS's 12 bytes."""
    return AESGCM(key).encrypt(iv, b"", aad)[:MAC_LENGTH]


def compute_mac(msg: GbcsMessage, invocation_counter: int, own_key: ec.EllipticCurvePrivateKey,
                peer_key: ec.EllipticCurvePublicKey, security_control: int = SECURITY_CONTROL) -> bytes:
    """The 12-byte MAC ``msg`` carries under ``invocation_counter``."""
    return gmac(mac_key(own_key, peer_key, msg), mac_iv(msg, invocation_counter),
                mac_aad(msg, invocation_counter, security_control))


def protect(msg: GbcsMessage, invocation_counter: int, own_key: ec.EllipticCurvePrivateKey,
            peer_key: ec.EllipticCurvePublicKey) -> GbcsMessage:
    """``msg`` wrapped in general-ciphering with its MAC (sign it first: the MAC covers the signature).

    ``own_key`` is the MAC originator's KA private key (the ACB's for a command, the device's
    for a response or alert), ``peer_key`` the MAC recipient's KA public key. The caller owns
    ``invocation_counter`` and must never reuse one with the same pair of keys.
    """
    if msg.pre_command:
        raise MessageFormatError("a pre-command is signed before it is MAC'd; sign it first")
    bare = replace(msg, mac=None)
    mac = compute_mac(bare, invocation_counter, own_key, peer_key)
    return replace(bare, mac=MacEnvelope(mac, SECURITY_CONTROL, invocation_counter))


def verify_mac(msg: GbcsMessage, own_key: ec.EllipticCurvePrivateKey, peer_key: ec.EllipticCurvePublicKey) -> None:
    """Raise :class:`MacInvalid` unless ``msg`` carries a MAC that verifies under the two keys.

    ``own_key`` is the verifier's KA private key (the device's, for a command it received),
    ``peer_key`` the other party's KA public key (the ACB's). The comparison is constant-time.
    """
    if msg.mac is None:
        raise MacInvalid(f"{_describe(msg)} carries no MAC, and GBCS requires one")
    envelope = msg.mac
    expected = compute_mac(msg, envelope.invocation_counter, own_key, peer_key, envelope.security_control)
    if not hmac.compare_digest(expected, envelope.mac):
        raise MacInvalid(f"{_describe(msg)}: MAC {envelope.mac.hex().upper()} does not verify "
                         f"(invocation counter {envelope.invocation_counter})")


def _describe(msg: GbcsMessage) -> str:
    return (f"{msg.cra.name.lower()} {msg.message_code!s} from {msg.originator} to {msg.target} "
            f"(counter {msg.originator_counter})")


# --- who holds which key ------------------------------------------------------------------------

def mac_required(msg: GbcsMessage) -> bool:
    """Whether GBCS requires ``msg`` to carry a MAC: every command, and every response or alert
    that is not critical (a critical one is signed instead; see the module docstring)."""
    return msg.cra is Cra.COMMAND or not is_critical(msg.message_code)


def mac_parties(msg: GbcsMessage, acb: EntityId = DCC_ENTITY) -> tuple[EntityId, EntityId]:
    """``(MAC originator, MAC recipient)`` of ``msg``: the ACB and the target for a command,
    the business originator and target for a response or an alert."""
    if msg.cra is Cra.COMMAND:
        return acb, msg.target
    return msg.originator, msg.target


class ReplyProtector:
    """How a device or the CH finishes a response or alert it sends: MAC'd with its KA key where
    GBCS wants a MAC (:func:`mac_required`), under an invocation counter of its own that rises
    with every MAC; a critical message is signed already and passes unchanged.

    The counter lives as long as the object: an emulated device or CH is built afresh for each
    session, and the key of every MAC is derived per message from its originator counter (see
    the module docstring), which is what keeps two MACs apart.
    """

    def __init__(self, agreement_key: ec.EllipticCurvePrivateKey, *, first_invocation_counter: int = 1) -> None:
        self.agreement_key = agreement_key
        self.invocation_counter = check_uint(first_invocation_counter, 32, "invocation counter")

    def seal(self, msg: GbcsMessage, recipient_key: ec.EllipticCurvePublicKey) -> GbcsMessage:
        """``msg`` as it is sent to the holder of ``recipient_key`` (its KA public key)."""
        if not mac_required(msg):
            return msg
        counter = self.invocation_counter
        self.invocation_counter = check_uint(counter + 1, 32, "invocation counter")
        return protect(msg, counter, self.agreement_key, recipient_key)


class MacCheck(enum.Enum):
    """What a key store can say about a message's MAC."""

    VALID = "valid"
    INVALID = "invalid"
    NO_KEY = "no key"
    ABSENT = "absent"


def check_mac(msg: GbcsMessage, keys: KeyStore, acb: EntityId = DCC_ENTITY) -> MacCheck:
    """Check ``msg``'s MAC with whichever side's KA private key ``keys`` holds.

    NO_KEY when the store has neither party's private key together with the other's
    certificate; ABSENT when the message carries no MAC.
    """
    if msg.mac is None:
        return MacCheck.ABSENT
    sender, recipient = mac_parties(msg, acb)
    for own, peer in ((recipient, sender), (sender, recipient)):
        if keys.has_private_key(own, Usage.KA) and keys.has_certificate(peer, Usage.KA):
            try:
                verify_mac(msg, keys.private_key(own, Usage.KA), keys.public_key(peer, Usage.KA))
            except MacInvalid:
                return MacCheck.INVALID
            return MacCheck.VALID
    return MacCheck.NO_KEY


def protect_from_store(msg: GbcsMessage, invocation_counter: int, keys: KeyStore,
                       acb: EntityId = DCC_ENTITY) -> GbcsMessage:
    """:func:`protect` with the MAC originator's KA key and the recipient's KA certificate from
    ``keys`` (a missing file is :class:`~hanbench.gbcs.errors.KeyMissing`)."""
    sender, recipient = mac_parties(msg, acb)
    return protect(msg, invocation_counter, keys.private_key(sender, Usage.KA), keys.public_key(recipient, Usage.KA))

