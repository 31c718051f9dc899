"""A stack's own ZDO answers: the octets of each response, and zigpy reading them over the air."""

from __future__ import annotations

import pytest
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl.clusters.general import Basic, Ota

from hanbench.devices.node import EmulatedNode
from hanbench.radio.air import VirtualAir
from hanbench.radio.endpoints import coordinator_node_descriptor
from hanbench.radio.interview import join_and_interview
from hanbench.radio.se_profile import SE_PROFILE_ID, SeDeviceType
from hanbench.radio.virtual_app import virtual_coordinator
from hanbench.radio.zdo_responder import ZdoFrame, ZdoNode, answer

pytestmark = pytest.mark.looptime

IEEE = t.EUI64.convert("00:0d:6f:00:0a:90:69:e8")
NWK = 0x4F01
METER = zdo_t.SimpleDescriptor(endpoint=1, profile=SE_PROFILE_ID, device_type=0x0501, device_version=0,
                               input_clusters=[Basic.cluster_id], output_clusters=[Ota.cluster_id])
OTHER = zdo_t.SimpleDescriptor(endpoint=2, profile=SE_PROFILE_ID, device_type=0x0500, device_version=0,
                               input_clusters=[], output_clusters=[])
NODE = ZdoNode(NWK, IEEE, coordinator_node_descriptor(manufacturer_code=0x1002, maximum_transfer_size=128,
                                                      server_mask=0), {2: OTHER, 1: METER})
NWK_LE = bytes.fromhex("014f")
IEEE_LE = bytes.fromhex("e869900a006f0d00")


def ask(cluster: int, payload: bytes) -> bytes | None:
    reply = answer(NODE, ZdoFrame.decode(cluster, payload))
    return None if reply is None else int(reply.command).to_bytes(2, "little") + reply.encode()


# Expected octets per Zigbee R22 2.4.4.2 (response cluster ID, little-endian, then the frame).
@pytest.mark.parametrize(("request_cluster", "payload", "expected"), [
    pytest.param(0x0005, b"\x07" + NWK_LE, "0580" "07" "00" "014f" "02" "0102", id="Active_EP, sorted"),
    pytest.param(0x0004, b"\x07" + NWK_LE + b"\x01", "0480" "07" "00" "014f" "0c" "01" "0901" "0105" "00"
                 "01" "0000" "01" "1900", id="Simple_Desc"),
    pytest.param(0x0004, b"\x07" + NWK_LE + b"\x09", "0480" "07" "83" "014f", id="Simple_Desc, no endpoint"),
    pytest.param(0x0001, b"\x07" + NWK_LE + b"\x00\x00", "0180" "07" "00" + IEEE_LE.hex() + "014f", id="IEEE_addr"),
    pytest.param(0x0000, b"\x07" + IEEE_LE + b"\x00\x00", "0080" "07" "00" + IEEE_LE.hex() + "014f", id="NWK_addr"),
])
def test_each_answer_has_the_spec_layout(request_cluster: int, payload: bytes, expected: str) -> None:
    assert ask(request_cluster, payload) == bytes.fromhex(expected)


def test_node_descriptor_answer_carries_the_nodes_descriptor() -> None:
    reply = ask(0x0002, b"\x07" + NWK_LE)
    assert reply is not None and reply[:6] == bytes.fromhex("0280" "07" "00") + NWK_LE
    descriptor, rest = zdo_t.NodeDescriptor.deserialize(reply[6:])
    assert descriptor == NODE.node_descriptor and rest == b""


@pytest.mark.parametrize(("request_cluster", "payload"), [
    pytest.param(0x0002, b"\x07" + bytes.fromhex("0250"), id="Node_Desc about another node"),
    pytest.param(0x0000, b"\x07" + bytes(8) + b"\x00\x00", id="NWK_addr of another IEEE"),
    pytest.param(0x0006, b"\x07" + NWK_LE + SE_PROFILE_ID.to_bytes(2, "little") + b"\x01\x19\x00\x00",
                 id="Match_Desc: left to the application"),
])
def test_requests_the_stack_leaves_alone_get_no_answer(request_cluster: int, payload: bytes) -> None:
    assert ask(request_cluster, payload) is None


async def test_zigpy_reads_an_emulated_devices_answers_including_an_absent_endpoint() -> None:
    air = VirtualAir()
    async with virtual_coordinator(air) as app:
        node = EmulatedNode(air, "00:11:22:33:44:55:66:77", 0x1234, device_type=SeDeviceType.METERING_DEVICE,
                            manufacturer="Acme", model="ESME-1", server_clusters=[Basic.cluster_id],
                            client_clusters=[Ota.cluster_id])
        device = await join_and_interview(app, node)
        assert sorted(device.endpoints) == [0, node.endpoint]
        status, nwk, descriptor = await device.zdo.Simple_Desc_req(device.nwk, node.endpoint + 1)
        assert (status, nwk, descriptor) == (zdo_t.Status.NOT_ACTIVE, device.nwk, None)
        status, ieee, nwk, *_ = await device.zdo.IEEE_addr_req(device.nwk, 0, 0)
        assert (status, ieee, nwk) == (zdo_t.Status.SUCCESS, node.ieee, device.nwk)
        await node.close()
