"""GBCS message protection against the DCC's own vectors.

Every MAC'd RTDS vector (9 commands in the fixtures, 4 GCS38 messages kept in
``test_gbcs_rtds_vectors.py``, the MAC'd responses and the two non-critical alerts) is
re-encoded byte for byte *including its MAC*, computed here from the RTDS test keys. Each
deliberately wrong reading of the recipe (the AAD without the signature or the zero byte, the
transaction ID without its length byte, swapped system titles, the wrong parties' keys) fails
to reproduce those MACs, so the recipe is pinned by bytes someone else produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from fixture_files import SUPPLIER
from gbcs_vectors import DCC, ESME, GSME, KEYS, read_vector, vector_files
from hanbench.gbcs.entity import DCC_ENTITY
from hanbench.gbcs.errors import KeyMissing, MacInvalid, MessageFormatError, MessageTruncated
from hanbench.gbcs.frame import Cra, GbcsMessage, decode_message, encode_message, general_signing_block, sign_message
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.protection import (
    ALGORITHM_ID, MacCheck, check_mac, compute_mac, gmac, mac_aad, mac_iv, mac_key,
    mac_parties, mac_required, protect, protect_from_store, verify_mac,
)
from test_gbcs_rtds_vectors import ALL, GCS38

MACD = sorted(name for name, (data, _) in ALL.items() if data[0] == 0xDD)
COMMANDS = sorted(p.name for p in vector_files() if "_COMMAND_" in p.name)


def parties_keys(msg: GbcsMessage) -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey]:
    """A private KA key of one end of the MAC and the other end's public KA key.

    RTDS ships the private keys of the ACB and the Supplier but only the devices'
    certificates, so a device's MAC is checked from the receiving end.
    """
    sender, recipient = mac_parties(msg)
    own, peer = (sender, recipient) if KEYS.has_private_key(sender, Usage.KA) else (recipient, sender)
    return KEYS.private_key(own, Usage.KA), KEYS.public_key(peer, Usage.KA)


def test_every_fixture_command_is_macd() -> None:
    # CS06 x5, CS08 x2, ECS52 x2: every command the DCC sends carries the ACB's MAC.
    assert len(COMMANDS) == 9
    assert set(COMMANDS) <= set(MACD)
    assert len(MACD) == 9 + 6 + 4  # + CS08/ECS52 responses and GNCA x2, + the GCS38 four


@pytest.mark.parametrize("name", COMMANDS + sorted(n for n in GCS38 if "COMMAND" in n))
def test_command_reencodes_with_the_mac_the_acb_computes(name: str) -> None:
    data = ALL[name][0]
    received = decode_message(data)
    bare = replace(received, mac=None)
    own, peer = parties_keys(received)
    assert mac_parties(received) == (DCC_ENTITY, received.target)
    rebuilt = protect(bare, received.mac.invocation_counter, own, peer)
    assert encode_message(rebuilt) == data


@pytest.mark.parametrize("name", MACD)
def test_every_mac_the_key_store_allows_verifies_from_both_ends(name: str) -> None:
    msg = decode_message(ALL[name][0])
    verified = 0
    # The receiver checks with its own private key and the sender's certificate, and the sender
    # (or a tool holding its key) the other way round: ECDH gives both the same key.
    for own, peer in (mac_parties(msg), mac_parties(msg)[::-1]):
        if KEYS.has_private_key(own, Usage.KA):
            verify_mac(msg, KEYS.private_key(own, Usage.KA), KEYS.public_key(peer, Usage.KA))
            verified += 1
    assert verified >= 1
    assert check_mac(msg, KEYS) is MacCheck.VALID


def test_responses_and_alerts_are_macd_by_the_device_for_the_target() -> None:
    ecs52 = decode_message(read_vector("ECS52_11.2_SUCCESS_RESPONSE_GBCS.HEX"))
    assert mac_parties(ecs52) == (ESME, SUPPLIER)
    gnca = decode_message(read_vector("GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX"))
    assert mac_parties(gnca) == (GSME, SUPPLIER)
    # The device holds only its own key: with the device's key and the target's certificate,
    # as a device computes it, the response's MAC comes out the same.
    own, peer = KEYS.private_key(SUPPLIER, Usage.KA), KEYS.public_key(ESME, Usage.KA)
    assert compute_mac(replace(ecs52, mac=None), ecs52.mac.invocation_counter, own, peer) == ecs52.mac.mac


@pytest.mark.parametrize("name", MACD)
def test_one_flipped_bit_anywhere_fails_with_a_typed_error(name: str) -> None:
    data = ALL[name][0]
    own, peer = parties_keys(decode_message(data))
    for index in range(len(data)):
        for bit in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[index] ^= bit
            try:
                msg = decode_message(bytes(damaged))
            except MessageFormatError:
                continue  # the frame no longer parses: refused before any MAC check
            with pytest.raises(MacInvalid):
                verify_mac(msg, own, peer)


@pytest.mark.parametrize("name", sorted(n for n in ALL if "PRECOMMAND" not in n))
def test_the_rule_of_what_carries_a_mac_matches_every_rtds_vector(name: str) -> None:
    # Commands and non-critical responses and alerts are MAC'd; critical ones signed, not MAC'd.
    # (A pre-command is what a user hands the DCC, before its signature and the ACB's MAC.)
    msg = decode_message(ALL[name][0])
    assert mac_required(msg) == (msg.mac is not None)
    if msg.cra is not Cra.COMMAND:
        assert mac_required(msg) == (msg.signature is None)


def test_a_message_without_mac_is_refused_where_one_is_required() -> None:
    msg = decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    own, peer = parties_keys(msg)
    with pytest.raises(MacInvalid, match="carries no MAC"):
        verify_mac(replace(msg, mac=None), own, peer)


def test_a_truncated_frame_is_a_typed_error_naming_its_offset() -> None:
    data = read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    for cut in (1, 8, 40, len(data) - 1):
        with pytest.raises(MessageTruncated, match=r"at offset \d+"):
            decode_message(data[:cut])


def test_a_missing_key_is_a_typed_error(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    msg = decode_message(read_vector("ECS52_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    with pytest.raises(KeyMissing, match="90b3d51f30000002-ka.key"):
        protect_from_store(replace(msg, mac=None), 0, store)
    assert check_mac(msg, store) is MacCheck.NO_KEY


def test_a_bad_mac_is_reported_invalid_by_the_key_store_check() -> None:
    msg = decode_message(read_vector("CS08_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    forged = replace(msg, mac=replace(msg.mac, mac=bytes(12)))
    assert check_mac(forged, KEYS) is MacCheck.INVALID
    assert check_mac(replace(msg, mac=None), KEYS) is MacCheck.ABSENT


def test_protect_from_store_and_a_new_counter_give_a_new_mac() -> None:
    msg = replace(decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")), mac=None)
    first, second = protect_from_store(msg, 7, KEYS), protect_from_store(msg, 8, KEYS)
    assert first.mac.invocation_counter == 7 and first.mac.mac != second.mac.mac
    verify_mac(first, *parties_keys(first))


def test_protecting_a_pre_command_is_refused() -> None:
    pre = decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_PRECOMMAND_GBCS.HEX"))
    with pytest.raises(MessageFormatError, match="sign it first"):
        protect(pre, 0, *parties_keys(pre))


def test_the_mac_covers_the_signature_so_re_signing_breaks_it() -> None:
    msg = decode_message(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"))
    resigned = sign_message(msg, KEYS.private_key(SUPPLIER))  # ECDSA is randomised: a new signature
    with pytest.raises(MacInvalid):
        verify_mac(resigned, *parties_keys(msg))


# --- the recipe is pinned by the vectors: each wrong reading fails to reproduce them -------------

def _rtds_mac_with(name: str, *, aad: Callable | None = None, other_info: Callable | None = None,
                   iv: Callable | None = None, keys: tuple | None = None) -> bool:
    """Whether a variant of the recipe still reproduces ``name``'s MAC."""
    msg = decode_message(ALL[name][0])
    counter = msg.mac.invocation_counter
    own, peer = keys or parties_keys(msg)
    if other_info is None:
        key = mac_key(own, peer, msg)
    else:
        key = ConcatKDFHash(hashes.SHA256(), 16, other_info(msg)).derive(own.exchange(ec.ECDH(), peer))
    return gmac(key, (iv or mac_iv)(msg, counter), aad(msg, counter) if aad else mac_aad(msg, counter)) == msg.mac.mac


def _block_without_signature(msg: GbcsMessage) -> bytes:
    return general_signing_block(replace(msg, signature=None))


WRONG_READINGS = {
    "the recipe itself": None,
    "AAD without the signature": dict(aad=lambda m, c: b"\x11" + c.to_bytes(4, "big") + b"\x00"
                                      + _block_without_signature(m)),
    "AAD without the zero byte": dict(aad=lambda m, c: b"\x11" + c.to_bytes(4, "big") + general_signing_block(m)),
    "AAD without the DF tag": dict(aad=lambda m, c: b"\x11" + c.to_bytes(4, "big") + b"\x00"
                                   + general_signing_block(m)[1:]),
    "transaction ID without its length byte": dict(other_info=lambda m: ALGORITHM_ID + bytes(m.originator)
                                                   + bytes([m.cra]) + m.originator_counter.to_bytes(8, "big")
                                                   + bytes(m.target)),
    "transaction ID as the bare counter": dict(other_info=lambda m: ALGORITHM_ID + bytes(m.originator)
                                               + m.originator_counter.to_bytes(8, "big") + bytes(m.target)),
    "system titles swapped": dict(other_info=lambda m: ALGORITHM_ID + bytes(m.target) + bytes([9, m.cra])
                                  + m.originator_counter.to_bytes(8, "big") + bytes(m.originator)),
    "IV from the ACB rather than the business originator": dict(
        iv=lambda m, c: bytes(DCC_ENTITY) + c.to_bytes(4, "big")),
}


@pytest.mark.parametrize("reading", sorted(WRONG_READINGS))
@pytest.mark.parametrize("name", ["CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX", "ECS52_11.2_SUCCESS_COMMAND_GBCS.HEX",
                                  "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX"])
def test_only_the_recipe_reproduces_the_rtds_macs(reading: str, name: str) -> None:
    # A signed command, an unsigned command and a device's alert between them exercise every
    # field; an unsigned message has no signature to leave out of the AAD.
    if reading == "AAD without the signature" and decode_message(ALL[name][0]).signature is None:
        pytest.skip("the message carries no signature")
    variant = WRONG_READINGS[reading]
    assert _rtds_mac_with(name, **(variant or {})) is (variant is None)


def test_the_supplier_s_own_ka_key_does_not_make_the_command_mac() -> None:
    # The ACB, not the Supplier who signed the CS06, MACs it.
    name = "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"
    keys = (KEYS.private_key(SUPPLIER, Usage.KA), KEYS.public_key(ESME, Usage.KA))
    assert not _rtds_mac_with(name, keys=keys)


def test_cs08_commands_are_originated_by_the_acb_itself() -> None:
    msg = decode_message(read_vector("CS08_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    assert msg.originator == DCC == DCC_ENTITY and msg.cra is Cra.COMMAND
