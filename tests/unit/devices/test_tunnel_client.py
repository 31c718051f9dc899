"""TunnelClient guards that need no CH; the over-the-air behaviour is in tests/unit/hub/test_tunnel.py."""

from __future__ import annotations

from typing import Any

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic

from hanbench.devices.node import EmulatedNode
from hanbench.devices.tunnel_client import TunnelClient, TunnelClientConfig
from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_clusters import Tunneling
from hanbench.radio.tunnel_errors import NoTunnel
from hanbench.radio.se_profile import SeDeviceType

pytestmark = pytest.mark.looptime


def node(client_clusters: list[int]) -> EmulatedNode:
    return EmulatedNode(
        VirtualAir(), "00:db:12:34:56:78:91:00", 0x1001, device_type=SeDeviceType.METERING_DEVICE,
        manufacturer="hanbench", model="test", server_clusters=[Basic.cluster_id], client_clusters=client_clusters,
    )


def test_a_node_without_a_tunneling_client_cluster_cannot_have_a_tunnel() -> None:
    with pytest.raises(BadInput, match="Tunneling"):
        TunnelClient(node([]))


@pytest.mark.parametrize(
    "fields",
    [{"maximum_incoming_transfer_size": 0}, {"maximum_incoming_transfer_size": 0x10000},
     {"response_timeout_s": 0}, {"max_fetch": 0}],
)
def test_config_is_checked(fields: dict[str, Any]) -> None:
    with pytest.raises(BadInput):
        TunnelClientConfig(**fields)


async def test_nothing_goes_up_before_the_tunnel_is_open() -> None:
    client = TunnelClient(node([Tunneling.cluster_id]))
    with pytest.raises(NoTunnel):
        await client.send(b"\xdf")
    with pytest.raises(NoTunnel):
        await client.fetch_pending()
    assert client.tunnel_id is None


async def test_a_closure_notification_forgets_the_tunnel_and_other_commands_are_unsupported() -> None:
    client = TunnelClient(node([Tunneling.cluster_id]))
    client.tunnel_id = 5
    packet = t.ZigbeePacket(cluster_id=Tunneling.cluster_id)
    header = foundation.ZCLHeader.cluster(1, 0x06, direction=foundation.Direction.Server_to_Client)
    closure = Tunneling.ClientCommandDefs.tunnel_closure_notification.schema(tunnel_id=4)
    response = Tunneling.ClientCommandDefs.request_tunnel_response.schema(
        tunnel_id=1, tunnel_status=0, maximum_incoming_transfer_size=10)

    assert await client.handle_command(packet, header, closure) == foundation.Status.SUCCESS
    assert client.tunnel_id == 5  # a closure of another tunnel changes nothing
    assert await client.handle_command(packet, header, closure.replace(tunnel_id=5)) == foundation.Status.SUCCESS
    assert client.tunnel_id is None
    assert await client.handle_command(packet, header, response) == foundation.Status.UNSUP_CLUSTER_COMMAND
