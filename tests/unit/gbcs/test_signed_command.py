"""The steps every signed GBCS command shares (CS06 from the Supplier, CS02b from the TransCoS
party): a device takes one only with its sender's signature, a payload that names the frame's
counter, and a counter above the last it accepted, checked in that order; each use case keeps
its own payload."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from fixture_files import BENCH_KEYS, SUPPLIER
from gbcs_vectors import KEYS as RTDS_KEYS
from gbcs_vectors import read_vector
from hanbench.gbcs.cs06 import CS06, ActivateFirmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import CounterReplayed, GbcsError, MessageFormatError, SignatureInvalid
from hanbench.gbcs.frame import decode_message, encode_message, sign_message
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.security_credentials import (
    CS02B,
    RemotePartyRole,
    Replacement,
    ReplacementMode,
    TrustAnchorCell,
    UpdateSecurityCredentials,
    supplier_cells,
)
from hanbench.gbcs.signed_command import SignedCommand

KEYS = KeyStore(BENCH_KEYS)
TRANSCOS = EntityId.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER_B = "90-B3-D5-1F-30-02-00-00"
DEVICE = "00-DB-12-34-56-78-91-00"


def _cert(entity: str, usage: Usage) -> bytes:
    return KEYS.certificate(entity, usage).public_bytes(Encoding.DER)


def _cs02b(counter: int, **changes: object) -> UpdateSecurityCredentials:
    fields: dict[str, object] = {"mode": ReplacementMode.SUPPLIER_BY_TRANSCOS, "authorising_counter": counter,
                                 "replacements": supplier_cells(_cert(SUPPLIER_B, Usage.DS), _cert(SUPPLIER_B, Usage.KA)),
                                 "new_floor_counter": 7}
    fields.update(changes)
    return UpdateSecurityCredentials(**fields)  # type: ignore[arg-type]


# Each use case: its signed command, its sender, and a payload under a given counter.
CASES = [
    pytest.param(CS06, EntityId.parse(SUPPLIER), lambda counter: ActivateFirmware(bytes(32), counter), id="CS06"),
    pytest.param(CS02B, TRANSCOS, _cs02b, id="CS02b"),
]


@pytest.mark.parametrize(("command", "sender", "payload"), CASES)
def test_a_device_takes_a_command_signed_by_its_sender_above_the_floor(command: SignedCommand, sender: EntityId,
                                                                       payload) -> None:
    msg = decode_message(encode_message(command.command(sender, DEVICE, payload(9), KEYS.private_key(sender))))
    assert (msg.originator, msg.originator_counter, msg.message_code) == (sender, 9, command.code)
    assert command.accept(msg, sender, KEYS.public_key(sender), floor=8) == payload(9)
    assert command.accept(msg, sender, KEYS.public_key(sender), floor=None) == payload(9), "no counter seen yet"


@pytest.mark.parametrize(("command", "sender", "payload"), CASES)
def test_each_check_refuses_in_gbcs_order_with_its_own_error(command: SignedCommand, sender: EntityId,
                                                            payload) -> None:
    key = KEYS.public_key(sender)
    msg = command.command(sender, DEVICE, payload(9), KEYS.private_key(sender))
    with pytest.raises(CounterReplayed, match="counter 9 is not above the last accepted 9"):
        command.accept(msg, sender, key, floor=9)
    other = EntityId.parse(SUPPLIER_B)
    with pytest.raises(SignatureInvalid, match=f"{command.name} from {sender} is not signed by the party"):
        command.accept(msg, other, KEYS.public_key(other), floor=None, who="the party")
    with pytest.raises(SignatureInvalid):
        command.accept(msg, sender, None, floor=None)  # the device trusts no key for the sender
    with pytest.raises(SignatureInvalid):
        command.accept(sign_message(msg, KEYS.private_key(other)), sender, key, floor=None)
    renumbered = sign_message(replace(msg, originator_counter=10), KEYS.private_key(sender))
    with pytest.raises(MessageFormatError, match=f"{command.counter_field} 9 differs from the message's originator "
                                                 "counter 10"):
        command.accept(renumbered, sender, key, floor=9)  # malformed, before the counter is looked at
    with pytest.raises(SignatureInvalid):
        command.accept(replace(renumbered, signature=msg.signature), sender, key, floor=9)  # before the payload


def test_a_0x0107_command_in_another_mode_or_for_other_cells_is_malformed() -> None:
    key = KEYS.private_key(TRANSCOS)
    for wrong, problem in (({"mode": ReplacementMode.SUPPLIER_BY_SUPPLIER}, "is not supplierByTransCoS"),
                           ({"replacements": (Replacement(_cert(SUPPLIER_B, Usage.DS),
                                                          TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.DS)),)},
                            "both the Supplier's DS and KA cells")):
        msg = CS02B.command(TRANSCOS, DEVICE, _cs02b(3, **wrong), key)
        with pytest.raises(GbcsError, match=problem):
            CS02B.accept(msg, TRANSCOS, KEYS.public_key(TRANSCOS), floor=None)


def test_the_rtds_cs06_commands_are_taken_from_the_test_supplier() -> None:
    """Bytes the DCC produced (RTDS 4.5.0), through the shared steps."""
    for name in ("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX", "CS06_11.3_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX"):
        msg = decode_message(read_vector(name))
        command = CS06.accept(msg, msg.originator, RTDS_KEYS.public_key(msg.originator),
                              floor=msg.originator_counter - 1)
        assert command.originator_counter == msg.originator_counter
        again = CS06.command(msg.originator, msg.target, command, RTDS_KEYS.private_key(msg.originator))
        assert (again.payload, again.originator_counter) == (msg.payload, msg.originator_counter)
        with pytest.raises(CounterReplayed):
            CS06.accept(msg, msg.originator, RTDS_KEYS.public_key(msg.originator), floor=msg.originator_counter)
