"""The Smart Energy definitions hanbench adds to zigpy: commands, flags, the transfer size rules.

The first test fails the day zigpy defines Tunneling commands itself: then ours must be
reviewed against zigpy's (keep one set, not two).
"""

from __future__ import annotations

import pytest
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters import smartenergy

from hanbench.errors import BadInput
from hanbench.radio import se_clusters
from hanbench.radio.se_clusters import MeteringClientAttributes, NotificationFlags, Tunneling, TunnelProtocol
from hanbench.radio.tunnel_errors import MessageTooLarge, check_fits


def test_zigpy_still_defines_no_tunneling_commands_and_no_metering_client_flags() -> None:
    assert list(smartenergy.Tunneling.ServerCommandDefs) == []
    assert list(smartenergy.Tunneling.ClientCommandDefs) == []
    assert "functional_notification_flags" not in smartenergy.Metering.attributes_by_name


def test_importing_the_definitions_puts_them_in_zigpys_cluster_registry() -> None:
    assert Cluster._registry[Tunneling.cluster_id] is Tunneling
    assert Cluster._registry[se_clusters.Metering.cluster_id] is se_clusters.Metering


def test_command_ids_follow_se_1_4() -> None:
    server = {c.name: c.id for c in Tunneling.ServerCommandDefs}
    client = {c.name: c.id for c in Tunneling.ClientCommandDefs}
    assert server == {
        "request_tunnel": 0x00, "close_tunnel": 0x01, "transfer_data_client_to_server": 0x02,
        "transfer_data_error_client_to_server": 0x03, "ack_transfer_data_client_to_server": 0x04,
        "ready_data_client_to_server": 0x05, "get_supported_tunnel_protocols": 0x06,
    }
    assert client == {
        "request_tunnel_response": 0x00, "transfer_data_server_to_client": 0x01,
        "transfer_data_error_server_to_client": 0x02, "ack_transfer_data_server_to_client": 0x03,
        "ready_data_server_to_client": 0x04, "supported_tunnel_protocols_response": 0x05,
        "tunnel_closure_notification": 0x06,
    }


def test_request_tunnel_and_transfer_data_have_the_spec_wire_layout() -> None:
    request = Tunneling.ServerCommandDefs.request_tunnel.schema(
        protocol_id=TunnelProtocol.GB_HRGP, manufacturer_code=0xFFFF,
        flow_control_support=False, maximum_incoming_transfer_size=1500,
    )
    assert request.serialize() == bytes.fromhex("06 FFFF 00 DC05")
    data = Tunneling.ClientCommandDefs.transfer_data_server_to_client.schema(tunnel_id=0x0102, data=t.Bytes(b"\xdf\x09"))
    assert data.serialize() == bytes.fromhex("0201 DF09")  # the data runs to the end of the frame
    decoded, rest = Tunneling.ServerCommandDefs.transfer_data_client_to_server.schema.deserialize(b"\x02\x01\xdf\x09")
    assert (decoded.tunnel_id, decoded.data, rest) == (0x0102, b"\xdf\x09", b"")


def test_notification_flag_bits_match_zigpys_struct_of_the_same_attribute() -> None:
    for flag in NotificationFlags:
        zigpy_view = smartenergy.FunctionalNotificationFlags(int(flag))
        set_fields = [f.name for f in zigpy_view.fields if getattr(zigpy_view, f.name)]
        assert set_fields == [_zigpy_field(flag)], flag
    assert NotificationFlags.NEW_OTA_FIRMWARE == 1 << 0
    assert NotificationFlags.TUNNEL_MESSAGE_PENDING == 1 << 21


def _zigpy_field(flag: NotificationFlags) -> str:
    renamed = {
        "PUSH_ALL_STATIC_DATA_BASIC": "push_all_static_data_basic_cluster",
        "PUSH_ALL_STATIC_DATA_METERING": "push_all_static_data_metering_cluster",
        "PUSH_ALL_STATIC_DATA_PREPAYMENT": "push_all_static_data_prepayment_cluster",
    }
    assert flag.name is not None
    return renamed.get(flag.name, flag.name.lower())


def test_the_flags_attribute_is_a_bitmap32_metering_client_attribute() -> None:
    attribute = MeteringClientAttributes.functional_notification_flags
    assert attribute.id == 0x0000
    assert attribute.zcl_type == foundation.DataTypeId.map32


def test_both_tunnel_ends_share_the_transfer_size_rules() -> None:
    check_fits(64, 64)
    with pytest.raises(MessageTooLarge) as too_large:
        check_fits(65, 64)
    assert (too_large.value.size, too_large.value.limit) == (65, 64)
    se_clusters.check_maximum_incoming_transfer_size(se_clusters.DEFAULT_MAXIMUM_INCOMING_TRANSFER_SIZE)
    for bad in (0, 0x10000):
        with pytest.raises(BadInput, match="1..65535 octets"):
            se_clusters.check_maximum_incoming_transfer_size(bad)
