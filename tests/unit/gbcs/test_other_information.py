"""Other-information of every length GBCS allows, certificates included.

A command the ACB sends for an unknown remote party carries that party's KA certificate after
the supplementary remote party ID and counter (the layout of the DCC's RTDS parser,
SmartDCCInnovation/gbcs-parser ``src/parser.ts``). Built here from the RTDS CS08 command and a
real RTDS certificate, MAC'd with the RTDS ACB key, and read back.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from fixture_files import RTDS, SUPPLIER
from gbcs_vectors import KEYS, read_vector
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.frame import Supplementary, decode_message, encode_message
from hanbench.gbcs.keystore import Usage
from hanbench.gbcs.protection import MacCheck, check_mac, protect_from_store

CERT = KEYS.certificate(SUPPLIER, Usage.KA).public_bytes(Encoding.DER)


def urp_command() -> bytes:
    cs08 = decode_message(read_vector("CS08_11.2_SUCCESS_COMMAND_GBCS.HEX"))
    supplementary = Supplementary(SUPPLIER, 1000, ka_certificate=CERT)
    return encode_message(protect_from_store(replace(cs08, supplementary=supplementary, mac=None), 5, KEYS))


def test_a_certificate_in_other_information_decodes_and_reencodes() -> None:
    data = urp_command()
    msg = decode_message(data)
    assert msg.supplementary.ka_certificate == CERT
    assert msg.supplementary.certificate.subject == KEYS.certificate(SUPPLIER, Usage.KA).subject
    assert encode_message(msg) == data
    assert check_mac(msg, KEYS) is MacCheck.VALID
    # other-information length is in the long DLMS form: 2 + 8 + 8 + the certificate
    assert (2 + 8 + 8 + len(CERT)).to_bytes(2, "big") in data


@pytest.mark.parametrize("length", [0, 1, 3, 9, 11, 17, 19, 25])
def test_lengths_gbcs_does_not_define_are_refused(length: int) -> None:
    data = bytearray(read_vector("CS06_11.3_IMMEDIATE_SUCCESS_PRECOMMAND_GBCS.HEX"))
    at = data.index(bytes.fromhex("020012"))  # other-information length, then message code 0x0012
    data[at] = length
    with pytest.raises(MessageFormatError, match=f"other-information length at offset {at}"):
        decode_message(bytes(data))


def test_bytes_that_are_not_a_certificate_are_refused_with_their_offset() -> None:
    data = urp_command()
    at = data.index(CERT)
    damaged = data[:at] + b"\x31" + data[at + 1:]
    with pytest.raises(MessageFormatError, match=f"KA certificate at offset {at}"):
        decode_message(damaged)


def test_the_rtds_certificate_file_is_what_the_frame_carries() -> None:
    assert (RTDS / "keystore" / "90b3d51f30010000-ka.pem").is_file()
    with pytest.raises(MessageFormatError):
        Supplementary(SUPPLIER, 1000, originator_counter=1, ka_certificate=CERT)
