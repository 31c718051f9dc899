"""The virtual air: an in-process 802.15.4 medium that carries real zigpy packets.

Everything that would cross a radio in a lab crosses this object in emulation: the Comms
Hub's zigpy coordinator (:mod:`hanbench.radio.virtual_app`), emulated HAN devices
(:mod:`hanbench.devices.node`) and the emulated EZSP NCP all attach to it as nodes and send
each other :class:`zigpy.types.ZigbeePacket` objects whose ``data`` is real ZCL/ZDO bytes.
The air never looks inside a frame; it only addresses, delays, loses and counts.

Delivery rules, chosen to match what a Zigbee stack reports to its application:

* A unicast (NWK or IEEE destination) to a node that is not attached, or not awake, raises
  :class:`zigpy.exceptions.DeliveryError` from :meth:`VirtualAir.transmit`. For a sleeping
  node this is what the parent's indirect-queue expiry looks like to the sender.
* Every unicast is treated as APS-acknowledged (bellows asks for APS retries on every
  unicast), so a unicast lost on its link also raises ``DeliveryError``. The sender learns
  at once, not after the retry timeout a real stack would spend; the loss is counted.
* Broadcasts and group frames go to every other attached node that is awake; a copy lost on
  one link just vanishes (nothing acknowledges a broadcast) and is counted.
* ``transmit`` returns once the frame is on its way; the receiver's ``receive(packet)`` runs
  later from the event loop, after the link's delay (see :mod:`hanbench.radio.link`), never
  inside ``transmit``. Frames on one link arrive in the order they were sent.

Joining is modelled at the level the coordinator's stack reports it: a node asks
:meth:`VirtualAir.join`, which succeeds only while joining is permitted, attaches the node and
tells the join handlers (the coordinator calls ``handle_join`` from there, as bellows does on
``trustCenterJoinHandler``). Network security (keys, CBKE) is not modelled.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import zigpy.exceptions
import zigpy.types as t

from hanbench.errors import BadInput, InfrastructureFault
from hanbench.listeners import Listeners
from hanbench.radio.link import Link, LinkModel, LinkStats, frame_octets

LOGGER = logging.getLogger(__name__)


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
        """False while a sleepy node has its receiver off; unicasts to it then fail."""
        ...

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Called from the event loop with every frame addressed to this node."""
        ...


@dataclasses.dataclass(frozen=True)
class AirFrame:
    """One frame as a capture sees it: when it went on the air, what, and how big."""

    loop_time: float
    packet: t.ZigbeePacket
    octets: int


JoinHandler = Callable[[t.NWK, t.EUI64, t.NWK], None]
"""Called as ``handler(nwk, ieee, parent_nwk)`` when a node has joined."""

FrameObserver = Callable[[AirFrame], None]


class JoinNotPermitted(InfrastructureFault):
    """A node tried to join while the network was closed: permit joining first."""


_Delivery = tuple[AirNode, t.ZigbeePacket]


class VirtualAir:
    """An in-process radio medium shared by every emulated node of one bench.

    ``default_link`` is the model of every directed link not set with :meth:`set_link`;
    ``seed`` makes loss reproducible (each link derives its own generator from it).
    """

    def __init__(self, *, default_link: LinkModel | None = None, seed: int = 0) -> None:
        self.default_link = default_link if default_link is not None else LinkModel()
        self.seed = seed
        #: Unicasts refused because the destination was unknown or asleep.
        self.undeliverable = 0
        self._nodes: dict[t.EUI64, AirNode] = {}
        self._models: dict[tuple[t.EUI64, t.EUI64], LinkModel] = {}
        self._links: dict[tuple[t.EUI64, t.EUI64], Link] = {}
        self._in_flight: dict[tuple[t.EUI64, t.EUI64], collections.deque[_Delivery]] = {}
        self._observers: Listeners[FrameObserver] = Listeners()
        self._join_handlers: Listeners[JoinHandler] = Listeners()
        self._permit_until = float("-inf")

    # -- membership --------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[AirNode, ...]:
        """The attached nodes, in attachment order."""
        return tuple(self._nodes.values())

    def attach(self, node: AirNode) -> None:
        """Put a node on the air without a join (the coordinator, a node restored from NVRAM)."""
        existing = self._nodes.get(node.ieee)
        if existing is node:
            return
        if existing is not None:
            raise BadInput(f"another node with IEEE {node.ieee} is already on the air")
        clash = self._find_by_nwk(node.nwk)
        if clash is not None:
            raise BadInput(
                f"NWK address 0x{node.nwk:04X} of {node.ieee} is already used by {clash.ieee}"
            )
        self._nodes[node.ieee] = node

    def detach(self, node: AirNode) -> None:
        """Take a node off the air; frames still in flight to it are dropped on arrival."""
        if self._nodes.get(node.ieee) is node:
            del self._nodes[node.ieee]

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
        self.attach(node)
        loop = asyncio.get_running_loop()
        loop.call_soon(self._join_handlers, t.NWK(node.nwk), t.EUI64(node.ieee), t.NWK(parent_nwk))

    # -- links -------------------------------------------------------------------------

    def set_link(
        self, src: t.EUI64, dst: t.EUI64, model: LinkModel, *, both_ways: bool = True
    ) -> None:
        """Give the link ``src -> dst`` (and ``dst -> src`` unless ``both_ways`` is False) a model."""
        pairs = [(src, dst), (dst, src)] if both_ways else [(src, dst)]
        for pair in pairs:
            self._models[pair] = model
            if pair in self._links:
                self._links[pair].model = model

    def link_model(self, src: t.EUI64, dst: t.EUI64) -> LinkModel:
        """The model that applies to frames from ``src`` to ``dst``."""
        return self._models.get((src, dst), self.default_link)

    def link_stats(self) -> dict[tuple[t.EUI64, t.EUI64], LinkStats]:
        """Counters of every link that carried at least one frame, keyed by (src, dst) IEEE."""
        return {pair: link.stats for pair, link in self._links.items()}

    def total_stats(self) -> LinkStats:
        """All links' counters summed."""
        total = LinkStats()
        for link in self._links.values():
            total.frames += link.stats.frames
            total.octets += link.stats.octets
            total.lost += link.stats.lost
        return total

    # -- capture -----------------------------------------------------------------------

    def add_observer(self, observer: FrameObserver) -> Callable[[], None]:
        """Call ``observer`` with every frame put on the air; returns a remover."""
        return self._observers.add(observer)

    # -- transmission ------------------------------------------------------------------

    async def transmit(self, packet: t.ZigbeePacket) -> None:
        """Put ``packet`` on the air from the node named by ``packet.src``.

        Raises :class:`zigpy.exceptions.DeliveryError` for a unicast that cannot or did not
        get through (unknown destination, sleeping destination, lost on the link).
        """
        loop = asyncio.get_running_loop()
        sender = self._resolve(packet.src)
        if sender is None:
            raise zigpy.exceptions.DeliveryError(
                f"sender {packet.src} is not on the air (join first)"
            )
        payload_octets = len(packet.data.serialize())
        frame = AirFrame(loop.time(), packet, frame_octets(payload_octets))
        self._observers(frame)

        assert packet.dst is not None
        if packet.dst.addr_mode in (t.AddrMode.NWK, t.AddrMode.IEEE):
            dst = self._resolve(packet.dst)
            if dst is None or not dst.awake:
                self.undeliverable += 1
                state = "unknown" if dst is None else "asleep"
                raise zigpy.exceptions.DeliveryError(
                    f"unicast to {packet.dst.address} failed: destination {state}"
                )
            if not self._send_on_link(loop, sender, dst, packet, payload_octets):
                raise zigpy.exceptions.DeliveryError(
                    f"unicast to {packet.dst.address} lost on the air"
                )
            return

        for node in list(self._nodes.values()):
            if node is not sender and node.awake:
                self._send_on_link(loop, sender, node, packet, payload_octets)

    def _send_on_link(
        self,
        loop: asyncio.AbstractEventLoop,
        src: AirNode,
        dst: AirNode,
        packet: t.ZigbeePacket,
        payload_octets: int,
    ) -> bool:
        """Schedule one copy of ``packet`` to ``dst``; False if the link lost it."""
        pair = (t.EUI64(src.ieee), t.EUI64(dst.ieee))
        link = self._links.get(pair)
        if link is None:
            link = Link(self.link_model(*pair), seed=f"{self.seed}:{pair[0]}:{pair[1]}")
            self._links[pair] = link
        arrival = link.send(payload_octets, loop.time())
        if arrival is None:
            return False
        queue = self._in_flight.setdefault(pair, collections.deque())
        queue.append((dst, packet))
        if arrival <= loop.time():
            loop.call_soon(self._deliver_next, pair)
        else:
            loop.call_at(arrival, self._deliver_next, pair)
        return True

    def _deliver_next(self, pair: tuple[t.EUI64, t.EUI64]) -> None:
        # Pop the oldest frame of the link, not the one this timer was set for: equal
        # arrival times are not ordered by the loop's timer heap, the link's queue is.
        dst, packet = self._in_flight[pair].popleft()
        if self._nodes.get(dst.ieee) is not dst:
            LOGGER.debug("dropping frame to %s: it left the air while the frame was in flight", dst.ieee)
            return
        dst.receive(packet)

    def _resolve(self, address: t.AddrModeAddress | None) -> AirNode | None:
        if address is None:
            return None
        if address.addr_mode == t.AddrMode.IEEE:
            return self._nodes.get(t.EUI64(address.address))
        if address.addr_mode == t.AddrMode.NWK:
            return self._find_by_nwk(t.NWK(address.address))
        return None

    def _find_by_nwk(self, nwk: t.NWK) -> AirNode | None:
        for node in self._nodes.values():
            if node.nwk == nwk:
                return node
        return None
