"""bellows, through the twin NCP, on the virtual air with a device that joins.

The device here is a deliberately small ZDO/ZCL responder written for this test
(what the interview asks and a Basic attribute read); it stands in for
`hanbench.devices.node.EmulatedNode`, which this suite should switch to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import bellows.types as bt
from bellows.zigbee.application import ControllerApplication
import pytest
import zigpy.device
import zigpy.exceptions
import zigpy.types as zt
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic
import zigpy.zdo.types as zdo_t

from hanbench.radio.air import VirtualAir
from hanbench.twin.ezsp_twin import EzspTwin, bellows_app_config

HA_PROFILE = 0x0104
DEVICE_NWK = zt.NWK(0x4A21)
DEVICE_IEEE = zt.EUI64.convert("00:0d:6f:00:0a:bc:de:f0")
ENDPOINT = zdo_t.SimpleDescriptor(
    endpoint=1, profile=HA_PROFILE, device_type=0x0501, device_version=1,
    input_clusters=[Basic.cluster_id], output_clusters=[],
)
BASIC_ATTRIBUTES = {
    Basic.AttributeDefs.manufacturer.id: "hanbench",
    Basic.AttributeDefs.model.id: "air-test-meter",
}
MAINS_ROUTER_CAPABILITY = 0x8E


class SmallDevice:
    """An air node that answers zigpy's interview and Basic attribute reads."""

    def __init__(self, air: VirtualAir) -> None:
        self.air = air
        self.nwk = DEVICE_NWK
        self.ieee = DEVICE_IEEE
        self.awake = True
        self.heard: list[zt.ZigbeePacket] = []

    def receive(self, packet: zt.ZigbeePacket) -> None:
        self.heard.append(packet)
        reply = self._zdo_reply(packet) if packet.profile_id == 0 else self._zcl_reply(packet)
        if reply is not None:
            asyncio.get_running_loop().create_task(self.air.transmit(reply))

    def _packet(self, request: zt.ZigbeePacket, cluster: int, payload: bytes) -> zt.ZigbeePacket:
        return zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=self.nwk),
            src_ep=request.dst_ep, dst=request.src, dst_ep=request.src_ep,
            tsn=request.tsn, profile_id=request.profile_id, cluster_id=cluster,
            data=zt.SerializableBytes(payload), lqi=200, rssi=-55,
        )

    def _zdo_reply(self, request: zt.ZigbeePacket) -> zt.ZigbeePacket | None:
        tsn, rest = zt.uint8_t.deserialize(request.data.serialize())
        if request.cluster_id == zdo_t.ZDOCmd.Node_Desc_req:
            descriptor = zdo_t.NodeDescriptor(
                logical_type=zdo_t.LogicalType.Router, complex_descriptor_available=0,
                user_descriptor_available=0, reserved=0, aps_flags=0,
                frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
                mac_capability_flags=MAINS_ROUTER_CAPABILITY, manufacturer_code=0x1234,
                maximum_buffer_size=82, maximum_incoming_transfer_size=82, server_mask=0,
                maximum_outgoing_transfer_size=82,
                descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
            )
            body = zdo_t.Status.SUCCESS.serialize() + self.nwk.serialize() + descriptor.serialize()
        elif request.cluster_id == zdo_t.ZDOCmd.Active_EP_req:
            body = (zdo_t.Status.SUCCESS.serialize() + self.nwk.serialize()
                    + zt.LVList[zt.uint8_t]([ENDPOINT.endpoint]).serialize())
        elif request.cluster_id == zdo_t.ZDOCmd.Simple_Desc_req:
            body = (zdo_t.Status.SUCCESS.serialize() + self.nwk.serialize()
                    + zdo_t.SizePrefixedSimpleDescriptor(**ENDPOINT.as_dict()).serialize())
        else:
            return None
        return self._packet(request, request.cluster_id | 0x8000, bytes([tsn]) + body)

    def _zcl_reply(self, request: zt.ZigbeePacket) -> zt.ZigbeePacket | None:
        header, rest = foundation.ZCLHeader.deserialize(request.data.serialize())
        if (request.cluster_id != Basic.cluster_id
                or header.command_id != foundation.GeneralCommand.Read_Attributes):
            return None
        attribute_ids, _ = zt.List[zt.uint16_t].deserialize(rest)
        records = [
            foundation.ReadAttributeRecord(
                attrid=attrid, status=foundation.Status.SUCCESS,
                value=foundation.TypeValue(type=0x42, value=zt.CharacterString(BASIC_ATTRIBUTES[attrid])),
            ) if attrid in BASIC_ATTRIBUTES else foundation.ReadAttributeRecord(
                attrid=attrid, status=foundation.Status.UNSUPPORTED_ATTRIBUTE)
            for attrid in attribute_ids
        ]
        reply_header = foundation.ZCLHeader.general(
            tsn=header.tsn, command_id=foundation.GeneralCommand.Read_Attributes_rsp,
            direction=foundation.Direction.Server_to_Client,
        )
        payload = reply_header.serialize() + b"".join(r.serialize() for r in records)
        return self._packet(request, request.cluster_id, payload)

    async def join(self) -> None:
        """Join through the coordinator, then announce ourselves as Zigbee devices do."""
        self.air.join(self)
        announce = bytes([0x01]) + self.nwk.serialize() + self.ieee.serialize() + bytes([MAINS_ROUTER_CAPABILITY])
        await self.air.transmit(zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=self.nwk), src_ep=0,
            dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.Broadcast, address=zt.BroadcastAddress.RX_ON_WHEN_IDLE),
            dst_ep=0, tsn=1, profile_id=0, cluster_id=zdo_t.ZDOCmd.Device_annce,
            data=zt.SerializableBytes(announce),
        ))


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[tuple[VirtualAir, EzspTwin, ControllerApplication]]:
    air = VirtualAir()
    async with EzspTwin(air, state_dir=tmp_path) as twin:
        app = await ControllerApplication.new(bellows_app_config(twin.port), auto_form=True)
        try:
            yield air, twin, app
        finally:
            await app.shutdown()


async def joined_device(air: VirtualAir, app: ControllerApplication) -> tuple[SmallDevice, zigpy.device.Device]:
    initialized = asyncio.get_running_loop().create_future()

    class Listener:
        def device_initialized(self, device: zigpy.device.Device) -> None:
            if device.ieee == DEVICE_IEEE and not initialized.done():
                initialized.set_result(device)

    app.add_listener(Listener())
    await app.permit(60)
    node = SmallDevice(air)
    await node.join()
    async with asyncio.timeout(5):
        device = await initialized
    return node, device


async def test_device_joins_and_bellows_interviews_it(bench: tuple[VirtualAir, EzspTwin, ControllerApplication]) -> None:
    air, twin, app = bench
    node, device = await joined_device(air, app)
    assert device.nwk == DEVICE_NWK
    assert device.manufacturer == "hanbench"
    assert device.model == "air-test-meter"
    assert device.node_desc is not None and device.node_desc.logical_type == zdo_t.LogicalType.Router
    assert list(device.endpoints) == [0, 1]
    # The trust centre remembered the device in NVRAM
    assert twin.store.nvram.known_devices == {str(DEVICE_IEEE): DEVICE_NWK}
    assert any(p.cluster_id == zdo_t.ZDOCmd.Node_Desc_req for p in node.heard)


async def test_zcl_request_reaches_the_device_and_the_reply_comes_back(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication],
) -> None:
    air, _, app = bench
    node, device = await joined_device(air, app)
    node.heard.clear()
    success, failure = await device.endpoints[1].basic.read_attributes(["model"], allow_cache=False)
    assert success == {"model": "air-test-meter"} and failure == {}
    (request,) = node.heard
    assert request.cluster_id == Basic.cluster_id
    assert request.src.address == 0x0000


async def test_delivery_error_on_the_air_is_a_failed_send(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication],
) -> None:
    air, twin, app = bench
    node, device = await joined_device(air, app)
    node.awake = False  # its receiver is off: the air cannot deliver
    with pytest.raises(zigpy.exceptions.DeliveryError):
        await device.endpoints[1].basic.read_attributes(["model"], allow_cache=False)
    assert twin.ncp.counters[bt.EmberCounterType.COUNTER_APS_DATA_TX_UNICAST_FAILED] >= 1


async def test_join_is_refused_while_the_network_is_closed(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication],
) -> None:
    air, _, app = bench
    await app.permit(0)
    with pytest.raises(Exception, match="not permitted"):
        await SmallDevice(air).join()
    assert DEVICE_IEEE not in app.devices


async def test_a_frame_bellows_sends_with_aps_retry_asks_the_air_for_an_aps_ack(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication],
) -> None:
    air, _, app = bench
    node, device = await joined_device(air, app)
    node.heard.clear()
    # zigpy asks for an APS ACK on a frame that expects no reply; bellows sets APS_OPTION_RETRY
    await app.request(device, HA_PROFILE, Basic.cluster_id, 1, 1, 0x42, b"\x18\x42\x0b\x00\x00", expect_reply=False)
    await device.endpoints[1].basic.read_attributes(["model"], allow_cache=False)  # expects its reply: no ACK
    unsolicited, read = node.heard
    assert unsolicited.tsn == 0x42 and zt.TransmitOptions.ACK in unsolicited.tx_options
    assert zt.TransmitOptions.ACK not in read.tx_options


def _unicast(payload: bytes, *, aps_encryption: bool = False) -> zt.ZigbeePacket:
    return zt.ZigbeePacket(
        src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=0x0000), src_ep=1,
        dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=DEVICE_NWK), dst_ep=1, tsn=9,
        profile_id=0x0104, cluster_id=Basic.cluster_id, data=zt.SerializableBytes(payload),
        tx_options=zt.TransmitOptions.APS_Encryption if aps_encryption else zt.TransmitOptions.NONE,
    )


@pytest.mark.parametrize(("aps_encryption", "longest"), [(False, 82), (True, 73)])
async def test_a_unicast_longer_than_one_frame_is_refused_message_too_long_as_emberznet_does(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication], aps_encryption: bool, longest: int,
) -> None:
    """EmberZNet sends one frame per sendUnicast; bellows sends no APS fragments of its own."""
    air, _, app = bench
    node, _ = await joined_device(air, app)
    node.heard.clear()
    with pytest.raises(zigpy.exceptions.DeliveryError, match="MESSAGE_TOO_LONG"):
        await app.send_packet(_unicast(bytes(longest + 1), aps_encryption=aps_encryption))
    await app.send_packet(_unicast(bytes(longest), aps_encryption=aps_encryption))
    await asyncio.sleep(0.05)
    assert [len(p.data.serialize()) for p in node.heard] == [longest]


async def test_a_device_message_longer_than_one_frame_reaches_bellows_as_fragments_put_back_together(
    bench: tuple[VirtualAir, EzspTwin, ControllerApplication], monkeypatch: pytest.MonkeyPatch,
) -> None:
    air, twin, app = bench
    node, _ = await joined_device(air, app)
    received: list[zt.ZigbeePacket] = []
    acks: list[int] = []
    heard, reply = app.packet_received, twin.ncp._cmd_sendReply
    monkeypatch.setattr(app, "packet_received", lambda packet: (received.append(packet), heard(packet)))
    monkeypatch.setattr(twin.ncp, "_cmd_sendReply",
                        lambda **fields: (acks.append(fields["apsFrame"].groupId & 0xFF), reply(**fields))[1])
    long_frame = bytes([0x18, 0x05, 0x0A]) + bytes(range(256)) + bytes(44)  # 303 octets of ZCL
    await air.transmit(node._packet(_unicast(b""), Basic.cluster_id, long_frame))
    await asyncio.sleep(0.1)
    assert [p.data.serialize() for p in received if p.cluster_id == Basic.cluster_id] == [long_frame]
    assert acks == [0, 1, 2, 3, 4]  # 303 octets in 70-octet fragments, each acknowledged by the host
