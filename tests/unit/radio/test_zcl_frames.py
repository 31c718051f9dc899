"""The hand-built OTA frames are zigpy's, byte for byte, both ways.

``hanbench.radio.zcl_frames`` writes the frames the CH sends (what zigpy's ``Cluster.reply``
writes on a device's OTA client cluster) and the frames an emulated device sends (a ZCL
request header on zigpy's command schema), and reads both. Here every frame it builds is
checked against the frame zigpy itself builds for the same command and fields, through the
public command API of a zigpy cluster, and every frame zigpy builds is read back to the fields
zigpy reads from it. Fields are drawn across their ranges and optional fields, so if a zigpy
upgrade changes one of these frames (or how it reads one), a test here fails and the module
needs a look.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import zigpy.device
import zigpy.endpoint
import zigpy.types as t
from hypothesis import given, settings
from hypothesis import strategies as st
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from hanbench.radio import zcl_frames
from hanbench.radio.air import VirtualAir
from hanbench.radio.virtual_app import VirtualRadioApp
from hanbench.radio.zcl_frames import (
    DefaultResponse,
    ImageBlock,
    ImageBlockResponse,
    ImageNotify,
    ImagePage,
    QueryNextImage,
    QueryNextImageResponse,
    UpgradeEnd,
    UpgradeEndResponse,
    ZclHeader,
    block_frame,
    read_header,
    read_ota_answer,
    read_ota_request,
    read_tsn,
)
from hanbench.radio.zigpy_config import bench_zigpy_config

Status = foundation.Status
FEW = settings(max_examples=150, deadline=None)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
statuses = st.sampled_from(list(Status))
eui64s = st.binary(min_size=8, max_size=8).map(t.EUI64)


class Sent:
    """What a zigpy endpoint was asked to send: the frame and the arguments beside it."""

    def __init__(self) -> None:
        self.frames: list[tuple[bytes, dict[str, Any]]] = []

    async def __call__(self, cluster: int, sequence: int, data: bytes, **kwargs: Any) -> None:
        self.frames.append((data, {"cluster": cluster, "sequence": sequence, **kwargs}))


#: A zigpy application to hold the devices (never started: nothing here goes on an air).
APP = VirtualRadioApp(bench_zigpy_config("virtual://air"), air=VirtualAir())


def zigpy_cluster(*, client: bool) -> tuple[Ota, Sent]:
    """A device's OTA cluster as zigpy holds it, whose endpoint records what it is asked to send:
    the client side (``client``: what the CH answers through) or the server side."""
    device = zigpy.device.Device(APP, t.EUI64.convert("00:11:22:33:44:55:66:77"), 0x1234)
    endpoint = device.add_endpoint(1)
    endpoint.profile_id = 0x0109
    cluster = endpoint.add_output_cluster(Ota.cluster_id) if client else endpoint.add_input_cluster(Ota.cluster_id)
    sent = Sent()
    endpoint.reply = sent  # type: ignore[method-assign]
    endpoint.request = sent  # type: ignore[method-assign]
    return cluster, sent  # type: ignore[return-value]


def zigpy_answer(name: str, tsn: int, **fields: Any) -> tuple[bytes, dict[str, Any]]:
    """The frame zigpy sends for ``cluster.<name>(...)`` on a device's OTA client cluster."""
    cluster, sent = zigpy_cluster(client=True)
    asyncio.run(getattr(cluster, name)(tsn=tsn, **fields))
    (frame,) = sent.frames
    return frame


def zigpy_request(name: str, tsn: int, *, expect_reply: bool = True, **fields: Any) -> bytes:
    """The frame of a device's request as zigpy writes it: a ZCL request header (default
    response asked for when a reply is expected) on zigpy's command schema."""
    command = getattr(Ota.ServerCommandDefs, name)
    header = foundation.ZCLHeader.cluster(tsn, command.id, direction=foundation.Direction.Client_to_Server)
    header.frame_control = header.frame_control.replace(disable_default_response=not expect_reply)
    return header.serialize() + command.schema(**fields).serialize()


def zigpy_reads(frame: bytes, *, client: bool) -> tuple[foundation.ZCLHeader, Any]:
    """Header and command as zigpy reads ``frame`` on the OTA cluster of one side."""
    cluster, _ = zigpy_cluster(client=client)
    return cluster.deserialize(frame)


def same_fields(record: Any, command: Any) -> None:
    """Every field zigpy read is the record's, and every field the record has zigpy read."""
    zigpy_fields = {name: value for name, value in command.as_dict().items() if value is not None}
    ours = {name: value for name, value in record._asdict().items() if value is not None}
    assert ours == zigpy_fields


# -- the CH's answers -------------------------------------------------------------------------------


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, offset=u32, data=st.binary(max_size=63))
def test_an_image_block_response_is_the_frame_cluster_reply_writes(tsn: int, manufacturer: int, image_type: int,
                                                                   version: int, offset: int, data: bytes) -> None:
    frame, sent = zigpy_answer("image_block_response", tsn, status=Status.SUCCESS, manufacturer_code=manufacturer,
                               image_type=image_type, file_version=version, file_offset=offset, image_data=data)
    ours = zcl_frames.block_frame(tsn, manufacturer, image_type, version, offset, data)
    assert ours == frame
    assert ImageBlockResponse(Status.SUCCESS, manufacturer, image_type, version, offset, data).frame(tsn) == frame
    # What the CH hands zigpy's Endpoint.reply beside the frame: the TSN and command are the frame's.
    assert (sent["sequence"], sent["command_id"]) == (ours[1], ours[2]) == (tsn, 0x05)


@FEW
@given(tsn=u8, current=u32, request=u32, period=u16)
def test_wait_for_data_is_the_frame_cluster_reply_writes(tsn: int, current: int, request: int, period: int) -> None:
    frame, _ = zigpy_answer("image_block_response", tsn, status=Status.WAIT_FOR_DATA, current_time=current,
                            request_time=request, minimum_block_period=period)
    ours = ImageBlockResponse(Status.WAIT_FOR_DATA, current_time=current, request_time=request,
                              minimum_block_period=period)
    assert ours.frame(tsn) == frame


@pytest.mark.parametrize("status", [Status.ABORT, Status.MALFORMED_COMMAND])
def test_a_refused_block_is_the_status_alone(status: Status) -> None:
    frame, _ = zigpy_answer("image_block_response", 9, status=status)
    assert ImageBlockResponse(status).frame(9) == frame


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, size=u32)
def test_query_next_image_responses_are_the_frames_cluster_reply_writes(tsn: int, manufacturer: int, image_type: int,
                                                                        version: int, size: int) -> None:
    offer, _ = zigpy_answer("query_next_image_response", tsn, status=Status.SUCCESS, manufacturer_code=manufacturer,
                            image_type=image_type, file_version=version, image_size=size)
    assert QueryNextImageResponse(Status.SUCCESS, manufacturer, image_type, version, size).frame(tsn) == offer
    none, _ = zigpy_answer("query_next_image_response", tsn, status=Status.NO_IMAGE_AVAILABLE)
    assert QueryNextImageResponse(Status.NO_IMAGE_AVAILABLE).frame(tsn) == none


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, now=u32, upgrade=u32)
def test_an_upgrade_end_response_is_the_frame_cluster_reply_writes(tsn: int, manufacturer: int, image_type: int,
                                                                   version: int, now: int, upgrade: int) -> None:
    frame, sent = zigpy_answer("upgrade_end_response", tsn, manufacturer_code=manufacturer, image_type=image_type,
                               file_version=version, current_time=now, upgrade_time=upgrade)
    assert UpgradeEndResponse(manufacturer, image_type, version, now, upgrade).frame(tsn) == frame
    assert sent["command_id"] == 0x07


@FEW
@given(tsn=u8, payload_type=st.integers(0, 3), jitter=st.integers(1, 100), manufacturer=u16, image_type=u16,
       version=u32)
def test_image_notify_is_the_frame_cluster_reply_writes(tsn: int, payload_type: int, jitter: int, manufacturer: int,
                                                        image_type: int, version: int) -> None:
    optional = {"manufacturer_code": manufacturer, "image_type": image_type, "new_file_version": version}
    present = dict(list(optional.items())[:payload_type])
    frame, _ = zigpy_answer("image_notify", tsn, payload_type=payload_type, query_jitter=jitter, **present)
    assert ImageNotify(payload_type, jitter, **present).frame(tsn) == frame


@FEW
@given(tsn=u8, command=u8, status=statuses)
def test_a_default_response_is_the_frame_zigpy_writes(tsn: int, command: int, status: Status) -> None:
    cluster, sent = zigpy_cluster(client=True)
    asyncio.run(cluster.general_command(foundation.GeneralCommand.Default_Response, command, status, tsn=tsn))
    ((frame, _),) = sent.frames
    assert DefaultResponse(command, status).frame(tsn, server_to_client=True) == frame


# -- a device's requests ----------------------------------------------------------------------------


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, hardware=st.none() | u16)
def test_query_next_image_is_zigpys_frame(tsn: int, manufacturer: int, image_type: int, version: int,
                                          hardware: int | None) -> None:
    control = 0 if hardware is None else zcl_frames.HARDWARE_VERSION_PRESENT
    extra = {} if hardware is None else {"hardware_version": hardware}
    frame = zigpy_request("query_next_image", tsn, field_control=control, manufacturer_code=manufacturer,
                          image_type=image_type, current_file_version=version, **extra)
    assert QueryNextImage(control, manufacturer, image_type, version, hardware).frame(tsn) == frame
    # and zigpy's server cluster, asked for the same command, writes it too
    cluster, sent = zigpy_cluster(client=False)
    asyncio.run(cluster.query_next_image(field_control=control, manufacturer_code=manufacturer, image_type=image_type,
                                         current_file_version=version, tsn=tsn, **extra))
    assert sent.frames[0][0] == frame


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, offset=u32, size=u8, node=st.none() | eui64s,
       period=st.none() | u16, expect_reply=st.booleans())
def test_image_block_request_is_zigpys_frame(tsn: int, manufacturer: int, image_type: int, version: int, offset: int,
                                             size: int, node: t.EUI64 | None, period: int | None,
                                             expect_reply: bool) -> None:
    control = (0 if node is None else zcl_frames.REQUEST_NODE_ADDRESS_PRESENT) | (
        0 if period is None else zcl_frames.MINIMUM_BLOCK_PERIOD_PRESENT)
    extra: dict[str, Any] = {}
    if node is not None:
        extra["request_node_addr"] = node
    if period is not None:
        extra["minimum_block_period"] = period
    frame = zigpy_request("image_block", tsn, expect_reply=expect_reply, field_control=control,
                          manufacturer_code=manufacturer, image_type=image_type, file_version=version,
                          file_offset=offset, maximum_data_size=size, **extra)
    ours = ImageBlock(control, manufacturer, image_type, version, offset, size, node, period)
    assert ours.frame(tsn, expect_reply=expect_reply) == frame


@FEW
@given(tsn=u8, manufacturer=u16, image_type=u16, version=u32, offset=u32, size=u8, page=u16, spacing=u16,
       node=st.none() | eui64s)
def test_image_page_request_is_zigpys_frame(tsn: int, manufacturer: int, image_type: int, version: int, offset: int,
                                            size: int, page: int, spacing: int, node: t.EUI64 | None) -> None:
    control = 0 if node is None else zcl_frames.REQUEST_NODE_ADDRESS_PRESENT
    extra = {} if node is None else {"request_node_addr": node}
    frame = zigpy_request("image_page", tsn, expect_reply=False, field_control=control, manufacturer_code=manufacturer,
                          image_type=image_type, file_version=version, file_offset=offset, maximum_data_size=size,
                          page_size=page, response_spacing=spacing, **extra)
    ours = ImagePage(control, manufacturer, image_type, version, offset, size, page, spacing, node)
    assert ours.frame(tsn) == frame


@FEW
@given(tsn=u8, status=statuses, manufacturer=u16, image_type=u16, version=u32)
def test_upgrade_end_is_zigpys_frame(tsn: int, status: Status, manufacturer: int, image_type: int,
                                     version: int) -> None:
    frame = zigpy_request("upgrade_end", tsn, status=status, manufacturer_code=manufacturer, image_type=image_type,
                          file_version=version)
    assert UpgradeEnd(status, manufacturer, image_type, version).frame(tsn) == frame


# -- reading what zigpy writes ----------------------------------------------------------------------------

answers = st.one_of(
    st.builds(lambda *f: ("image_block_response", dict(status=Status.SUCCESS, manufacturer_code=f[0], image_type=f[1],
                                                       file_version=f[2], file_offset=f[3], image_data=f[4])),
              u16, u16, u32, u32, st.binary(max_size=63)),
    st.builds(lambda *f: ("image_block_response", dict(status=Status.WAIT_FOR_DATA, current_time=f[0],
                                                       request_time=f[1], minimum_block_period=f[2])), u32, u32, u16),
    st.builds(lambda s: ("image_block_response", dict(status=s)), st.sampled_from([Status.ABORT, Status.FAILURE])),
    st.builds(lambda *f: ("query_next_image_response", dict(status=Status.SUCCESS, manufacturer_code=f[0],
                                                            image_type=f[1], file_version=f[2], image_size=f[3])),
              u16, u16, u32, u32),
    st.builds(lambda: ("query_next_image_response", dict(status=Status.NO_IMAGE_AVAILABLE))),
    st.builds(lambda *f: ("upgrade_end_response", dict(manufacturer_code=f[0], image_type=f[1], file_version=f[2],
                                                       current_time=f[3], upgrade_time=f[4])), u16, u16, u32, u32, u32),
    st.builds(lambda *f: ("image_notify", dict(payload_type=3, query_jitter=f[0], manufacturer_code=f[1],
                                               image_type=f[2], new_file_version=f[3])), u8, u16, u16, u32),
    st.builds(lambda j: ("image_notify", dict(payload_type=0, query_jitter=j)), u8),
)


@FEW
@given(tsn=u8, answer=answers)
def test_what_the_ch_sends_reads_back_to_the_fields_zigpy_reads(tsn: int, answer: tuple[str, dict[str, Any]]) -> None:
    name, fields = answer
    frame, _ = zigpy_answer(name, tsn, **fields)
    zigpy_header, command = zigpy_reads(frame, client=True)
    header = read_header(frame)
    assert (header.tsn, header.command_id, header.direction) == (
        zigpy_header.tsn, zigpy_header.command_id, zigpy_header.direction)
    record = read_ota_answer(header, frame[header.length:])
    same_fields(record, command)


@FEW
@given(tsn=u8, command=u8, status=statuses)
def test_a_default_response_reads_back(tsn: int, command: int, status: Status) -> None:
    cluster, sent = zigpy_cluster(client=True)
    asyncio.run(cluster.general_command(foundation.GeneralCommand.Default_Response, command, status, tsn=tsn))
    ((frame, _),) = sent.frames
    header = read_header(frame)
    assert header.general and header.tsn == tsn
    assert read_ota_answer(header, frame[header.length:]) == DefaultResponse(command, status)


requests = st.one_of(
    st.builds(lambda *f: ("query_next_image", dict(field_control=1, manufacturer_code=f[0], image_type=f[1],
                                                   current_file_version=f[2], hardware_version=f[3])),
              u16, u16, u32, u16),
    st.builds(lambda *f: ("query_next_image", dict(field_control=0, manufacturer_code=f[0], image_type=f[1],
                                                   current_file_version=f[2])), u16, u16, u32),
    st.builds(lambda *f: ("image_block", dict(field_control=3, manufacturer_code=f[0], image_type=f[1],
                                              file_version=f[2], file_offset=f[3], maximum_data_size=f[4],
                                              request_node_addr=f[5], minimum_block_period=f[6])),
              u16, u16, u32, u32, u8, eui64s, u16),
    st.builds(lambda *f: ("image_block", dict(field_control=0, manufacturer_code=f[0], image_type=f[1],
                                              file_version=f[2], file_offset=f[3], maximum_data_size=f[4])),
              u16, u16, u32, u32, u8),
    st.builds(lambda *f: ("image_page", dict(field_control=0, manufacturer_code=f[0], image_type=f[1],
                                             file_version=f[2], file_offset=f[3], maximum_data_size=f[4],
                                             page_size=f[5], response_spacing=f[6])),
              u16, u16, u32, u32, u8, u16, u16),
    st.builds(lambda *f: ("upgrade_end", dict(status=f[0], manufacturer_code=f[1], image_type=f[2],
                                              file_version=f[3])), statuses, u16, u16, u32),
)


@FEW
@given(tsn=u8, request=requests)
def test_a_devices_request_reads_back_to_the_fields_zigpy_reads(tsn: int, request: tuple[str, dict[str, Any]]) -> None:
    name, fields = request
    frame = zigpy_request(name, tsn, **fields)
    _, command = zigpy_reads(frame, client=False)
    header = read_header(frame)
    same_fields(read_ota_request(header, frame[header.length:]), command)


@pytest.mark.parametrize("name, fields", [
    ("image_block_response", dict(status=Status.SUCCESS, manufacturer_code=1, image_type=2, file_version=3,
                                  file_offset=4, image_data=b"block")),
    ("query_next_image_response", dict(status=Status.SUCCESS, manufacturer_code=1, image_type=2, file_version=3,
                                       image_size=4)),
    ("upgrade_end_response", dict(manufacturer_code=1, image_type=2, file_version=3, current_time=4, upgrade_time=5)),
])
def test_a_truncated_answer_is_refused_where_zigpy_refuses_it(name: str, fields: dict[str, Any]) -> None:
    frame, _ = zigpy_answer(name, 1, **fields)
    header = read_header(frame)
    for cut in range(header.length + 1, len(frame)):
        short = frame[:cut]
        try:
            _, command = zigpy_reads(short, client=True)
        except ValueError:
            with pytest.raises(ValueError):
                read_ota_answer(header, short[header.length:])
        else:  # zigpy reads what is there of optional fields; so does the record
            same_fields(read_ota_answer(header, short[header.length:]), command)


def test_frames_that_are_not_an_updates_are_left_alone() -> None:
    """Anything but the OTA commands of an update (another command, a manufacturer-specific
    frame, the wrong direction) reads as None, for zigpy to handle."""
    query_specific = zigpy_request("query_specific_file", 1, request_node_addr=t.EUI64(bytes(8)), manufacturer_code=1,
                                   image_type=2, file_version=3, current_zigbee_stack_version=4)
    header = read_header(query_specific)
    assert read_ota_request(header, query_specific[header.length:]) is None
    block = zigpy_request("image_block", 1, field_control=0, manufacturer_code=1, image_type=2, file_version=3,
                          file_offset=0, maximum_data_size=50)
    assert read_ota_answer(read_header(block), block[3:]) is None  # a request is not an answer
    response, _ = zigpy_answer("upgrade_end_response", 1, manufacturer_code=1, image_type=2, file_version=3,
                               current_time=4, upgrade_time=5)
    assert read_ota_request(read_header(response), response[3:]) is None  # nor the other way round
    manufacturer = foundation.ZCLHeader.cluster(1, 0x03, manufacturer=0x1234).serialize() + block[3:]
    header = read_header(manufacturer)
    assert (header.manufacturer, header.tsn, header.length) == (0x1234, 1, 5)
    assert read_ota_request(header, manufacturer[header.length:]) is None


def test_a_frame_too_short_for_a_header_is_refused() -> None:
    for read in (read_header, read_tsn):
        with pytest.raises(ValueError, match="at least 3"):
            read(b"\x19\x01")
        with pytest.raises(ValueError, match="at least 5"):
            read(b"\x1d\x34\x12\x01")


@FEW
@given(tsn=u8, command=u8, manufacturer=st.none() | u16, payload=st.binary(max_size=4))
def test_the_tsn_is_read_where_zigpys_header_puts_it(tsn: int, command: int, manufacturer: int | None,
                                                     payload: bytes) -> None:
    frame = foundation.ZCLHeader.cluster(tsn, command, manufacturer=manufacturer).serialize() + payload
    assert read_tsn(frame) == read_header(frame).tsn == tsn


def test_records_read_by_hand_are_the_records_their_definitions_make() -> None:
    """The fast path that builds a record from its fields fills the fields a frame lacks with
    the record's own defaults, so it equals the record made by its constructor."""
    assert read_header(b"\x19\x05\x07") == ZclHeader(0x19, 5, 7)
    block = block_frame(5, 0x1234, 1, 2, 64, b"\x01\x02")
    assert read_ota_answer(read_header(block), block[3:]) == ImageBlockResponse(
        Status.SUCCESS, 0x1234, 1, 2, 64, b"\x01\x02")
