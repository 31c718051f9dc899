"""A zigpy coordinator whose radio is the virtual air.

:class:`VirtualRadioApp` is a complete ``zigpy.application.ControllerApplication``: zigpy's
request machinery, device interviews, OTA manager and listeners all run unmodified; only
the radio underneath is :class:`~hanbench.radio.air.VirtualAir` instead of a serial stick.
The Comms Hub is built on it in emulation and on bellows' application on a lab bench;
both carry the Smart Energy fix of :mod:`hanbench.radio.se_profile`.

What the "radio" does, in the place each real radio library does it:

* ``connect`` puts the coordinator on the air as NWK 0x0000 with a fixed IEEE and listens
  for joins (the trust centre's join callback ends in zigpy's ``handle_join``).
* ``write_network_info``/``load_network_info`` keep the formed network in this object, the
  way an NCP keeps it in NVRAM; ``startup(auto_form=True)`` forms one on first start.
* ``start_network`` registers the endpoints and builds zigpy's device for the coordinator
  itself from them, as bellows does (a coordinator does not interview itself).
* ``send_packet`` takes its turn in zigpy's concurrency limiter (as ``_limit_concurrency``
  would, through :func:`~hanbench.radio.se_profile.send_in_turn`), then ``air.transmit``;
  a failed unicast raises ``DeliveryError`` like a radio's send-failure status. A unicast
  whose APS payload is longer than one frame holds is refused at once with
  :class:`MessageTooLong`, as EmberZNet answers bellows' sendUnicast with MESSAGE_TOO_LONG
  (the stick sends no fragments of its own), so the CH sends on the virtual air what it can
  send through a stick and no more (its tunnel uses GBCS General Block Transfer beyond that).
* ``permit_ncp`` opens the air for joins.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any

import zigpy.application
import zigpy.config as conf
import zigpy.device
import zigpy.endpoint
import zigpy.exceptions
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from hanbench.radio.air import VirtualAir
from hanbench.radio.endpoints import comms_hub_endpoint, coordinator_node_descriptor
from hanbench.radio.mac import max_aps_payload_octets
from hanbench.radio.se_profile import SmartEnergyAppMixin, send_in_turn
from hanbench.radio.shutdown import shut_down
from hanbench.radio.zigpy_config import bench_zigpy_config

LOGGER = logging.getLogger(__name__)

#: The virtual radio's EUI-64 unless the caller picks another.
VIRTUAL_RADIO_IEEE = t.EUI64.convert("00:0b:57:ff:fe:00:00:01")
COORDINATOR_NWK = t.NWK(0x0000)

class MessageTooLong(zigpy.exceptions.DeliveryError):
    """A unicast longer than one frame holds: bellows' ``DeliveryError`` for the stick's
    MESSAGE_TOO_LONG, with the same words."""


def check_fits_one_frame(packet: t.ZigbeePacket) -> None:
    """Raise :class:`MessageTooLong` for a unicast whose APS payload one frame does not hold
    (less the APS security header when the packet asks for APS encryption)."""
    if packet.dst is None or packet.dst.addr_mode not in (t.AddrMode.NWK, t.AddrMode.IEEE):
        return
    octets = len(packet.data.serialize())
    longest = max_aps_payload_octets(aps_secured=t.TransmitOptions.APS_Encryption in packet.tx_options)
    if octets > longest:
        raise MessageTooLong(f"Failed to enqueue message: MESSAGE_TOO_LONG ({octets} octets of APS payload, "
                             f"one frame holds {longest})")


class _CoordinatorOnAir:
    """The coordinator as an :class:`~hanbench.radio.air.AirNode`: frames go to zigpy."""

    def __init__(self, app: VirtualRadioApp, ieee: t.EUI64) -> None:
        self._app = app
        self._ieee = ieee

    @property
    def nwk(self) -> t.NWK:
        return COORDINATOR_NWK

    @property
    def ieee(self) -> t.EUI64:
        return self._ieee

    @property
    def awake(self) -> bool:
        return True

    @property
    def rx_on_when_idle(self) -> bool:
        return True

    def receive(self, packet: t.ZigbeePacket) -> None:
        self._app.packet_received(packet)


class VirtualRadioApp(SmartEnergyAppMixin, zigpy.application.ControllerApplication):
    """zigpy's controller application on the virtual air.

    ``endpoints`` are the coordinator's own endpoints (default: one Comms Hub ESI endpoint
    on 0x0109, :func:`~hanbench.radio.endpoints.comms_hub_endpoint`); endpoint 1 must be among them, zigpy stores
    the coordinator's model strings on it. ``config`` is zigpy's config dict, normally
    from :func:`~hanbench.radio.zigpy_config.bench_zigpy_config`.
    """

    DISPLAY_NAME = "hanbench virtual air"
    DESCRIPTION = "In-process emulated 802.15.4 medium"
    # The air delivers every frame from a loop callback of its own (VirtualAir._deliver_next,
    # _arrived, _paced): a routed request's handler may start there (se_profile.start_handler).
    handlers_start_at_once = True

    def __init__(
        self,
        config: dict[str, Any],
        *,
        air: VirtualAir,
        ieee: t.EUI64 = VIRTUAL_RADIO_IEEE,
        endpoints: Sequence[zdo_t.SimpleDescriptor] | None = None,
    ) -> None:
        super().__init__(config)
        self.air = air
        self._radio = _CoordinatorOnAir(self, t.EUI64(ieee))
        self._endpoints = list(endpoints) if endpoints is not None else [comms_hub_endpoint()]
        if not any(ep.endpoint == 1 for ep in self._endpoints):
            raise zigpy.exceptions.ControllerException(
                "the coordinator needs an endpoint 1 (zigpy keeps its model strings there)"
            )
        self._registered: list[zdo_t.SimpleDescriptor] = []
        self._nvram: tuple[zigpy.state.NetworkInfo, zigpy.state.NodeInfo] | None = None
        self._remove_join_handler: Any = None

    # -- the radio connection ----------------------------------------------------------

    async def connect(self) -> None:
        self.air.attach(self._radio)
        self._remove_join_handler = self.air.add_join_handler(self._on_join)

    async def disconnect(self) -> None:
        if self._remove_join_handler is not None:
            self._remove_join_handler()
            self._remove_join_handler = None
        self.air.detach(self._radio)

    def _on_join(self, nwk: t.NWK, ieee: t.EUI64, parent_nwk: t.NWK) -> None:
        self.handle_join(nwk, ieee, parent_nwk)

    # -- network settings ("NVRAM") ----------------------------------------------------

    async def write_network_info(
        self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo
    ) -> None:
        if node_info.ieee == t.EUI64.UNKNOWN:
            node_info = node_info.replace(ieee=self._radio.ieee)
        self._nvram = (network_info, node_info.replace(nwk=COORDINATOR_NWK))

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        if self._nvram is None:
            raise zigpy.exceptions.NetworkNotFormed("the virtual radio has no network")
        self.state.network_info, self.state.node_info = self._nvram

    async def reset_network_info(self) -> None:
        self._nvram = None

    # -- network start and endpoints ---------------------------------------------------

    async def register_endpoints(self) -> None:
        self._registered.clear()
        for descriptor in [*self._endpoints, *self.config[conf.CONF_ADDITIONAL_ENDPOINTS]]:
            await self.add_endpoint(descriptor)

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        self._registered.append(descriptor)

    async def start_network(self) -> None:
        await self.load_network_info()
        await self.register_endpoints()
        node_info = self.state.node_info
        device = self.add_device(node_info.ieee, node_info.nwk)
        device.node_desc = coordinator_node_descriptor()
        for descriptor in self._registered:
            endpoint = device.add_endpoint(descriptor.endpoint)
            endpoint.profile_id = descriptor.profile
            endpoint.device_type = descriptor.device_type
            for cluster_id in descriptor.input_clusters:
                endpoint.add_input_cluster(cluster_id)
            for cluster_id in descriptor.output_clusters:
                endpoint.add_output_cluster(cluster_id)
            endpoint.status = zigpy.endpoint.Status.ZDO_INIT
        device.manufacturer = "hanbench"
        device.model = "virtual air coordinator"

    # -- traffic -----------------------------------------------------------------------

    def send_packet(self, packet: t.ZigbeePacket) -> Coroutine[Any, Any, None]:
        """zigpy's ``send_packet``, to be awaited: the send in turn is returned as it is rather
        than awaited in a coroutine of its own (a coroutine frame less on every frame sent)."""
        if packet.src is None:
            # zigpy leaves the source to the radio on some frames (Green Power broadcasts).
            packet = packet.replace(
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK)
            )
        check_fits_one_frame(packet)
        priority = self._packet_priority_var.get() if packet.priority is None else packet.priority
        return send_in_turn(self._concurrent_requests_semaphore, priority, self.air.transmit, packet)

    async def permit_ncp(self, time_s: int = 60) -> None:
        self.air.permit_joining(time_s)

    async def permit_with_link_key(
        self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60
    ) -> None:
        # Link keys are not modelled on the virtual air: an install-code join is a join.
        self.air.permit_joining(time_s)

    async def force_remove(self, dev: zigpy.device.Device) -> None:
        for node in self.air.nodes:
            if node.ieee == dev.ieee:
                self.air.detach(node)


@contextlib.asynccontextmanager
async def virtual_coordinator(
    air: VirtualAir,
    *,
    config: dict[str, Any] | None = None,
    ieee: t.EUI64 = VIRTUAL_RADIO_IEEE,
    endpoints: Sequence[zdo_t.SimpleDescriptor] | None = None,
) -> AsyncIterator[VirtualRadioApp]:
    """A started :class:`VirtualRadioApp` on ``air``; shut down, with its tasks finished, on exit."""
    app = VirtualRadioApp(
        config if config is not None else bench_zigpy_config("virtual://air"),
        air=air,
        ieee=ieee,
        endpoints=endpoints,
    )
    await app.startup(auto_form=True)
    try:
        yield app
    finally:
        await shut_down(app)
