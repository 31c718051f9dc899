"""MirrorClient guards; reading flags over the air is in tests/unit/hub/test_mirror.py."""

from __future__ import annotations

import pytest
from zigpy.zcl.clusters.general import Basic

from hanbench.devices.mirror_client import MirrorClient
from hanbench.devices.node import EmulatedNode
from hanbench.errors import BadInput
from hanbench.radio.air import VirtualAir
from hanbench.radio.se_clusters import Metering
from hanbench.radio.se_profile import SeDeviceType


def test_only_a_metering_server_has_a_mirror() -> None:
    def node(servers: list[int]) -> EmulatedNode:
        return EmulatedNode(VirtualAir(), "00:db:12:34:56:78:91:01", 0x1002,
                            device_type=SeDeviceType.METERING_DEVICE, manufacturer="hanbench", model="test",
                            server_clusters=servers, client_clusters=[], rx_on_when_idle=False)

    with pytest.raises(BadInput, match="Metering"):
        MirrorClient(node([Basic.cluster_id]))
    client = MirrorClient(node([Basic.cluster_id, Metering.cluster_id]))
    assert client.endpoint is None
