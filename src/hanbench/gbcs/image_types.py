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
  PPMID 0x0084, IHD 0x0085;
* the CH's own firmware 0x0002 (Silicon Labs' GBCS device type code for the CHF): it never
  travels over the HAN, so it is no profile a HAN device is served (:data:`CH_PROFILE`, not
  in :data:`IMAGE_PROFILES`); the DCC signs it (:mod:`hanbench.hub.own_firmware`);
* the Alt HAN bridges after them, one image type per bridge type (seed 002: "Each Alt HAN
  Device will have its own firmware package"): B1 0x0086, B2 0x0087, B3 0x0088, B4 0x0089.
  An orchestrating bridge's package (a bundle, :mod:`hanbench.gbcs.althan_bundle`) carries
  the orchestrator's image type, since it is the orchestrator that fetches it.

PPMID images use the unsigned form (SR 11.4, as RTDS 11.4), and so do the bridges', which
join as PPMID variants and re-use SR 11.4 (seed 002); every other type is signed by the
Supplier (SR 11.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hanbench.gbcs.device_types import DeviceType, PpmidVariant
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
    """The OTA image identity of one device type (of one bridge type, for an Alt HAN bridge)."""

    device_type: DeviceType
    manufacturer_code: int
    image_type: int
    hw_min: int
    hw_max: int
    signed: bool
    variant: PpmidVariant | None = None

    @property
    def name(self) -> str:
        """How files and messages name the profile: ``ESME``, ``ALT_HAN_B3``."""
        return self.device_type.name if self.variant is None else f"{self.device_type.name}_{self.variant.value}"

    def file_name(self, file_version: int) -> str:
        """Sample image file name, e.g. ``ESME-121D-0000-00000002.ota``."""
        return f"{self.name}-{self.manufacturer_code:04X}-{self.image_type:04X}-{file_version:08X}.ota"


def _profile(device_type: DeviceType, image_type: int, *, signed: bool = True,
             variant: PpmidVariant | None = None) -> ImageProfile:
    return ImageProfile(device_type, RTDS_MANUFACTURER_CODE, image_type, RTDS_HW_MIN, RTDS_HW_MAX, signed, variant)


IMAGE_PROFILES: Mapping[DeviceType, ImageProfile] = MappingProxyType({
    DeviceType.ESME: _profile(DeviceType.ESME, 0x0000),
    DeviceType.GSME: _profile(DeviceType.GSME, 0x0001),
    DeviceType.HCALCS: _profile(DeviceType.HCALCS, 0x0083),
    DeviceType.PPMID: _profile(DeviceType.PPMID, 0x0084, signed=False),
    DeviceType.IHD: _profile(DeviceType.IHD, 0x0085),
})


#: The CH's own firmware (see the module docstring).
CH_PROFILE = _profile(DeviceType.CH, 0x0002)


BRIDGE_PROFILES: Mapping[PpmidVariant, ImageProfile] = MappingProxyType({
    variant: _profile(DeviceType.ALT_HAN, 0x0085 + variant.code, signed=False, variant=variant)
    for variant in PpmidVariant.bridges()
})


def profile_for(device_type: DeviceType | str, variant: PpmidVariant | None = None) -> ImageProfile:
    """The image profile of ``device_type`` (a :class:`DeviceType` or its spelling, ``"esme"``);
    an Alt HAN bridge's is its bridge type's, so ``variant`` is needed for one."""
    kind = device_type if isinstance(device_type, DeviceType) else DeviceType.parse(device_type)
    if kind is DeviceType.ALT_HAN:
        if variant is None or variant not in BRIDGE_PROFILES:
            raise GbcsError("each Alt HAN bridge type has its own firmware package: name the bridge type "
                            f"({', '.join(BRIDGE_PROFILES)})")
        return BRIDGE_PROFILES[variant]
    try:
        return IMAGE_PROFILES[kind]
    except KeyError:
        known = ", ".join([*IMAGE_PROFILES, DeviceType.ALT_HAN])
        raise GbcsError(f"the bench has no firmware image profile for {kind.value}; it has {known}") from None


def all_profiles() -> tuple[ImageProfile, ...]:
    """Every profile: each device type's, then each bridge type's."""
    return (*IMAGE_PROFILES.values(), *BRIDGE_PROFILES.values())


def profile_of(header: OtaHeader) -> ImageProfile | None:
    """The profile an image header is for, or ``None`` if none matches it."""
    for profile in all_profiles():
        if header.is_for(profile.manufacturer_code, profile.image_type):
            return profile
    return None


def device_type_of(header: OtaHeader) -> DeviceType | None:
    """The device type an image header is for, or ``None`` if no profile matches it."""
    profile = profile_of(header)
    return None if profile is None else profile.device_type
