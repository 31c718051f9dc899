"""The shell every emulated HAN device type is built from: node, OTA client, firmware, tunnel.

:class:`HanDevice` is an :class:`~hanbench.devices.node.EmulatedNode` with the Zigbee OTA
client and the device's :class:`~hanbench.devices.firmware.FirmwareState`, wired so that an
activation updates what the node reports; a device type says what a downloaded image does
by implementing :meth:`HanDevice.judge_image`, which the OTA client calls on the device it
holds. :class:`GbcsHanDevice` adds the GBCS behaviour (:mod:`hanbench.devices.gbcs_device`)
and its message link to the CH: the tunnel and the outbox the GBCS logic puts its alerts in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota
from zigpy.zcl.clusters.smartenergy import Tunneling

from hanbench.clock import BenchClock
from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.devices.firmware import Activated, ActivationTrigger, Firmware, FirmwareEvent, FirmwareState
from hanbench.devices.gbcs_device import DeviceKeys, GbcsDevice
from hanbench.devices.node import COORDINATOR_NWK
from hanbench.devices.ota_client import OtaClientConfig, OtaClientNode, OtaIdentity
from hanbench.devices.outbox import Outbox, RetryPolicy
from hanbench.devices.tunnel_client import TunnelClient, TunnelClientConfig
from hanbench.gbcs.alerts import AlertForm, ReceiptForm
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION, RTDS_HW_MIN, profile_for
from hanbench.radio.addresses import eui64_of
from hanbench.radio.air import VirtualAir
from hanbench.radio.block_transfer import BlockTransferConfig
from hanbench.radio.zcl_frames import ZclHeader

LOGGER = logging.getLogger(__name__)

CommandHandler = Callable[[t.ZigbeePacket, ZclHeader, Any], Awaitable[foundation.Status | None]]


class HanNode(OtaClientNode):
    """An OTA client node that first offers each cluster command to the handler set for its cluster.

    A handler answering UNSUP_CLUSTER_COMMAND passes the command on, so a device type can
    take one OTA command (an IHD's upgrade command) and leave the rest to the OTA client.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handlers: dict[int, CommandHandler] = {}

    async def handle_cluster_command(
        self, packet: t.ZigbeePacket, header: ZclHeader, command: Any
    ) -> foundation.Status | None:
        handler = self.handlers.get(packet.cluster_id)
        if handler is not None:
            status = await handler(packet, header, command)
            if status != foundation.Status.UNSUP_CLUSTER_COMMAND:
                return status
        return await super().handle_cluster_command(packet, header, command)


@dataclass(frozen=True)
class DeviceSettings:
    """What a premises says about one emulated device: who it is, who supplies it, what it runs.

    ``nwk`` is its short address on the air; ``running_version`` the file version it boots
    with; ``hardware_version`` what it tells the OTA server (and checks images against);
    ``block_transfer`` its tunnel's GBCS General Block Transfer knobs;
    ``retry`` when a GBCS device tries again to send an alert or response that did not go;
    ``defects`` the known-bad behaviours it has (:mod:`hanbench.devices.defects`);
    ``variant`` its PPMID variant (an Alt HAN bridge's type chooses its firmware package).
    """

    entity_id: EntityId
    nwk: int
    supplier: EntityId
    running_version: int = INITIAL_FILE_VERSION
    hardware_version: int = RTDS_HW_MIN
    ota: OtaClientConfig = OtaClientConfig()
    retry: RetryPolicy = RetryPolicy()
    block_transfer: BlockTransferConfig = BlockTransferConfig()
    defects: Defects = NO_DEFECTS
    variant: PpmidVariant | None = None


class HanDevice:
    """Node + Zigbee OTA client + firmware state; subclasses say what a downloaded image does.

    The node's OTA ``current_file_version`` follows every activation, so the CH's OTA server
    sees the new version at the next Query Next Image.
    """

    kind: ClassVar[DeviceType]
    se_device_type: ClassVar[int]
    sleepy: ClassVar[bool] = False
    server_clusters: ClassVar[tuple[int, ...]] = (Basic.cluster_id,)
    client_clusters: ClassVar[tuple[int, ...]] = (Ota.cluster_id,)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, *,
                 upstream_nwk: int = COORDINATOR_NWK) -> None:
        self.settings = settings
        self.clock = clock
        self.entity_id = settings.entity_id
        self.profile = profile_for(self.kind, settings.variant)
        self.firmware = FirmwareState(settings.entity_id, Firmware(settings.running_version), clock.now)
        self.node = HanNode(
            air, eui64_of(settings.entity_id), settings.nwk,
            device_type=self.se_device_type, manufacturer="hanbench", model=f"emulated {self.kind.value}",
            server_clusters=self.server_clusters, client_clusters=self.client_clusters,
            rx_on_when_idle=not self.sleepy, manufacturer_code=self.profile.manufacturer_code,
            current_file_version=settings.running_version,
            ota_identity=OtaIdentity(self.profile.manufacturer_code, self.profile.image_type,
                                     settings.hardware_version),
            judge=self, ota_config=settings.ota, defects=settings.defects, upstream_nwk=upstream_nwk,
        )
        self.ota = self.node.ota
        self._switch: asyncio.Task[None] | None = None
        self.firmware.subscribe(self._follow_activation)

    async def judge_image(self, data: bytes) -> foundation.Status:
        """The device's check of a complete download, for its OTA client: the Upgrade End status."""
        raise NotImplementedError

    def boot_factory_image(self) -> None:
        """Run the firmware the device was built with again, holding no image: a dev board's
        ``restore_factory_image`` (the bench brings a board back to the bench file's start
        state with it between tests)."""
        self.firmware.held = None
        self.firmware.running = Firmware(self.settings.running_version)
        self.ota.activated(self.settings.running_version)

    def upgrade_command(self, file_version: int, delay_s: float) -> None:
        """The CH gave an upgrade time for image ``file_version``. A GBCS device runs an image
        on CS06 alone (GBCS 11.2.1: Upgrade End Response says "wait for the upgrade command"),
        so by default nothing happens; the IHD, which the CH activates, overrides this."""
        LOGGER.info("%s: upgrade time for %08X ignored: activation is CS06's", self.entity_id, file_version)

    def run_held_after(self, file_version: int, delay_s: float) -> None:
        """Run the held image ``file_version`` in ``delay_s`` seconds (the CH's upgrade time); an
        image the device does not hold is ignored, and a later upgrade time replaces an earlier one."""
        held = self.firmware.held
        if held is None or held.file_version != file_version or held.image_hash is None:
            return
        if self._switch is not None:
            self._switch.cancel()
        self._switch = asyncio.get_running_loop().create_task(self._switch_after(delay_s, held.image_hash),
                                                              name=f"upgrade-{self.entity_id}")

    async def _switch_after(self, delay_s: float, image_hash: bytes) -> None:
        await asyncio.sleep(delay_s)
        self.firmware.activate(image_hash, ActivationTrigger.CH_UPGRADE_COMMAND)

    def _follow_activation(self, event: FirmwareEvent) -> None:
        if isinstance(event, Activated):
            self.ota.activated(event.firmware.file_version)

    async def start(self) -> None:
        """Join the CH's network (it must be permitting joins)."""
        await self.node.join()

    async def ready(self) -> None:
        """The CH has interviewed the device; a sleepy type starts its wake cycle here."""

    async def close(self) -> None:
        """Leave the air and stop every task."""
        if self._switch is not None:
            self._switch.cancel()
        await self.node.close()

    async def power_off(self) -> None:
        """Switch the device off: it leaves the air and loses what it holds in RAM; its
        running and held firmware stay (:class:`FirmwareState` is its non-volatile memory)."""
        await self.node.close()
        await self.ota.stop()

    async def power_on(self) -> None:
        """Switch it on again: back on the air with its network state, then it resumes."""
        await self.node.power_on()
        await self._resume()

    async def _resume(self) -> None:
        """What a device restarts after power-on: an awake device asks the CH's OTA server for
        its image (Query Next Image), as a Zigbee OTA client does once it is up, so a download
        a power cut interrupted resumes from the bytes it kept. A sleepy one asks at its wakes."""
        if not self.sleepy:
            self.ota.start()


class GbcsHanDevice(HanDevice):
    """A device that speaks GBCS: checks images, raises alerts, answers CS06 and SR 11.2.

    GBCS messages travel in its tunnel to the CH (:class:`TunnelClient`), opened in
    :meth:`ready`. Outgoing messages wait in :attr:`outbox` (:class:`Outbox`): an awake
    device's go as soon as they are put, a sleepy one's when it wakes and flushes. What
    cannot be sent stays queued, and goes at the next try: an awake device's own, after the
    outbox's retry delay, or a sleepy one's next wake.
    """

    receipt_form: ClassVar[ReceiptForm | None] = ReceiptForm.DLMS
    alert_form: ClassVar[AlertForm] = AlertForm.DLMS
    client_clusters: ClassVar[tuple[int, ...]] = (Ota.cluster_id, Tunneling.cluster_id)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys) -> None:
        super().__init__(air, settings, clock)
        self.tunnel = TunnelClient(self.node, sleepy=self.sleepy,
                                   config=TunnelClientConfig(block_transfer=settings.block_transfer))
        self.node.handlers[Tunneling.cluster_id] = self.tunnel.handle_command
        self.outbox = Outbox(self.tunnel, owner=settings.entity_id, retry=settings.retry)
        self.gbcs = GbcsDevice(
            entity_id=settings.entity_id, device_type=self.kind, supplier=settings.supplier, keys=keys,
            clock=clock, firmware=self.firmware, hardware_version=settings.hardware_version,
            outbox=self.outbox, receipt_form=self.receipt_form, defects=settings.defects, alert_form=self.alert_form,
            profile=self.profile,
        )
        self.tunnel.on_message(self.receive_message)

    async def ready(self) -> None:
        """The CH has interviewed the device: open the tunnel and send what waited for it."""
        await self.tunnel.open()
        if not self.sleepy:
            self.outbox.kick()

    async def judge_image(self, data: bytes) -> foundation.Status:
        return foundation.Status.SUCCESS if self.gbcs.receive_image(data) else foundation.Status.INVALID_IMAGE

    def upgrade_command(self, file_version: int, delay_s: float) -> None:
        if self.settings.defects.has(Defect.RUNS_IMAGE_ON_UPGRADE_END):
            self.run_held_after(file_version, delay_s)
        else:
            super().upgrade_command(file_version, delay_s)

    def receive_message(self, message: bytes) -> None:
        """A GBCS message from the CH: handle it and put the response, if any, in the outbox."""
        response = self.gbcs.handle_message(message)
        if response is not None:
            self.outbox.put_response(response)

    async def close(self) -> None:
        self.gbcs.close()
        await self.outbox.close()
        await super().close()

    async def power_off(self) -> None:
        """Off: the tunnel and the timer of a pending activation are gone with the RAM; what GBCS
        has a device keep stays: its counters, a pending future-dated activation, and the
        signed alerts and responses it has not yet sent (its outbox)."""
        self.gbcs.close()
        await self.outbox.close()
        self.tunnel.forget()
        await super().power_off()

    async def _resume(self) -> None:
        """On again: the pending activation is re-armed and the outbox opens a new tunnel and
        sends what waited, trying again with backoff until it can (an awake device; a sleepy
        one at its wakes)."""
        self.gbcs.resume()
        if not self.sleepy:
            self.outbox.kick()
        await super()._resume()
