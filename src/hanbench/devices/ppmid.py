"""The emulated PPMID (Prepayment Meter Interface Device): SR 11.4, self-activating.

SR 11.4 combines distribution and activation (SECMP0007; seed 001, MP207: "PPMID Update
Firmware automatically activates"). The image is the unsigned RTDS 11.4 form, so the PPMID
checks only that the image is for it: its emulated firmware names this type and hardware
version, and the OTA header agrees with it (:func:`~hanbench.devices.firmware.check_image`).
After a good transfer it activates the image at once, by itself, and raises CS09 (0x8F8B)
with the version it now runs; it never waits for CS06 and raises no receipt alert. A
refused image is reported the same way, CS09 with outcome Failure and the version still
running, so the Supplier hears about every SR 11.4 attempt. Alt HAN bridges join as PPMID
variants and do the same (:mod:`hanbench.devices.alt_han`).

**What it shows** (:attr:`Ppmid.display`, :mod:`hanbench.devices.occupant_display`): the
occupant's consumption, top-ups, messages and prices, cleared of the previous occupant's on
the CH's PublishChangeOfTenancy / PublishChangeOfSupplier (SECMP0056), as an IHD's are; its
firmware (running, held, a pending activation) is not touched by it.
"""

from __future__ import annotations

from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota
from zigpy.zcl.clusters.smartenergy import Tunneling

from hanbench.devices.firmware import ActivationTrigger, ImageVerdict
from hanbench.clock import BenchClock
from hanbench.devices.gbcs_device import DeviceKeys
from hanbench.devices.han_device import DeviceSettings, GbcsHanDevice
from hanbench.devices.occupant_display import OccupantDisplay
from hanbench.gbcs.alerts import PpmidActivationAlert, PpmidActivationOutcome
from hanbench.gbcs.device_types import DeviceType
from hanbench.radio.air import VirtualAir
from hanbench.radio.device_management import DeviceManagement
from hanbench.radio.se_profile import SeDeviceType


class Ppmid(GbcsHanDevice):
    """An emulated PPMID; build it with :func:`hanbench.devices.build_device`."""

    kind = DeviceType.PPMID
    se_device_type = SeDeviceType.PREPAYMENT_TERMINAL
    receipt_form = None
    client_clusters = (Ota.cluster_id, Tunneling.cluster_id, DeviceManagement.cluster_id)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys) -> None:
        super().__init__(air, settings, clock, keys)
        self.display = OccupantDisplay(self.clock)
        self.node.handlers[OccupantDisplay.cluster_id] = self.display.handle_command

    async def judge_image(self, data: bytes) -> foundation.Status:
        verdict = self.gbcs.check(data)
        self.report(self.self_activate(verdict))
        return foundation.Status.SUCCESS if verdict.accepted else foundation.Status.INVALID_IMAGE

    def self_activate(self, verdict: ImageVerdict) -> PpmidActivationOutcome:
        """Run a good image at once (a refused one is recorded); the CS09 outcome."""
        if verdict.firmware is None:
            self.firmware.refuse(verdict.reason, verdict.image_hash)
            return PpmidActivationOutcome.FAILURE
        self.firmware.hold(verdict.firmware)
        self.firmware.activate(verdict.image_hash, ActivationTrigger.SELF_ACTIVATION)
        return PpmidActivationOutcome.SUCCESS

    def report(self, outcome: PpmidActivationOutcome) -> None:
        """Raise CS09 with ``outcome`` and the version running now."""
        self.gbcs.raise_alert(PpmidActivationAlert(self.clock.now(), self.firmware.running.version_octets, outcome))

    async def close(self) -> None:
        self.display.cancel()
        await super().close()
