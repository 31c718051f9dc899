"""The virtual air: an in-process 802.15.4 medium that carries real zigpy packets.

Everything that would cross a radio in a lab crosses this object in emulation: the Comms
Hub's zigpy coordinator (:mod:`hanbench.radio.virtual_app`), emulated HAN devices
(:mod:`hanbench.devices.node`) and the emulated EZSP NCP all attach to it as nodes and send
each other :class:`zigpy.types.ZigbeePacket` objects whose ``data`` is real ZCL/ZDO bytes.
The air addresses, delays, loses, counts and numbers frames; it reads no payload, except the
ZCL header of an OTA frame to tell an Image Block Response (see *pacing* below).

One air is one premises, and it runs one of two models.

**The free air** (``timing=None``, the default; unit tests use it). A frame costs no time:

* a unicast to a node that is not attached, or not awake, raises
  :class:`zigpy.exceptions.DeliveryError` from :meth:`VirtualAir.transmit` at once;
* every unicast is treated as APS-acknowledged, so one lost on its link (``loss`` is the
  probability a frame is lost after all its retries) raises ``DeliveryError`` at once too;
* broadcasts and group frames go to every other awake node; a copy lost on one link just
  vanishes (nothing acknowledges a broadcast) and is counted;
* the receiver's ``receive(packet)`` runs from the event loop after the link's latency,
  never inside ``transmit``; frames on one link arrive in the order they were sent.

Most frames of a unit test or a throughput run take the free air's fast path, written out by
hand because numbering, recording and queueing frames nobody looks at were about a fifth of the
CPU time an emulated OTA block costs (a profile of ``benchmarks/ota_throughput.py``): a unicast to an
awake node over a link that neither loses nor delays, with nobody observing the air and no
frame in flight on a delayed link. Such a frame is counted on its link (frames and octets; the
link owes its loss draw rather than make it, see :class:`~hanbench.radio.link.Link`) and on
its sender (how many frames it has not numbered yet) and handed to the receiver with one
``call_soon``: no sequence numbers, no frame record, no per-link queue. The numbers are made up
when the sender next numbers a frame, so a capture started later numbers on as if every frame
had been numbered. Whatever the fast path skips, nothing could have seen.

**The honest air** (``timing=AirTiming()``; the conformance run uses it). What a lab's air
does, on the 802.15.4 MAC of :mod:`hanbench.radio.mac`:

* the premises has one 2.4 GHz channel: every frame of every node takes its turn on it
  with unslotted CSMA-CA, so transfers in one premises share its 250 kbit/s;
* a unicast is MAC-acknowledged and retried (macMaxFrameRetries 3); a frame whose
  ``tx_options`` ask for an APS ACK (zigpy asks on every frame that expects no reply, and
  bellows then sets APS_OPTION_RETRY) gets one from the receiver's stack, and is sent again
  up to apscMaxFrameRetries (3) times after an APS ACK wait of 1.6 s without one;
* ``transmit`` returns when the sender's stack would confirm the send (the MAC ACK, or the
  APS ACK when asked for) and raises ``DeliveryError`` when it would report a failure, after
  the retries' time. Every frame, ACK and poll goes to the observers, for the capture;
* a sleepy node (``rx_on_when_idle`` False) never hears the air directly. Frames for it wait
  in its parent's indirect queue; while it is ``awake`` its MAC polls the parent every
  ``poll_interval_s`` (a Data Request; the parent's ACK says whether a frame is pending, and
  the frame follows). Polling starts when the node transmits and stops when it sleeps. A
  frame not polled for within the indirect transmission timeout (7.68 s) fails;
* a unicast payload longer than one frame holds (82 octets, 73 APS-secured: a device's
  GBCS response or alert in the tunnel) goes as APS fragments, one frame and one APS ACK
  each, and reaches the receiver whole once its last fragment has (see ``_fragmented``).
  The CH's own radio refuses such a unicast (:mod:`hanbench.radio.virtual_app`), as a stick does;
* *pacing*: a device's application takes ``block_pacing_s`` over each Image Block Response
  (writing the block to flash, its block request delay) before it sees the next frame, so
  its next Image Block Request leaves that much later. The MAC and APS ACKs are the stack's
  and go out at once. :meth:`VirtualAir.set_pacing` sets it per node.

:class:`AirTiming` holds the knobs; :mod:`hanbench.timing` says where each default comes from.

Joining is modelled at the level the coordinator's stack reports it: a node asks
:meth:`VirtualAir.join`, which succeeds only while joining is permitted, attaches the node and
tells the join handlers (the coordinator calls ``handle_join`` from there, as bellows does on
``trustCenterJoinHandler``). Network security (keys, CBKE) is not modelled.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import heapq
import itertools
import logging
import random
from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl.clusters.general import Ota

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.listeners import Listeners
from hanbench.radio.link import Link, LinkModel, LinkStats
from hanbench.radio.mac import (
    ACK_OCTETS,
    APS_FRAGMENT_HEADER_OCTETS,
    DATA_REQUEST_OCTETS,
    Channel,
    ChannelStats,
    FrameHook,
    MacConstants,
    aps_ack_octets,
    aps_fragment_octets,
    data_frame_octets,
    max_aps_payload_octets,
)
from hanbench.radio.se_profile import SE_PROFILE_ID
from hanbench.timing import AIR_BLOCK_PACING_S, AIR_POLL_INTERVAL_S

LOGGER = logging.getLogger(__name__)

#: The NWK address of a node whose short address the air does not know.
UNKNOWN_NWK = 0xFFFE
#: The NWK destination of a group frame: every node with its receiver on.
RX_ON_WHEN_IDLE = 0xFFFD
_IMAGE_BLOCK_RESPONSE = Ota.ClientCommandDefs.image_block_response.id
_OTA_CLUSTER = Ota.cluster_id
# Addressing modes, looked up once: an enum member costs a lookup on every frame otherwise.
_NWK = t.AddrMode.NWK
_IEEE = t.AddrMode.IEEE
_UNICAST = (_NWK, _IEEE)
_APS_ACK = t.TransmitOptions.ACK.value
# Octets a data frame adds to its APS payload (an APS ACK's octets): Smart Energy frames are APS-secured.
_SECURED_OVERHEAD = data_frame_octets(0, aps_secured=True)
_OVERHEAD = data_frame_octets(0)
# The longest APS payload one frame carries, APS-secured and not.
_SECURED_MAX_PAYLOAD = max_aps_payload_octets(aps_secured=True)
_MAX_PAYLOAD = max_aps_payload_octets(aps_secured=False)

@runtime_checkable
class AirNode(Protocol):
    """Anything that can sit on the air: a coordinator, an emulated device, an NCP."""

    @property
    def nwk(self) -> t.NWK:
        """Current 16-bit network address (may change on rejoin)."""
        ...

    @property
    def ieee(self) -> t.EUI64:
        """The node's EUI-64; it identifies the node for its whole life."""
        ...

    @property
    def awake(self) -> bool:
        """False while a sleepy node has its radio off (or a router is switched off)."""
        ...

    @property
    def rx_on_when_idle(self) -> bool:
        """True for a router or coordinator; False for a sleepy end device, which polls."""
        ...

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Called from the event loop with every frame addressed to this node."""
        ...


@dataclasses.dataclass(frozen=True)
class Station:
    """A node as the MAC and NWK headers name it: short address, and EUI-64 when known."""

    nwk: int
    ieee: t.EUI64 | None = None


class FrameNumbers(NamedTuple):
    """A frame's MAC data sequence number, NWK sequence number and APS counter (0..255)."""

    mac: int
    nwk: int
    aps: int


class Fragment(NamedTuple):
    """One APS fragment of a message: its number (0 for the first) of ``count``."""

    number: int
    count: int


@dataclasses.dataclass(frozen=True)
class AirFrame:
    """A Zigbee data frame as a sniffer sees it: when it went on the air, what, how big.

    ``octets`` is its length on the air (PHY header and security included). ``dst`` is the
    NWK destination: a node, a broadcast address, or 0xFFFD for a group frame. With
    ``aps_ack`` the frame is the APS acknowledgement of ``packet``, sent back by its
    receiver. ``attempt`` is 0 for a first transmission, n for the n-th MAC retry.
    ``fragment``: for one APS fragment of a longer message (``packet`` holding the fragment's
    payload), or its APS acknowledgement, which one of how many.
    """

    loop_time: float
    packet: t.ZigbeePacket
    octets: int
    src: Station
    dst: Station
    numbers: FrameNumbers
    aps_ack: bool = False
    attempt: int = 0
    fragment: Fragment | None = None


class MacFrameKind(enum.Enum):
    ACK = "ack"
    DATA_REQUEST = "data request"


@dataclasses.dataclass(frozen=True)
class MacFrame:
    """A MAC frame with no Zigbee payload (honest air only): an acknowledgement of the frame
    with MAC ``sequence``, or a sleepy node's Data Request (``src`` polls its parent ``dst``).
    An ACK's ``frame_pending`` tells a polling node that a frame waits for it."""

    loop_time: float
    kind: MacFrameKind
    sequence: int
    octets: int
    src: Station | None = None
    dst: Station | None = None
    frame_pending: bool = False


JoinHandler = Callable[[t.NWK, t.EUI64, t.NWK], None]
"""Called as ``handler(nwk, ieee, parent_nwk)`` when a node has joined."""

FrameObserver = Callable[[AirFrame | MacFrame], None]


@dataclasses.dataclass(frozen=True)
class AirTiming:
    """The honest air's knobs (the 802.15.4 and Zigbee constants are in ``mac``); the defaults
    and their sources are in :mod:`hanbench.timing`.

    ``poll_interval_s``: how often a sleepy node's MAC polls its parent while it is awake.
    ``block_pacing_s``: how long a device's application takes over an Image Block Response
    before it asks for the next block, for every node not given its own with
    :meth:`VirtualAir.set_pacing`.
    """

    poll_interval_s: float = AIR_POLL_INTERVAL_S
    block_pacing_s: float = AIR_BLOCK_PACING_S
    mac: MacConstants = MacConstants()

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise BadInput(f"a sleepy node's poll interval must be > 0 s, got {self.poll_interval_s}")
        if self.block_pacing_s < 0:
            raise BadInput(f"a device's block pacing must be >= 0 s, got {self.block_pacing_s}")


class JoinNotPermitted(InfrastructureFault):
    """A node tried to join while the network was closed: permit joining first."""


def _key(ieee: t.EUI64) -> int:
    """A node's EUI-64 as an int: hashing an ``EUI64`` formats it as a string every time."""
    return int.from_bytes(bytes(ieee), "little")


class _Indirect:
    """A frame in a parent's indirect queue, waiting for its sleepy child's poll."""

    __slots__ = ("sender", "packet", "octets", "numbers", "aps_ack", "confirmed", "expires_at")

    def __init__(self, sender: _Attached, packet: t.ZigbeePacket, octets: int, numbers: FrameNumbers, aps_ack: bool,
                 confirmed: asyncio.Future[None], expires_at: float) -> None:
        self.sender = sender
        self.packet = packet
        self.octets = octets
        self.numbers = numbers
        self.aps_ack = aps_ack
        self.confirmed = confirmed
        self.expires_at = expires_at


class _Attached:
    """What the air keeps per attached node: its numbering, its queues, its poll timer."""

    def __init__(self, node: AirNode, key: int) -> None:
        self.node = node
        self.key = key
        self.parent_nwk = 0x0000
        self._mac = self._nwk = self._aps = 0xFF
        # Data frames sent on the free air's fast path and not numbered yet (see the module docstring).
        self.unnumbered = 0
        self._station = Station(int(node.nwk), t.EUI64(node.ieee))
        # Honest air: frames waiting for the node's poll and the one timer that expires them
        # (VirtualAir._watch_indirect); arrivals (due time, order, packet) not yet handed
        # over; frames handed to a busy application; the next poll.
        self.indirect: collections.deque[_Indirect] = collections.deque()
        self.indirect_expiry: asyncio.TimerHandle | None = None
        self.arrivals: list[tuple[float, int, t.ZigbeePacket]] = []
        self.inbox: collections.deque[t.ZigbeePacket] = collections.deque()
        self.app_busy = False
        self.poll: asyncio.TimerHandle | None = None
        # The node's radio sends one MPDU at a time: when it is free for the next.
        self.mac_free_at = 0.0

    @property
    def station(self) -> Station:
        if self._station.nwk != self.node.nwk:
            self._station = Station(int(self.node.nwk), self._station.ieee)
        return self._station

    def next_numbers(self) -> FrameNumbers:
        """Numbers for a new NWK/APS data frame from this node."""
        if self.unnumbered:
            self._number_skipped()
        self._aps = (self._aps + 1) % 256
        return self.renumbered(self._aps)

    def renumbered(self, aps_counter: int) -> FrameNumbers:
        """A new MPDU and NWK frame carrying APS counter ``aps_counter`` (an APS retry or ACK)."""
        if self.unnumbered:
            self._number_skipped()
        self._mac = (self._mac + 1) % 256
        self._nwk = (self._nwk + 1) % 256
        return FrameNumbers(self._mac, self._nwk, aps_counter)

    def next_mac_sequence(self) -> int:
        """A MAC sequence number for a MAC command (a Data Request)."""
        if self.unnumbered:
            self._number_skipped()
        self._mac = (self._mac + 1) % 256
        return self._mac

    def _number_skipped(self) -> None:
        """Count the numbers of the data frames the fast path sent unnumbered, one each."""
        skipped, self.unnumbered = self.unnumbered, 0
        self._mac = (self._mac + skipped) % 256
        self._nwk = (self._nwk + skipped) % 256
        self._aps = (self._aps + skipped) % 256


_Delivery = tuple[_Attached, t.ZigbeePacket]


class VirtualAir:
    """An in-process radio medium shared by every emulated node of one premises.

    ``default_link`` is the model of every directed link not set with :meth:`set_link`;
    ``seed`` makes losses and backoffs reproducible; ``timing`` chooses the honest air
    (None: the free air; see the module docstring).
    """

    def __init__(self, *, default_link: LinkModel | None = None, seed: int = 0,
                 timing: AirTiming | None = None) -> None:
        self.default_link = default_link if default_link is not None else LinkModel()
        self.seed = seed
        self.timing = timing
        #: Unicasts that failed because the destination was unknown, asleep or never polled.
        self.undeliverable = 0
        self._nodes: dict[int, _Attached] = {}
        self._by_nwk: dict[int, _Attached] = {}
        self._models: dict[tuple[int, int], LinkModel] = {}
        self._pacing_by_node: dict[int, float] = {}
        self._links: dict[tuple[int, int], Link] = {}
        self._in_flight: dict[tuple[int, int], collections.deque[_Delivery]] = {}
        self._observers: Listeners[FrameObserver] = Listeners()
        self._join_handlers: Listeners[JoinHandler] = Listeners()
        self._permit_until = float("-inf")
        self._arrival_order = itertools.count()
        self._channel: Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the air runs on, for code running on it.

        The air keeps it rather than ask ``asyncio.get_running_loop`` several times a frame:
        CPython 3.11's checks the process id with a system call on every call (about 0.35 us
        here, as much as the rest of a free-air frame's bookkeeping). A kept loop that is no
        longer running (the air used on a later loop) is replaced by the running one.
        """
        loop = self._loop
        if loop is None or not loop.is_running():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[AirNode, ...]:
        """The attached nodes, in attachment order."""
        return tuple(attached.node for attached in self._nodes.values())

    def attach(self, node: AirNode, *, parent_nwk: t.NWK = t.NWK(0x0000)) -> None:
        """Put a node on the air without a join (the coordinator, a node restored from NVRAM, a
        node on another device's link); ``parent_nwk`` holds its frames while it sleeps."""
        key = _key(node.ieee)
        existing = self._nodes.get(key)
        if existing is not None and existing.node is node:
            existing.parent_nwk = int(parent_nwk)
            return
        if existing is not None:
            raise BadInput(f"another node with IEEE {node.ieee} is already on the air")
        clash = self._find_by_nwk(int(node.nwk))
        if clash is not None:
            raise BadInput(
                f"NWK address 0x{node.nwk:04X} of {node.ieee} is already used by {clash.node.ieee}"
            )
        attached = _Attached(node, key)
        attached.parent_nwk = int(parent_nwk)
        self._nodes[key] = attached
        self._by_nwk[int(node.nwk)] = attached

    def detach(self, node: AirNode) -> None:
        """Take a node off the air; frames still in flight to it are dropped on arrival, and
        frames queued for it at its parent fail."""
        attached = self._nodes.get(_key(node.ieee))
        if attached is None or attached.node is not node:
            return
        del self._nodes[attached.key]
        self._by_nwk.pop(attached.station.nwk, None)
        if attached.poll is not None:
            attached.poll.cancel()
            attached.poll = None
        if attached.indirect_expiry is not None:
            attached.indirect_expiry.cancel()
            attached.indirect_expiry = None
        while attached.indirect:
            self._fail_indirect(attached.indirect.popleft(), f"{node.ieee} left the network")

    def permit_joining(self, duration_s: float) -> None:
        """Open the network for joins for ``duration_s`` seconds of loop time (0 closes it)."""
        loop = asyncio.get_running_loop()
        self._permit_until = loop.time() + duration_s if duration_s > 0 else float("-inf")

    @property
    def joining_permitted(self) -> bool:
        """Whether :meth:`join` would succeed now."""
        return asyncio.get_running_loop().time() < self._permit_until

    def add_join_handler(self, handler: JoinHandler) -> Callable[[], None]:
        """Register the trust centre's join callback; returns a function that removes it."""
        return self._join_handlers.add(handler)

    def join(self, node: AirNode, *, parent_nwk: t.NWK = t.NWK(0x0000)) -> None:
        """Join ``node`` through ``parent_nwk``: attach it and tell the join handlers.

        Raises :class:`JoinNotPermitted` when the network is closed. The handlers run from
        the event loop, like the stack callback that reports a join on a real radio.
        """
        if not self.joining_permitted:
            raise JoinNotPermitted(
                f"{node.ieee} cannot join: joining is not permitted on the network"
            )
        self.attach(node, parent_nwk=parent_nwk)
        loop = asyncio.get_running_loop()
        loop.call_soon(self._join_handlers, t.NWK(node.nwk), t.EUI64(node.ieee), t.NWK(parent_nwk))

    # -- links and pacing --------------------------------------------------------------

    def set_link(
        self, src: t.EUI64, dst: t.EUI64, model: LinkModel, *, both_ways: bool = True
    ) -> None:
        """Give the link ``src -> dst`` (and ``dst -> src`` unless ``both_ways`` is False) a model."""
        pairs = [(_key(src), _key(dst)), (_key(dst), _key(src))] if both_ways else [(_key(src), _key(dst))]
        for pair in pairs:
            self._models[pair] = model
            if pair in self._links:
                self._links[pair].model = model

    def link_model(self, src: t.EUI64, dst: t.EUI64) -> LinkModel:
        """The model that applies to frames from ``src`` to ``dst``."""
        return self._models.get((_key(src), _key(dst)), self.default_link)

    def set_pacing(self, ieee: t.EUI64, seconds: float) -> None:
        """The honest air's block pacing for node ``ieee`` (see :class:`AirTiming`)."""
        if seconds < 0:
            raise BadInput(f"a device's block pacing must be >= 0 s, got {seconds}")
        self._pacing_by_node[_key(ieee)] = seconds

    def link_stats(self) -> dict[tuple[t.EUI64, t.EUI64], LinkStats]:
        """Counters of every link that carried at least one frame, keyed by (src, dst) IEEE."""
        return {(_eui64(src), _eui64(dst)): link.stats for (src, dst), link in self._links.items()}

    def total_stats(self) -> LinkStats:
        """All links' counters summed."""
        total = LinkStats()
        for link in self._links.values():
            total.frames += link.stats.frames
            total.octets += link.stats.octets
            total.lost += link.stats.lost
        return total

    @property
    def channel_stats(self) -> ChannelStats | None:
        """The honest air's channel counters (MAC frames, ACKs, retries); None on the free air."""
        return None if self._channel is None else self._channel.stats

    # -- capture -----------------------------------------------------------------------

    def add_observer(self, observer: FrameObserver) -> Callable[[], None]:
        """Call ``observer`` with every frame put on the air; returns a remover."""
        return self._observers.add(observer)

    # -- transmission ------------------------------------------------------------------

    async def transmit(self, packet: t.ZigbeePacket) -> None:
        """Put ``packet`` on the air from the node named by ``packet.src``.

        Raises :class:`zigpy.exceptions.DeliveryError` for a unicast that cannot or did not
        get through (unknown destination, sleeping destination, lost on the air).
        """
        sender = self._resolve(packet.src)
        if sender is None:
            raise zigpy.exceptions.DeliveryError(
                f"sender {packet.src} is not on the air (join first)"
            )
        assert packet.dst is not None
        payload_octets = len(packet.data.serialize())
        aps_secured = packet.profile_id == SE_PROFILE_ID
        octets = payload_octets + (_SECURED_OVERHEAD if aps_secured else _OVERHEAD)
        timing = self.timing
        if timing is None:
            self._transmit_free(sender, packet, octets)
            return
        # The honest air, in this coroutine rather than one of its own: a coroutine a frame fewer.
        loop = self.loop
        now = loop.time()
        numbers = sender.next_numbers()
        if not sender.node.rx_on_when_idle:
            self._keep_polling(loop, timing, sender)
        if packet.dst.addr_mode not in _UNICAST:
            await self._broadcast(loop, sender, packet, octets, numbers)
            return
        dst = self._resolve(packet.dst)
        if dst is not None and not dst.node.rx_on_when_idle and dst is not sender:
            await self._via_parent(loop, now, timing, sender, dst, packet, octets, numbers)
            return
        if payload_octets > (_SECURED_MAX_PAYLOAD if aps_secured else _MAX_PAYLOAD):
            ok, done_at = self._fragmented(now, sender, dst, packet, packet.data.serialize(), numbers,
                                           aps_secured=aps_secured)
        else:
            ok, done_at = self._unicast(now, sender, dst, packet, octets, numbers, aps_ack=_asks_aps_ack(packet),
                                        arrives=packet)
        await _until(loop, done_at)
        if not ok:
            if dst is None or not dst.node.awake:
                self.undeliverable += 1
            state = "unknown" if dst is None else "not answering" if not dst.node.awake else "lost on the air"
            raise zigpy.exceptions.DeliveryError(f"unicast to {packet.dst.address} failed: {state}")

    # -- the free air ------------------------------------------------------------------

    def _transmit_free(self, sender: _Attached, packet: t.ZigbeePacket, octets: int) -> None:
        assert packet.dst is not None
        loop = self.loop
        if packet.dst.addr_mode in _UNICAST:
            dst = self._resolve(packet.dst)
            if dst is not None and not self._observers and not self._in_flight and dst.node.awake:
                link = self._links.get((sender.key, dst.key)) or self._link(sender, dst)
                if link.model.free:  # the fast path: see the module docstring
                    link.lost(octets)  # counts the frame; a free link loses none
                    sender.unnumbered += 1
                    loop.call_soon(self._deliver, dst, packet)
                    return
            numbers = sender.next_numbers()
            self._observe_data(loop.time(), packet, octets, sender, dst, numbers)
            if dst is None or not dst.node.awake:
                self.undeliverable += 1
                state = "unknown" if dst is None else "asleep"
                raise zigpy.exceptions.DeliveryError(
                    f"unicast to {packet.dst.address} failed: destination {state}"
                )
            if not self._send_free(loop, sender, dst, packet, octets):
                raise zigpy.exceptions.DeliveryError(
                    f"unicast to {packet.dst.address} lost on the air"
                )
            return
        numbers = sender.next_numbers()
        self._observe_data(loop.time(), packet, octets, sender, None, numbers)
        for attached in list(self._nodes.values()):
            if attached is not sender and attached.node.awake:
                self._send_free(loop, sender, attached, packet, octets)

    def _send_free(self, loop: asyncio.AbstractEventLoop, src: _Attached, dst: _Attached,
                   packet: t.ZigbeePacket, octets: int) -> bool:
        """Schedule one copy of ``packet`` to ``dst``; False if the link lost it."""
        link = self._link(src, dst)
        if link.lost(octets):
            return False
        pair = (src.key, dst.key)
        queue = self._in_flight.get(pair)
        if queue is None:
            queue = self._in_flight[pair] = collections.deque()
        queue.append((dst, packet))
        if link.model.latency_s:
            loop.call_later(link.model.latency_s, self._deliver_next, pair)
        else:
            loop.call_soon(self._deliver_next, pair)
        return True

    def _deliver_next(self, pair: tuple[int, int]) -> None:
        # Pop the oldest frame of the link, not the one this timer was set for: equal
        # arrival times are not ordered by the loop's timer heap, the link's queue is.
        queue = self._in_flight[pair]
        dst, packet = queue.popleft()
        if not queue:  # the fast path runs only while no link has a frame in flight
            del self._in_flight[pair]
        self._deliver(dst, packet)

    def _deliver(self, dst: _Attached, packet: t.ZigbeePacket) -> None:
        if self._nodes.get(dst.key) is not dst:
            LOGGER.debug("dropping frame to %s: it left the air while the frame was in flight", dst.node.ieee)
            return
        dst.node.receive(packet)

    # -- the honest air (transmit decides a frame, these its parts) ------------------------

    def _fragmented(self, at: float, sender: _Attached, dst: _Attached | None, packet: t.ZigbeePacket,
                    payload: bytes, numbers: FrameNumbers, *, aps_secured: bool) -> tuple[bool, float]:
        """A unicast longer than one frame, as a Zigbee PRO stack's APS fragmentation sends it
        (EmberZNet's fragmentation plugin, window of one): one frame per fragment, each under
        the message's APS counter, APS-acknowledged and retried before the next goes; the
        receiver's stack puts the fragments back together and hands the message up whole when
        the last has arrived. A fragment that fails after its retries fails the message."""
        size = aps_fragment_octets(aps_secured=aps_secured)
        fragments = [payload[start:start + size] for start in range(0, len(payload), size)]
        ok, done_at = False, at
        for index, fragment in enumerate(fragments):
            if index:
                numbers = sender.renumbered(numbers.aps)
            last = index == len(fragments) - 1
            ok, done_at = self._unicast(
                done_at, sender, dst, packet.replace(data=t.SerializableBytes(fragment)),
                data_frame_octets(APS_FRAGMENT_HEADER_OCTETS + len(fragment), aps_secured=aps_secured), numbers,
                aps_ack=True, arrives=packet if last else None, fragment=Fragment(index, len(fragments)))
            if not ok:
                break
        return ok, done_at

    def _unicast(self, at: float, sender: _Attached, dst: _Attached | None, packet: t.ZigbeePacket, octets: int,
                 numbers: FrameNumbers, *, aps_ack: bool, arrives: t.ZigbeePacket | None,
                 fragment: Fragment | None = None) -> tuple[bool, float]:
        """Decide one unicast from loop time ``at``, with the MAC's and (if ``aps_ack``) the
        APS's retries: whether the sender's stack confirms it, and when it knows. ``arrives``
        is what the receiver's stack hands up once it has the frame (None for a fragment before
        the last); a ``fragment``'s APS ACK carries the extended header too."""
        channel = self._channel or self._honest_channel()
        constants = channel.constants
        reachable = dst is not None and dst.node.awake
        forward = self._link(sender, dst) if dst is not None else None
        back = self._link(dst, sender) if dst is not None else None
        delivered = False
        for aps_try in range(1 + (constants.aps_max_retries if aps_ack else 0)):
            if aps_try:
                numbers = sender.renumbered(numbers.aps)
            sent = channel.send(
                max(at, sender.mac_free_at), octets, acked=True,
                frame_lost=forward.lost if reachable and forward else _always,
                ack_lost=back.lost if back else _always,
                on_frame=self._data_hook(packet, octets, sender, dst, numbers, fragment=fragment),
                on_ack=self._ack_hook(numbers.mac))
            sender.mac_free_at = sent.done_at
            if sent.received_at is None or dst is None or forward is None or back is None:
                if not aps_ack:
                    return False, sent.done_at
                at = max(sent.done_at, at + constants.aps_ack_wait_s)
                continue
            arrived = sent.received_at + forward.model.latency_s
            if not delivered:  # an APS retry the receiver already has is dropped as a duplicate
                if arrives is not None:
                    self._arrive(arrived, dst, arrives)
                delivered = True
            if not aps_ack:
                return sent.acked, sent.done_at
            ack_numbers = dst.renumbered(numbers.aps)
            ack_octets = aps_ack_octets(aps_secured=packet.profile_id == SE_PROFILE_ID) + (
                APS_FRAGMENT_HEADER_OCTETS if fragment is not None else 0)
            acked = channel.send(
                max(arrived, dst.mac_free_at), ack_octets, acked=True,
                frame_lost=back.lost, ack_lost=forward.lost,
                on_frame=self._data_hook(packet, ack_octets, dst, sender, ack_numbers, aps_ack=True, fragment=fragment),
                on_ack=self._ack_hook(ack_numbers.mac))
            dst.mac_free_at = acked.done_at
            if acked.received_at is not None:
                return True, acked.received_at + back.model.latency_s
            at = max(acked.done_at, at + constants.aps_ack_wait_s)
        return False, at

    async def _broadcast(self, loop: asyncio.AbstractEventLoop, sender: _Attached, packet: t.ZigbeePacket,
                         octets: int, numbers: FrameNumbers) -> None:
        sent = self._honest_channel().send(
            max(loop.time(), sender.mac_free_at), octets, acked=False, frame_lost=_never, ack_lost=_never,
            on_frame=self._data_hook(packet, octets, sender, None, numbers))
        sender.mac_free_at = sent.done_at
        if sent.received_at is not None:
            for attached in list(self._nodes.values()):
                if attached is not sender and attached.node.awake:
                    link = self._link(sender, attached)
                    if not link.lost(octets):
                        self._arrive(sent.received_at + link.model.latency_s, attached, packet)
        await _until(loop, sent.done_at)
        if not sent.acked:
            raise zigpy.exceptions.DeliveryError(f"broadcast from {sender.node.ieee}: channel access failure")

    def _via_parent(self, loop: asyncio.AbstractEventLoop, now: float, timing: AirTiming, sender: _Attached,
                    dst: _Attached, packet: t.ZigbeePacket, octets: int, numbers: FrameNumbers) -> asyncio.Future[None]:
        """A unicast to a sleepy node sent at loop time ``now``: it waits in the parent's
        indirect queue for a poll. The future is settled when the sender's stack would confirm
        it or report its failure."""
        confirmed: asyncio.Future[None] = loop.create_future()
        entry = _Indirect(sender, packet, octets, numbers, _asks_aps_ack(packet), confirmed,
                          now + timing.mac.indirect_timeout_s)
        dst.indirect.append(entry)
        if dst.indirect_expiry is None:
            self._watch_indirect(loop, dst, entry.expires_at)
        self._keep_polling(loop, timing, dst)
        return confirmed

    def _watch_indirect(self, loop: asyncio.AbstractEventLoop, child: _Attached, when: float) -> None:
        """Expire ``child``'s queued frames from loop time ``when`` on.

        One timer per queue, not one per frame: every frame is held for the same indirect
        timeout and the queue is first in, first out, so the frame at its head is the next to
        expire. A poll takes that frame and leaves the timer as it is; when the timer fires it
        fails the frames that are due and sets itself for the new head. A sleepy node that
        polls in time thus costs one timer per indirect timeout rather than a timer set and
        cancelled for each frame. Frames expire at the same loop times as with a timer each.
        """
        child.indirect_expiry = loop.call_at(when, self._expire, child, when)

    def _keep_polling(self, loop: asyncio.AbstractEventLoop, timing: AirTiming, node: _Attached) -> None:
        """Start a sleepy node's polls if it is awake and not polling yet."""
        if node.poll is None and node.node.awake and self._nodes.get(node.key) is node:
            node.poll = loop.call_later(timing.poll_interval_s, self._poll, node)

    def _poll(self, child: _Attached) -> None:
        """A sleepy node's poll: a Data Request to its parent and, if one waits, a frame back."""
        child.poll = None
        if self._nodes.get(child.key) is not child or not child.node.awake:
            return
        loop = self.loop
        timing = self.timing
        assert timing is not None
        now = loop.time()
        parent = self._find_by_nwk(child.parent_nwk)
        pending = bool(child.indirect)
        sequence = child.next_mac_sequence()
        up = self._link(child, parent) if parent is not None else None
        down = self._link(parent, child) if parent is not None else None
        poll = self._honest_channel().send(
            max(now, child.mac_free_at), DATA_REQUEST_OCTETS, acked=True,
            frame_lost=up.lost if up else _always,
            ack_lost=down.lost if down else _always,
            on_frame=self._poll_hook(sequence, child, parent),
            on_ack=self._ack_hook(sequence, frame_pending=pending))
        child.mac_free_at = poll.done_at
        next_poll = now + timing.poll_interval_s
        if poll.acked and pending:
            entry = child.indirect.popleft()
            ok, done_at = self._unicast(poll.done_at, entry.sender, child, entry.packet, entry.octets,
                                        entry.numbers, aps_ack=entry.aps_ack, arrives=entry.packet)
            loop.call_at(done_at, _settle, entry.confirmed,
                         None if ok else f"unicast to {child.node.ieee} lost on the air")
            # A frame sent with more pending keeps the child polling at once.
            next_poll = done_at if child.indirect else max(next_poll, done_at)
        child.poll = loop.call_at(next_poll, self._poll, child)

    def _expire(self, child: _Attached, when: float) -> None:
        """The indirect transmission timeout: the child did not poll in time for the frames
        at the head of its queue due by ``when`` (see :meth:`_watch_indirect`)."""
        child.indirect_expiry = None
        queue = child.indirect
        while queue and queue[0].expires_at <= when:
            self.undeliverable += 1
            self._fail_indirect(queue.popleft(), f"unicast to {child.node.ieee} failed: destination asleep "
                                f"(not polled within {self._honest_channel().constants.indirect_timeout_s} s)")
        if queue and self._nodes.get(child.key) is child:
            self._watch_indirect(self.loop, child, queue[0].expires_at)

    @staticmethod
    def _fail_indirect(entry: _Indirect, reason: str) -> None:
        _settle(entry.confirmed, reason)

    def _arrive(self, when: float, dst: _Attached, packet: t.ZigbeePacket) -> None:
        """Hand ``packet`` to ``dst``'s stack at loop time ``when``."""
        heapq.heappush(dst.arrivals, (when, next(self._arrival_order), packet))
        self.loop.call_at(when, self._arrived, dst)

    def _arrived(self, dst: _Attached) -> None:
        # Take the earliest arrival, not the one this timer was set for: the loop's timer
        # heap does not order equal times, the node's arrival heap does.
        _, _, packet = heapq.heappop(dst.arrivals)
        if self._nodes.get(dst.key) is not dst:
            LOGGER.debug("dropping frame to %s: it left the air while the frame was in flight", dst.node.ieee)
            return
        if dst.app_busy:
            dst.inbox.append(packet)
        else:
            self._hand_over(dst, packet)

    def _hand_over(self, dst: _Attached, packet: t.ZigbeePacket) -> None:
        """Give the node's application ``packet``, then the frames waiting in its inbox, in
        order; an Image Block Response keeps it busy for its pacing, and what arrives
        meanwhile waits (the inbox holds frames only while the application is busy)."""
        while True:
            pacing = self._pacing(dst, packet)
            if pacing:
                dst.app_busy = True
                self.loop.call_later(pacing, self._paced, dst, packet)
                return
            dst.node.receive(packet)
            if not dst.inbox:
                return
            packet = dst.inbox.popleft()

    def _paced(self, dst: _Attached, packet: t.ZigbeePacket) -> None:
        dst.app_busy = False
        if self._nodes.get(dst.key) is dst:
            dst.node.receive(packet)
            if dst.inbox:
                self._hand_over(dst, dst.inbox.popleft())

    def _pacing(self, dst: _Attached, packet: t.ZigbeePacket) -> float:
        if packet.cluster_id != _OTA_CLUSTER or not _is_image_block_response(packet.data.serialize()):
            return 0.0
        assert self.timing is not None
        return self._pacing_by_node.get(dst.key, self.timing.block_pacing_s)

    def _honest_channel(self) -> Channel:
        if self._channel is None:
            assert self.timing is not None
            # The clock of the loop the air runs on now, which may be a later one than the first.
            self._channel = Channel(self.timing.mac, random.Random(f"{self.seed}:channel"), lambda: self.loop.time())
        return self._channel

    # -- observers ---------------------------------------------------------------------

    def _observe_data(self, at: float, packet: t.ZigbeePacket, octets: int, src: _Attached, dst: _Attached | None,
                      numbers: FrameNumbers) -> None:
        """Tell the observers of a data frame on the free air (built only if someone listens)."""
        if self._observers:
            self._observers(AirFrame(at, packet, octets, src.station, self._destination(packet, dst), numbers))

    # The honest air's hooks tell the observers of each MAC frame as the channel sends it; with
    # no observer (no capture) they build no frame record and name no station.

    def _data_hook(self, packet: t.ZigbeePacket, octets: int, src: _Attached, dst: _Attached | None,
                   numbers: FrameNumbers, *, aps_ack: bool = False,
                   fragment: Fragment | None = None) -> FrameHook | None:
        """``src`` sends ``packet`` (or, with ``aps_ack``, its APS ACK) to ``dst`` (None: the
        address in the packet, which names no node on the air)."""
        if not self._observers:
            return None
        src_station, dst_station = src.station, self._destination(packet, dst)

        def on_frame(start: float, attempt: int) -> None:
            self._observers(AirFrame(start, packet, octets, src_station, dst_station, numbers, aps_ack, attempt,
                                     fragment))
        return on_frame

    def _ack_hook(self, sequence: int, *, frame_pending: bool = False) -> FrameHook | None:
        if not self._observers:
            return None

        def on_ack(start: float, attempt: int) -> None:
            self._observers(MacFrame(start, MacFrameKind.ACK, sequence, ACK_OCTETS, frame_pending=frame_pending))
        return on_ack

    def _poll_hook(self, sequence: int, child: _Attached, parent: _Attached | None) -> FrameHook | None:
        if not self._observers:
            return None
        src, dst = child.station, parent.station if parent is not None else Station(child.parent_nwk)

        def on_poll(start: float, attempt: int) -> None:
            self._observers(MacFrame(start, MacFrameKind.DATA_REQUEST, sequence, DATA_REQUEST_OCTETS, src, dst))
        return on_poll

    # -- addressing --------------------------------------------------------------------

    def _link(self, src: _Attached, dst: _Attached) -> Link:
        pair = (src.key, dst.key)
        link = self._links.get(pair)
        if link is None:
            model = self._models.get(pair, self.default_link)
            link = Link(model, seed=f"{self.seed}:{src.node.ieee}:{dst.node.ieee}")
            self._links[pair] = link
        return link

    def _destination(self, packet: t.ZigbeePacket, dst: _Attached | None) -> Station:
        """The NWK destination of ``packet`` as the headers name it."""
        assert packet.dst is not None
        mode = packet.dst.addr_mode
        if dst is not None:
            return dst.station
        if mode == t.AddrMode.IEEE:
            return Station(UNKNOWN_NWK, t.EUI64(packet.dst.address))
        if mode == t.AddrMode.Group:
            return Station(RX_ON_WHEN_IDLE)
        return Station(int(packet.dst.address))

    def _resolve(self, address: t.AddrModeAddress | None) -> _Attached | None:
        if address is None:
            return None
        mode = address.addr_mode
        if mode == _NWK:
            return self._find_by_nwk(address.address)
        if mode == _IEEE:
            return self._nodes.get(_key(t.EUI64(address.address)))
        return None

    def _find_by_nwk(self, nwk: int) -> _Attached | None:
        attached = self._by_nwk.get(nwk)
        if attached is not None and attached.node.nwk == nwk and self._nodes.get(attached.key) is attached:
            return attached
        # A node changed its address (a rejoin): look it up and file it under the new one.
        self._by_nwk = {int(a.node.nwk): a for a in self._nodes.values()}
        return self._by_nwk.get(nwk)


def _asks_aps_ack(packet: t.ZigbeePacket) -> bool:
    """Whether ``packet``'s transmit options ask for an APS ACK (``in`` on a Flag is a Python call)."""
    return bool(packet.tx_options._value_ & _APS_ACK)


def _eui64(key: int) -> t.EUI64:
    return t.EUI64(key.to_bytes(8, "little"))


def _is_image_block_response(zcl: bytes) -> bool:
    """Whether a ZCL frame is an OTA Image Block Response: cluster-specific, server to client,
    command 0x05 (after the manufacturer code when the frame has one)."""
    if len(zcl) < 3 or zcl[0] & 0x03 != 0x01 or not zcl[0] & 0x08:
        return False
    command = 4 if zcl[0] & 0x04 else 2
    return len(zcl) > command and zcl[command] == _IMAGE_BLOCK_RESPONSE


async def _until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    """``asyncio.sleep`` until loop time ``when``, on ``loop`` (the air's kept loop: see
    :attr:`VirtualAir.loop`) rather than the one asyncio would look up."""
    if when > loop.time():
        woken = loop.create_future()
        timer = loop.call_at(when, _settle, woken, None)
        try:
            await woken
        finally:
            timer.cancel()


def _settle(future: asyncio.Future[None], failure: str | None) -> None:
    if future.done():
        return
    if failure is None:
        future.set_result(None)
    else:
        future.set_exception(zigpy.exceptions.DeliveryError(failure))


def _always(octets: int) -> bool:
    """Every frame lost: nobody is there to receive it."""
    return True


def _never(octets: int) -> bool:
    return False
