"""Which OTA image identity each emulated HAN device type uses, in one place.

A Zigbee OTA client asks for images by (manufacturer code, image type); the CH serves an image
only to the device type it was built for, and checks the device's hardware version against
the header's range. The bench's emulated devices, the sample images in ``firmware_images/``
and the hub's checks all read this table, so they cannot drift apart.

Choices (image types are manufacturer-specific in Zigbee, so these only need to be distinct
under one manufacturer code):

* manufacturer code 0x121D and hardware versions 0x1111..0x1211 for every type, as in RTDS;
* meters in 0x000x: ESME 0x0000 (RTDS 11.1), GSME 0x0001;
* other HAN devices in 0x008x, around RTDS 11.4's PPMID 0x0084: HCALCS 0x0083,
  PPMID 0x0084, IHD 0x0085.

PPMID images use the unsigned form (SR 11.4, as RTDS 11.4); every other type is signed by the
Supplier (SR 11.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.ota_header import OtaHeader

RTDS_MANUFACTURER_CODE = 0x121D
RTDS_HW_MIN = 0x1111
RTDS_HW_MAX = 0x1211

# The file version emulated devices run when a bench starts, and the one the sample images
# offer as the next upgrade.
INITIAL_FILE_VERSION = 0x00000001
NEXT_FILE_VERSION = 0x00000002


@dataclass(frozen=True)
class ImageProfile:
    """The OTA image identity of one device type."""

    device_type: DeviceType
    manufacturer_code: int
    image_type: int
    hw_min: int
    hw_max: int
    signed: bool

    def file_name(self, file_version: int) -> str:
        """Sample image file name, e.g. ``ESME-121D-0000-00000002.ota``."""
        return f"{self.device_type.name}-{self.manufacturer_code:04X}-{self.image_type:04X}-{file_version:08X}.ota"


def _profile(device_type: DeviceType, image_type: int, *, signed: bool = True) -> ImageProfile:
    return ImageProfile(device_type, RTDS_MANUFACTURER_CODE, image_type, RTDS_HW_MIN, RTDS_HW_MAX, signed)


IMAGE_PROFILES: Mapping[DeviceType, ImageProfile] = MappingProxyType({
    DeviceType.ESME: _profile(DeviceType.ESME, 0x0000),
    DeviceType.GSME: _profile(DeviceType.GSME, 0x0001),
    DeviceType.HCALCS: _profile(DeviceType.HCALCS, 0x0083),
    DeviceType.PPMID: _profile(DeviceType.PPMID, 0x0084, signed=False),
    DeviceType.IHD: _profile(DeviceType.IHD, 0x0085),
})


def profile_for(device_type: DeviceType | str) -> ImageProfile:
    """The image profile of ``device_type`` (a :class:`DeviceType` or its spelling, ``"esme"``)."""
    kind = device_type if isinstance(device_type, DeviceType) else DeviceType.parse(device_type)
    try:
        return IMAGE_PROFILES[kind]
    except KeyError:
        known = ", ".join(IMAGE_PROFILES)
        raise GbcsError(f"the bench has no firmware image profile for {kind.value}; it has {known}") from None


def device_type_of(header: OtaHeader) -> DeviceType | None:
    """The device type an image header is for, or ``None`` if no profile matches it."""
    for profile in IMAGE_PROFILES.values():
        if header.is_for(profile.manufacturer_code, profile.image_type):
            return profile.device_type
    return None
