"""EmulatedNode: ZCL plumbing in both directions, default responses, errors, sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import zigpy.device
import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Identify, Ota

from hanbench.devices.node import EmulatedNode
from hanbench.errors import BadInput
from hanbench.radio.air import AirFrame, VirtualAir
from hanbench.radio.interview import join_and_interview
from hanbench.radio.link import LinkModel
from hanbench.radio.se_profile import SeDeviceType
from hanbench.radio.virtual_app import VIRTUAL_RADIO_IEEE, virtual_coordinator

pytestmark = pytest.mark.looptime


class IdentifyingNode(EmulatedNode):
    """Serves Identify: answers identify_query with a specific response, others by status."""

    def __init__(self, air: VirtualAir) -> None:
        super().__init__(
            air,
            "00:11:22:33:44:55:00:09",
            0x0909,
            device_type=SeDeviceType.IN_HOME_DISPLAY,
            manufacturer="Acme",
            model="IHD-3",
            server_clusters=[Basic.cluster_id, Identify.cluster_id],
            client_clusters=[Ota.cluster_id, Identify.cluster_id],
        )
        self.identify_times: list[int] = []

    async def handle_cluster_command(
        self, packet: t.ZigbeePacket, header: foundation.ZCLHeader, command: Any
    ) -> foundation.Status | None:
        if packet.cluster_id != Identify.cluster_id:
            return await super().handle_cluster_command(packet, header, command)
        if header.command_id == Identify.ServerCommandDefs.identify_query.id:
            await self.reply(packet, header, "identify_query_response", timeout=30)
            return None
        if header.command_id == Identify.ServerCommandDefs.identify.id:
            self.identify_times.append(command.identify_time)
            return foundation.Status.SUCCESS
        raise RuntimeError("firmware bug")  # trigger_effect: the node must still answer


@asynccontextmanager
async def on_network() -> AsyncIterator[tuple[VirtualAir, IdentifyingNode, zigpy.device.Device]]:
    """A new air, the node on it and zigpy's device for it, joined and interviewed by a virtual coordinator."""
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = IdentifyingNode(air)
        device = await join_and_interview(app, node)
        try:
            yield air, node, device
        finally:
            await node.close()


async def test_zigpy_sends_a_command_and_gets_the_nodes_specific_response() -> None:
    async with on_network() as (air, node, device):
        response = await device.endpoints[1].identify.identify_query()
    assert response.timeout == 30


async def test_node_answers_with_a_default_response_when_asked() -> None:
    async with on_network() as (air, node, device):
        response = await device.endpoints[1].identify.identify(identify_time=7)
        times = node.identify_times
    assert times == [7]
    assert response == foundation.DefaultResponse(
        command_id=Identify.ServerCommandDefs.identify.id, status=foundation.Status.SUCCESS
    )


async def test_unsupported_cluster_command_gets_unsup_cluster_command() -> None:
    async with on_network() as (air, node, device):
        response = await device.endpoints[1].basic.reset_fact_default()
    assert response.status == foundation.Status.UNSUP_CLUSTER_COMMAND


async def test_a_failing_handler_answers_failure_instead_of_staying_silent() -> None:
    async with on_network() as (air, node, device):
        response = await device.endpoints[1].identify.trigger_effect(effect_id=0, effect_variant=0)
    assert response.status == foundation.Status.FAILURE


async def test_a_failing_handler_is_kept_as_a_firmware_fault_for_the_bench() -> None:
    async with on_network() as (air, node, device):
        await device.endpoints[1].identify.trigger_effect(effect_id=0, effect_variant=0)
        faults = node.firmware_faults
    assert [str(fault) for fault in faults] == ["firmware bug"]


async def test_a_reply_lost_on_the_air_is_not_a_firmware_fault() -> None:
    async with on_network() as (air, node, device):
        air.set_link(node.ieee, device.application.state.node_info.ieee, LinkModel(loss=1.0), both_ways=False)
        with pytest.raises(TimeoutError):
            await device.endpoints[1].identify.identify_query()
        assert node.firmware_faults == []


async def test_attribute_reads_come_from_the_store_and_unknown_ones_are_unsupported() -> None:
    async with on_network() as (air, node, device):
        node.set_attribute(Basic.cluster_id, "sw_build_id", "1.2.3")
        success, failure = await device.endpoints[1].basic.read_attributes(
            ["sw_build_id", "power_source", "location_desc"], allow_cache=False
        )
    assert success == {"sw_build_id": "1.2.3", "power_source": Basic.PowerSource.Mains_single_phase}
    assert failure == {"location_desc": foundation.Status.UNSUPPORTED_ATTRIBUTE}


async def test_node_request_reaches_the_coordinator_listener_and_returns_its_reply() -> None:
    async with on_network() as (air, node, device):
        heard: list[int] = []
        cancel = device.application.register_callback_listener(
            src=device,
            filters=[Identify.ServerCommandDefs.identify.schema()],
            callback=lambda hdr, cmd: heard.append(cmd.identify_time),
        )
        reply = await node.request(
            Identify.cluster_id, "identify", 12, direction=foundation.Direction.Client_to_Server
        )
        silent = await node.request(
            Identify.cluster_id,
            Identify.ServerCommandDefs.identify.id,
            13,
            expect_reply=False,
            direction=foundation.Direction.Client_to_Server,
        )
        await asyncio.sleep(0.1)
        cancel()
    assert heard == [12, 13]
    # zigpy has no Identify handler: it acknowledges with a Default Response.
    assert reply.status == foundation.Status.SUCCESS
    assert silent is None


def _zcl_header(frame: AirFrame) -> foundation.ZCLHeader:
    header, _ = foundation.ZCLHeader.deserialize(frame.packet.data.serialize())
    return header


async def test_request_general_goes_to_the_chosen_upstream_endpoint_and_returns_the_answer() -> None:
    async with on_network() as (air, node, device):
        frames: list[AirFrame] = []
        air.add_observer(frames.append)
        rsp = await node.request_general(
            Identify.cluster_id, foundation.GeneralCommand.Read_Attributes, attribute_ids=[0x0000],
            endpoint=2, direction=foundation.Direction.Client_to_Server,
        )
        request, *later = frames
    header = _zcl_header(request)
    assert (request.packet.dst_ep, request.packet.cluster_id) == (2, Identify.cluster_id)
    assert header.frame_control.is_general and header.direction == foundation.Direction.Client_to_Server
    assert header.command_id == foundation.GeneralCommand.Read_Attributes
    (answer,) = [f for f in later if f.packet.cluster_id == Identify.cluster_id]
    assert (_zcl_header(answer).tsn, _zcl_header(answer).command_id) == (
        header.tsn, foundation.GeneralCommand.Read_Attributes_rsp)
    # The coordinator keeps no Identify attributes of the node: zigpy answers them unsupported.
    assert isinstance(rsp, foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema)
    assert [(r.attrid, r.status) for r in rsp.status_records] == [(0x0000, foundation.Status.UNSUPPORTED_ATTRIBUTE)]


async def test_request_general_defaults_to_the_cluster_endpoint_and_the_nodes_side() -> None:
    async with on_network() as (air, node, device):
        frames: list[AirFrame] = []
        air.add_observer(frames.append)
        await node.request_general(Ota.cluster_id, foundation.GeneralCommand.Read_Attributes, attribute_ids=[0])
        with pytest.raises(BadInput, match="both sides"):
            await node.request_general(Identify.cluster_id, foundation.GeneralCommand.Read_Attributes,
                                       attribute_ids=[0])
        request = frames[0]
    assert request.packet.dst_ep == 1  # the node's upstream_endpoint
    assert _zcl_header(request).direction == foundation.Direction.Client_to_Server  # it uses OTA


async def test_request_times_out_in_loop_time_when_the_reply_is_lost() -> None:
    async with on_network() as (air, node, device):
        air.set_link(VIRTUAL_RADIO_IEEE, node.ieee, LinkModel(loss=1.0), both_ways=False)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await node.request(
                Ota.cluster_id,
                "query_next_image",
                field_control=0,
                manufacturer_code=0,
                image_type=0,
                current_file_version=1,
                timeout=8.0,
            )
        assert loop.time() - start == pytest.approx(8.0)


async def test_waits_that_overlap_each_time_out_at_their_own_deadline() -> None:
    """One timer watches all of a node's waits: a later, shorter wait still times out first,
    and an answered wait does not hold the other back."""
    async with on_network() as (air, node, device):
        air.set_link(VIRTUAL_RADIO_IEEE, node.ieee, LinkModel(loss=1.0), both_ways=False)
        loop = asyncio.get_running_loop()
        start = loop.time()
        ended: dict[str, float] = {}

        async def query(name: str, timeout: float, after: float) -> None:
            await asyncio.sleep(after)
            with pytest.raises(TimeoutError):
                await node.request(Ota.cluster_id, "query_next_image", field_control=0, manufacturer_code=0,
                                   image_type=0, current_file_version=1, timeout=timeout)
            ended[name] = loop.time() - start

        await asyncio.gather(query("long", 9.0, 0.0), query("short", 2.0, 1.0), query("middle", 5.0, 1.5))
    assert ended == {"long": pytest.approx(9.0), "short": pytest.approx(3.0), "middle": pytest.approx(6.5)}


async def test_sleeping_node_receives_nothing_but_can_send() -> None:
    async with on_network() as (air, node, device):
        node.rx_on_when_idle = False
        node.sleep()
        assert not node.awake
        with pytest.raises(zigpy.exceptions.DeliveryError):
            await device.endpoints[1].identify.identify_query()
        await node.request(
            Identify.cluster_id,
            "identify",
            1,
            expect_reply=False,
            direction=foundation.Direction.Client_to_Server,
        )
        node.wake()
        assert (await device.endpoints[1].identify.identify_query()).timeout == 30


async def test_misuse_is_reported_as_bad_input() -> None:
    node = IdentifyingNode(VirtualAir())
    with pytest.raises(BadInput, match="does not sleep"):
        node.sleep()
    with pytest.raises(BadInput, match="no attribute"):
        node.set_attribute(Basic.cluster_id, "no_such_attribute", 1)
    with pytest.raises(BadInput, match="both sides"):
        await node.request(Identify.cluster_id, "identify", 1)
    with pytest.raises(BadInput, match="has no cluster"):
        await node.request(0x0006, "on")
    with pytest.raises(BadInput, match="no command"):
        await node.request(Ota.cluster_id, "no_such_command")


def test_descriptors_follow_the_power_mode() -> None:
    node = IdentifyingNode(VirtualAir())
    assert node.node_descriptor.is_router and node.node_descriptor.is_mains_powered
    assert node.simple_descriptor.profile == 0x0109
    assert list(node.simple_descriptor.input_clusters) == [Basic.cluster_id, Identify.cluster_id]
    sleepy = EmulatedNode(
        VirtualAir(),
        "00:00:00:00:00:00:00:01",
        1,
        device_type=SeDeviceType.METERING_DEVICE,
        manufacturer="m",
        model="m",
        server_clusters=[Basic.cluster_id],
        client_clusters=[],
        rx_on_when_idle=False,
    )
    assert sleepy.node_descriptor.is_end_device and not sleepy.node_descriptor.is_mains_powered
    assert sleepy.get_attribute(Basic.cluster_id, "power_source") == Basic.PowerSource.Battery


# -- a node behind another device (an Alt HAN bridge on its orchestrating bridge's link) --------

BRIDGE_NWK, BEHIND_NWK, STRANGER_NWK = 0x2001, 0x2002, 0x2003


def _node(air: VirtualAir, nwk: int, model: str, **kwargs: Any) -> EmulatedNode:
    return EmulatedNode(
        air, f"00:11:22:33:44:55:{nwk >> 8:02x}:{nwk & 0xFF:02x}", nwk, device_type=SeDeviceType.RANGE_EXTENDER,
        manufacturer="Acme", model=model, server_clusters=[Basic.cluster_id], client_clusters=[Ota.cluster_id],
        **kwargs,
    )


def _read_model(node: EmulatedNode, timeout: float = 5.0) -> Any:
    """Read Attributes of the upstream node's Basic model, as a node behind a bridge asks its bridge."""
    return node.request_general(Basic.cluster_id, foundation.GeneralCommand.Read_Attributes, attribute_ids=[0x0005],
                                direction=foundation.Direction.Client_to_Server, timeout=timeout)


async def test_a_node_behind_a_bridge_asks_the_bridge_and_the_coordinator_never_hears_of_it() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        bridge = _node(air, BRIDGE_NWK, "bridge-orchestrator")
        behind = _node(air, BEHIND_NWK, "bridge-behind", upstream_nwk=BRIDGE_NWK)
        frames: list[AirFrame] = []
        air.add_observer(frames.append)
        bridge.attach_behind(0x0000)
        behind.attach_behind(BRIDGE_NWK)
        rsp = await _read_model(behind)
        await asyncio.sleep(1)
        known = set(app.devices)
        await behind.close()
        await bridge.close()
    assert [(r.attrid, r.value.value) for r in rsp.status_records] == [(0x0005, "bridge-orchestrator")]
    request = frames[0].packet
    assert (request.src.address, request.dst.address, request.dst_ep) == (BEHIND_NWK, BRIDGE_NWK, 1)
    assert behind.ieee not in known, "attached behind a bridge, the node joined nothing of the CH's"
    assert all(f.packet.dst.addr_mode != t.AddrMode.Broadcast for f in frames), "and announced nothing"


async def test_an_answer_is_taken_only_from_the_node_asked() -> None:
    """A frame with the same cluster and TSN from another node is not the answer: the node
    matches answers by where they came from."""
    air = VirtualAir()
    bridge = _node(air, BRIDGE_NWK, "bridge-orchestrator")
    behind = _node(air, BEHIND_NWK, "bridge-behind", upstream_nwk=BRIDGE_NWK)
    stranger = _node(air, STRANGER_NWK, "stranger")
    for node, parent in ((bridge, 0x0000), (stranger, 0x0000), (behind, BRIDGE_NWK)):
        node.attach_behind(parent)
    air.set_link(bridge.ieee, behind.ieee, LinkModel(loss=1.0), both_ways=False)  # the bridge's answer is lost
    frames: list[AirFrame] = []
    air.add_observer(frames.append)
    asking = asyncio.get_running_loop().create_task(_read_model(behind, timeout=5.0))
    await asyncio.sleep(0.5)
    tsn = _zcl_header(frames[0]).tsn
    records = [foundation.ReadAttributeRecord(attrid=0x0005, status=foundation.Status.SUCCESS,
                                              value=foundation.TypeValue(type=0x42, value=t.CharacterString("forged")))]
    rsp = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema(status_records=records)
    header = foundation.ZCLHeader.general(tsn, foundation.GeneralCommand.Read_Attributes_rsp,
                                          direction=foundation.Direction.Server_to_Client)
    await stranger.tell(BEHIND_NWK, Basic.cluster_id, header.serialize() + rsp.serialize())
    with pytest.raises(TimeoutError):
        await asking
    assert any(f.packet.src.address == STRANGER_NWK for f in frames), "the stranger's frame reached the node"
    for node in (behind, stranger, bridge):
        await node.close()
