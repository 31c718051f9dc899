"""GBCS General Block Transfer between two tunnel ends: acknowledged blocks, a lost block or
acknowledgement, blocks out of order, a message too large, and a message that stops coming."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
import zigpy.exceptions
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.errors import BadInput, HanbenchError
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import Cra, encode_message, new_message, sign_message
from hanbench.gbcs.gbt import Block, BlockOutOfOrder, MessageIncomplete, MessageTooLarge, segment
from hanbench.radio.block_transfer import BlockNotAcknowledged, BlockTransfer, BlockTransferConfig, streamed
from hanbench.radio.tunnel_errors import MessageTooLarge as TooLargeForTunnel

pytestmark = pytest.mark.looptime

SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
MESSAGE = encode_message(sign_message(new_message(Cra.COMMAND, SUPPLIER, ESME, 77, MessageCode.CS06_ACTIVATE_FIRMWARE,
                                                  bytes(range(250))), ec.generate_private_key(ec.SECP256R1())))


class Ends:
    """A sender and a receiver joined by a link that can lose what crosses it, either way."""

    def __init__(self, config: BlockTransferConfig | None = None,
                 lose: Callable[[Block], bool] = lambda block: False) -> None:
        self.delivered: list[bytes] = []
        self.errors: list[HanbenchError] = []
        self.sent: list[Block] = []
        self.acks: list[Block] = []
        self.lose = lose
        self.sender = BlockTransfer("sender", self._to_receiver, self.delivered.append, self.errors.append, config)
        self.receiver = BlockTransfer("receiver", self._to_sender, self.delivered.append, self.errors.append, config)

    async def _to_receiver(self, data: bytes) -> None:
        block = Block.decode(data)
        self.sent.append(block)
        if not self.lose(block):
            self.receiver.receive(data)

    async def _to_sender(self, data: bytes) -> None:
        ack = Block.decode(data)
        self.acks.append(ack)
        if not self.lose(ack):
            self.sender.receive(data)


async def settle() -> None:
    """Let the acknowledgements under way go (a few loop turns, no time passes)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_each_block_waits_for_its_acknowledgement_and_the_message_arrives_whole() -> None:
    ends = Ends()
    await ends.sender.send(MESSAGE, 68)
    assert ends.delivered == [MESSAGE] and ends.errors == []
    assert [b.block_number for b in ends.sent] == list(range(1, len(ends.sent) + 1))
    assert all(b.window == 1 and not b.streaming for b in ends.sent)


async def test_a_lost_block_is_sent_again_after_the_acknowledgement_timeout() -> None:
    lost: set[int] = set()

    def lose_block_3_once(block: Block) -> bool:
        if block.block_number == 3 and 3 not in lost:
            lost.add(3)
            return True
        return False

    ends = Ends(BlockTransferConfig(ack_timeout_s=5), lose_block_3_once)
    start = asyncio.get_running_loop().time()
    await ends.sender.send(MESSAGE, 68)
    assert asyncio.get_running_loop().time() - start == pytest.approx(5)
    assert [b.block_number for b in ends.sent].count(3) == 2
    assert ends.delivered == [MESSAGE] and ends.errors == []


async def test_a_lost_acknowledgement_makes_a_repeat_the_receiver_takes_once() -> None:
    lost: set[int] = set()

    def lose_ack_of_2_once(block: Block) -> bool:
        if block.is_ack and block.block_number_ack == 2 and 2 not in lost:
            lost.add(2)
            return True
        return False

    ends = Ends(BlockTransferConfig(ack_timeout_s=5), lose_ack_of_2_once)
    await ends.sender.send(MESSAGE, 68)
    assert ends.delivered == [MESSAGE] and ends.errors == []


async def test_a_lost_acknowledgement_of_the_last_block_is_answered_again_and_the_message_delivered_once() -> None:
    last = len(segment(MESSAGE, 68))
    lost: set[int] = set()

    def lose_ack_of_the_last_once(block: Block) -> bool:
        if block.is_ack and block.block_number_ack == last and last not in lost:
            lost.add(last)
            return True
        return False

    ends = Ends(BlockTransferConfig(ack_timeout_s=5), lose_ack_of_the_last_once)
    await ends.sender.send(MESSAGE, 68)
    assert lost == {last}
    assert ends.delivered == [MESSAGE] and ends.errors == []


async def test_another_message_under_the_same_routing_key_after_one_delivered_is_delivered_too() -> None:
    # The same command sent again with the ACB's MAC around it keeps its originator counter.
    again = MESSAGE[:-1] + bytes([MESSAGE[-1] ^ 0xFF])
    ends = Ends(BlockTransferConfig(ack_timeout_s=5))
    await ends.sender.send(MESSAGE, 68)
    await ends.sender.send(again, 68)
    assert ends.delivered == [MESSAGE, again] and ends.errors == []


async def test_the_last_block_of_a_second_message_under_the_key_is_answered_again_when_its_ack_is_lost() -> None:
    # The first message's memory of its ending block must not expire the second's: the
    # second's repeat, within the reassembly timeout of it, is a repeat too.
    again = MESSAGE[:-1] + bytes([MESSAGE[-1] ^ 0xFF])
    last = len(segment(MESSAGE, 68))
    lose = {"armed": False, "lost": False}

    def lose_ack_of_the_seconds_last_once(block: Block) -> bool:
        if lose["armed"] and block.is_ack and block.block_number_ack == last and not lose["lost"]:
            lose["lost"] = True
            return True
        return False

    ends = Ends(BlockTransferConfig(ack_timeout_s=2, reassembly_timeout_s=10), lose_ack_of_the_seconds_last_once)
    await ends.sender.send(MESSAGE, 68)
    await asyncio.sleep(9)
    lose["armed"] = True
    await ends.sender.send(again, 68)
    assert lose["lost"] and ends.delivered == [MESSAGE, again] and ends.errors == []


async def test_a_replayed_message_is_delivered_again_for_the_device_to_refuse() -> None:
    # Block for block the same message: a replay starts from its first block, so it is put
    # together and handed on (the device's counter check refuses it), not taken for a repeat.
    ends = Ends(BlockTransferConfig(ack_timeout_s=5))
    await ends.sender.send(MESSAGE, 68)
    await ends.sender.send(MESSAGE, 68)
    assert ends.delivered == [MESSAGE, MESSAGE] and ends.errors == []


async def test_a_receiver_that_never_acknowledges_fails_the_transfer_after_the_retries() -> None:
    ends = Ends(BlockTransferConfig(ack_timeout_s=2, retries=3), lambda block: block.is_ack)
    start = asyncio.get_running_loop().time()
    with pytest.raises(BlockNotAcknowledged, match="block 1 of message 77 was not acknowledged within 2 s, 4 times"):
        await ends.sender.send(MESSAGE, 68)
    assert asyncio.get_running_loop().time() - start == pytest.approx(8)
    assert isinstance(BlockNotAcknowledged("x"), TimeoutError)


async def test_blocks_out_of_order_are_reported_and_the_message_is_not_delivered() -> None:
    ends = Ends()
    blocks = segment(MESSAGE, 68, streaming=True)
    for block in [blocks[0], blocks[2], *blocks[3:]]:
        ends.receiver.receive(block.encode())
    assert ends.delivered == []
    assert [type(e) for e in ends.errors][0] is BlockOutOfOrder


async def test_a_message_larger_than_the_receiver_takes_is_reported_not_delivered() -> None:
    ends = Ends(BlockTransferConfig(max_message_octets=100))
    for data in streamed(MESSAGE, 68):
        ends.receiver.receive(data)
    assert ends.delivered == []
    assert isinstance(ends.errors[0], MessageTooLarge)


async def test_streamed_blocks_are_not_acknowledged() -> None:
    ends = Ends()
    for data in streamed(MESSAGE, 68):
        ends.receiver.receive(data)
    await settle()
    assert ends.acks == [] and ends.delivered == [MESSAGE]


async def test_the_receiver_acknowledges_each_block_itself_unless_the_other_end_cannot_hear_it() -> None:
    blocks = segment(MESSAGE, 68)
    ends = Ends()
    for block in blocks:
        ends.receiver.receive(block.encode())
    await settle()
    assert [a.block_number_ack for a in ends.acks] == [b.block_number for b in blocks]
    assert all(a.is_ack and a.routing == blocks[0].routing for a in ends.acks)
    quiet = Ends()
    for block in blocks:
        quiet.receiver.receive(block.encode(), acknowledge=False)
    await settle()
    assert quiet.acks == [] and quiet.delivered == [MESSAGE] == ends.delivered


async def test_an_acknowledgement_that_does_not_go_is_logged_and_the_message_still_delivered(
        caplog: pytest.LogCaptureFixture) -> None:
    async def fails(data: bytes) -> None:
        raise zigpy.exceptions.DeliveryError("lost on the air")

    delivered: list[bytes] = []
    errors: list[HanbenchError] = []
    receiver = BlockTransfer("receiver", fails, delivered.append, errors.append)
    with caplog.at_level(logging.INFO, logger="hanbench.radio.block_transfer"):
        for block in segment(MESSAGE, 68):
            receiver.receive(block.encode())
        await settle()
    assert delivered == [MESSAGE] and errors == []
    assert "receiver: the acknowledgement of GBT block 1 of message 77 did not go: lost on the air" in caplog.text


@pytest.mark.parametrize("message", [MESSAGE, bytes(300)], ids=["no room in a block", "no GBCS message"])
async def test_a_message_that_cannot_go_in_blocks_of_the_tunnels_size_is_too_large_before_anything_is_sent(
        message: bytes) -> None:
    ends = Ends()
    octets = 20 if message == MESSAGE else 68
    with pytest.raises(TooLargeForTunnel) as caught:
        await ends.sender.send(message, octets)
    assert (caught.value.size, caught.value.limit) == (len(message), octets)
    with pytest.raises(TooLargeForTunnel):
        streamed(message, octets)
    assert ends.sent == []


async def test_a_message_whose_next_block_does_not_come_is_dropped_and_reported() -> None:
    ends = Ends(BlockTransferConfig(reassembly_timeout_s=60))
    blocks = streamed(MESSAGE, 68)
    for data in blocks[:3]:
        ends.receiver.receive(data)
    await asyncio.sleep(59)
    assert ends.errors == []
    await asyncio.sleep(2)
    assert [str(e) for e in ends.errors] == [
        "receiver: block 4 of message 77 from 90-B3-D5-1F-30-01-00-00 did not come within 60 s; "
        "the 3 blocks so far are dropped"]
    assert isinstance(ends.errors[0], MessageIncomplete)
    for data in blocks[3:]:  # the rest, late, is refused: block 1 is due
        ends.receiver.receive(data)
    assert ends.delivered == [] and isinstance(ends.errors[1], BlockOutOfOrder)


def test_the_knobs_are_checked() -> None:
    with pytest.raises(BadInput):
        BlockTransferConfig(ack_timeout_s=0)
    with pytest.raises(BadInput):
        BlockTransferConfig(retries=-1)


async def test_a_block_whose_transfer_did_not_get_through_is_sent_again_at_once() -> None:
    # zigpy's DeliveryError: the TransferData carrying the block got no APS acknowledgement,
    # so no GBT acknowledgement can come; the sender tries again, within its retries, not
    # giving the whole message up at the first frame a lossy link loses.
    ends = Ends(BlockTransferConfig(ack_timeout_s=5, retries=3))
    failures = {2: 2}
    carry = ends._to_receiver

    async def lossy(data: bytes) -> None:
        number = Block.decode(data).block_number
        if failures.get(number, 0):
            failures[number] -= 1
            raise zigpy.exceptions.DeliveryError("lost on the air")
        await carry(data)

    ends.sender = BlockTransfer("sender", lossy, ends.delivered.append, ends.errors.append, ends.sender.config)
    start = asyncio.get_running_loop().time()
    await ends.sender.send(MESSAGE, 68)
    assert asyncio.get_running_loop().time() - start == pytest.approx(0)
    assert ends.delivered == [MESSAGE] and ends.errors == [] and failures == {2: 0}

    failures = {1: 4}
    with pytest.raises(BlockNotAcknowledged, match="block 1 of message 77 was not acknowledged within 5 s, 4 times"):
        await ends.sender.send(MESSAGE, 68)
