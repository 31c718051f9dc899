"""One end of GBCS General Block Transfer on a tunnel: send in blocks, take blocks back to a message.

Both ends of a tunnel use it, the CH's (:mod:`hanbench.hub.tunnel`) and a device's
(:mod:`hanbench.devices.tunnel_client`): a message longer than one TransferData can carry
goes as GBT blocks (:mod:`hanbench.gbcs.gbt`), one TransferData each.

* :meth:`BlockTransfer.send` sends block after block, window 1: each waits for the
  receiver's acknowledgement for ``ack_timeout_s``, is sent again up to ``retries`` times
  (at once if its TransferData did not get through: no acknowledgement can come), then the
  transfer fails with :class:`BlockNotAcknowledged` (a ``TimeoutError``: the
  receiver may have it all the same, as with any unacknowledged frame).
* :func:`streamed` gives the blocks of a sender that cannot wait for acknowledgements (a
  message served to a sleepy device one block per GB-HRGP GET, or sent by one): the
  receiver acknowledges none of them.
* Both raise :class:`~hanbench.radio.tunnel_errors.MessageTooLarge` for a message no block
  of the size the tunnel carries holds (:func:`segmented`), before anything is sent.
* :meth:`BlockTransfer.receive` takes each block from the other end in order. It sends the
  acknowledgement back itself, through ``send_block`` (none for streamed blocks, nor where
  the caller says the other end cannot hear one; one that does not go is logged: the
  sender sends its block again), hands the whole message to ``deliver`` at its last block,
  and reports a lost block (the next one arrives out of order), a message past
  ``max_message_octets``, a malformed block, or a message whose next block has not come
  within ``reassembly_timeout_s`` (its blocks are dropped); a reported message is not
  delivered, and its sender's next block is refused until it starts again from block 1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import zigpy.exceptions

from hanbench.errors import BadInput, CheckFailed, HanbenchError
from hanbench.gbcs import gbt
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.radio.tunnel_errors import MessageTooLarge
from hanbench.timing import GBT_ACK_TIMEOUT_S, GBT_REASSEMBLY_TIMEOUT_S

LOGGER = logging.getLogger(__name__)

#: Retransmissions of a block whose acknowledgement does not come, as apscMaxFrameRetries.
GBT_RETRIES = 3
#: The longest message a receiver puts together (bench choice: well above GBCS's largest
#: commands, a CS02b with two certificates is about 1 KB, and small for a meter's RAM).
GBT_MAX_MESSAGE_OCTETS = 16 * 1024


class BlockNotAcknowledged(CheckFailed, TimeoutError):
    """A block the receiver did not acknowledge, sent ``1 + retries`` times."""


@dataclass(frozen=True)
class BlockTransferConfig:
    """``ack_timeout_s``: how long a sender waits for each acknowledgement; ``retries``: how
    often it sends a block again; ``reassembly_timeout_s``: how long a receiver waits for the
    next block of a message; ``max_message_octets``: the longest message it puts together."""

    ack_timeout_s: float = GBT_ACK_TIMEOUT_S
    retries: int = GBT_RETRIES
    reassembly_timeout_s: float = GBT_REASSEMBLY_TIMEOUT_S
    max_message_octets: int = GBT_MAX_MESSAGE_OCTETS

    def __post_init__(self) -> None:
        if self.ack_timeout_s <= 0 or self.reassembly_timeout_s <= 0:
            raise BadInput(f"GBT timeouts must be > 0 s, got {self.ack_timeout_s} and {self.reassembly_timeout_s}")
        if self.retries < 0 or self.max_message_octets < 1:
            raise BadInput(f"GBT retries must be >= 0 and the largest message >= 1 octet, "
                           f"got {self.retries} and {self.max_message_octets}")


def segmented(message: bytes, block_octets: int, *, streaming: bool = False) -> list[gbt.Block]:
    """``message`` in blocks of at most ``block_octets``.

    Raises :class:`MessageTooLarge`, the tunnel's refusal of a message longer than one
    transfer, when it cannot go in blocks either: no block of that size has room for data
    after the GBT headers, or it is no GBCS message (GBT needs its routing header).
    """
    try:
        return gbt.segment(message, block_octets, streaming=streaming)
    except MessageFormatError:
        raise MessageTooLarge(len(message), block_octets) from None


def streamed(message: bytes, block_octets: int) -> list[bytes]:
    """The blocks of ``message`` for a sender that does not wait for acknowledgements."""
    return [block.encode() for block in segmented(message, block_octets, streaming=True)]


class BlockTransfer:
    """GBT at one end of one tunnel; see the module docstring.

    ``send_block`` puts one block (or acknowledgement) on the tunnel (a TransferData that the
    other end acknowledges at the Zigbee level); ``deliver`` gets each whole message;
    ``report`` each refused block or dropped message.
    """

    def __init__(
        self,
        owner: str,
        send_block: Callable[[bytes], Awaitable[object]],
        deliver: Callable[[bytes], None],
        report: Callable[[HanbenchError], None],
        config: BlockTransferConfig | None = None,
    ) -> None:
        self.owner = owner
        self.config = config if config is not None else BlockTransferConfig()
        self._send_block = send_block
        self._deliver = deliver
        self._report = report
        self._acks: dict[tuple[tuple[EntityId, int], int], asyncio.Future[None]] = {}
        self._receiving: dict[tuple[EntityId, int], gbt.Reassembly] = {}
        self._timers: dict[tuple[EntityId, int], asyncio.TimerHandle] = {}
        # Per message delivered in the last reassembly timeout: its last block as it came, so a
        # repeat of that block (its acknowledgement was lost) is acknowledged, not refused. The
        # bytes, not the block number: another message may come under the same routing key (the
        # same command sent again with the ACB's MAC keeps its originator counter).
        # Per routing key, the block that ended the last message delivered and until when a
        # repeat of it is answered (a deadline, not a timer: a timer set for one message would
        # forget the next one delivered under the same key).
        self._completed: dict[tuple[EntityId, int], tuple[bytes, float]] = {}
        self._acknowledging: set[asyncio.Task[None]] = set()

    async def send(self, message: bytes, block_octets: int) -> None:
        """Send ``message`` in blocks of at most ``block_octets``, each acknowledged before the next."""
        for block in segmented(message, block_octets):
            await self._send_acknowledged(block)

    async def _send_acknowledged(self, block: gbt.Block) -> None:
        key = (block.routing.key, block.block_number)
        data = block.encode()
        for attempt in range(1 + self.config.retries):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._acks[key] = future
            try:
                await self._send_block(data)
                await asyncio.wait_for(future, self.config.ack_timeout_s)
                return
            except (TimeoutError, zigpy.exceptions.DeliveryError) as exc:  # no acknowledgement comes either way
                LOGGER.info("%s: GBT block %d of message %d not acknowledged (attempt %d): %s", self.owner,
                            block.block_number, block.routing.originator_counter, attempt + 1, exc or "timed out")
            finally:
                self._acks.pop(key, None)
        raise BlockNotAcknowledged(
            f"{self.owner}: GBT block {block.block_number} of message {block.routing.originator_counter} was not "
            f"acknowledged within {self.config.ack_timeout_s} s, {1 + self.config.retries} times sent")

    def receive(self, data: bytes, *, acknowledge: bool = True) -> None:
        """Take one block from the other end and acknowledge it, unless it is streamed or
        ``acknowledge`` is False (the other end cannot hear an acknowledgement: it sleeps)."""
        try:
            block = gbt.Block.decode(data)
        except gbt.GbtError as exc:
            self._report(exc)
            return
        if block.is_ack:
            future = self._acks.get((block.routing.key, block.block_number_ack))
            if future is not None and not future.done():
                future.set_result(None)
            return
        if self._take(block, data) and acknowledge and not block.streaming:
            task = asyncio.get_running_loop().create_task(self._acknowledge(block))
            self._acknowledging.add(task)
            task.add_done_callback(self._acknowledging.discard)

    def _take(self, block: gbt.Block, data: bytes) -> bool:
        """Put ``block`` (``data`` as it came) with its message; whether it is to be acknowledged."""
        key = block.routing.key
        # A repeat: no message under way under the key, and the very block that ended the last
        # one (a replay comes from its first block, so it reassembles and reaches the device).
        done = self._completed.get(key)
        if key not in self._receiving and block.block_number > 1 and done is not None and done[0] == data \
                and asyncio.get_running_loop().time() < done[1]:
            return True
        reassembly = self._receiving.get(key)
        if reassembly is None or (block.block_number == 1 and reassembly.received != 1):
            reassembly = self._receiving[key] = gbt.Reassembly(block.routing, self.config.max_message_octets)
        try:
            whole = reassembly.add(block)
        except gbt.GbtError as exc:
            self._drop(key)
            self._report(exc)
            return False
        self._restart_timer(key)
        if whole is not None:
            self._drop(key)
            self._completed[key] = (data, asyncio.get_running_loop().time() + self.config.reassembly_timeout_s)
            self._deliver(whole)
        return True

    async def _acknowledge(self, block: gbt.Block) -> None:
        try:
            await self._send_block(block.ack().encode())
        except (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError) as exc:
            LOGGER.info("%s: the acknowledgement of GBT block %d of message %d did not go: %s", self.owner,
                        block.block_number, block.routing.originator_counter, exc)

    def _restart_timer(self, key: tuple[EntityId, int]) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(
            self.config.reassembly_timeout_s, self._expire, key)

    def _expire(self, key: tuple[EntityId, int]) -> None:
        reassembly = self._receiving.get(key)
        self._drop(key)
        if reassembly is not None:
            self._report(gbt.MessageIncomplete(
                f"{self.owner}: block {reassembly.received + 1} of message {key[1]} from {key[0]} did not come "
                f"within {self.config.reassembly_timeout_s} s; the {reassembly.received} blocks so far are dropped"))

    def _drop(self, key: tuple[EntityId, int]) -> None:
        self._receiving.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        """Forget every message half received (the tunnel is gone)."""
        for key in list(self._receiving):
            self._drop(key)
        self._completed.clear()
