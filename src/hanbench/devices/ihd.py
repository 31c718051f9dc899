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
   equal means now). The IHD then activates the held image at that time. An Upgrade End
   Response for an image it does not hold is ignored.

The Zigbee OTA spec's OTA-TC-08C covers exactly this server-initiated upgrade command.
"""

from __future__ import annotations

import asyncio
from typing import Any

import zigpy.types as t
from cryptography.hazmat.primitives.asymmetric import ec
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from hanbench.clock import BenchClock
from hanbench.devices.firmware import ActivationTrigger, Firmware, check_image
from hanbench.devices.han_device import DeviceSettings, HanDevice
from hanbench.devices.ota_client import WAIT_FOR_UPGRADE_COMMAND
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_profile import SeDeviceType
from hanbench.radio.zcl_frames import ZclHeader


class Ihd(HanDevice):
    """An emulated IHD; ``supplier_key`` is its trust anchor for the images' signer."""

    kind = DeviceType.IHD
    se_device_type = SeDeviceType.IN_HOME_DISPLAY

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock,
                 supplier_key: ec.EllipticCurvePublicKey) -> None:
        super().__init__(air, settings, clock)
        self.supplier_key = supplier_key
        self._switch: asyncio.Task[None] | None = None
        self.node.handlers[Ota.cluster_id] = self._on_upgrade_command

    async def judge_image(self, data: bytes) -> foundation.Status:
        verdict = check_image(data, self.profile, self.settings.hardware_version, self.supplier_key)
        if verdict.firmware is None:
            self.firmware.refuse(verdict.reason, verdict.image_hash)
            return foundation.Status.INVALID_IMAGE
        self.firmware.hold(verdict.firmware)
        return foundation.Status.SUCCESS

    async def _on_upgrade_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> foundation.Status:
        """The CH's unsolicited Upgrade End Response: switch to the held image at its time."""
        if header.command_id != Ota.ClientCommandDefs.upgrade_end_response.id:
            return foundation.Status.UNSUP_CLUSTER_COMMAND
        held = self.firmware.held
        if held is None or held.file_version != command.file_version \
                or command.upgrade_time == WAIT_FOR_UPGRADE_COMMAND:
            return foundation.Status.SUCCESS
        delay = max(0, command.upgrade_time - command.current_time)
        if self._switch is not None:
            self._switch.cancel()
        self._switch = asyncio.get_running_loop().create_task(self._activate_after(delay, held))
        return foundation.Status.SUCCESS

    async def _activate_after(self, delay: float, held: Firmware) -> None:
        await asyncio.sleep(delay)
        assert held.image_hash is not None
        self.firmware.activate(held.image_hash, ActivationTrigger.CH_UPGRADE_COMMAND)

    async def close(self) -> None:
        if self._switch is not None:
            self._switch.cancel()
        await super().close()
