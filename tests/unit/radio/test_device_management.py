"""The Device Management cluster definitions read the frame RTDS 4.5.0 carries for SR 3.2.

RTDS 4.5.0 ``3.2_GCS09`` (SmartDCCInnovation/gbcs-parser, test/rtds/RTDS-4.5.0/3.2_GCS09/,
not among the copied fixtures): GCS09 "Set Change of Tenancy date on GPF", a GBCS command
whose GBZ payload is one PublishChangeOfTenancy frame, and the GPF's response, a ZCL Default
Response to it. Bytes someone else produced: the schema must read them as the spec names the
fields, and write the same bytes back.
"""

from __future__ import annotations

import datetime as dt

import zigpy.types as t
from zigpy.zcl import Cluster, foundation

from hanbench.gbcs import gbz
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.frame import Cra, decode_message
from hanbench.radio.device_management import (
    PUBLISH_CHANGE_OF_SUPPLIER,
    PUBLISH_CHANGE_OF_TENANCY,
    SUPPLIER_CONTROL,
    TENANCY_CONTROL,
    DeviceManagement,
    ProposedChangeControl,
)
from hanbench.radio.zcl_frames import read_header

GCS09_COMMAND = bytes.fromhex(
    "DD000000000000501100000000DF090100000000000003E80890B3D51F300100000800DB1234567890A3000200721C01090101"
    "0708001409000000000000804A371C00206EC61F0002000000B511D7424B396F3CF3872C4C")
GCS09_RESPONSE = bytes.fromhex(
    "DD000000000000411100000000DF090200000000000003E80800DB1234567890A30890B3D51F30010000000200720D01090101"
    "0708000500000B00000009EC504633F55EFA9EB46CA3")
GPF = EntityId.parse("00-DB-12-34-56-78-90-A3")
ZIGBEE_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _only_component(data: bytes) -> gbz.GbzComponent:
    msg = decode_message(data)
    assert msg.message_code == 0x0072, "GCS09 Set Change of Tenancy date on GPF"
    (component,) = gbz.decode_components(msg.payload, "GCS09")
    assert component.cluster == DeviceManagement.cluster_id == 0x0708
    return component


def test_the_rtds_gcs09_command_is_one_publish_change_of_tenancy() -> None:
    msg = decode_message(GCS09_COMMAND)
    assert (msg.cra, msg.target) == (Cra.COMMAND, GPF)
    frame = _only_component(GCS09_COMMAND).frame
    header = read_header(bytes([frame.frame_control, frame.sequence_number, frame.command]))
    # Frame control 0x09: cluster-specific, server to client, Default Response wanted (the GPF sends one).
    assert not header.general and header.server_to_client and not header.disable_default_response
    assert frame.command == PUBLISH_CHANGE_OF_TENANCY.id == 0x00
    command, rest = PUBLISH_CHANGE_OF_TENANCY.schema.deserialize(frame.payload)
    assert rest == b""
    assert command.provider_id == 0 and command.tariff_type == 0
    assert ZIGBEE_EPOCH + dt.timedelta(seconds=command.issuer_event_id) == dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    assert ZIGBEE_EPOCH + dt.timedelta(seconds=command.implementation_date_time) == dt.datetime(
        2016, 11, 22, 2, 46, 56, tzinfo=dt.UTC)
    assert command.proposed_tenancy_change_control == ProposedChangeControl.CLEAR_IHD_DATA_CONSUMER == TENANCY_CONTROL
    assert command.serialize() == frame.payload


def test_the_gpf_answers_it_with_a_default_response_success() -> None:
    """What the CH asks of each display too: the Default Response says it took the notice."""
    frame = _only_component(GCS09_RESPONSE).frame
    assert frame.command == foundation.GeneralCommand.Default_Response
    response, _ = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Default_Response].schema.deserialize(
        frame.payload)
    assert (response.command_id, response.status) == (PUBLISH_CHANGE_OF_TENANCY.id, foundation.Status.SUCCESS)


def test_publish_change_of_supplier_writes_the_fields_in_spec_order() -> None:
    command = PUBLISH_CHANGE_OF_SUPPLIER.schema(
        current_provider_id=1, issuer_event_id=0x01020304, tariff_type=0, proposed_provider_id=2,
        provider_change_implementation_time=t.UTCTime(0), provider_change_control=SUPPLIER_CONTROL,
        proposed_provider_name=b"NEW", proposed_provider_contact_details=b"")
    assert command.serialize() == bytes.fromhex("01000000" "04030201" "00" "02000000" "00000000" "00060000"
                                                "034E4557" "00")
    assert PUBLISH_CHANGE_OF_SUPPLIER.id == 0x01
    assert PUBLISH_CHANGE_OF_SUPPLIER.schema.deserialize(command.serialize())[0] == command


def test_zigpy_builds_every_device_management_cluster_from_this_definition() -> None:
    assert Cluster.from_id(None, DeviceManagement.cluster_id).__class__ is DeviceManagement  # type: ignore[arg-type]
