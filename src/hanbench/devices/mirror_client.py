"""The GSME's side of its mirror in the CH: find the mirror, read its notification flags.

At each wake a GSME asks its mirror what is waiting (:mod:`hanbench.hub.mirror` has the CH
side): it learns the mirror's endpoint once with the SE Metering RequestMirror command
(answered RequestMirrorResponse; 0xFFFF means the CH keeps no mirror for it), then reads the
Metering client attribute Functional Notification Flags from that endpoint with a ZCL Read
Attributes (direction server to client: the GSME's Metering server reads the mirror's
Metering client), sent with :meth:`~hanbench.devices.node.EmulatedNode.request_general`.
The flags come back as a :class:`~hanbench.radio.se_clusters.NotificationFlags` set.
"""

from __future__ import annotations

from typing import Any

import zigpy.types as t
from zigpy.zcl import foundation

from hanbench.devices.node import DEFAULT_REPLY_TIMEOUT_S, EmulatedNode
from hanbench.errors import BadInput, CheckFailed
from hanbench.radio.se_clusters import NO_MIRROR_ENDPOINT, Metering, MeteringClientAttributes, NotificationFlags


class MirrorRefused(CheckFailed):
    """The CH keeps no mirror for this device (RequestMirrorResponse 0xFFFF)."""


class MirrorClient:
    """A GSME's view of its mirror; the node must serve the Metering cluster."""

    def __init__(self, node: EmulatedNode, *, timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        if Metering.cluster_id not in node.server_clusters:
            raise BadInput(f"{node.ieee} does not serve the Metering cluster; it cannot have a mirror")
        self.node = node
        self.timeout_s = timeout_s
        #: The mirror's endpoint in the CH, once :meth:`locate` has found it.
        self.endpoint: int | None = None

    async def locate(self) -> int:
        """RequestMirror; the mirror's endpoint. Raises :class:`MirrorRefused` for 0xFFFF."""
        rsp = await self.node.request(
            Metering.cluster_id,
            Metering.ClientCommandDefs.request_mirror.name,
            direction=foundation.Direction.Server_to_Client,
            timeout=self.timeout_s,
        )
        if not isinstance(rsp, Metering.ServerCommandDefs.request_mirror_response.schema):
            raise CheckFailed(f"the CH answered RequestMirror with {rsp!r}")
        if rsp.endpoint_id == NO_MIRROR_ENDPOINT:
            raise MirrorRefused(f"the CH keeps no mirror for {self.node.ieee}")
        self.endpoint = int(rsp.endpoint_id)
        return self.endpoint

    async def read_flags(self) -> NotificationFlags:
        """The mirror's Functional Notification Flags, read over the air now."""
        endpoint = self.endpoint if self.endpoint is not None else await self.locate()
        attribute = MeteringClientAttributes.functional_notification_flags
        rsp = await self._read_client_attributes(endpoint, [attribute.id])
        records = [r for r in rsp.status_records if r.attrid == attribute.id]
        if not records or records[0].status != foundation.Status.SUCCESS or records[0].value is None:
            status = records[0].status.name if records else "no record"
            raise CheckFailed(f"the mirror did not return its notification flags: {status}")
        return NotificationFlags(records[0].value.value)

    async def _read_client_attributes(self, endpoint: int, attribute_ids: list[int]) -> Any:
        """Read Attributes of the mirror's Metering client; the Read Attributes Response."""
        rsp = await self.node.request_general(
            Metering.cluster_id,
            foundation.GeneralCommand.Read_Attributes,
            attribute_ids=[t.uint16_t(a) for a in attribute_ids],
            endpoint=endpoint,
            direction=foundation.Direction.Server_to_Client,
            timeout=self.timeout_s,
        )
        if not isinstance(rsp, foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Read_Attributes_rsp].schema):
            raise CheckFailed(f"the mirror answered Read Attributes with {rsp!r}")
        return rsp
