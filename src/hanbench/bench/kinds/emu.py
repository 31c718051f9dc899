"""The ``emu`` kind: the whole premises in this process, on a virtual air, in virtual time.

Assembly, in the order a real premises comes up:

1. a :class:`~hanbench.radio.air.VirtualAir` with the bench file's ``[air]`` (the free air, or
   the honest one with ``airtime = true``) and seed;
2. the CH's zigpy coordinator on it (:func:`~hanbench.radio.virtual_app.virtual_coordinator`,
   with the CH's endpoints) and the :class:`~hanbench.hub.comms_hub.CommsHub` over it,
   with every timing knob of the bench file and a listener that feeds the event stream
   (:func:`hub_on`, which the twin and lab kinds build their CH with too);
   from here on the air is captured if the bench was opened with a capture;
3. each device of the bench file built as its type (:func:`~hanbench.devices.build_device`),
   entered in the CH's device log, joined and interviewed, then told it is ready (a GSME
   goes to sleep and starts its wake cycle);
4. then each Alt HAN bridge that sits behind another (:meth:`BenchConfig.on_ch_han`, MP170's
   option): put on the air behind its orchestrating bridge, which the CH never hears of, and
   told it is ready (the sleepy Bridge 4 starts its wake cycle).

Teardown runs the other way round and waits for every task it stopped, so a closed bench
leaves nothing running on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Collection, Mapping

from zigpy.application import ControllerApplication

from hanbench.bench.bench_config import AirConfig, BenchConfig, DeviceConfig
from hanbench.bench.events import DevicePowerCycled, EventStream, HubRestarted
from hanbench.bench.kinds.emu_events import firmware_listener, hub_listener
from hanbench.bench.premises import AssemblyContext, DeviceState
from hanbench.clock import BenchClock
from hanbench.devices import BridgeLink, BridgeTiming, DeviceSettings, GsmeTiming, HanDevice, build_device
from hanbench.devices.alt_han import SleepyBehindBridge
from hanbench.devices.han_device import GbcsHanDevice
from hanbench.devices.ota_client import OtaClientConfig
from hanbench.devices.outbox import RetryPolicy
from hanbench.devices.gsme import Gsme
from hanbench.devices.occupant_display import OccupantDisplay
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.occupant_data import DisplayedData
from hanbench.hub.comms_hub import CommsHub, CommsHubTiming, hub_endpoints
from hanbench.hub.ota_server import OtaServerConfig
from hanbench.hub.tunnel import TunnelServerConfig
from hanbench.radio.air import AirNode, AirTiming, VirtualAir
from hanbench.radio.block_transfer import BlockTransferConfig
from hanbench.radio.interview import join_and_interview
from hanbench.radio.link import LinkModel
from hanbench.radio.virtual_app import virtual_coordinator
from hanbench.timing import HUB_RESTART_S

VIRTUAL_TIME = True

#: Short addresses of the emulated devices: 0x1000, 0x1001, ... in bench-file order.
FIRST_DEVICE_NWK = 0x1000


def virtual_air(config: BenchConfig) -> VirtualAir:
    """The premises' virtual air as the bench file's ``[air]`` and ``seed`` describe it; each
    device's pacing is set as it is built (:func:`pace`)."""
    air = config.air or AirConfig()
    timing = AirTiming(poll_interval_s=air.poll_interval_ms / 1000.0) if air.airtime else None
    return VirtualAir(default_link=LinkModel(latency_s=air.latency_ms / 1000.0, loss=air.loss), seed=config.seed,
                      timing=timing)


def pace(air: VirtualAir, config: BenchConfig, entry: DeviceConfig, node: AirNode) -> None:
    """Give ``node`` the block pacing the bench file gives its device type."""
    air.set_pacing(node.ieee, (config.air or AirConfig()).block_pacing_ms[entry.type] / 1000.0)


def device_settings(config: BenchConfig, entry: DeviceConfig, nwk: int) -> DeviceSettings:
    """What an emulated device is told of itself: its bench-file entry (its defects too), its
    short address ``nwk``, and the bench file's ``[timing]`` for its retries and OTA timeout.
    Its Query Jitter draws are seeded by the bench's seed and its own ID, so that devices draw
    apart (as real ones do) and a run repeats."""
    timing = config.timing
    jitter_seed = config.seed ^ int.from_bytes(bytes(entry.id), "big")
    return DeviceSettings(entity_id=entry.id, nwk=nwk, supplier=entry.responsible_supplier,
                          running_version=entry.firmware_version, hardware_version=entry.hardware_version,
                          ota=OtaClientConfig(block_timeout_s=timing.device_ota_timeout_s, seed=jitter_seed,
                                              query_interval_s=timing.device_query_interval_s,
                                              page_size=entry.image_page_size,
                                              response_spacing_ms=entry.image_page_spacing_ms),
                          retry=RetryPolicy(timing.device_retry_s, timing.device_retry_max_s),
                          block_transfer=block_transfer(config),
                          defects=entry.defects, variant=entry.ppmid_variant)


def block_transfer(config: BenchConfig) -> BlockTransferConfig:
    """Both tunnel ends' GBCS General Block Transfer timers, from the bench file's ``[timing]``."""
    return BlockTransferConfig(ack_timeout_s=config.timing.gbt_ack_timeout_s,
                               reassembly_timeout_s=config.timing.gbt_reassembly_timeout_s)


def hub_timing(config: BenchConfig) -> CommsHubTiming:
    """The CH's knobs from the bench file's ``[timing]`` and ``[hub]``."""
    timing = config.timing
    return CommsHubTiming(
        ota=OtaServerConfig(max_block_size=timing.block_size_max, minimum_block_period_ms=timing.block_period_ms,
                            stall_timeout_s=timing.stall_timeout_s, target_wait_s=timing.target_wait_s),
        image_rules=config.hub.image_rules,
        slots=config.hub.image_store_slots,
        queue_expiry_s=timing.queue_expiry_s,
        command_retry_s=timing.command_retry_s,
        command_retries=timing.command_retries,
        tunnel=TunnelServerConfig(block_transfer=block_transfer(config)),
    )


def hub_on(app: ControllerApplication, context: AssemblyContext) -> CommsHub:
    """The CH on a started application, with the bench file's knobs, reporting to the bench's
    event stream, and started."""
    config = context.config
    hub = CommsHub(app, entity_id=config.hub.id, keystore=context.keystore, clock=context.clock,
                   timing=hub_timing(config), firmware_version=config.hub.firmware_version,
                   hardware_version=config.hub.hardware_version)
    hub.on_event(hub_listener(context.events, context.clock, block_size=config.timing.block_size_max,
                              queue_expiry_s=config.timing.queue_expiry_s))
    hub.start()
    return hub


class EmulatedDevice:
    """One emulated device as the bench sees it: its bench-file entry and its firmware."""

    def __init__(self, config: DeviceConfig, device: HanDevice, clock: BenchClock) -> None:
        self.config = config
        self.device = device
        self._clock = clock

    @property
    def display(self) -> DisplayedData:
        """What the IHD or PPMID shows of the occupant now."""
        display = getattr(self.device, "display", None)
        if not isinstance(display, OccupantDisplay):
            raise BadInput(f"{self.config.name} is a {self.config.type.value}: it shows no occupant data")
        return display.shown

    @property
    def state(self) -> DeviceState:
        firmware = self.device.firmware
        held = firmware.held
        state = DeviceState(
            running_version=firmware.running.file_version, running_hash=firmware.running.image_hash,
            held_version=None if held is None else held.file_version,
            held_hash=None if held is None else held.image_hash, pending_activation_at=None)
        if not isinstance(self.device, GbcsHanDevice):
            return state
        pending, outbox = self.device.gbcs.pending, self.device.outbox
        retry = outbox.next_retry_at
        return dataclasses.replace(
            state, pending_activation_at=None if pending is None else pending.execution,
            alerts_pending=outbox.pending_alerts, responses_pending=outbox.pending_responses,
            next_retry_at=None if retry is None else self._clock.at(retry))


class EmuPremises:
    """The assembled emulated premises, and the emulator's controls over it."""

    def __init__(self, air: VirtualAir, hub: CommsHub, devices: Mapping[str, EmulatedDevice],
                 events: EventStream) -> None:
        self.air = air
        self._hub = hub
        self._devices = devices
        self._events = events

    @property
    def hub(self) -> CommsHub:
        return self._hub

    @property
    def comms_hub(self) -> CommsHub:
        return self._hub

    @property
    def devices(self) -> Mapping[str, EmulatedDevice]:
        return self._devices

    @property
    def controls(self) -> EmuPremises:
        return self

    def _emulated(self, device: DeviceConfig) -> HanDevice:
        return self._devices[device.name].device

    def set_link_loss(self, device: DeviceConfig, loss: float) -> None:
        if not 0.0 <= loss <= 1.0:
            raise BadInput(f"a link loss is a probability in 0..1, got {loss}")
        node = self._emulated(device).node
        upstream = next(n.ieee for n in self.air.nodes if int(n.nwk) == node.upstream_nwk)
        model = LinkModel(latency_s=self.air.default_link.latency_s, loss=loss)
        self.air.set_link(upstream, node.ieee, model)
        self.air.set_link(node.ieee, upstream, model)

    async def wake(self, device: DeviceConfig) -> None:
        emulated = self._emulated(device)
        if not isinstance(emulated, (Gsme, SleepyBehindBridge)):
            raise BadInput(f"{device.name} is a {device.type.value} that never sleeps; only a GSME or the sleepy "
                           "Alt HAN bridge wakes")
        await emulated.wake_cycle()

    async def power_cycle(self, device: DeviceConfig, *, off_s: float = 0.0) -> None:
        if not off_s >= 0:
            raise BadInput(f"a device is off for 0 s or more, got {off_s}")
        emulated = self._emulated(device)
        await emulated.power_off()
        await asyncio.sleep(off_s)
        await emulated.power_on()
        self._events.publish(DevicePowerCycled(device=device.id, off_s=off_s))

    async def restart_hub(self, *, down_s: float = HUB_RESTART_S) -> None:
        if not down_s >= 0:
            raise BadInput(f"a CH is down for 0 s or more, got {down_s}")
        self._hub.power_off()
        await self._hub.app.disconnect()
        await asyncio.sleep(down_s)
        await self._hub.app.connect()
        await self._hub.power_on()
        self._events.publish(HubRestarted(down_s=down_s))

    def drop_alerts(self, device: DeviceConfig, codes: Collection[int] | None = None) -> None:
        emulated = self._emulated(device)
        if not isinstance(emulated, GbcsHanDevice):
            raise BadInput(f"{device.name} is a {device.type.value}, which raises no GBCS alerts to drop")
        emulated.outbox.drop_alerts(codes)


@contextlib.asynccontextmanager
async def assemble(context: AssemblyContext) -> AsyncIterator[EmuPremises]:
    """The emulated premises of ``context.config``; see the module docstring."""
    config = context.config
    air = virtual_air(config)
    async with virtual_coordinator(air, endpoints=hub_endpoints()) as app:
        hub = hub_on(app, context)
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(context.watch_air(air, pan_id=app.state.network_info.pan_id))
            stack.push_async_callback(hub.close)
            devices: dict[str, EmulatedDevice] = {}
            # the CH's HAN first, so that every orchestrating bridge is on the air before those behind it
            for entry in sorted(config.devices, key=lambda e: not config.on_ch_han(e)):
                gsme_timing = GsmeTiming(wake_interval_s=config.timing.gsme_wake_interval_s, phase_s=entry.wake_phase_s)
                device = build_device(entry.type, air, device_settings(config, entry, device_nwk(config, entry)),
                                      context.clock, context.keystore, gsme_timing=gsme_timing,
                                      bridge=bridge_link(config, entry))
                stack.push_async_callback(device.close)
                pace(air, config, entry, device.node)
                device.firmware.subscribe(firmware_listener(context.events, device.firmware))
                if config.on_ch_han(entry):
                    hub.register(entry.id, entry.type)
                    await join_and_interview(app, device.node)
                else:
                    await device.start()
                await device.ready()
                devices[entry.name] = EmulatedDevice(entry, device, context.clock)
            in_file_order = {entry.name: devices[entry.name] for entry in config.devices}
            yield EmuPremises(air, hub, in_file_order, context.events)
            raise_firmware_faults(in_file_order)


def device_nwk(config: BenchConfig, entry: DeviceConfig) -> int:
    """The device's short address: 0x1000, 0x1001, ... in bench-file order."""
    return FIRST_DEVICE_NWK + config.devices.index(entry)


def bridge_link(config: BenchConfig, entry: DeviceConfig) -> BridgeLink | None:
    """Where an Alt HAN bridge sits in the premises' installation (None for any other device)."""
    if entry.ppmid_variant is None or entry.type is not DeviceType.ALT_HAN:
        return None
    orchestrator = config.orchestrator_of(entry)
    behind = config.bridges_behind(entry)
    return BridgeLink(
        variant=entry.ppmid_variant,
        orchestrator_nwk=None if orchestrator is None else device_nwk(config, orchestrator),
        sleepy=config.sleeps(entry),
        behind={device_nwk(config, b): b.ppmid_variant for b in behind if b.ppmid_variant is not None},
        sleepy_behind=frozenset(b.ppmid_variant for b in behind if config.sleeps(b) and b.ppmid_variant is not None),
        timing=BridgeTiming(config.alt_han.wake_interval_s, config.alt_han.orchestration_wait_s),
    )


class EmulatedFirmwareFault(RuntimeError):
    """An emulated device's command handler raised: a bug in hanbench, not a device refusal.

    Deliberately not a :class:`~hanbench.errors.HanbenchError`: it must surface with its
    traceback, never as an expected failure.
    """


def raise_firmware_faults(devices: Mapping[str, EmulatedDevice]) -> None:
    """Fail the premises if any emulated device's firmware raised while it served the test."""
    faults = [(name, exc) for name, emulated in devices.items() for exc in emulated.device.node.firmware_faults]
    if faults:
        listed = "; ".join(f"{name}: {exc!r}" for name, exc in faults)
        raise EmulatedFirmwareFault(f"emulated firmware raised while handling commands ({listed})") from faults[0][1]
