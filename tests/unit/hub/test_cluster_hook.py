"""DeviceHooks: how the CH's servers see every device's requests, on a real zigpy coordinator.

The first tests pin the zigpy 2.4 behaviour :mod:`hanbench.hub.cluster_hook` relies on
(request listeners per source device, run for matching commands only, cancellable; the
order of ``device_joined`` and ``device_initialized``); if a zigpy upgrade changes it, they
fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import zigpy.device
import zigpy.types as t
from zigpy.application import ControllerApplication
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota

from hanbench.devices.node import EmulatedNode
from hanbench.errors import BadInput
from hanbench.hub.cluster_hook import DeviceHooks, Unhook, request_listeners, request_route
from hanbench.radio.air import AirFrame, VirtualAir
from hanbench.radio.interview import join_and_interview
from hanbench.radio.se_profile import RequestRoute, SeDeviceType
from hanbench.radio.virtual_app import VirtualRadioApp, virtual_coordinator
from hanbench.radio.zcl_frames import QueryNextImage, read_ota_request

pytestmark = pytest.mark.looptime

Status = foundation.Status


class OtaClientNode(EmulatedNode):
    """A mains device with an OTA client: it can send Query Next Image and Image Block."""

    def __init__(self, air: VirtualAir, n: int) -> None:
        super().__init__(
            air, f"00:11:22:33:44:55:07:{n:02x}", 0x0700 + n,
            device_type=SeDeviceType.METERING_DEVICE, manufacturer="hanbench", model="hook test",
            server_clusters=[Basic.cluster_id], client_clusters=[Ota.cluster_id],
        )

    async def query(self) -> Any:
        return await self.request(
            Ota.cluster_id, "query_next_image", field_control=0, manufacturer_code=0x1234,
            image_type=0x0000, current_file_version=1,
        )

    async def block(self) -> Any:
        return await self.request(
            Ota.cluster_id, "image_block", field_control=0, manufacturer_code=0x1234, image_type=0x0000,
            file_version=2, file_offset=0, maximum_data_size=50,
        )


@dataclass
class Seen:
    """What the hooks saw: requests by handler, claims, removals."""

    queries: list[tuple[zigpy.device.Device, foundation.ZCLHeader, Any]] = field(default_factory=list)
    claims: list[tuple[t.EUI64, bool]] = field(default_factory=list)
    removed: list[t.EUI64] = field(default_factory=list)

    async def on_query(self, device: zigpy.device.Device, hdr: foundation.ZCLHeader, cmd: Any) -> None:
        self.queries.append((device, hdr, cmd))

    def claim(self, device: zigpy.device.Device, claimed: bool) -> None:
        self.claims.append((device.ieee, claimed))

    def hooks(self) -> DeviceHooks:
        return DeviceHooks(
            "test server",
            request_listeners({Ota.QueryNextImageCommand: self.on_query}),
            claim=self.claim,
            on_removed=lambda device: self.removed.append(device.ieee),
        )


@asynccontextmanager
async def on_network() -> AsyncIterator[tuple[VirtualRadioApp, VirtualAir]]:
    """A virtual coordinator on a new air."""
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        yield app, air


async def settle() -> None:
    """Let listener tasks run (a few loop turns, no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


# -- the zigpy behaviour the hooks rely on -----------------------------------------------------


async def test_a_request_reaches_its_handler_with_its_device_and_tsn_and_zigpy_still_sees_it() -> None:
    """The listener does not consume the frame: without a claim, zigpy's OTA answers too."""
    async with on_network() as (app, air):
        seen = Seen()
        node = OtaClientNode(air, 1)
        device = await join_and_interview(app, node)
        seen.hooks().install(app)
        frames: list[AirFrame] = []
        air.add_observer(frames.append)
        rsp = await node.query()
        await settle()
        (got_device, hdr, cmd), = seen.queries
        assert got_device is device
        assert (hdr.tsn, cmd.manufacturer_code, cmd.current_file_version) == (frames[0].packet.tsn, 0x1234, 1)
        assert rsp.status == Status.NO_IMAGE_AVAILABLE  # zigpy's own answer
        await node.close()


async def test_only_the_listed_commands_of_the_hooked_device_reach_the_handler() -> None:
    async with on_network() as (app, air):
        seen = Seen()
        first, second = OtaClientNode(air, 1), OtaClientNode(air, 2)
        for node in (first, second):
            await join_and_interview(app, node)
        seen.hooks().install(app)
        await first.block()
        await second.query()
        await settle()
        assert [device.ieee for device, _, _ in seen.queries] == [second.ieee]
        for node in (first, second):
            await node.close()


async def test_uninstall_cancels_the_listeners_and_releases_the_claims() -> None:
    async with on_network() as (app, air):
        seen = Seen()
        node = OtaClientNode(air, 1)
        await join_and_interview(app, node)
        hooks = seen.hooks()
        hooks.install(app)
        hooks.uninstall()
        await node.query()
        await settle()
        assert seen.queries == []
        assert seen.claims == [(node.ieee, True), (node.ieee, False)]  # never the coordinator
        await node.close()


async def test_a_device_that_joins_later_is_hooked_and_one_that_is_removed_is_unhooked() -> None:
    async with on_network() as (app, air):
        seen = Seen()
        hooks = seen.hooks()
        hooks.install(app)
        node = OtaClientNode(air, 1)
        await join_and_interview(app, node)
        await node.query()
        await settle()
        assert len(seen.queries) == 1
        await app.remove(node.ieee)
        assert seen.removed == [node.ieee]
        hooks.uninstall()
        assert (node.ieee, False) not in seen.claims  # a removed device is not released again
        await node.close()


async def test_a_hook_that_finds_nothing_at_join_is_asked_again_once_the_device_is_interviewed() -> None:
    """zigpy says ``device_joined`` before its interview, ``device_initialized`` after it."""
    endpoints_seen: list[list[int]] = []

    def hook(app: ControllerApplication, device: zigpy.device.Device) -> list[Unhook]:
        endpoints = [ep.endpoint_id for ep in device.non_zdo_endpoints]
        endpoints_seen.append(endpoints)
        return [lambda: None] if endpoints else []

    async with on_network() as (app, air):
        DeviceHooks("test server", hook).install(app)
        node = OtaClientNode(air, 1)
        await join_and_interview(app, node)
        await settle()
        await node.close()
    assert endpoints_seen == [[], [1]]


# -- misuse ----------------------------------------------------------------------------------------


async def test_installing_twice_or_using_an_uninstalled_hook_is_bad_input() -> None:
    async with on_network() as (app, air):
        hooks = Seen().hooks()
        with pytest.raises(BadInput, match="the test server is not installed"):
            _ = hooks.app
        hooks.install(app)
        with pytest.raises(BadInput, match="already installed"):
            hooks.install(app)
        hooks.uninstall()
        hooks.uninstall()  # a second uninstall does nothing
        assert not hooks.installed


async def test_a_request_route_hooks_smart_energy_devices_and_refuses_a_plain_zigpy_one() -> None:
    """The route needs the Smart Energy device class the CH's application makes (on every radio)."""
    async with on_network() as (app, air):
        taken: list[object] = []

        def route_for(device: zigpy.device.Device) -> RequestRoute[Any]:
            return RequestRoute(read_ota_request, lambda endpoint, header, request: taken.append(request))

        node = OtaClientNode(air, 1)
        await join_and_interview(app, node)
        hooks = DeviceHooks("test server", request_route(Ota.cluster_id, route_for))
        hooks.install(app)
        with pytest.raises(TimeoutError):  # the route took it; nothing answered
            await node.request(Ota.cluster_id, "query_next_image", field_control=0, manufacturer_code=0x1234,
                               image_type=0x0000, current_file_version=1, timeout=1)
        assert taken == [QueryNextImage(0, 0x1234, 0x0000, 1)]
        hooks.uninstall()
        await node.close()
        plain = zigpy.device.Device(app, t.EUI64.convert("00:11:22:33:44:55:07:ff"), 0x07FF)
        app.devices[plain.ieee] = plain
        with pytest.raises(BadInput, match="not a SmartEnergyDevice"):
            DeviceHooks("test server", request_route(Ota.cluster_id, route_for)).install(app)
