"""The ZDO requests a Zigbee stack answers about its own node, without its application.

A Zigbee stack answers a peer's discovery of its node by itself: Node_Desc, Active_EP and
Simple_Desc (what a coordinator's interview asks) and the address lookups IEEE_addr and
NWK_addr. Two stacks in hanbench do so: an emulated HAN device's
(:mod:`hanbench.devices.node`), for the CH's interview over the air, and the twin's EmberZNet
NCP (:mod:`hanbench.twin.coordinator_zdo`), for the requests bellows sends its own
coordinator while zigpy interviews it. Both answer here, from a :class:`ZdoNode`, so the two
stacks cannot drift apart.

zigpy has the frame types and schemas (``zigpy.zdo.types``), used here for every octet, but
its own ZDO answers only the address lookups, and only for the host's coordinator; the
descriptor answers a stack gives are not in zigpy, hence this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t

ZDO_PROFILE_ID = 0x0000
#: A ZDO response's cluster (command) ID is its request's with this bit set.
RESPONSE_BIT = 0x8000


@dataclass(frozen=True)
class ZdoNode:
    """What a stack knows of its own node: its addresses, node descriptor and endpoints."""

    nwk: int
    ieee: t.EUI64
    node_descriptor: zdo_t.NodeDescriptor
    endpoints: Mapping[int, zdo_t.SimpleDescriptor]


@dataclass(frozen=True)
class ZdoFrame:
    """One ZDO frame: the command (the APS cluster ID), its transaction number and arguments."""

    command: zdo_t.ZDOCmd
    tsn: int
    args: list[Any]

    @property
    def is_response(self) -> bool:
        return bool(self.command & RESPONSE_BIT)

    @classmethod
    def decode(cls, cluster_id: int, data: bytes) -> ZdoFrame:
        """A ZDO frame from its cluster ID and APS payload, by zigpy's schema for the command."""
        header, rest = zdo_t.ZDOHeader.deserialize(cluster_id, data)
        _, schema = zdo_t.CLUSTERS[header.command_id]
        args, _ = t.deserialize(rest, schema)
        return cls(header.command_id, header.tsn, args)

    def encode(self) -> bytes:
        """The APS payload: the transaction number, then the arguments by zigpy's schema."""
        _, schema = zdo_t.CLUSTERS[self.command]
        return t.uint8_t(self.tsn).serialize() + t.serialize(self.args, schema)


def answer(node: ZdoNode, request: ZdoFrame) -> ZdoFrame | None:
    """The stack's response to ``request``, or None when the stack leaves it to the application.

    Only requests about ``node`` itself are answered (the NWK address of interest, or for
    NWK_addr the IEEE address, is the node's). A Simple_Desc request for an endpoint the node
    does not have is answered NOT_ACTIVE, with the descriptor left out; an address answer is
    the single-device response, without the optional associated-device list, whatever the
    request type asked.
    """
    args = _answer_args(node, request.command, request.args)
    if args is None:
        return None
    return ZdoFrame(zdo_t.ZDOCmd(request.command | RESPONSE_BIT), request.tsn, args)


def _answer_args(node: ZdoNode, command: zdo_t.ZDOCmd, args: list[Any]) -> list[Any] | None:
    success, nwk = zdo_t.Status.SUCCESS, t.NWK(node.nwk)
    if command == zdo_t.ZDOCmd.NWK_addr_req:
        return [success, node.ieee, nwk] if args[0] == node.ieee else None
    if not args or args[0] != node.nwk:
        return None
    if command == zdo_t.ZDOCmd.Node_Desc_req:
        return [success, nwk, node.node_descriptor]
    if command == zdo_t.ZDOCmd.Active_EP_req:
        return [success, nwk, [t.uint8_t(endpoint) for endpoint in sorted(node.endpoints)]]
    if command == zdo_t.ZDOCmd.Simple_Desc_req:
        descriptor = node.endpoints.get(args[1])
        if descriptor is None:
            return [zdo_t.Status.NOT_ACTIVE, nwk]
        return [success, nwk, zdo_t.SizePrefixedSimpleDescriptor(**descriptor.as_dict())]
    if command == zdo_t.ZDOCmd.IEEE_addr_req:
        return [success, node.ieee, nwk]
    return None
