"""The ZCL frames of an OTA update, written and read by hand with ``struct``.

Why by hand: zigpy 2.4 builds every ZCL header and command as a ``zigpy.types.Struct``;
constructing one binds its arguments through ``inspect.Signature``, and every attribute set
on a ``ZCLHeader`` rebuilds its ``FrameControl``. That costs a few hundred microseconds per
frame, and an image block is four frames (the request built and read, the response built
and read): most of the CPU an emulated update spends. The bytes themselves are fixed by the
ZCL (07-5123 §2.4, the general frame format; §2.5.12, Default Response) and the OTA Upgrade
cluster (§11.13), so this module writes exactly the bytes zigpy writes for the commands a GB
OTA update uses, and reads them into small typed records named as zigpy names their fields.

This is the one place the bench works around zigpy's slow paths; the CH's side of it, handing
OTA requests from the raw frame to the OTA server, is :meth:`hanbench.radio.se_profile.
SmartEnergyDevice.packet_received`, which uses these records. Nothing here changes zigpy.
What the bench relies on is pinned by ``tests/unit/radio/test_zcl_frames.py``: every frame
built here equals zigpy's own serialisation of the same command (through ``Cluster.reply``'s
header for the CH's answers, through a ZCL request header for a device's requests), across
the commands' optional fields and their value ranges, and every frame zigpy builds reads
back here to the fields zigpy reads, so a zigpy upgrade that changes either fails a test.

Records hold plain ``int`` fields (``status`` is zigpy's ``foundation.Status``), ``None``
for an optional field the frame does not carry, and ``bytes`` for image data.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import zigpy.types as t
from zigpy.zcl import foundation

__all__ = [
    "OTA_CLUSTER_ID",
    "DefaultResponse",
    "ImageBlock",
    "ImageBlockResponse",
    "ImageNotify",
    "ImagePage",
    "QueryNextImage",
    "QueryNextImageResponse",
    "UpgradeEnd",
    "UpgradeEndResponse",
    "ZclHeader",
    "read_header",
    "read_ota_answer",
    "read_ota_request",
]

Status = foundation.Status

#: The OTA Upgrade cluster.
OTA_CLUSTER_ID = 0x0019

# Frame control bits (ZCL §2.4.1.1).
_FRAME_TYPE_MASK = 0x03
_CLUSTER_SPECIFIC = 0x01
_MANUFACTURER_SPECIFIC = 0x04
_SERVER_TO_CLIENT = 0x08
_DISABLE_DEFAULT_RESPONSE = 0x10

# OTA Upgrade cluster command IDs (§11.13.2): client to server, then server to client.
QUERY_NEXT_IMAGE = 0x01
IMAGE_BLOCK = 0x03
IMAGE_PAGE = 0x04
UPGRADE_END = 0x06
IMAGE_NOTIFY = 0x00
QUERY_NEXT_IMAGE_RESPONSE = 0x02
IMAGE_BLOCK_RESPONSE = 0x05
UPGRADE_END_RESPONSE = 0x07
DEFAULT_RESPONSE = foundation.GeneralCommand.Default_Response.value

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<BBB")                  # frame control, TSN, command
_MANUFACTURER_HEADER = struct.Struct("<BHBB")    # frame control, manufacturer, TSN, command
_IMAGE_ID = struct.Struct("<HHI")                # manufacturer code, image type, file version
_QUERY = struct.Struct("<BHHI")                  # field control + image ID
_BLOCK = struct.Struct("<BHHIIB")                # field control + image ID + offset + max data size
_BLOCK_REQUEST = struct.Struct("<BBB" + _BLOCK.format[1:])  # the header, then the same
_PAGE = struct.Struct("<BHHIIBHH")               # ... + page size + response spacing
_UPGRADE_END = struct.Struct("<BHHI")            # status + image ID
_QUERY_OFFER = struct.Struct("<BHHII")           # status + image ID + image size
_BLOCK_DATA = struct.Struct("<BHHIIB")           # status + image ID + offset + data length
_WAIT_FOR_DATA = struct.Struct("<BIIH")          # status + current time + request time + period
_UPGRADE_END_RESPONSE = struct.Struct("<HHIII")  # image ID + current time + upgrade time
_NOTIFY = struct.Struct("<BB")                   # payload type + query jitter
_DEFAULT_RESPONSE = struct.Struct("<BB")         # command ID + status

_STATUSES = {int(status): status for status in Status}
_SUCCESS = Status.SUCCESS

#: A record made from all its fields, in order: what a ``NamedTuple``'s generated ``__new__``
#: ends in, without its Python frame (the records read on every block of an update use it).
_record = tuple.__new__

# Field control bits of the requests (§11.13.3.2, 11.13.4.2, 11.13.5.2).
HARDWARE_VERSION_PRESENT = 0x01
REQUEST_NODE_ADDRESS_PRESENT = 0x01
MINIMUM_BLOCK_PERIOD_PRESENT = 0x02


def _status(value: int) -> Status:
    status = _STATUSES.get(value)
    return status if status is not None else Status(value)


class ZclHeader(NamedTuple):
    """A ZCL frame header: the frame control octet, the TSN, the command, the manufacturer
    code when the frame is manufacturer specific; ``length`` is its size in the frame."""

    frame_control: int
    tsn: int
    command_id: int
    manufacturer: int | None = None
    length: int = _HEADER.size

    @property
    def cluster_specific(self) -> bool:
        return self.frame_control & _FRAME_TYPE_MASK == _CLUSTER_SPECIFIC

    @property
    def general(self) -> bool:
        return self.frame_control & _FRAME_TYPE_MASK == 0

    @property
    def server_to_client(self) -> bool:
        return bool(self.frame_control & _SERVER_TO_CLIENT)

    @property
    def direction(self) -> foundation.Direction:
        return foundation.Direction.Server_to_Client if self.server_to_client else foundation.Direction.Client_to_Server

    @property
    def disable_default_response(self) -> bool:
        return bool(self.frame_control & _DISABLE_DEFAULT_RESPONSE)


def read_header(frame: bytes) -> ZclHeader:
    """The header of a ZCL frame; ``ValueError`` if the frame is too short to hold one."""
    if len(frame) < 3:
        raise ValueError(f"a ZCL frame has at least 3 octets, got {len(frame)}")
    control = frame[0]
    if control & _MANUFACTURER_SPECIFIC:
        if len(frame) < 5:
            raise ValueError(f"a manufacturer-specific ZCL frame has at least 5 octets, got {len(frame)}")
        _, manufacturer, tsn, command = _MANUFACTURER_HEADER.unpack_from(frame)
        return ZclHeader(control, tsn, command, manufacturer, _MANUFACTURER_HEADER.size)
    return _record(ZclHeader, (control, frame[1], frame[2]) + _PLAIN_HEADER_DEFAULTS)


def _defaults_from(record: type[tuple[Any, ...]], first: str) -> tuple[Any, ...]:
    """The default values of ``record``'s fields from ``first`` on, in order: what
    :data:`_record` appends for a record read without them, taken from the record's own
    definition."""
    fields: tuple[str, ...] = record._fields  # type: ignore[attr-defined]
    defaults: dict[str, Any] = record._field_defaults  # type: ignore[attr-defined]
    return tuple(defaults[name] for name in fields[fields.index(first):])


#: A header that is not manufacturer specific: no manufacturer code, the plain length.
_PLAIN_HEADER_DEFAULTS = _defaults_from(ZclHeader, "manufacturer")


def read_tsn(frame: bytes) -> int:
    """The TSN of a ZCL frame, as :func:`read_header` reads it and with its errors, without
    making the header record (a sender reads it back from every frame it sends)."""
    if len(frame) >= 5:  # long enough for either header
        return frame[3] if frame[0] & _MANUFACTURER_SPECIFIC else frame[1]
    return read_header(frame).tsn


def header(tsn: int, command_id: int, *, cluster_specific: bool = True, server_to_client: bool,
           disable_default_response: bool) -> bytes:
    """A ZCL header that is not manufacturer specific (every OTA command the bench sends)."""
    control = (
        (_CLUSTER_SPECIFIC if cluster_specific else 0)
        | (_SERVER_TO_CLIENT if server_to_client else 0)
        | (_DISABLE_DEFAULT_RESPONSE if disable_default_response else 0)
    )
    return _HEADER.pack(control, tsn, command_id)


def _answer_header(tsn: int, command_id: int) -> bytes:
    """The header zigpy's ``Cluster.reply`` writes on a client cluster: cluster specific,
    server to client, default response disabled."""
    return _HEADER.pack(_CLUSTER_SPECIFIC | _SERVER_TO_CLIENT | _DISABLE_DEFAULT_RESPONSE, tsn, command_id)


def _request_header(tsn: int, command_id: int, expect_reply: bool) -> bytes:
    """A device's request: cluster specific, client to server, a Default Response asked for
    when the device waits for an answer."""
    return _HEADER.pack(_request_frame_control(expect_reply), tsn, command_id)


def _request_frame_control(expect_reply: bool) -> int:
    return _CLUSTER_SPECIFIC | (0 if expect_reply else _DISABLE_DEFAULT_RESPONSE)


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) < size:
        raise ValueError(f"{what} needs {size} octets, the frame has {len(payload)}")


def _node_address(payload: bytes, at: int, what: str) -> t.EUI64:
    """A request's optional Request Node Address field, at ``at``."""
    _need(payload, at + 8, f"{what} with its node address")
    return t.EUI64(payload[at:at + 8])


# -- client to server: a device's requests ---------------------------------------------------------


class QueryNextImage(NamedTuple):
    """Query Next Image Request (§11.13.3.2)."""

    field_control: int
    manufacturer_code: int
    image_type: int
    current_file_version: int
    hardware_version: int | None = None

    def frame(self, tsn: int, *, expect_reply: bool = True) -> bytes:
        out = _request_header(tsn, QUERY_NEXT_IMAGE, expect_reply) + _QUERY.pack(
            self.field_control, self.manufacturer_code, self.image_type, self.current_file_version)
        if self.field_control & HARDWARE_VERSION_PRESENT:
            out += _U16.pack(self.hardware_version)
        return out

    @classmethod
    def read(cls, payload: bytes) -> QueryNextImage:
        _need(payload, _QUERY.size, "Query Next Image")
        control, manufacturer, image_type, version = _QUERY.unpack_from(payload)
        hardware = None
        if control & HARDWARE_VERSION_PRESENT:
            _need(payload, _QUERY.size + 2, "Query Next Image with its hardware version")
            (hardware,) = _U16.unpack_from(payload, _QUERY.size)
        return cls(control, manufacturer, image_type, version, hardware)


class ImageBlock(NamedTuple):
    """Image Block Request (§11.13.4.2)."""

    field_control: int
    manufacturer_code: int
    image_type: int
    file_version: int
    file_offset: int
    maximum_data_size: int
    request_node_addr: t.EUI64 | None = None
    minimum_block_period: int | None = None

    def frame(self, tsn: int, *, expect_reply: bool = True) -> bytes:
        # header and fixed fields in one pack: a device sends one of these per block
        out = _BLOCK_REQUEST.pack(
            _request_frame_control(expect_reply), tsn, IMAGE_BLOCK, self.field_control, self.manufacturer_code,
            self.image_type, self.file_version, self.file_offset, self.maximum_data_size)
        if self.field_control & REQUEST_NODE_ADDRESS_PRESENT:
            out += bytes(self.request_node_addr)  # type: ignore[arg-type]
        if self.field_control & MINIMUM_BLOCK_PERIOD_PRESENT:
            out += _U16.pack(self.minimum_block_period)
        return out

    @classmethod
    def read(cls, payload: bytes) -> ImageBlock:
        _need(payload, _BLOCK.size, "Image Block Request")
        control, manufacturer, image_type, version, offset, size = _BLOCK.unpack_from(payload)
        at = _BLOCK.size
        node = period = None
        if control & REQUEST_NODE_ADDRESS_PRESENT:
            node = _node_address(payload, at, "Image Block Request")
            at += 8
        if control & MINIMUM_BLOCK_PERIOD_PRESENT:
            _need(payload, at + 2, "Image Block Request with its minimum block period")
            (period,) = _U16.unpack_from(payload, at)
        return _record(cls, (control, manufacturer, image_type, version, offset, size, node, period))


class ImagePage(NamedTuple):
    """Image Page Request (§11.13.5.2)."""

    field_control: int
    manufacturer_code: int
    image_type: int
    file_version: int
    file_offset: int
    maximum_data_size: int
    page_size: int
    response_spacing: int
    request_node_addr: t.EUI64 | None = None

    def frame(self, tsn: int, *, expect_reply: bool = False) -> bytes:
        out = _request_header(tsn, IMAGE_PAGE, expect_reply) + _PAGE.pack(
            self.field_control, self.manufacturer_code, self.image_type, self.file_version, self.file_offset,
            self.maximum_data_size, self.page_size, self.response_spacing)
        if self.field_control & REQUEST_NODE_ADDRESS_PRESENT:
            out += bytes(self.request_node_addr)  # type: ignore[arg-type]
        return out

    @classmethod
    def read(cls, payload: bytes) -> ImagePage:
        _need(payload, _PAGE.size, "Image Page Request")
        control, manufacturer, image_type, version, offset, size, page, spacing = _PAGE.unpack_from(payload)
        node = None
        if control & REQUEST_NODE_ADDRESS_PRESENT:
            node = _node_address(payload, _PAGE.size, "Image Page Request")
        return cls(control, manufacturer, image_type, version, offset, size, page, spacing, node)


class UpgradeEnd(NamedTuple):
    """Upgrade End Request (§11.13.6.2): the device's verdict on a complete download."""

    status: Status
    manufacturer_code: int
    image_type: int
    file_version: int

    def frame(self, tsn: int, *, expect_reply: bool = True) -> bytes:
        return _request_header(tsn, UPGRADE_END, expect_reply) + _UPGRADE_END.pack(
            self.status, self.manufacturer_code, self.image_type, self.file_version)

    @classmethod
    def read(cls, payload: bytes) -> UpgradeEnd:
        _need(payload, _UPGRADE_END.size, "Upgrade End Request")
        status, manufacturer, image_type, version = _UPGRADE_END.unpack_from(payload)
        return cls(_status(status), manufacturer, image_type, version)


OtaRequest = QueryNextImage | ImageBlock | ImagePage | UpgradeEnd

_REQUESTS: dict[int, type[QueryNextImage] | type[ImageBlock] | type[ImagePage] | type[UpgradeEnd]] = {
    QUERY_NEXT_IMAGE: QueryNextImage, IMAGE_BLOCK: ImageBlock, IMAGE_PAGE: ImagePage, UPGRADE_END: UpgradeEnd,
}


def read_ota_request(zcl_header: ZclHeader, payload: bytes) -> OtaRequest | None:
    """The OTA request in a frame a device sent to its server, or ``None`` if the frame is not
    one of the four an update uses (``ValueError`` if it is one, but truncated)."""
    if zcl_header.frame_control & (_FRAME_TYPE_MASK | _SERVER_TO_CLIENT | _MANUFACTURER_SPECIFIC) != _CLUSTER_SPECIFIC:
        return None
    record = _REQUESTS.get(zcl_header.command_id)
    return None if record is None else record.read(payload)


# -- server to client: the CH's answers ------------------------------------------------------------


class ImageNotify(NamedTuple):
    """Image Notify (§11.13.3.3): the optional fields the payload type names."""

    payload_type: int
    query_jitter: int
    manufacturer_code: int | None = None
    image_type: int | None = None
    new_file_version: int | None = None

    def frame(self, tsn: int) -> bytes:
        out = _answer_header(tsn, IMAGE_NOTIFY) + _NOTIFY.pack(self.payload_type, self.query_jitter)
        if self.payload_type >= 1:
            out += _U16.pack(self.manufacturer_code)
        if self.payload_type >= 2:
            out += _U16.pack(self.image_type)
        if self.payload_type >= 3:
            out += _U32.pack(self.new_file_version)
        return out

    @classmethod
    def read(cls, payload: bytes) -> ImageNotify:
        _need(payload, 2, "Image Notify")
        kind, jitter = _NOTIFY.unpack_from(payload)
        _need(payload, 2 + (0, 2, 4, 8)[min(kind, 3)], f"Image Notify of payload type {kind}")
        manufacturer = _U16.unpack_from(payload, 2)[0] if kind >= 1 else None
        image_type = _U16.unpack_from(payload, 4)[0] if kind >= 2 else None
        version = _U32.unpack_from(payload, 6)[0] if kind >= 3 else None
        return cls(kind, jitter, manufacturer, image_type, version)


class QueryNextImageResponse(NamedTuple):
    """Query Next Image Response (§11.13.3.4): the offer with SUCCESS, the status alone otherwise."""

    status: Status
    manufacturer_code: int | None = None
    image_type: int | None = None
    file_version: int | None = None
    image_size: int | None = None

    def frame(self, tsn: int) -> bytes:
        if self.status != Status.SUCCESS:
            return _answer_header(tsn, QUERY_NEXT_IMAGE_RESPONSE) + _U8.pack(self.status)
        return _answer_header(tsn, QUERY_NEXT_IMAGE_RESPONSE) + _QUERY_OFFER.pack(
            self.status, self.manufacturer_code, self.image_type, self.file_version, self.image_size)

    @classmethod
    def read(cls, payload: bytes) -> QueryNextImageResponse:
        _need(payload, 1, "Query Next Image Response")
        if len(payload) >= _QUERY_OFFER.size:
            status, manufacturer, image_type, version, size = _QUERY_OFFER.unpack_from(payload)
            return cls(_status(status), manufacturer, image_type, version, size)
        # As zigpy reads its optional fields: each one the frame still has, none cut short.
        fields: list[int] = []
        at = 1
        for field in (_U16, _U16, _U32):
            if at == len(payload):
                break
            _need(payload, at + field.size, "Query Next Image Response")
            fields.append(field.unpack_from(payload, at)[0])
            at += field.size
        if at != len(payload):
            _need(payload, _QUERY_OFFER.size, "Query Next Image Response")
        return cls(_status(payload[0]), *fields)


class ImageBlockResponse(NamedTuple):
    """Image Block Response (§11.13.4.3): a block with SUCCESS, the wait with WAIT_FOR_DATA,
    the status alone otherwise (ABORT, MALFORMED_COMMAND)."""

    status: Status
    manufacturer_code: int | None = None
    image_type: int | None = None
    file_version: int | None = None
    file_offset: int | None = None
    image_data: bytes | None = None
    current_time: int | None = None
    request_time: int | None = None
    minimum_block_period: int | None = None

    def frame(self, tsn: int) -> bytes:
        if self.status == Status.SUCCESS:
            assert self.manufacturer_code is not None and self.image_type is not None
            assert self.file_version is not None and self.file_offset is not None
            return block_frame(tsn, self.manufacturer_code, self.image_type, self.file_version, self.file_offset,
                               self.image_data or b"")
        if self.status == Status.WAIT_FOR_DATA:
            return _answer_header(tsn, IMAGE_BLOCK_RESPONSE) + _WAIT_FOR_DATA.pack(
                self.status, self.current_time, self.request_time, self.minimum_block_period)
        return _answer_header(tsn, IMAGE_BLOCK_RESPONSE) + _U8.pack(self.status)

    @classmethod
    def read(cls, payload: bytes) -> ImageBlockResponse:
        _need(payload, 1, "Image Block Response")
        status = payload[0]
        if status == _SUCCESS:
            _need(payload, _BLOCK_DATA.size, "Image Block Response with a block")
            _, manufacturer, image_type, version, offset, length = _BLOCK_DATA.unpack_from(payload)
            end = _BLOCK_DATA.size + length
            if len(payload) < end:  # the message only when it is needed: one of these per block
                _need(payload, end, f"Image Block Response with {length} octets of data")
            data = payload[_BLOCK_DATA.size:end]
            return _record(cls, (_SUCCESS, manufacturer, image_type, version, offset, data) + _BLOCK_DEFAULTS)
        if status == Status.WAIT_FOR_DATA:
            _need(payload, _WAIT_FOR_DATA.size, "Image Block Response WAIT_FOR_DATA")
            _, current, request, period = _WAIT_FOR_DATA.unpack_from(payload)
            return cls(Status.WAIT_FOR_DATA, current_time=current, request_time=request, minimum_block_period=period)
        return cls(_status(status))


#: A block's response: none of the WAIT_FOR_DATA fields.
_BLOCK_DEFAULTS = _defaults_from(ImageBlockResponse, "current_time")


def block_frame(tsn: int, manufacturer_code: int, image_type: int, file_version: int, file_offset: int,
                data: bytes) -> bytes:
    """An Image Block Response carrying ``data``, built straight from the stored bytes."""
    return _answer_header(tsn, IMAGE_BLOCK_RESPONSE) + _BLOCK_DATA.pack(
        Status.SUCCESS, manufacturer_code, image_type, file_version, file_offset, len(data)) + data


class UpgradeEndResponse(NamedTuple):
    """Upgrade End Response (§11.13.6.3): when to switch to the image (0xFFFFFFFF: wait for
    the upgrade command)."""

    manufacturer_code: int
    image_type: int
    file_version: int
    current_time: int
    upgrade_time: int

    def frame(self, tsn: int) -> bytes:
        return _answer_header(tsn, UPGRADE_END_RESPONSE) + _UPGRADE_END_RESPONSE.pack(*self)

    @classmethod
    def read(cls, payload: bytes) -> UpgradeEndResponse:
        _need(payload, _UPGRADE_END_RESPONSE.size, "Upgrade End Response")
        return cls(*_UPGRADE_END_RESPONSE.unpack_from(payload))


class DefaultResponse(NamedTuple):
    """Default Response (§2.5.12): the status of the command ``command_id`` of the frame it answers."""

    command_id: int
    status: Status

    def frame(self, tsn: int, *, server_to_client: bool) -> bytes:
        """As zigpy's ``Cluster.general_command`` writes it (default response disabled)."""
        return header(tsn, DEFAULT_RESPONSE, cluster_specific=False, server_to_client=server_to_client,
                      disable_default_response=True) + _DEFAULT_RESPONSE.pack(self.command_id, self.status)

    @classmethod
    def read(cls, payload: bytes) -> DefaultResponse:
        _need(payload, _DEFAULT_RESPONSE.size, "Default Response")
        command, status = _DEFAULT_RESPONSE.unpack_from(payload)
        return cls(command, _status(status))


OtaAnswer = ImageNotify | QueryNextImageResponse | ImageBlockResponse | UpgradeEndResponse | DefaultResponse

_ANSWERS: dict[int, type[ImageNotify] | type[QueryNextImageResponse] | type[ImageBlockResponse]
               | type[UpgradeEndResponse]] = {
    IMAGE_NOTIFY: ImageNotify, QUERY_NEXT_IMAGE_RESPONSE: QueryNextImageResponse,
    IMAGE_BLOCK_RESPONSE: ImageBlockResponse, UPGRADE_END_RESPONSE: UpgradeEndResponse,
}


def read_ota_answer(zcl_header: ZclHeader, payload: bytes) -> OtaAnswer | None:
    """What an OTA server sent a device: one of the four OTA commands an update uses, or a
    Default Response; ``None`` for any other frame (``ValueError`` if truncated)."""
    if zcl_header.frame_control & _MANUFACTURER_SPECIFIC:
        return None
    kind = zcl_header.frame_control & _FRAME_TYPE_MASK
    if kind == 0:
        return DefaultResponse.read(payload) if zcl_header.command_id == DEFAULT_RESPONSE else None
    if kind != _CLUSTER_SPECIFIC or not zcl_header.frame_control & _SERVER_TO_CLIENT:
        return None
    record = _ANSWERS.get(zcl_header.command_id)
    return None if record is None else record.read(payload)
