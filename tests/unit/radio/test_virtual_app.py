"""The zigpy coordinator on the virtual air: startup, interview over the air, shutdown."""

from __future__ import annotations

import asyncio

import pytest
import zigpy.config as conf
import zigpy.exceptions
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl.clusters.general import Basic, Ota
from zigpy.zcl.clusters.smartenergy import Metering, Tunneling

from hanbench.devices.node import EmulatedNode
from hanbench.radio.air import AirTiming, JoinNotPermitted, VirtualAir
from hanbench.radio.endpoints import comms_hub_endpoint
from hanbench.radio.interview import PERMIT_ATTEMPTS, join_and_interview
from hanbench.radio.link import LinkModel
from hanbench.radio.se_profile import SE_PROFILE_ID, SeDeviceType
from hanbench.radio.shutdown import shut_down, zigpy_tasks
from hanbench.radio.virtual_app import (
    VIRTUAL_RADIO_IEEE,
    MessageTooLong,
    VirtualRadioApp,
    virtual_coordinator,
)
from hanbench.radio.zigpy_config import bench_zigpy_config

pytestmark = pytest.mark.looptime

GSME_IEEE = t.EUI64.convert("00:11:22:33:44:55:00:02")


def gsme(air: VirtualAir) -> EmulatedNode:
    return EmulatedNode(
        air,
        GSME_IEEE,
        0x5A5A,
        device_type=SeDeviceType.METERING_DEVICE,
        manufacturer="Acme Gas",
        model="GSME-2",
        server_clusters=[Basic.cluster_id, Metering.cluster_id],
        client_clusters=[Ota.cluster_id, Tunneling.cluster_id],
        rx_on_when_idle=False,
        manufacturer_code=0x1234,
        current_file_version=0x00000105,
    )


def test_bench_config_turns_background_tasks_off_and_validates() -> None:
    config = conf.CONFIG_SCHEMA(bench_zigpy_config("/dev/ttyUSB0", channel=20, pan_id=0x1A62))
    assert config[conf.CONF_WATCHDOG_ENABLED] is False
    assert config[conf.CONF_NWK_BACKUP_ENABLED] is False
    assert config[conf.CONF_TOPO_SCAN_ENABLED] is False
    assert config[conf.CONF_OTA][conf.CONF_OTA_BROADCAST_ENABLED] is False
    assert config[conf.CONF_OTA][conf.CONF_OTA_PROVIDERS] == []
    assert config[conf.CONF_NWK][conf.CONF_NWK_CHANNEL] == 20
    assert config[conf.CONF_DATABASE] is None


async def test_coordinator_forms_a_network_with_an_se_endpoint_and_stops_cleanly() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        coordinator = app._device
        assert app.state.node_info.ieee == VIRTUAL_RADIO_IEEE
        assert app.state.node_info.nwk == 0x0000
        assert app.state.network_info.channel == 15
        assert coordinator.endpoints[1].profile_id == SE_PROFILE_ID
        assert {Ota.cluster_id, Tunneling.cluster_id, Basic.cluster_id} <= set(
            coordinator.endpoints[1].in_clusters
        )
        assert [node.ieee for node in air.nodes] == [VIRTUAL_RADIO_IEEE]
    assert air.nodes == ()
    assert asyncio.all_tasks() - {asyncio.current_task()} == set()  # type: ignore[operator]


async def test_shut_down_waits_for_the_interview_zigpy_only_cancels() -> None:
    air = VirtualAir()
    app = VirtualRadioApp(bench_zigpy_config("virtual://air"), air=air)
    await app.startup(auto_form=True)
    await app.permit(60)
    node = gsme(air)
    await node.join()
    await asyncio.sleep(0)
    started = zigpy_tasks(app)
    assert any(not task.done() for task in started), "zigpy is interviewing the node"
    await shut_down(app)
    assert all(task.done() for task in started)
    await node.close()
    assert asyncio.all_tasks() - {asyncio.current_task()} == set()  # type: ignore[operator]


async def test_caller_chooses_the_coordinator_endpoints() -> None:
    endpoints = [comms_hub_endpoint(1, server_clusters=[Basic.cluster_id, Ota.cluster_id])]
    async with virtual_coordinator(VirtualAir(), endpoints=endpoints) as app:
        assert sorted(app._device.endpoints[1].in_clusters) == [Basic.cluster_id, Ota.cluster_id]


def test_coordinator_needs_endpoint_one() -> None:
    with pytest.raises(zigpy.exceptions.ControllerException, match="endpoint 1"):
        VirtualRadioApp(
            bench_zigpy_config("virtual://x"), air=VirtualAir(), endpoints=[comms_hub_endpoint(2)]
        )


async def test_node_joins_and_zigpy_interviews_it_over_the_air() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = gsme(air)
        device = await join_and_interview(app, node)
        endpoint = device.endpoints[1]
        result = (
            device.nwk,
            device.node_desc.logical_type,
            device.node_desc.is_mains_powered,
            device.manufacturer,
            device.model,
            endpoint.profile_id,
            endpoint.device_type,
            sorted(endpoint.in_clusters),
            sorted(endpoint.out_clusters),
            endpoint.out_clusters[Ota.cluster_id].get("current_file_version"),
        )
        await node.close()
    assert result == (
        0x5A5A,
        zdo_t.LogicalType.EndDevice,
        False,
        "Acme Gas",
        "GSME-2",
        SE_PROFILE_ID,
        SeDeviceType.METERING_DEVICE,
        [Basic.cluster_id, Metering.cluster_id],
        [Ota.cluster_id, Tunneling.cluster_id],
        0x00000105,
    )


async def test_join_without_permit_is_refused_and_zigpy_never_hears_of_the_node() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        with pytest.raises(JoinNotPermitted):
            await gsme(air).join()
        assert GSME_IEEE not in app.devices


async def test_zigpy_request_to_a_sleeping_node_fails_with_delivery_error() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = gsme(air)
        device = await join_and_interview(app, node)
        node.sleep()
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await device.endpoints[1].basic.read_attributes(["model"], allow_cache=False)
        node.wake()
        result, _ = await device.endpoints[1].basic.read_attributes(["model"], allow_cache=False)
        assert result == {"model": "GSME-2"}
        await node.close()


@pytest.mark.parametrize(("aps_encryption", "longest"), [(False, 82), (True, 73)])
async def test_a_unicast_longer_than_one_frame_is_refused_message_too_long_as_on_a_stick(
    aps_encryption: bool, longest: int,
) -> None:
    """The virtual radio sends what an EmberZNet stick through bellows sends: one frame per unicast."""
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = gsme(air)
        await join_and_interview(app, node)
        on_air: list[int] = []
        air.add_observer(lambda frame: on_air.append(len(frame.packet.data.serialize())))

        def unicast(octets: int) -> t.ZigbeePacket:
            return t.ZigbeePacket(
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000), src_ep=1,
                dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=node.nwk), dst_ep=1,
                tsn=1, profile_id=SE_PROFILE_ID, cluster_id=Tunneling.cluster_id, data=t.SerializableBytes(bytes(octets)),
                tx_options=t.TransmitOptions.APS_Encryption if aps_encryption else t.TransmitOptions.NONE)

        with pytest.raises(MessageTooLong, match="MESSAGE_TOO_LONG") as caught:
            await app.send_packet(unicast(longest + 1))
        assert isinstance(caught.value, zigpy.exceptions.DeliveryError) and on_air == []
        await app.send_packet(unicast(longest))
        assert on_air == [longest]
        await node.close()


@pytest.mark.parametrize("failures", [PERMIT_ATTEMPTS - 1, PERMIT_ATTEMPTS])
async def test_a_permit_broadcast_lost_to_channel_access_is_sent_again(failures: int) -> None:
    """The coordinator's permit broadcast can meet a busy channel; it is sent again, and
    only the last of PERMIT_ATTEMPTS failures stands (no join without an open network)."""
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        permit = app.permit
        calls: list[int] = []

        async def busy_then_permit(time_s: int) -> None:
            calls.append(time_s)
            if len(calls) <= failures:
                raise zigpy.exceptions.DeliveryError("broadcast: channel access failure")
            await permit(time_s)

        app.permit = busy_then_permit  # type: ignore[method-assign]
        node = gsme(air)
        if failures < PERMIT_ATTEMPTS:
            device = await join_and_interview(app, node)
            assert device.model == "GSME-2" and calls == [60] * PERMIT_ATTEMPTS
        else:
            with pytest.raises(zigpy.exceptions.DeliveryError, match="channel access failure"):
                await join_and_interview(app, node)
            assert calls == [60] * PERMIT_ATTEMPTS and GSME_IEEE not in app.devices
        await node.close()


async def test_interview_over_a_slow_radio_link_costs_loop_time_only() -> None:
    air = VirtualAir(default_link=LinkModel(latency_s=0.05), seed=3, timing=AirTiming())
    async with virtual_coordinator(air) as app:
        node = gsme(air)
        start = asyncio.get_running_loop().time()
        device = await join_and_interview(app, node)
        elapsed = asyncio.get_running_loop().time() - start
        await node.close()
        model = device.model
    assert model == "GSME-2"
    assert elapsed > 0.05 * 10  # at least ten one-way hops at 50 ms each
