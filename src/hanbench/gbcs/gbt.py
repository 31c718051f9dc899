"""GBCS General Block Transfer (GBT): a GBCS message too long for one transfer, carried in blocks.

A GBCS message longer than what one Tunneling TransferData can carry crosses the HAN as a
series of GBT blocks. Each block is a GBCS Routing Header (a DLMS general-ciphering APDU
that names the message it belongs to) followed by a DLMS general-block-transfer APDU with one
piece of the message; a block with no data is the receiver's acknowledgement. Layout (the
field table Wireshark's GBCS dissector reads, ``epan/dissectors/packet-gbcs.c``,
``dissect_gbcs_message_routing_header`` and ``dissect_gbcs_message_gbt_header``; its
reassembly keys a message on business originator and originator counter)::

    Routing Header
    DD                          general-ciphering
    09 CRA counter(8)           transaction ID: the message's CRA flag and originator counter
    08 <originator (8)>         the message's business originator ID
    08 <target (8)>             the message's business target ID
    00                          date-time: none
    len code(2)                 other-information: the message's message code
    00                          key-info: none
    len                         ciphered-content length: what follows, to the end of the block
    SC IC(4)                    security control and invocation counter
    GBT header
    E0                          general-block-transfer
    BC                          block control: last block 0x80, streaming 0x40, window 0x3F
    n(2)                        block number, from 1
    ack(2)                      block number acknowledged (the last block received in order)
    len <block data>            this block's piece of the message (none: an acknowledgement)

Bench choices where the field table gives no value: the security control is 0x00 (a block
carries no protection of its own: the message it carries is signed and MAC'd as GBCS
requires) and the invocation counter is the low 32 bits of the message's originator counter.
A sender that waits for each acknowledgement sends window 1 without streaming; one that
cannot wait (a message for a sleepy device, served one block per GB-HRGP GET) streams:
every block has the streaming flag, and the receiver acknowledges none.

Pure bytes, no I/O: the tunnels in ``hub/`` and ``devices/`` send and receive the blocks
(:mod:`hanbench.radio.block_transfer`). Written by hand because no Python library reads GBCS.
"""

from __future__ import annotations

from dataclasses import dataclass

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.fields import Cursor, check_bytes, check_entity, check_uint, encode_length
from hanbench.gbcs.frame import Cra, decode_message

GENERAL_CIPHERING = 0xDD
GENERAL_BLOCK_TRANSFER = 0xE0
LAST_BLOCK = 0x80
STREAMING = 0x40
WINDOW = 0x3F
SECURITY_CONTROL = 0x00
_TRANSACTION_ID_LENGTH = 9
_ENTITY_LENGTH = 8
_MESSAGE_CODE_LENGTH = 2
_SECURITY_HEADER_LENGTH = 5
_WHAT = "GBT block"
#: The largest message a block number can count to, whatever the block size.
MAX_BLOCKS = 0xFFFF


class GbtError(MessageFormatError):
    """A GBT block that is malformed or does not fit the message it claims to continue."""


class BlockOutOfOrder(GbtError):
    """A block whose number is not the next one the receiver expects: one before it was lost."""


class MessageTooLarge(GbtError):
    """A message whose blocks add up to more than the receiver takes."""


class MessageIncomplete(GbtError):
    """A message whose next block did not come in time: the blocks so far are dropped."""


def is_block(data: bytes) -> bool:
    """Whether ``data`` is a GBT block rather than a whole GBCS message.

    A whole message starts 0xDF, or 0xDD followed by an empty transaction ID (0x00); a block
    starts 0xDD followed by the 9-byte transaction ID of the message it carries.
    """
    return len(data) >= 2 and data[0] == GENERAL_CIPHERING and data[1] == _TRANSACTION_ID_LENGTH


@dataclass(frozen=True)
class RoutingHeader:
    """Which message a block belongs to: the header fields of that message."""

    cra: Cra
    originator_counter: int
    originator: EntityId
    target: EntityId
    message_code: int

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "cra", Cra(self.cra))
        except ValueError:
            raise GbtError(f"{_WHAT}: CRA flag {self.cra!r} is not 1, 2 or 3") from None
        check_uint(self.originator_counter, 64, "originator counter")
        check_entity(self.originator, "originator")
        check_entity(self.target, "target")
        check_uint(self.message_code, 16, "message code")

    @classmethod
    def of(cls, message: bytes) -> RoutingHeader:
        """The routing header of the blocks of ``message`` (a whole GBCS message)."""
        msg = decode_message(message)
        return cls(msg.cra, msg.originator_counter, msg.originator, msg.target, int(msg.message_code))

    @property
    def key(self) -> tuple[EntityId, int]:
        """What tells one message's blocks from another's: originator and originator counter."""
        return self.originator, self.originator_counter

    def encode(self, content_length: int) -> bytes:
        """The routing header before ``content_length`` octets of GBT APDU."""
        return (bytes([GENERAL_CIPHERING, _TRANSACTION_ID_LENGTH, self.cra])
                + self.originator_counter.to_bytes(8, "big")
                + bytes([_ENTITY_LENGTH]) + bytes(self.originator) + bytes([_ENTITY_LENGTH]) + bytes(self.target)
                + b"\x00" + encode_length(_MESSAGE_CODE_LENGTH) + self.message_code.to_bytes(2, "big") + b"\x00"
                + encode_length(_SECURITY_HEADER_LENGTH + content_length)
                + bytes([SECURITY_CONTROL]) + (self.originator_counter & 0xFFFFFFFF).to_bytes(4, "big"))


@dataclass(frozen=True)
class Block:
    """One GBT block: a piece of a message (``data``), or an acknowledgement (no data)."""

    routing: RoutingHeader
    block_number: int
    block_number_ack: int = 0
    data: bytes = b""
    last: bool = False
    streaming: bool = False
    window: int = 1

    def __post_init__(self) -> None:
        check_uint(self.block_number, 16, "block number")
        check_uint(self.block_number_ack, 16, "block number acknowledged")
        check_bytes(self.data, "block data")
        if not 0 <= self.window <= WINDOW:
            raise GbtError(f"{_WHAT}: window {self.window} is not 0..{WINDOW}")

    @property
    def is_ack(self) -> bool:
        """An acknowledgement carries no data."""
        return not self.data

    def ack(self) -> Block:
        """The receiver's acknowledgement of this block."""
        return Block(self.routing, 0, self.block_number, b"", window=self.window)

    def encode(self) -> bytes:
        control = (LAST_BLOCK if self.last else 0) | (STREAMING if self.streaming else 0) | self.window
        apdu = (bytes([GENERAL_BLOCK_TRANSFER, control]) + self.block_number.to_bytes(2, "big")
                + self.block_number_ack.to_bytes(2, "big") + encode_length(len(self.data)) + self.data)
        return self.routing.encode(len(apdu)) + apdu

    @classmethod
    def decode(cls, data: bytes) -> Block:
        """Parse one block; anything that is not a well-formed block raises :class:`GbtError`."""
        cur = Cursor(bytes(data), _WHAT)
        try:
            return _read_block(cur)
        except GbtError:
            raise
        except MessageFormatError as exc:
            raise GbtError(str(exc)) from None


def _read_block(cur: Cursor) -> Block:
    cur.expect(bytes([GENERAL_CIPHERING, _TRANSACTION_ID_LENGTH]), "general-ciphering tag and transaction ID length")
    cra = cur.byte("CRA flag")
    counter = cur.uint(8, "originator counter")
    cur.expect(bytes([_ENTITY_LENGTH]), "originator system title length")
    originator = EntityId(cur.take(_ENTITY_LENGTH, "business originator ID"))
    cur.expect(bytes([_ENTITY_LENGTH]), "recipient system title length")
    target = EntityId(cur.take(_ENTITY_LENGTH, "business target ID"))
    cur.expect(b"\x00", "date-time (none)")
    cur.expect(bytes([_MESSAGE_CODE_LENGTH]), "other-information length")
    code = cur.uint(2, "message code")
    cur.expect(b"\x00", "key-info (none)")
    content = cur.sub(cur.length("ciphered-content length"), "ciphered content")
    cur.done()
    content.expect(bytes([SECURITY_CONTROL]), "security control")
    content.uint(4, "invocation counter")
    content.expect(bytes([GENERAL_BLOCK_TRANSFER]), "general-block-transfer tag")
    control = content.byte("block control")
    number = content.uint(2, "block number")
    ack = content.uint(2, "block number acknowledged")
    block_data = content.take(content.length("block data length"), "block data")
    content.done()
    routing = RoutingHeader(cra, counter, originator, target, code)  # type: ignore[arg-type]
    return Block(routing, number, ack, block_data, last=bool(control & LAST_BLOCK),
                 streaming=bool(control & STREAMING), window=control & WINDOW)


def block_overhead(data_octets: int) -> int:
    """Octets a block adds around ``data_octets`` of message."""
    routing = RoutingHeader(Cra.COMMAND, 0, EntityId(bytes(8)), EntityId(bytes(8)), 0)
    return len(Block(routing, 1, 0, bytes(data_octets)).encode()) - data_octets


def segment(message: bytes, block_octets: int, *, streaming: bool = False) -> list[Block]:
    """``message`` (a whole GBCS message) as blocks of at most ``block_octets`` octets each.

    ``streaming``: the blocks of a sender that does not wait for acknowledgements.
    Raises :class:`GbtError` when a block of that size has no room for data, or the message
    needs more blocks than a block number counts.
    """
    routing = RoutingHeader.of(message)
    room = block_octets - block_overhead(0)
    if room >= 0x80:  # longer block data and ciphered content take longer length fields
        room = block_octets - block_overhead(room)
    if room < 1:
        raise GbtError(f"{block_octets}-octet blocks leave no room for data after the GBT headers")
    pieces = [message[at:at + room] for at in range(0, len(message), room)]
    if len(pieces) > MAX_BLOCKS:
        raise GbtError(f"a {len(message)}-octet message needs {len(pieces)} blocks, more than {MAX_BLOCKS}")
    window = 0 if streaming else 1
    return [Block(routing, n, 0, piece, last=n == len(pieces), streaming=streaming, window=window)
            for n, piece in enumerate(pieces, start=1)]


class Reassembly:
    """The blocks of one message as they arrive, in order; :meth:`add` returns it whole at its last block."""

    def __init__(self, routing: RoutingHeader, max_octets: int) -> None:
        self.routing = routing
        self.max_octets = max_octets
        #: The number of the last block taken in order (0: none yet).
        self.received = 0
        self._data = bytearray()

    def add(self, block: Block) -> bytes | None:
        """Take the next block; the whole message once its last block is in, else None.

        A repeat of the last block taken (its acknowledgement was lost, so the sender sent it
        again) is taken as received and changes nothing. Raises :class:`BlockOutOfOrder` for
        any other number but the next, :class:`MessageTooLarge` past ``max_octets``.
        """
        if block.routing != self.routing:
            raise GbtError(f"{_WHAT} {block.block_number} belongs to another message than the one being received")
        if block.block_number == self.received and block.block_number > 0:
            return None
        if block.block_number != self.received + 1:
            raise BlockOutOfOrder(
                f"{_WHAT} {block.block_number} of message {self.routing.originator_counter} from "
                f"{self.routing.originator} arrived where block {self.received + 1} was due")
        if len(self._data) + len(block.data) > self.max_octets:
            raise MessageTooLarge(
                f"message {self.routing.originator_counter} from {self.routing.originator} grows past "
                f"{self.max_octets} octets at block {block.block_number}")
        self._data += block.data
        self.received = block.block_number
        return bytes(self._data) if block.last else None
