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
from typing import Any, TypeVar

import zigpy.application
import zigpy.device
import zigpy.endpoint
import zigpy.profiles.zha
import zigpy.types as t
import zigpy.zdo
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

#: The Zigbee Smart Energy application profile.
SE_PROFILE_ID = 0x0109


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


class SmartEnergyDevice(zigpy.device.Device):
    """A zigpy device whose SE-profile ZCL frames reach zigpy's handlers."""

    def __init__(
        self, application: zigpy.application.ControllerApplication, ieee: t.EUI64, nwk: t.NWK
    ) -> None:
        super().__init__(application, ieee, nwk)
        self.zdo = SmartEnergyZDO(self)
        self.endpoints[zigpy.zdo.ZDO_ENDPOINT] = self.zdo

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
