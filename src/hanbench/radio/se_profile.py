"""Teach zigpy 2.4 the Smart Energy profile (0x0109) that GB devices speak.

Plain zigpy 2.4 ignores Smart Energy traffic in two places:

1. ``ZigbeeDevice.packet_received`` asks ``_parse_packet_header`` for the frame's header.
   That method parses a ZCL header only when ``packet.profile_id`` is Home Automation
   (0x0104) or ZLL (0xC05E) and returns ``(None, None)`` otherwise, upon which the frame
   goes to ``custom_profile_packet_received``, which logs and drops it. So a meter's
   Read Attributes response or OTA ``query_next_image`` never reaches request matching,
   request listeners or cluster handlers, and the interview times out.
2. ``ZDO.handle_match_desc_req`` answers a ``Match_Desc_req`` for any profile but 0x0104
   with an empty match list, so a GB device looking for the OTA server finds none.

The fix is one device class and one ZDO class, applied in one place:

* :class:`SmartEnergyDevice` overrides ``_parse_packet_header`` so that an SE frame is parsed
  as ZCL: it hands zigpy's own parser a *view* of the packet with the HA profile ID, and
  returns zigpy's header and response key. The frame zigpy then dispatches is the
  original, still 0x0109; nothing on the air is rewritten, and zigpy's replies go out with
  the profile of the endpoint they come from (the device's Simple Descriptor says 0x0109).
  ZCL framing does not depend on the application profile, which is what makes the view
  sound. (The public ``custom_profile_packet_received`` hook is called too late to use: the
  frame has already left zigpy's pipeline, and re-entering it would need a rewritten packet.)
* :class:`SmartEnergyZDO` answers an SE ``Match_Desc_req`` from the coordinator's real
  endpoints: the SE endpoints that serve one of the requested input clusters or use one of
  the requested output clusters.
* :meth:`SmartEnergyDevice.route_requests` lets a CH server take a device's requests on one
  cluster straight from the raw frame (the OTA server does, for the four requests of an
  update): :meth:`SmartEnergyDevice.packet_received` reads the frame with
  :mod:`hanbench.radio.zcl_frames` before zigpy parses it, does zigpy's own bookkeeping for it
  (``last_seen``, LQI and RSSI, zigpy's duplicate filter) and hands the request to the server.
  Whatever the route does not take (another command, a frame it cannot read, a frame that
  answers a request the coordinator is waiting on, a cluster the device's endpoint does not
  have) goes through zigpy's pipeline unchanged. This is zigpy's receive path with its
  ``Struct`` parsing left out, for the frames that make up an update
  (:mod:`hanbench.radio.zcl_frames` says why); it runs the same on every radio.
* :func:`with_smart_energy` builds an application class whose ``add_device`` creates
  :class:`SmartEnergyDevice`. zigpy creates devices through ``add_device`` on join, on
  announce and when loading its database, so this covers every device it tracks. The same
  function serves the virtual radio and bellows (``with_smart_energy(bellows...
  ControllerApplication)``).

Known gap: ``ZigbeeDevice.reinterview`` (run by zigpy's ``update_firmware`` after a
successful transfer) and ``ZigbeeDevice.clone`` construct a plain ``ZigbeeDevice`` by name.
The shadow device of a re-interview therefore drops SE attribute responses, the re-interview
fails after its timeouts, and zigpy keeps the existing device (it logs a warning). The
device itself keeps working.

``tests/unit/radio/test_se_profile.py`` pins the zigpy behaviour relied on here, so a zigpy
upgrade that changes it fails a test and this module gets reviewed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import zigpy.application
import zigpy.device
import zigpy.endpoint
import zigpy.profiles.zha
import zigpy.types as t
import zigpy.zdo
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

from hanbench.radio.zcl_frames import ZclHeader, read_header

#: The Zigbee Smart Energy application profile.
SE_PROFILE_ID = 0x0109

_Request = TypeVar("_Request")


class SeDeviceType(enum.IntEnum):
    """Smart Energy 1.x device IDs, as GBCS maps them onto the HAN devices."""

    RANGE_EXTENDER = 0x0008
    ENERGY_SERVICE_INTERFACE = 0x0500  # the Comms Hub
    METERING_DEVICE = 0x0501  # ESME, GSME
    IN_HOME_DISPLAY = 0x0502  # IHD
    PROGRAMMABLE_COMMUNICATING_THERMOSTAT = 0x0503
    LOAD_CONTROL_DEVICE = 0x0504  # HCALCS
    SMART_APPLIANCE = 0x0505
    PREPAYMENT_TERMINAL = 0x0506  # PPMID
    PHYSICAL_DEVICE = 0x0507
    REMOTE_COMMUNICATIONS_DEVICE = 0x0508


class SmartEnergyZDO(zigpy.zdo.ZDO):
    """The ZDO endpoint of a device, able to answer SE service discovery."""

    def handle_match_desc_req(
        self,
        hdr: zdo_t.ZDOHeader,
        addr: t.NWK,
        profile: int,
        in_clusters: list[int],
        out_clusters: list[int],
    ) -> None:
        """Answer an SE ``Match_Desc_req`` from the coordinator's endpoints; others as zigpy does."""
        if profile != SE_PROFILE_ID:
            super().handle_match_desc_req(hdr, addr, profile, in_clusters, out_clusters)
            return
        app = self._device.application
        matches = [
            t.uint8_t(ep.endpoint_id)
            for ep in app._device.non_zdo_endpoints
            if ep.profile_id == SE_PROFILE_ID
            and (
                set(in_clusters) & set(ep.in_clusters)
                or set(out_clusters) & set(ep.out_clusters)
            )
        ]
        self.create_catching_task(
            self.Match_Desc_rsp(
                zdo_t.Status.SUCCESS,
                app.state.node_info.nwk,
                matches,
                tsn=hdr.tsn,
                priority=t.PacketPriority.CRITICAL,
            )
        )


class RequestRoute(Generic[_Request]):
    """Requests on one cluster that a server takes from the raw frame: ``read`` gives the
    request a frame carries (``None``: not one of its, ``ValueError``: truncated), ``handle``
    is called with the endpoint the request came from, its header and the request."""

    def __init__(self, read: Callable[[ZclHeader, bytes], _Request | None],
                 handle: Callable[[zigpy.endpoint.Endpoint, ZclHeader, _Request], None]) -> None:
        self.read = read
        self.handle = handle


class SmartEnergyDevice(zigpy.device.Device):
    """A zigpy device whose SE-profile ZCL frames reach zigpy's handlers, or a CH server's route."""

    def __init__(
        self, application: zigpy.application.ControllerApplication, ieee: t.EUI64, nwk: t.NWK
    ) -> None:
        super().__init__(application, ieee, nwk)
        self.zdo = SmartEnergyZDO(self)
        self.endpoints[zigpy.zdo.ZDO_ENDPOINT] = self.zdo
        self._routes: dict[int, RequestRoute[Any]] = {}

    def route_requests(self, cluster_id: int, route: RequestRoute[Any]) -> Callable[[], None]:
        """Send this device's requests on ``cluster_id`` that ``route`` reads to its handler,
        from now on; returns how to stop."""
        self._routes[cluster_id] = route

        def unroute() -> None:
            if self._routes.get(cluster_id) is route:
                del self._routes[cluster_id]

        return unroute

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        route = self._routes.get(packet.cluster_id) if self._routes else None
        if route is None or not self._take(route, packet):
            super().packet_received(packet)

    def _take(self, route: RequestRoute[Any], packet: t.ZigbeePacket) -> bool:
        """Hand a request to ``route`` as zigpy's ``packet_received`` would reach a listener;
        False leaves the frame to zigpy."""
        if packet.profile_id != SE_PROFILE_ID or packet.src_ep == zigpy.zdo.ZDO_ENDPOINT:
            return False
        endpoint = self.endpoints.get(packet.src_ep)
        if not isinstance(endpoint, zigpy.endpoint.Endpoint) or packet.cluster_id not in endpoint.out_clusters:
            return False
        data = packet.data.serialize()
        try:
            header = read_header(data)
            request = route.read(header, data[header.length:])
        except ValueError:
            return False  # zigpy reads it again and logs why it cannot
        if request is None:
            return False
        if self._requests and zigpy.device.ResponseKey(
            packet.src_ep, packet.cluster_id, header.direction, header.tsn
        ) in self._requests:
            return False  # it answers something the coordinator asked: zigpy matches it
        self.last_seen = packet.timestamp
        if packet.lqi is not None:
            self.lqi = packet.lqi
        if packet.rssi is not None:
            self.rssi = packet.rssi
        if not self._should_filter_packet(packet):
            route.handle(endpoint, header, request)
        return True

    def _parse_packet_header(
        self, packet: t.ZigbeePacket
    ) -> tuple[zdo_t.ZDOHeader | foundation.ZCLHeader, Any] | tuple[None, None]:
        if packet.profile_id == SE_PROFILE_ID and packet.src_ep != zigpy.zdo.ZDO_ENDPOINT:
            return super()._parse_packet_header(
                packet.replace(profile_id=zigpy.profiles.zha.PROFILE_ID)
            )
        return super()._parse_packet_header(packet)


class SmartEnergyAppMixin(zigpy.application.ControllerApplication):
    """Makes an application track its devices as :class:`SmartEnergyDevice`."""

    def add_device(self, ieee: t.EUI64, nwk: t.NWK) -> zigpy.device.Device:
        assert isinstance(ieee, t.EUI64)
        device = SmartEnergyDevice(self, ieee, nwk)
        self.devices[ieee] = device
        return device


_App = TypeVar("_App", bound=type[zigpy.application.ControllerApplication])


def with_smart_energy(app_class: _App) -> _App:
    """``app_class`` with the SE fix mixed in (returned as is if it already has it)."""
    if issubclass(app_class, SmartEnergyAppMixin):
        return app_class
    return type(  # type: ignore[return-value]
        f"SmartEnergy{app_class.__name__}",
        (SmartEnergyAppMixin, app_class),
        {"__module__": __name__},
    )
