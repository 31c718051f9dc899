"""The emulated GSME (gas meter): a battery device that sleeps and wakes on its own schedule.

A GSME keeps its receiver off between wakes, so the CH cannot push anything to it. Every
``wake_interval_s`` (GBCS recommends 30 minutes: the mirror update interval Silicon Labs'
GSME plugin quotes) it wakes and, in this order:

1. reads its Functional Notification Flags from its mirror in the CH;
2. if "New OTA Firmware" is set, pulls the image over the Zigbee OTA cluster (resuming a
   partial download from an earlier wake), checks it and raises its receipt alert;
3. fetches the GBCS messages queued for it (GB-HRGP GET) and handles each (CS06, SR 11.2):
   it asks again at once while the CH says more remain, and asks again for what a GET lost
   on the air did not bring, so a message served in GBT blocks, one per GET, comes whole
   within one wake on a lossy link (its part-message would not outlast the sleep to the next);
4. sends its responses and alerts (GB-HRGP PUT), including alerts raised while it slept
   (a future-dated activation fires at its date-time whether the radio is on or not);
5. sleeps again.

``phase_s`` offsets the first wake so that many GSMEs on one bench do not all wake at
once; by default it is drawn from the GSME's entity ID, so it is stable from run to run.
The receipt alert is the GBZ form (message 0x00CF), and so is every generic alert (0x8F3D,
0x8F1E...: a GBZ header, the alert code and its time), as a GSME sends them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import zigpy.exceptions
from zigpy.zcl.clusters.general import Basic, Ota
from zigpy.zcl.clusters.smartenergy import Metering, Tunneling

from hanbench.clock import BenchClock
from hanbench.devices.gbcs_device import DeviceKeys
from hanbench.devices.han_device import DeviceSettings, GbcsHanDevice
from hanbench.devices.mirror_client import MirrorClient
from hanbench.errors import BadInput, HanbenchError
from hanbench.gbcs.alerts import AlertForm, ReceiptForm
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_clusters import NotificationFlags
from hanbench.radio.se_profile import SeDeviceType
from hanbench.timing import GSME_WAKE_INTERVAL_S

LOGGER = logging.getLogger(__name__)



@dataclass(frozen=True)
class GsmeTiming:
    """The wake cycle: every ``wake_interval_s``, first at ``phase_s`` (``None``: from the ID)."""

    wake_interval_s: float = GSME_WAKE_INTERVAL_S
    phase_s: float | None = None

    def __post_init__(self) -> None:
        if self.wake_interval_s <= 0:
            raise BadInput(f"a GSME's wake interval must be > 0 s, got {self.wake_interval_s}")
        if self.phase_s is not None and not 0 <= self.phase_s < self.wake_interval_s:
            raise BadInput(f"a GSME's wake phase must be within [0, {self.wake_interval_s}) s, got {self.phase_s}")

    def phase_for(self, entity: EntityId) -> float:
        """Seconds from start to the first wake: ``phase_s``, or a whole-second offset hashed from the ID."""
        if self.phase_s is not None:
            return self.phase_s
        spread = int.from_bytes(hashlib.sha256(entity.raw).digest()[:4], "big")
        return float(spread % max(1, int(self.wake_interval_s)))


class Gsme(GbcsHanDevice):
    """An emulated GSME; build it with :func:`hanbench.devices.build_device`."""

    kind = DeviceType.GSME
    se_device_type = SeDeviceType.METERING_DEVICE
    sleepy = True
    receipt_form = ReceiptForm.GBZ
    alert_form = AlertForm.GBZ
    server_clusters = (Basic.cluster_id, Metering.cluster_id)
    client_clusters = (Ota.cluster_id, Tunneling.cluster_id)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys, *,
                 timing: GsmeTiming | None = None) -> None:
        super().__init__(air, settings, clock, keys)
        self.timing = timing if timing is not None else GsmeTiming()
        self.mirror = MirrorClient(self.node)
        #: Loop times of every wake, for tests and benchmarks.
        self.wakes: list[float] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._cycle_lock = asyncio.Lock()

    async def ready(self) -> None:
        """The CH has interviewed the GSME: find its mirror, open its tunnel, sleep, start waking."""
        await self.mirror.locate()
        await super().ready()
        self._start_waking(self.timing.phase_for(self.entity_id))

    def _start_waking(self, first_in_s: float) -> None:
        self.node.sleep()
        self._loop_task = asyncio.get_running_loop().create_task(self._wake_loop(first_in_s),
                                                                 name=f"gsme-wake-{self.entity_id}")

    async def _stop_waking(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    async def power_off(self) -> None:
        await self._stop_waking()
        await super().power_off()

    async def _resume(self) -> None:
        """A GSME that powers up wakes at once (its mirror, any image, its queued messages, its
        outbox), then every wake interval."""
        await super()._resume()
        self._start_waking(0.0)

    async def _wake_loop(self, first_in_s: float) -> None:
        loop = asyncio.get_running_loop()
        next_wake = loop.time() + first_in_s
        while True:
            await asyncio.sleep(max(0.0, next_wake - loop.time()))
            await self.wake_cycle()
            next_wake += self.timing.wake_interval_s

    async def wake_cycle(self) -> None:
        """One wake: flags, image, queued messages, outbox; then sleep. Also callable on demand."""
        async with self._cycle_lock:
            self.wakes.append(asyncio.get_running_loop().time())
            self.node.wake()
            try:
                await self._wake_work()
            except (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError) as exc:
                LOGGER.info("%s: wake cut short, will retry at the next wake: %s", self.entity_id, exc)
            finally:
                self.node.sleep()

    async def _wake_work(self) -> None:
        flags = await self.mirror.read_flags()
        if NotificationFlags.NEW_OTA_FIRMWARE in flags:
            await self.ota.update()
        if NotificationFlags.TUNNEL_MESSAGE_PENDING in flags:
            await self.tunnel.ensure_open()
            for message in await self.tunnel.fetch_pending():
                self.receive_message(message)
        await self.outbox.flush()

    async def close(self) -> None:
        await self._stop_waking()
        await super().close()
