"""The bench's own format for the Manufacturer Image of an *emulated* device's firmware.

GBCS signs the Manufacturer Image and nothing else of an OTA Upgrade Image (GBCS 11.2.2-11.2.4);
the OTA header's file version, image type and hardware range travel unsigned, and anyone on
the air can rewrite them. A real device learns what an image is from the manufacturer's own
content; the bench's emulated devices do the same, from this small header at the start of
the Manufacturer Image, which the Supplier's signature covers::

    offset size  field
    0      4     magic "HBFW" (48 42 46 57)
    4      1     format version (1)
    5      1     device type code (table below)
    6      4     firmware version, the version the device runs once it activates this image
    10     2     minimum hardware version the firmware runs on
    12     2     maximum hardware version the firmware runs on
    14     ...   payload (the firmware itself; opaque)

Multi-byte numbers are big-endian, as everywhere in GBCS. Device type codes: 1 ESME, 2 GSME,
3 HCALCS, 4 PPMID, 5 IHD, 6 CH, 7 Alt HAN bridge.

What the facts are checked against lives here once, for every reader: :meth:`EmulatedFirmware.misfits`
(the device: its type, its hardware version) and :meth:`EmulatedFirmware.relabelled` (the unsigned
OTA header: type, file version, hardware range). The emulated devices refuse an image either names
a problem for (0x8F1C), and ``hanbench validate`` reports them.

A Manufacturer Image that does not start with the magic is a real manufacturer's and stays
opaque: :func:`read_emulated_firmware` returns None for it. One that starts with the magic but
is otherwise malformed is refused (:class:`ImageFormatError` naming the field and offset):
it claims to be emulated firmware and is not. Hand-written because the format is the bench's
own.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from types import MappingProxyType

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.errors import ImageFormatError, MessageFormatError
from hanbench.gbcs.fields import Cursor, check_bytes, check_uint
from hanbench.gbcs.image import UpgradeImage, build_image
from hanbench.gbcs.image_types import ImageProfile, device_type_of
from hanbench.gbcs.ota_header import OtaHeader

MAGIC = b"HBFW"
FORMAT_VERSION = 1
HEADER_LENGTH = 14

DEVICE_TYPE_CODES = MappingProxyType({
    DeviceType.ESME: 1, DeviceType.GSME: 2, DeviceType.HCALCS: 3, DeviceType.PPMID: 4,
    DeviceType.IHD: 5, DeviceType.CH: 6, DeviceType.ALT_HAN: 7,
})
_TYPES_BY_CODE = {code: kind for kind, code in DEVICE_TYPE_CODES.items()}
_WHAT = "emulated firmware header in the Manufacturer Image"


@dataclass(frozen=True)
class EmulatedFirmware:
    """What an emulated Manufacturer Image says about itself, and its payload."""

    device_type: DeviceType
    firmware_version: int
    hw_min: int
    hw_max: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        try:
            if not isinstance(self.device_type, DeviceType):
                raise MessageFormatError(f"device type must be a DeviceType, got {self.device_type!r}")
            check_uint(self.firmware_version, 32, "firmware version")
            check_uint(self.hw_min, 16, "minimum hardware version")
            check_uint(self.hw_max, 16, "maximum hardware version")
            check_bytes(self.payload, "payload")
        except MessageFormatError as exc:
            raise ImageFormatError(f"{_WHAT}: {exc}") from None
        if self.hw_min > self.hw_max:
            raise ImageFormatError(f"{_WHAT}: hardware range 0x{self.hw_min:04X}..0x{self.hw_max:04X} is inverted")

    def runs_on(self, device_type: DeviceType, hw_version: int) -> bool:
        """Whether this firmware is for a device of ``device_type`` at ``hw_version``."""
        return device_type is self.device_type and self.hw_min <= hw_version <= self.hw_max

    def misfits(self, device_type: DeviceType, hw_version: int) -> list[str]:
        """Why this firmware is not for a ``device_type`` at ``hw_version``; empty when it is."""
        problems = []
        if device_type is not self.device_type:
            problems.append(f"the signed firmware is for {self.device_type.name}, the device is {device_type.name}")
        if not self.hw_min <= hw_version <= self.hw_max:
            problems.append(f"it runs on hardware {hardware_range(self.hw_min, self.hw_max)}, not the device's "
                            f"0x{hw_version:04X}")
        return problems

    def relabelled(self, header: OtaHeader) -> list[str]:
        """Where the unsigned OTA ``header`` says something else than this signed firmware; empty
        when it agrees (device type, file version, hardware range)."""
        problems = []
        labelled = device_type_of(header)
        if labelled is not self.device_type:
            named = labelled.name if labelled is not None else "no bench device type"
            problems.append(f"the header is for {named}, the signed firmware for {self.device_type.name}")
        if header.file_version != self.firmware_version:
            problems.append(f"the header says file version 0x{header.file_version:08X}, the signed firmware "
                            f"0x{self.firmware_version:08X}")
        if (header.hw_min, header.hw_max) != (self.hw_min, self.hw_max):
            problems.append(f"the header says {hardware_range(header.hw_min, header.hw_max)}, the signed firmware "
                            f"{hardware_range(self.hw_min, self.hw_max)}")
        return problems

    def encode(self) -> bytes:
        """The Manufacturer Image: header, then payload."""
        return (MAGIC + bytes([FORMAT_VERSION, DEVICE_TYPE_CODES[self.device_type]])
                + self.firmware_version.to_bytes(4, "big") + self.hw_min.to_bytes(2, "big")
                + self.hw_max.to_bytes(2, "big") + self.payload)


def hardware_range(low: int | None, high: int | None) -> str:
    """A hardware range as people read it; an OTA header may carry none."""
    return "any hardware version" if low is None or high is None else f"0x{low:04X}..0x{high:04X}"


def is_emulated_firmware(manufacturer_image: bytes) -> bool:
    """Whether the Manufacturer Image claims this format (starts with the magic)."""
    return manufacturer_image[:len(MAGIC)] == MAGIC


def read_emulated_firmware(manufacturer_image: bytes) -> EmulatedFirmware | None:
    """The facts an emulated Manufacturer Image carries; None for a real (opaque) one."""
    if not is_emulated_firmware(manufacturer_image):
        return None
    cur = Cursor(manufacturer_image, _WHAT)
    try:
        cur.format_header(MAGIC, FORMAT_VERSION)
        at = cur.offset
        code = cur.byte("device type")
        if code not in _TYPES_BY_CODE:
            known = ", ".join(f"{c} {t.value}" for c, t in sorted(_TYPES_BY_CODE.items()))
            raise cur.fail("device type", f"code {code} is not one of {known}", at)
        firmware_version = cur.uint(4, "firmware version")
        hw_min, hw_max = cur.uint(2, "minimum hardware version"), cur.uint(2, "maximum hardware version")
    except MessageFormatError as exc:
        raise ImageFormatError(str(exc)) from None
    return EmulatedFirmware(_TYPES_BY_CODE[code], firmware_version, hw_min, hw_max, cur.rest())


def build_emulated_image(profile: ImageProfile, file_version: int, payload: bytes, *,
                         sign_key: ec.EllipticCurvePrivateKey | None, header_string: str = "") -> UpgradeImage:
    """An OTA Upgrade Image of emulated firmware for ``profile``'s device type at ``file_version``.

    The signed facts (type, version, the profile's hardware range) and the unsigned OTA header
    agree, as an honest supplier's image does; ``sign_key`` None leaves it unsigned (SR 11.4).
    """
    facts = EmulatedFirmware(profile.device_type, file_version, profile.hw_min, profile.hw_max, payload)
    return build_image(facts.encode(), manufacturer_code=profile.manufacturer_code, image_type=profile.image_type,
                       file_version=file_version, hw_min=profile.hw_min, hw_max=profile.hw_max,
                       header_string=header_string, sign_key=sign_key)
