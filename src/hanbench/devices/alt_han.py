"""Emulated Alt HAN bridges (MP170): PPMID variants, some behind others.

Seed 002 (MP170 working group): "Alt HAN Devices will re-use the SECMP0007 functionality, by
joining the HAN as a PPMID Variant"; each bridge type (B1 to B4) has its own firmware
package; under option A the sleepy Bridge 4 gets its firmware through Bridge 3, packaged
with Bridge 3's; under option B Bridge 1 orchestrates every other bridge and the Supplier's
package carries the firmware of every bridge on site. Who orchestrates whom is
:mod:`hanbench.gbcs.alt_han`'s; what the package is, :mod:`hanbench.gbcs.althan_bundle`'s.
Two kinds of bridge:

* :class:`Bridge`: on the CH's HAN, a GBCS device like a PPMID: SR 11.4 brings its image,
  it activates it by itself and reports with CS09 (0x8F8B). Its package may be a bundle:
  it checks the bundle's Supplier signature before anything else (a bundle that fails is
  refused whole, INVALID_IMAGE and CS09 Failure), keeps its own component as a PPMID keeps
  its image, and (an orchestrator, :class:`OrchestratingBridge`) serves each bridge behind it
  its component over the Zigbee OTA cluster (:mod:`hanbench.devices.bridge_ota`), real
  frames on the premises' air. When every bridge behind has answered or the wait
  (``orchestration_wait_s``) is over, it runs its own component and raises one CS09: Success
  only if its own and every other update succeeded. That one alert is all the Supplier hears,
  which is the working group's point about option B: "the Supplier would only receive a
  failure response but would not be able to identify which Device failed".
* :class:`BehindBridge`: a bridge on its orchestrator's link, which the CH and the DCC never
  see. It speaks no GBCS upwards; it is an OTA client of its orchestrator, checks its
  component as any image, and runs it when the orchestrator's Upgrade End Response says so
  (the upgrade time: now). Bridge 4 sleeps: it wakes every ``wake_interval_s`` and asks its
  orchestrator (Query Next Image) whether firmware waits for it.

The link between bridges is modelled on the premises' virtual air (real Alt HAN bridges use a
point-to-point radio of their own): the frames are those a Zigbee OTA exchange would be, so
captures and the honest air see them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota
from zigpy.zcl.clusters.smartenergy import Tunneling

from hanbench.clock import BenchClock
from hanbench.devices.bridge_ota import BridgeOtaServer, ChildOutcome, ChildResult
from hanbench.devices.firmware import ActivationTrigger, check_image
from hanbench.devices.gbcs_device import DeviceKeys
from hanbench.devices.han_device import DeviceSettings, HanDevice
from hanbench.devices.ota_client import WAIT_FOR_UPGRADE_COMMAND, ClientResult, OtaOutcome
from hanbench.devices.ppmid import Ppmid
from hanbench.errors import BadInput
from hanbench.gbcs.alerts import PpmidActivationOutcome
from hanbench.gbcs.althan_bundle import AltHanBundle, read_bundle
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.gbz import utc_seconds
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.image_types import profile_for
from hanbench.radio.air import VirtualAir
from hanbench.timing import BRIDGE_ORCHESTRATION_WAIT_S, BRIDGE_WAKE_INTERVAL_S

LOGGER = logging.getLogger(__name__)


class BackgroundTasks:
    """The tasks a bridge runs on its own (a package's handling, a wake loop, a delayed
    activation), cancelled and awaited when it closes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=self.name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass(frozen=True)
class BridgeTiming:
    """``wake_interval_s``: how often a sleepy bridge wakes and asks its orchestrator;
    ``orchestration_wait_s``: how long an orchestrator waits for each bridge behind it."""

    wake_interval_s: float = BRIDGE_WAKE_INTERVAL_S
    orchestration_wait_s: float = BRIDGE_ORCHESTRATION_WAIT_S

    def __post_init__(self) -> None:
        for name in ("wake_interval_s", "orchestration_wait_s"):
            if getattr(self, name) <= 0:
                raise BadInput(f"an Alt HAN bridge's {name} must be > 0 s, got {getattr(self, name)}")


@dataclass(frozen=True)
class BridgeLink:
    """Where one bridge sits: its type, the orchestrator it hangs off (``None``: the CH's HAN),
    whether it sleeps, and the bridges behind it (NWK address -> type) if it orchestrates."""

    variant: PpmidVariant
    orchestrator_nwk: int | None = None
    sleepy: bool = False
    behind: Mapping[int, PpmidVariant] = field(default_factory=dict)
    sleepy_behind: frozenset[PpmidVariant] = frozenset()
    timing: BridgeTiming = BridgeTiming()


@dataclass(frozen=True)
class Orchestration:
    """One package a bridge took: whether its own part ran, and what became of each bridge behind."""

    own: PpmidVariant
    own_updated: bool
    own_detail: str
    behind: tuple[ChildOutcome, ...]

    @property
    def succeeded(self) -> bool:
        return self.own_updated and all(outcome.updated for outcome in self.behind)


class Bridge(Ppmid):
    """An Alt HAN bridge on the CH's HAN (a PPMID variant); see the module docstring."""

    kind = DeviceType.ALT_HAN

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys,
                 link: BridgeLink) -> None:
        super().__init__(air, settings, clock, keys)
        self.link = link
        self.variant = link.variant
        #: Every package this bridge took, oldest first.
        self.orchestrations: list[Orchestration] = []
        self._tasks = BackgroundTasks(f"bridge-{link.variant}")

    async def judge_image(self, data: bytes) -> foundation.Status:
        try:
            package = parse_image(data, signed=False)
        except GbcsError:
            return await super().judge_image(data)  # refused as any ill-formed image is
        try:
            bundle = read_bundle(package.manufacturer_image)
        except GbcsError as exc:
            return self._refuse_package(package, f"the package is not a well-formed bundle: {exc}")
        if bundle is None:  # its own firmware alone: exactly as a PPMID takes an image
            return await super().judge_image(data)
        header, profile = package.header, self.profile
        if not header.is_for(profile.manufacturer_code, profile.image_type):
            return self._refuse_package(package, f"the package is for image type 0x{header.image_type:04X}, this "
                                                 f"{self.variant} takes 0x{profile.image_type:04X}")
        if not header.accepts_hardware_version(self.settings.hardware_version):
            return self._refuse_package(package, f"hardware version 0x{self.settings.hardware_version:04X} is "
                                                 "outside the package's range")
        if not bundle.verify(self.gbcs.keys.supplier_key):
            return self._refuse_package(package, "the bundle is not signed by this bridge's Supplier")
        self._tasks.spawn(self._take_bundle(bundle))
        return foundation.Status.SUCCESS

    def _refuse_package(self, package: UpgradeImage, reason: str) -> foundation.Status:
        """Refuse the whole package: nothing of it is kept or handed on; CS09 Failure."""
        self.firmware.refuse(reason, package.manufacturer_image_hash)
        self.orchestrations.append(Orchestration(self.variant, False, reason, ()))
        self.report(PpmidActivationOutcome.FAILURE)
        return foundation.Status.INVALID_IMAGE

    async def _take_bundle(self, bundle: AltHanBundle) -> None:
        behind = await self.serve_behind(bundle)
        own = bundle.component(self.variant)
        mislabelled = None if own is None else misplaced(own, self.variant)
        if own is None or mislabelled is not None:
            updated, detail = False, mislabelled or f"the bundle carries no {self.variant} firmware"
            self.firmware.refuse(detail, hashlib.sha256(own or b"").digest())
        else:
            verdict = self.gbcs.check(own)
            updated, detail = self.self_activate(verdict) is PpmidActivationOutcome.SUCCESS, verdict.reason
        orchestration = Orchestration(self.variant, updated, detail, behind)
        self.orchestrations.append(orchestration)
        self.report(PpmidActivationOutcome.SUCCESS if orchestration.succeeded else PpmidActivationOutcome.FAILURE)

    async def serve_behind(self, bundle: AltHanBundle) -> tuple[ChildOutcome, ...]:
        """Hand on the components for bridges behind this one; a plain bridge has none."""
        return ()

    async def close(self) -> None:
        await self._tasks.cancel()
        await super().close()


class OrchestratingBridge(Bridge):
    """A bridge that serves the bridges behind it their firmware (Bridge 3 under option A,
    Bridge 1 under option B); see the module docstring."""

    server_clusters = (Basic.cluster_id, Ota.cluster_id)
    client_clusters = (Ota.cluster_id, Tunneling.cluster_id)

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys,
                 link: BridgeLink) -> None:
        super().__init__(air, settings, clock, keys, link)
        self.server = BridgeOtaServer(self.node, link.behind, clock.now)
        self.node.handlers[Ota.cluster_id] = self.server.handle

    async def serve_behind(self, bundle: AltHanBundle) -> tuple[ChildOutcome, ...]:
        """Offer each bridge behind its component at once and wait for every answer (or the wait's end)."""
        waits = []
        for bridge in self.link.behind.values():
            component = bundle.component(bridge)
            if component is None:
                continue  # the Supplier packaged nothing for it: it keeps what it runs
            waits.append(self._serve(bridge, component))
        return tuple(await asyncio.gather(*waits))

    async def _serve(self, bridge: PpmidVariant, component: bytes) -> ChildOutcome:
        problem = misplaced(component, bridge)
        if problem is not None:
            return ChildOutcome(bridge, ChildResult.REFUSED, problem)
        image = parse_image(component, signed=False)
        done = await self.server.offer(bridge, component, image, notify=bridge not in self.link.sleepy_behind)
        wait = self.link.timing.orchestration_wait_s
        try:
            return await asyncio.wait_for(asyncio.shield(done), wait)
        except TimeoutError:
            outcome = ChildOutcome(bridge, ChildResult.NO_ANSWER, f"no Upgrade End within {wait:g} s")
            self.server.withdraw(bridge, outcome)
            return outcome


def misplaced(component: bytes, bridge: PpmidVariant) -> str | None:
    """Why a bundle's part in ``bridge``'s place is not that bridge type's firmware; None when it is.

    Inside a bundle a part's OTA header is under the Supplier's signature over the whole, so the
    orchestrator may believe it: a part whose header names another bridge type's image is the
    Supplier's packaging mistake (seed 002: "Suppliers will need to package the firmware
    correctly"), refused before anything is handed on.
    """
    try:
        header = parse_image(component, signed=False).header
    except GbcsError as exc:
        return f"the bundle's {bridge} part is no OTA image: {exc}"
    wanted = profile_for(DeviceType.ALT_HAN, bridge)
    if not header.is_for(wanted.manufacturer_code, wanted.image_type):
        return (f"the bundle holds image type 0x{header.image_type:04X} in {bridge}'s place, which takes "
                f"0x{wanted.image_type:04X}")
    return None


class BehindBridge(HanDevice):
    """A bridge on its orchestrator's link, unseen by the CH and the DCC; see the module docstring."""

    kind = DeviceType.ALT_HAN
    se_device_type = Ppmid.se_device_type

    def __init__(self, air: VirtualAir, settings: DeviceSettings, clock: BenchClock, link: BridgeLink) -> None:
        if link.orchestrator_nwk is None:
            raise BadInput(f"{settings.entity_id} ({link.variant}) hangs off no orchestrating bridge")
        super().__init__(air, settings, clock, upstream_nwk=link.orchestrator_nwk)
        self.link = link
        self.variant = link.variant
        #: Loop times of every wake of a sleepy bridge, for tests.
        self.wakes: list[float] = []
        self._tasks = BackgroundTasks(f"bridge-{link.variant}")
        # Image Notify from the orchestrator starts the OTA client's update; each update's end
        # tells the bridge when to run what it kept.
        self.ota.on_outcome(self._follow)

    async def start(self) -> None:
        """Take its place on the orchestrator's link (it joins no network of the CH's)."""
        assert self.link.orchestrator_nwk is not None
        self.node.attach_behind(self.link.orchestrator_nwk)

    async def ready(self) -> None:
        """A sleepy bridge goes to sleep and starts waking on its own schedule."""
        if self.sleepy:
            self.node.sleep()
            self._tasks.spawn(self._wake_loop())

    async def judge_image(self, data: bytes) -> foundation.Status:
        verdict = check_image(data, self.profile, self.settings.hardware_version, None)
        if verdict.firmware is None:
            self.firmware.refuse(verdict.reason, verdict.image_hash)
            return foundation.Status.INVALID_IMAGE
        self.firmware.hold(verdict.firmware)
        return foundation.Status.SUCCESS

    def _follow(self, outcome: OtaOutcome) -> None:
        """Run the image just kept when the orchestrator's Upgrade End Response says to."""
        held = self.firmware.held
        if outcome.result is not ClientResult.KEPT or held is None or held.image_hash is None \
                or outcome.upgrade_time in (None, WAIT_FOR_UPGRADE_COMMAND):
            return
        assert outcome.upgrade_time is not None
        delay = max(0, outcome.upgrade_time - utc_seconds(self.clock.now()))
        self._tasks.spawn(self._activate_after(delay, held.image_hash))

    async def _activate_after(self, delay: float, image_hash: bytes) -> None:
        await asyncio.sleep(delay)
        self.firmware.activate(image_hash, ActivationTrigger.BRIDGE_UPGRADE_COMMAND)

    async def _wake_loop(self) -> None:
        while True:
            await asyncio.sleep(self.link.timing.wake_interval_s)
            await self.wake_cycle()

    async def wake_cycle(self) -> None:
        """One wake: ask the orchestrator for firmware, take it if some waits, sleep again."""
        self.wakes.append(asyncio.get_running_loop().time())
        self.node.wake()
        try:
            await self.ota.update()
        finally:
            self.node.sleep()

    async def close(self) -> None:
        await self._tasks.cancel()
        await super().close()


class SleepyBehindBridge(BehindBridge):
    """Bridge 4: behind its orchestrator, and asleep between wakes."""

    sleepy = True


def build_bridge(air: VirtualAir, settings: DeviceSettings, clock: BenchClock, keys: DeviceKeys | None,
                 link: BridgeLink) -> HanDevice:
    """The emulated bridge at ``link``: behind its orchestrator, or on the CH's HAN (``keys``
    needed: it speaks GBCS), orchestrating the bridges behind it if it has any."""
    if link.orchestrator_nwk is not None:
        return (SleepyBehindBridge if link.sleepy else BehindBridge)(air, settings, clock, link)
    if keys is None:
        raise BadInput(f"{settings.entity_id} ({link.variant}) is on the CH's HAN and needs its GBCS keys")
    return (OrchestratingBridge if link.behind else Bridge)(air, settings, clock, keys, link)
