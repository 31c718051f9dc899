"""CS02b Update Security Credentials (supplierByTransCoS): the payload's DER as the DCC's GBCS
parser reads it, the device's answer, and what a malformed command is refused for."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives.serialization import Encoding

from fixture_files import BENCH_KEYS
from gbcs_vectors import KEYS as RTDS_KEYS
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.security_credentials import (
    CredentialsOutcome,
    RemotePartyRole,
    Replacement,
    ReplacementMode,
    ReplacementOutcome,
    StatusCode,
    TrustAnchorCell,
    UpdateSecurityCredentials,
    key_id,
    replacing_party,
    supplier_cells,
    update_credentials_command,
)
from hanbench.gbcs.frame import decode_message, new_response
from hanbench.gbcs.use_cases import payload_of, read_payload

KEYS = KeyStore(BENCH_KEYS)
SUPPLIER_B = "90-B3-D5-1F-30-02-00-00"
SUPPLIER_A = "90-B3-D5-1F-30-01-00-00"


def cert(entity: str, usage: Usage) -> bytes:
    return KEYS.certificate(entity, usage).public_bytes(Encoding.DER)


def command(**changes: object) -> UpdateSecurityCredentials:
    fields: dict[str, object] = {"mode": ReplacementMode.SUPPLIER_BY_TRANSCOS, "authorising_counter": 0x1234,
                                 "replacements": supplier_cells(cert(SUPPLIER_B, Usage.DS), cert(SUPPLIER_B, Usage.KA)),
                                 "new_floor_counter": 7}
    fields.update(changes)
    return UpdateSecurityCredentials(**fields)  # type: ignore[arg-type]


def test_the_command_is_laid_out_as_gbcs_13_3_5_11_as_the_dcc_parser_reads_it() -> None:
    der = command().encode()
    assert der[0] == 0x30
    control_at = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    control = der[control_at:control_at + 2 + der[control_at + 1]]
    # SEQUENCE { mode INTEGER 7, authorisingRemotePartySeqNumber INTEGER 0x1234, [4] IMPLICIT floor 7 }
    assert control == bytes.fromhex("300a" "020107" "02021234" "840107")
    replacements = der[control_at + len(control):]
    assert replacements[0] == 0x30 and replacements[4] == 0x30, "SEQUENCE OF SEQUENCE { Certificate, cell }"
    assert cert(SUPPLIER_B, Usage.DS) in der and cert(SUPPLIER_B, Usage.KA) in der
    # the Supplier's DS cell: SEQUENCE { role 2, keyUsage BIT STRING digitalSignature }
    assert bytes.fromhex("3007" "020102" "03020780") in der
    assert bytes.fromhex("3007" "020102" "03020308") in der  # keyAgreement (bit 4)
    assert der.endswith(bytes.fromhex("3000")), "no certification path certificates, no execution date-time"
    assert UpdateSecurityCredentials.decode(der) == command()


def test_the_replacing_party_is_read_from_its_certificates() -> None:
    entity, signing, agreement = replacing_party(command())
    assert str(entity) == SUPPLIER_B
    assert signing.public_numbers() == KEYS.public_key(SUPPLIER_B, Usage.DS).public_numbers()
    assert agreement.public_numbers() == KEYS.public_key(SUPPLIER_B, Usage.KA).public_numbers()


@pytest.mark.parametrize("replacements, problem", [
    ((Replacement(cert(SUPPLIER_B, Usage.DS), TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.DS)),),
     "both the Supplier's DS and KA cells"),
    ((Replacement(cert(SUPPLIER_B, Usage.DS), TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.DS)),
      Replacement(cert(SUPPLIER_A, Usage.KA), TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.KA))),
     "different parties"),
    ((Replacement(cert(SUPPLIER_B, Usage.DS), TrustAnchorCell(RemotePartyRole.ROOT, Usage.DS)),
      Replacement(cert(SUPPLIER_B, Usage.KA), TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.KA))),
     "replaces the Supplier's DS and KA cells once each"),
])
def test_a_change_of_supplier_that_does_not_replace_one_suppliers_two_cells_is_malformed(
        replacements: tuple[Replacement, ...], problem: str) -> None:
    with pytest.raises(MessageFormatError, match=problem):
        replacing_party(command(replacements=replacements))


def test_bytes_that_are_no_command_are_malformed_not_a_crash() -> None:
    with pytest.raises(MessageFormatError):
        UpdateSecurityCredentials.decode(command().encode()[:-5])
    with pytest.raises(MessageFormatError, match="replacements cannot be empty"):
        command(replacements=())


def test_the_execution_outcome_reads_back_with_the_suppliers_new_floor() -> None:
    cell = TrustAnchorCell(RemotePartyRole.SUPPLIER, Usage.DS)
    outcome = CredentialsOutcome(9, ReplacementMode.SUPPLIER_BY_TRANSCOS, 7, (
        ReplacementOutcome(cell, StatusCode.SUCCESS, bytes(8), bytes(20), bytes(range(8)), bytes(range(20))),))
    der = outcome.encode()
    assert der.startswith(bytes.fromhex("30")) and bytes.fromhex("0500") in der[:6], "commandAccepted NULL first"
    assert CredentialsOutcome.decode(der) == outcome and outcome.succeeded


def test_the_tools_that_read_any_use_case_read_a_cs02b_command_and_its_response() -> None:
    """``hanbench gbcs decode`` and the second opinion on a session's traffic dispatch by message code."""
    dcc = "90-B3-D5-1F-30-00-00-02"
    esme = "00-DB-12-34-56-78-91-00"
    sent = update_credentials_command(dcc, esme, command(authorising_counter=9), KEYS.private_key(dcc))
    assert read_payload(sent) == command(authorising_counter=9)
    assert payload_of(read_payload(sent), 9) == sent.payload
    outcome = CredentialsOutcome(9, ReplacementMode.SUPPLIER_BY_TRANSCOS, 7, ())
    answer = new_response(sent, outcome.encode(), date_time=None)
    assert read_payload(answer) == outcome and payload_of(outcome, 9) == answer.payload


# A CS02a Provide Security Credential Details response that a device sent in the DCC's test
# environment, as SmartDCCInnovation/gbcs-parser carries it in test/parse.test.ts (GPL-3.0, test
# "cell-usage-implicit"): no CS02b vector is public, but this one names the same trust anchor
# cells, by the same remote party roles and keyUsage bits, with the key IDs a device reports
# for them, among them the RTDS test Supplier's DS and KA cells.
DCC_CS02A_RESPONSE = base64.b64decode(
    "3QAAAAAAAIHHEQAAAADfCQIAAAGNHkxZdAiIc4T/AC+WHgiQs9UfMAAAAgACAAiBkjCBjzAlAgEACgEAAgEAMBowGAMCAgQECAAAAAAAAAAABAhK"
    "m97xVx77EzA/AgECCgEAAgEAMDQwGAMCB4AECJCz1R8wAQAABAhEiZeS0Zb0uDAYAwIDCAQIkLPVHzABAAAECEBbjGJofY9wMCUCAQUKAQACAQAw"
    "GjAYAwIHgAQIkLPVHzAAAAQECEs460dWHZPoAD1DusMm0XNJ8jJgLQ==")


class _CellContents(core.Sequence):
    _fields = [("keyUsage", core.BitString), ("cellUsage", core.Integer, {"default": 0}),
               ("subjectUniqueID", core.OctetString), ("subjectKeyIdentifier", core.OctetString)]


class _PartyDetails(core.Sequence):
    _fields = [("remotePartyRole", core.Integer), ("statusCode", core.Enumerated),
               ("currentSeqNumber", core.Integer), ("cells", core.SequenceOf, {"spec": _CellContents})]


class _Cs02aResponse(core.SequenceOf):
    _child_spec = _PartyDetails


def test_the_cells_and_key_ids_are_named_as_a_device_in_the_dccs_test_environment_names_them() -> None:
    parties = _Cs02aResponse.load(decode_message(DCC_CS02A_RESPONSE).payload)
    roles = [p["remotePartyRole"].native for p in parties]
    assert roles == [RemotePartyRole.ROOT, RemotePartyRole.SUPPLIER, RemotePartyRole.TRANSITIONAL_CHANGE_OF_SUPPLIER]
    (supplier,) = (p for p in parties if p["remotePartyRole"].native == RemotePartyRole.SUPPLIER)
    reported = {bytes(c["subjectKeyIdentifier"].native): c for c in supplier["cells"]}
    rtds_supplier = "90-B3-D5-1F-30-01-00-00"
    for usage in (Usage.DS, Usage.KA):
        cell = reported[key_id(RTDS_KEYS.public_key(rtds_supplier, usage))]
        assert cell["subjectUniqueID"].native == EntityId.parse(rtds_supplier).raw
        ours = UpdateSecurityCredentials(ReplacementMode.SUPPLIER_BY_TRANSCOS, 1, (
            Replacement(cert(SUPPLIER_B, usage), TrustAnchorCell(RemotePartyRole.SUPPLIER, usage)),)).encode()
        assert bytes.fromhex("020102") + cell["keyUsage"].dump() in ours, f"the {usage.name} cell as the device names it"
