"""GBCS General Block Transfer: the block built by hand from the field table, an RTDS message
cut into blocks and put back together, and every way a block can be refused."""

from __future__ import annotations

import pytest

from gbcs_vectors import DCC, ESME, read_vector, vector_files
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import Cra
from hanbench.gbcs.gbt import (
    Block,
    BlockOutOfOrder,
    GbtError,
    MessageTooLarge,
    Reassembly,
    RoutingHeader,
    is_block,
    segment,
)

SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")
CS06 = read_vector("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")


def test_a_block_has_the_routing_and_gbt_headers_of_the_field_table() -> None:
    routing = RoutingHeader(Cra.COMMAND, 1000, DCC, ESME, 0x0012)
    expected = bytes.fromhex(
        "DD"                       # general-ciphering
        "09" "01" "00000000000003E8"  # transaction ID: CRA command, originator counter 1000
        "08" "90B3D51F30000002"    # business originator
        "08" "00DB1234567890A0"    # business target
        "00"                       # date-time: none
        "02" "0012"                # other-information: message code CS06
        "00"                       # key-info: none
        "0F"                       # ciphered content: 5 + 10 octets
        "00" "000003E8"            # security control, invocation counter
        "E0" "81" "0003" "0000"    # general-block-transfer: last block, window 1; block 3; ack 0
        "03" "AABBCC")             # block data
    block = Block(routing, 3, 0, bytes.fromhex("AABBCC"), last=True)
    assert block.encode() == expected
    assert Block.decode(expected) == block


def test_an_acknowledgement_carries_no_data_and_names_the_block() -> None:
    block = segment(CS06, 68)[1]
    ack = Block.decode(block.ack().encode())
    assert ack.is_ack and ack.block_number_ack == 2 and ack.routing == block.routing
    assert ack.encode()[-5:] == bytes.fromhex("0000" "0002" "00")  # block 0, ack 2, no data


@pytest.mark.parametrize("block_octets", [48, 68, 77, 200])
def test_an_rtds_message_in_blocks_comes_back_whole(block_octets: int) -> None:
    blocks = segment(CS06, block_octets)
    assert all(len(b.encode()) <= block_octets for b in blocks)
    assert [b.block_number for b in blocks] == list(range(1, len(blocks) + 1))
    assert [b.last for b in blocks] == [False] * (len(blocks) - 1) + [True]
    assert blocks[0].routing == RoutingHeader(Cra.COMMAND, 1000, SUPPLIER, ESME, 0x0012)
    reassembly = Reassembly(blocks[0].routing, 4096)
    results = [reassembly.add(Block.decode(b.encode())) for b in blocks]
    assert results[:-1] == [None] * (len(blocks) - 1) and results[-1] == CS06


def test_streamed_blocks_carry_the_streaming_flag_and_no_window() -> None:
    blocks = segment(CS06, 68, streaming=True)
    assert all(b.streaming and b.window == 0 for b in blocks)
    assert all(b.encode()[41] & 0xC0 == (0xC0 if b.last else 0x40) for b in blocks)


def test_whole_messages_are_not_blocks_and_blocks_are() -> None:
    assert not any(is_block(bytes.fromhex(path.read_text().strip())) for path in vector_files())
    assert is_block(segment(CS06, 68)[0].encode())


def test_a_lost_block_is_found_when_the_next_one_arrives() -> None:
    blocks = segment(CS06, 68)
    reassembly = Reassembly(blocks[0].routing, 4096)
    reassembly.add(blocks[0])
    with pytest.raises(BlockOutOfOrder, match="block 3 of message 1000 from 90-B3-D5-1F-30-01-00-00 arrived "
                                              "where block 2 was due"):
        reassembly.add(blocks[2])


def test_a_block_sent_again_after_a_lost_acknowledgement_changes_nothing() -> None:
    blocks = segment(CS06, 68)
    reassembly = Reassembly(blocks[0].routing, 4096)
    reassembly.add(blocks[0])
    reassembly.add(blocks[1])
    assert reassembly.add(blocks[1]) is None
    assert [reassembly.add(b) for b in blocks[2:]][-1] == CS06


def test_a_message_larger_than_the_receiver_takes_is_refused_at_the_block_that_overflows() -> None:
    blocks = segment(CS06, 68)
    reassembly = Reassembly(blocks[0].routing, 50)
    reassembly.add(blocks[0])
    reassembly.add(blocks[1])
    with pytest.raises(MessageTooLarge, match="grows past 50 octets at block 3"):
        reassembly.add(blocks[2])


def test_a_block_of_another_message_is_refused() -> None:
    other = segment(read_vector("CS06_11.3_FUTURE_DATED_SUCCESS_COMMAND_GBCS.HEX"), 68)
    reassembly = Reassembly(segment(CS06, 68)[0].routing, 4096)
    with pytest.raises(GbtError, match="belongs to another message"):
        reassembly.add(other[0])


@pytest.mark.parametrize("cut", [1, 11, 40, 46])
def test_a_truncated_block_is_a_typed_error(cut: int) -> None:
    data = segment(CS06, 68)[0].encode()
    with pytest.raises(GbtError):
        Block.decode(data[:cut])


def test_blocks_too_small_for_their_headers_are_refused() -> None:
    with pytest.raises(GbtError, match="47-octet blocks leave no room"):
        segment(CS06, 47)
