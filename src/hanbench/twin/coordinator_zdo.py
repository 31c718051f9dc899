"""The ZDO answers an EmberZNet coordinator's stack gives by itself.

The stack, not the host, answers Node_Desc, Active_EP and Simple_Desc requests about
the coordinator, including the ones bellows sends to its own NCP while zigpy
interviews the coordinator device. Without them that interview times out and retries.
The answers are :mod:`hanbench.radio.zdo_responder`'s, which an emulated device's stack
gives too; this module adds what is EmberZNet's: the coordinator's node descriptor and
the frame the NCP hands up as if it had come off the air.
"""

from __future__ import annotations

from collections.abc import Mapping

import zigpy.types as zt
import zigpy.zdo.types as zdo_t
from zigpy.zdo import ZDO_ENDPOINT

from hanbench.radio.endpoints import coordinator_node_descriptor
from hanbench.radio.zdo_responder import ZDO_PROFILE_ID, ZdoFrame, ZdoNode
from hanbench.radio.zdo_responder import answer as stack_answer

# EmberZNet's coordinator node descriptor: a mains-powered coordinator with the
# Silicon Labs manufacturer code, buffer and transfer sizes of a 7.4 NCP.
SILABS_MANUFACTURER_CODE = 0x1002
COORDINATOR_NODE_DESCRIPTOR = coordinator_node_descriptor(
    manufacturer_code=SILABS_MANUFACTURER_CODE, maximum_transfer_size=128, server_mask=11329
)


def answer(
    request: zt.ZigbeePacket,
    own_nwk: int,
    own_ieee: zt.EUI64,
    endpoints: Mapping[int, zdo_t.SimpleDescriptor],
) -> zt.ZigbeePacket | None:
    """The stack's reply to a ZDO request for this coordinator, or None if the stack
    leaves that request to the host."""
    if request.profile_id != ZDO_PROFILE_ID or request.dst_ep != ZDO_ENDPOINT:
        return None
    node = ZdoNode(own_nwk, own_ieee, COORDINATOR_NODE_DESCRIPTOR, endpoints)
    reply = stack_answer(node, ZdoFrame.decode(request.cluster_id, request.data.serialize()))
    if reply is None:
        return None
    return zt.ZigbeePacket(
        src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=own_nwk),
        src_ep=ZDO_ENDPOINT,
        dst=request.src,
        dst_ep=ZDO_ENDPOINT,
        tsn=reply.tsn,
        profile_id=ZDO_PROFILE_ID,
        cluster_id=reply.command,
        data=zt.SerializableBytes(reply.encode()),
        lqi=255,
        rssi=0,
    )
