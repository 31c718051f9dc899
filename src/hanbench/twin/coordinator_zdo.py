"""The ZDO answers an EmberZNet coordinator's stack gives by itself.

The stack, not the host, answers Node_Desc, Active_EP and Simple_Desc requests about
the coordinator, including the ones bellows sends to its own NCP while zigpy
interviews the coordinator device. Without them that interview times out and retries.
"""

from __future__ import annotations

from collections.abc import Mapping

import zigpy.types as zt
import zigpy.zdo.types as zdo_t

from hanbench.radio.endpoints import coordinator_node_descriptor

ZDO_ENDPOINT = 0
ZDO_PROFILE = 0x0000

# EmberZNet's coordinator node descriptor: a mains-powered coordinator with the
# Silicon Labs manufacturer code, buffer and transfer sizes of a 7.4 NCP.
SILABS_MANUFACTURER_CODE = 0x1002
COORDINATOR_NODE_DESCRIPTOR = coordinator_node_descriptor(
    manufacturer_code=SILABS_MANUFACTURER_CODE, maximum_transfer_size=128, server_mask=11329
)


def answer(
    request: zt.ZigbeePacket,
    own_nwk: int,
    endpoints: Mapping[int, zdo_t.SimpleDescriptor],
) -> zt.ZigbeePacket | None:
    """The stack's reply to a ZDO request for this coordinator, or None if the stack
    leaves that request to the host."""
    if request.profile_id != ZDO_PROFILE or request.dst_ep != ZDO_ENDPOINT:
        return None
    cluster = request.cluster_id
    data = request.data.serialize()
    tsn, data = zt.uint8_t.deserialize(data)
    nwk_of_interest, data = zt.NWK.deserialize(data) if len(data) >= 2 else (None, b"")

    if nwk_of_interest != own_nwk:
        return None

    if cluster == zdo_t.ZDOCmd.Node_Desc_req:
        body = [zdo_t.Status.SUCCESS, zt.NWK(own_nwk), COORDINATOR_NODE_DESCRIPTOR]
        reply = zdo_t.ZDOCmd.Node_Desc_rsp
    elif cluster == zdo_t.ZDOCmd.Active_EP_req:
        body = [zdo_t.Status.SUCCESS, zt.NWK(own_nwk), zt.LVList[zt.uint8_t](sorted(endpoints))]
        reply = zdo_t.ZDOCmd.Active_EP_rsp
    elif cluster == zdo_t.ZDOCmd.Simple_Desc_req:
        endpoint, _ = zt.uint8_t.deserialize(data)
        descriptor = endpoints.get(endpoint)
        if descriptor is None:
            # The descriptor field is optional and absent when the endpoint is not
            body = [zdo_t.Status.NOT_ACTIVE, zt.NWK(own_nwk)]
        else:
            body = [zdo_t.Status.SUCCESS, zt.NWK(own_nwk),
                    zdo_t.SizePrefixedSimpleDescriptor(**descriptor.as_dict())]
        reply = zdo_t.ZDOCmd.Simple_Desc_rsp
    else:
        return None

    schema = zdo_t.CLUSTERS[reply][1]
    payload = zt.uint8_t(tsn).serialize() + b"".join(
        field_type(value).serialize() for field_type, value in zip(schema, body)
    )
    return zt.ZigbeePacket(
        src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=own_nwk),
        src_ep=ZDO_ENDPOINT,
        dst=request.src,
        dst_ep=ZDO_ENDPOINT,
        tsn=tsn,
        profile_id=ZDO_PROFILE,
        cluster_id=reply,
        data=zt.SerializableBytes(payload),
        lqi=255,
        rssi=0,
    )
