"""A premises on the virtual air for the CH/device flow tests: a CommsHub, emulated devices.

Reusable by the conformance suites: ``async with premises([DeviceType.ESME, ...]) as p`` gives
a started VirtualRadioApp with a CommsHub, every device joined and interviewed, the CH's
forwarded alerts collected, and helpers that sign CS06 as the Supplier.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fixture_files import SUPPLIER, acb_protected, bench_keys
from hanbench.clock import BenchClock
from hanbench.devices import DeviceSettings, GsmeTiming, HanDevice, build_device
from hanbench.devices.defects import NO_DEFECTS, Defects
from hanbench.gbcs.alerts import Alert, decode_alert
from hanbench.gbcs.cs06 import ActivateFirmware, activate_firmware_command
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import GbcsMessage
from hanbench.hub.forwarded import ForwardedAlert
from hanbench.hub.comms_hub import CommsHub, CommsHubTiming, hub_endpoints
from hanbench.hub.hub_events import HubListener
from hanbench.radio.air import VirtualAir
from hanbench.radio.interview import wait_interviewed
from hanbench.radio.virtual_app import VirtualRadioApp, virtual_coordinator

KEYS = bench_keys()
EPOCH = dt.datetime(2030, 1, 15, 9, 0, tzinfo=dt.UTC)
OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
CH = EntityId.parse("00-DB-12-34-56-78-91-02")
ENTITIES = {
    DeviceType.ESME: EntityId.parse("00-DB-12-34-56-78-91-00"),
    DeviceType.GSME: EntityId.parse("00-DB-12-34-56-78-91-01"),
    DeviceType.PPMID: EntityId.parse("00-DB-12-34-56-78-91-04"),
    DeviceType.HCALCS: EntityId.parse("00-DB-12-34-56-78-91-05"),
    DeviceType.IHD: EntityId.parse("00-DB-12-34-56-78-91-06"),
}


@dataclass
class Premises:
    air: VirtualAir
    app: VirtualRadioApp
    hub: CommsHub
    clock: BenchClock
    devices: dict[DeviceType, HanDevice]
    forwarded: list[ForwardedAlert] = field(default_factory=list)
    counter: int = 1000

    def alerts(self, device: EntityId | None = None) -> list[tuple[GbcsMessage, Alert]]:
        """Every alert the CH forwarded (from ``device`` if given), decoded."""
        out = []
        for forwarded in self.forwarded:
            msg = forwarded.message
            assert msg is not None, f"the CH forwarded an unreadable alert: {forwarded.error}"
            if device is None or msg.originator == device:
                out.append((msg, decode_alert(msg)))
        return out

    def alert_codes(self, device: EntityId | None = None) -> list[int]:
        return [int(alert.alert_code) for _, alert in self.alerts(device)]

    def cs06(self, kind: DeviceType, image_hash: bytes, *, when: dt.datetime | None = None,
             signer: EntityId = SUPPLIER, counter: int | None = None) -> GbcsMessage:
        """A CS06 for the device of ``kind``, signed by ``signer`` (its Supplier by default) and
        MAC'd by the Access Control Broker, as the DCC sends it."""
        if counter is None:
            self.counter += 1
            counter = self.counter
        command = ActivateFirmware(image_hash, counter, when)
        return acb_protected(activate_firmware_command(signer, ENTITIES[kind], command, KEYS.private_key(signer)))

    async def until(self, condition, *, timeout_s: float = 3600.0, step_s: float = 1.0) -> None:
        """Let virtual time pass until ``condition()`` holds; AssertionError after ``timeout_s``."""
        waited = 0.0
        while not condition():
            if waited >= timeout_s:
                raise AssertionError(f"condition not met within {timeout_s} s of virtual time")
            await asyncio.sleep(step_s)
            waited += step_s


@asynccontextmanager
async def premises(kinds: Sequence[DeviceType], *, timing: CommsHubTiming | None = None,
                   gsme_timing: GsmeTiming | None = None, listener: HubListener | None = None,
                   hardware_version: int = 0x1111,
                   defects: Mapping[DeviceType, Defects] | None = None) -> AsyncIterator[Premises]:
    air = VirtualAir()
    clock = BenchClock(EPOCH)
    async with virtual_coordinator(air, endpoints=hub_endpoints()) as app:
        hub = CommsHub(app, entity_id=CH, keystore=KEYS, clock=clock, timing=timing)
        if listener is not None:
            hub.on_event(listener)
        p = Premises(air, app, hub, clock, {})
        hub.on_alert(p.forwarded.append)
        hub.start()
        air.permit_joining(600)
        try:
            for nwk, kind in enumerate(kinds, start=0x1001):
                settings = DeviceSettings(ENTITIES[kind], nwk, SUPPLIER, hardware_version=hardware_version,
                                          defects=(defects or {}).get(kind, NO_DEFECTS))
                device = build_device(kind, air, settings, clock, KEYS, gsme_timing=gsme_timing)
                p.devices[kind] = device
                hub.register(device.entity_id, kind)
                await device.start()
                await wait_interviewed(app, device.node.ieee)
                await device.ready()
            yield p
        finally:
            for device in p.devices.values():
                await device.close()
            await hub.close()
