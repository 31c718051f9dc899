"""The Zigbee OTA file header that opens every GBCS OTA Upgrade Image (GBCS 11.2.3).

All integers are little-endian. The header is 56 bytes plus the optional fields that the
field control announces, in this order: security credential version (1 byte), upgrade file
destination (an IEEE address, 8 bytes) and minimum/maximum hardware version (2 + 2 bytes).

The field control and the header length are *derived* from which optional fields are set, so
an :class:`OtaHeader` can never claim a field it does not carry. The parser checks the bytes
against that derivation instead of trusting them.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import ImageFormatError

MAGIC = 0x0BEEF11E
HEADER_VERSION = 0x0100
HEADER_STRING_LENGTH = 32
ZIGBEE_PRO_STACK = 0x0002

# magic, header version, header length, field control, manufacturer code, image type,
# file version, stack version, header string, total image size
_FIXED = struct.Struct(f"<IHHHHHIH{HEADER_STRING_LENGTH}sI")
BASE_HEADER_LENGTH = _FIXED.size  # 56
TOTAL_IMAGE_SIZE_OFFSET = BASE_HEADER_LENGTH - 4


class FieldControl(enum.IntFlag):
    """Bits of the OTA header field control: which optional fields follow the fixed part."""

    SECURITY_CREDENTIAL_VERSION = 0x0001
    UPGRADE_FILE_DESTINATION = 0x0002
    HARDWARE_VERSIONS = 0x0004


_KNOWN_BITS = int(FieldControl.SECURITY_CREDENTIAL_VERSION | FieldControl.UPGRADE_FILE_DESTINATION
                  | FieldControl.HARDWARE_VERSIONS)
_OPTIONAL_LENGTH = {
    FieldControl.SECURITY_CREDENTIAL_VERSION: 1,
    FieldControl.UPGRADE_FILE_DESTINATION: 8,
    FieldControl.HARDWARE_VERSIONS: 4,
}


def check_uint(name: str, value: object, bits: int) -> int:
    """``value`` if it is an int that fits in ``bits`` unsigned bits, else :class:`ImageFormatError`.

    Shared by the header and by :func:`hanbench.gbcs.image.build_image` so a bad number is
    refused where it is given, not later as a ``struct.error`` while encoding.
    """
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ImageFormatError(f"{name} must be an unsigned {bits}-bit integer, got {value!r}")
    return value


@dataclass(frozen=True)
class OtaHeader:
    """One Zigbee OTA file header; optional fields are ``None`` when absent.

    ``header_string`` holds the raw 32-byte field (shorter values are padded with NUL), so
    a parsed header re-encodes byte for byte whatever it contains; :attr:`text` is the
    readable form.
    """

    manufacturer_code: int
    image_type: int
    file_version: int
    total_image_size: int
    stack_version: int = ZIGBEE_PRO_STACK
    header_string: bytes = b""
    security_credential_version: int | None = None
    upgrade_file_destination: EntityId | None = None
    hw_min: int | None = None
    hw_max: int | None = None

    def __post_init__(self) -> None:
        check_uint("manufacturer code", self.manufacturer_code, 16)
        check_uint("image type", self.image_type, 16)
        check_uint("file version", self.file_version, 32)
        check_uint("total image size", self.total_image_size, 32)
        check_uint("zigbee stack version", self.stack_version, 16)
        if not isinstance(self.header_string, bytes) or len(self.header_string) > HEADER_STRING_LENGTH:
            raise ImageFormatError(
                f"header string must be at most {HEADER_STRING_LENGTH} bytes, got {self.header_string!r}"
            )
        object.__setattr__(self, "header_string", self.header_string.ljust(HEADER_STRING_LENGTH, b"\0"))
        if self.security_credential_version is not None:
            check_uint("security credential version", self.security_credential_version, 8)
        if self.upgrade_file_destination is not None and not isinstance(self.upgrade_file_destination, EntityId):
            raise ImageFormatError(
                f"upgrade file destination must be an EntityId, got {self.upgrade_file_destination!r}"
            )
        if (self.hw_min is None) != (self.hw_max is None):
            raise ImageFormatError("give both minimum and maximum hardware version, or neither")
        if self.hw_min is not None and self.hw_max is not None:
            check_uint("minimum hardware version", self.hw_min, 16)
            check_uint("maximum hardware version", self.hw_max, 16)
            if self.hw_min > self.hw_max:
                raise ImageFormatError(
                    f"minimum hardware version 0x{self.hw_min:04X} is above maximum 0x{self.hw_max:04X}"
                )

    @property
    def field_control(self) -> FieldControl:
        """The field control these optional fields imply."""
        bits = FieldControl(0)
        if self.security_credential_version is not None:
            bits |= FieldControl.SECURITY_CREDENTIAL_VERSION
        if self.upgrade_file_destination is not None:
            bits |= FieldControl.UPGRADE_FILE_DESTINATION
        if self.hw_min is not None:
            bits |= FieldControl.HARDWARE_VERSIONS
        return bits

    @property
    def header_length(self) -> int:
        """Bytes the encoded header occupies: 56 plus the optional fields present."""
        return header_length_for(self.field_control)

    @property
    def text(self) -> str:
        """The header string as text: UTF-8 up to the first NUL, undecodable bytes replaced."""
        return self.header_string.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    def accepts_hardware_version(self, hw: int) -> bool:
        """Whether a device of hardware version ``hw`` may take this image.

        An image without a hardware range suits every hardware version; the CH answers a
        mismatch with CCS08 response code 2 "Hardware Version Mismatch".
        """
        if self.hw_min is None or self.hw_max is None:
            return True
        return self.hw_min <= hw <= self.hw_max

    def is_for(self, manufacturer_code: int, image_type: int) -> bool:
        """Whether this image is the one a Query Next Image for this code and type asks about."""
        return self.manufacturer_code == manufacturer_code and self.image_type == image_type

    def is_newer_than(self, file_version: int) -> bool:
        """Whether this image's file version is above a device's current one."""
        return self.file_version > file_version

    def to_bytes(self) -> bytes:
        """The header as it appears on the wire."""
        out = bytearray(
            _FIXED.pack(
                MAGIC, HEADER_VERSION, self.header_length, int(self.field_control),
                self.manufacturer_code, self.image_type, self.file_version, self.stack_version,
                self.header_string, self.total_image_size,
            )
        )
        if self.security_credential_version is not None:
            out.append(self.security_credential_version)
        if self.upgrade_file_destination is not None:
            out += self.upgrade_file_destination.raw[::-1]  # IEEE address, little-endian on the air
        if self.hw_min is not None and self.hw_max is not None:
            out += struct.pack("<HH", self.hw_min, self.hw_max)
        return bytes(out)


def header_length_for(field_control: FieldControl) -> int:
    """Header length a field control implies."""
    return BASE_HEADER_LENGTH + sum(n for bit, n in _OPTIONAL_LENGTH.items() if bit in field_control)


class _Reader:
    """Reads fields in order, naming field and offset when the bytes run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, field: str, size: int) -> bytes:
        chunk = self.data[self.offset:self.offset + size]
        if len(chunk) != size:
            raise ImageFormatError(
                f"truncated OTA header: {field} at offset {self.offset} needs {size} bytes, "
                f"only {len(chunk)} left"
            )
        self.offset += size
        return chunk

    def uint(self, field: str, size: int) -> tuple[int, int]:
        """The little-endian integer of ``field`` and the offset it was read at."""
        at = self.offset
        return int.from_bytes(self.take(field, size), "little"), at


def parse_header(data: bytes) -> OtaHeader:
    """Parse the OTA header at the start of ``data``; bytes after the header are not looked at.

    Strict: the magic, the header version, unknown field control bits, a header length that
    disagrees with the field control and an inverted hardware range are all refused with
    :class:`ImageFormatError` naming the field and its byte offset. The total image size is
    returned as read; :func:`hanbench.gbcs.image.parse_image` checks it against the file.
    """
    r = _Reader(bytes(data))
    magic, at = r.uint("upgrade file identifier", 4)
    if magic != MAGIC:
        raise ImageFormatError(
            f"not an OTA image: upgrade file identifier at offset {at} is 0x{magic:08X}, expected 0x{MAGIC:08X}"
        )
    version, at = r.uint("header version", 2)
    if version != HEADER_VERSION:
        raise ImageFormatError(
            f"unsupported OTA header version 0x{version:04X} at offset {at}, expected 0x{HEADER_VERSION:04X}"
        )
    length, length_at = r.uint("header length", 2)
    control, at = r.uint("field control", 2)
    if control & ~_KNOWN_BITS:
        raise ImageFormatError(
            f"field control at offset {at} is 0x{control:04X}: unknown bits 0x{control & ~_KNOWN_BITS:04X}"
        )
    fields = FieldControl(control)
    if length != header_length_for(fields):
        raise ImageFormatError(
            f"header length at offset {length_at} is {length} but field control 0x{control:04X} "
            f"implies {header_length_for(fields)}"
        )
    manufacturer_code, _ = r.uint("manufacturer code", 2)
    image_type, _ = r.uint("image type", 2)
    file_version, _ = r.uint("file version", 4)
    stack_version, _ = r.uint("zigbee stack version", 2)
    header_string = r.take("header string", HEADER_STRING_LENGTH)
    total_image_size, _ = r.uint("total image size", 4)
    credential = destination = hw_min = hw_max = None
    if FieldControl.SECURITY_CREDENTIAL_VERSION in fields:
        credential, _ = r.uint("security credential version", 1)
    if FieldControl.UPGRADE_FILE_DESTINATION in fields:
        destination = EntityId(r.take("upgrade file destination", 8)[::-1])
    if FieldControl.HARDWARE_VERSIONS in fields:
        hw_min, at = r.uint("minimum hardware version", 2)
        hw_max, _ = r.uint("maximum hardware version", 2)
        if hw_min > hw_max:
            raise ImageFormatError(
                f"hardware versions at offset {at}: minimum 0x{hw_min:04X} is above maximum 0x{hw_max:04X}"
            )
    return OtaHeader(
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        total_image_size=total_image_size,
        stack_version=stack_version,
        header_string=header_string,
        security_credential_version=credential,
        upgrade_file_destination=destination,
        hw_min=hw_min,
        hw_max=hw_max,
    )
