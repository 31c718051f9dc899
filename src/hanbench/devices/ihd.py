"""The emulated IHD (In-Home Display): Zigbee OTA only, activated by the Comms Hub.

An IHD speaks no GBCS (it has no DS key and is not a GBCS device in the DCC's sense), so it
raises no alert and takes no CS06. SECMP0007 option 1 says "the Comms Hub is to manage the
activation" (seed 003). The bench models that with the Zigbee OTA cluster alone:

1. The CH serves the image like any other (Image Notify, blocks). The IHD keeps an image
   whose Supplier signature verifies and whose signed emulated firmware is for it (with an
   OTA header that agrees), else ends the upgrade with INVALID_IMAGE.
2. The CH's OTA server answers Upgrade End with 0xFFFFFFFF ("wait for upgrade command"),
   as for every device: the IHD holds the image and keeps running the old one.
3. Once the transfer has succeeded, the CH sends an unsolicited Upgrade End Response whose
   upgrade time says when to switch (ZCL: ``upgrade_time`` relative to ``current_time``;
   equal means now). The OTA client hands it to the IHD (:meth:`Ihd.upgrade_command`), which
   then activates the held image at that time. An Upgrade End Response for an image it does
   not hold is ignored.

The Zigbee OTA spec's OTA-TC-08C covers exactly this server-initiated upgrade command.

**What it shows** (:attr:`Ihd.display`, :mod:`hanbench.devices.occupant_display`): the
occupant's consumption, messages and prices. The CH's PublishChangeOfTenancy /
PublishChangeOfSupplier (SECMP0056) clears the previous occupant's; the firmware state
above is not touched by it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from hanbench.clock import BenchClock
from hanbench.devices.firmware import check_image
from hanbench.devices.han_device import DeviceSettings, HanDevice
from hanbench.devices.occupant_display import OccupantDisplay
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.air import VirtualAir
from hanbench.radio.device_management import DeviceManagement
from hanbench.radio.se_profile import SeDeviceType


class Ihd(HanDevice):
    """An emulated IHD; ``supplier_key`` is its trust anchor for the images' signer."""

    kind = DeviceType.IHD
    se_device_type = SeDeviceType.IN_HOME_DISPLAY
    client_clusters = (Ota.cluster_id, DeviceManagement.cluster_id)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock,
                 supplier_key: ec.EllipticCurvePublicKey) -> None:
        super().__init__(air, settings, clock)
        self.supplier_key = supplier_key
        self.display = OccupantDisplay(clock)
        self.node.handlers[OccupantDisplay.cluster_id] = self.display.handle_command

    async def judge_image(self, data: bytes) -> foundation.Status:
        verdict = check_image(data, self.profile, self.settings.hardware_version, self.supplier_key,
                              self.settings.defects)
        if verdict.firmware is None:
            self.firmware.refuse(verdict.reason, verdict.image_hash)
            return foundation.Status.INVALID_IMAGE
        self.firmware.hold(verdict.firmware)
        return foundation.Status.SUCCESS

    def upgrade_command(self, file_version: int, delay_s: float) -> None:
        """The CH's Upgrade End Response with an upgrade time: switch to the held image then."""
        self.run_held_after(file_version, delay_s)

    async def close(self) -> None:
        self.display.cancel()
        await super().close()
