"""The Alt HAN firmware bundle: several bridges' firmware in one Manufacturer Image (MP170).

Seed 002 has one bridge fetch the firmware of others and hand it on: under option A, Bridge 3
"orchestrate[s] the firmware download" to the sleepy Bridge 4 and "Bridges 3 and 4 will be
packaged together"; under option B, Bridge 1 orchestrates every other bridge and "Suppliers
will need to package the firmware correctly, depending on the specific Alt HAN Devices that
are on site". GBCS defines no such package, so this is the bench's own, documented here and
nowhere else.

A bundle is the Manufacturer Image of the OTA Upgrade Image the orchestrating bridge fetches
(SR 11.4, the unsigned PPMID form, under the orchestrator's image type)::

    offset      size  field
    0           4     magic "HBAB" (48 42 41 42)
    4           1     format version (1)
    5           1     number of components n, 1..4
    6           ...   n components, each:
                        1  bridge type: 1 B1, 2 B2, 3 B3, 4 B4 (each at most once)
                        4  length L of the component
                        L  the component: a complete OTA Upgrade Image for that bridge type,
                           as the orchestrator serves it on (unsigned form, its own header)
    end - 64    64    signature: ECDSA P-256 / SHA-256 over every byte before it, raw r || s,
                      by the Supplier who packaged the bundle

Multi-byte numbers are big-endian, as everywhere in GBCS. Why a signature over the whole: the
outer image is unsigned (SR 11.4, as RTDS 11.4), yet the orchestrator passes parts of it on
to bridges the Supplier cannot address and the DCC cannot see. The Supplier's signature over
the packaging (which firmware for which bridge type) lets the orchestrator refuse a bundle
altered on the way before it hands any part on, and each bridge still checks its own
component as it checks any image.

:func:`read_bundle` returns ``None`` for a Manufacturer Image without the magic (a single
bridge's own firmware); one with the magic that is malformed is refused with
:class:`~hanbench.gbcs.errors.ImageFormatError` naming the field and its offset. Hand-written
because the format is the bench's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.errors import ImageFormatError, MessageFormatError
from hanbench.gbcs.fields import Cursor
from hanbench.gbcs.image import UpgradeImage, build_image
from hanbench.gbcs.image_types import BRIDGE_PROFILES
from hanbench.gbcs.signing import SIGNATURE_LENGTH, sign_raw, verify_raw

MAGIC = b"HBAB"
FORMAT_VERSION = 1
MAX_COMPONENTS = len(PpmidVariant.bridges())
_WHAT = "Alt HAN bundle in the Manufacturer Image"
_BY_CODE = {variant.code: variant for variant in PpmidVariant.bridges()}


@dataclass(frozen=True)
class AltHanBundle:
    """The components of a bundle by bridge type, and the signature over the whole.

    ``components`` keeps the order the bytes had; ``signed_bytes`` is what the signature covers.
    """

    components: Mapping[PpmidVariant, bytes]
    signature: bytes
    signed_bytes: bytes

    @property
    def bridges(self) -> tuple[PpmidVariant, ...]:
        """The bridge types the bundle carries firmware for, in bundle order."""
        return tuple(self.components)

    def component(self, variant: PpmidVariant) -> bytes | None:
        """The OTA Upgrade Image for bridge type ``variant``, or ``None`` if the bundle has none."""
        return self.components.get(variant)

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> bool:
        """Whether the holder of ``public_key`` (the Supplier) signed the bundle as it is."""
        return verify_raw(public_key, self.signed_bytes, self.signature)

    def to_bytes(self) -> bytes:
        """The bundle as it sits in the Manufacturer Image; a read bundle encodes back byte for byte."""
        return self.signed_bytes + self.signature


def is_bundle(manufacturer_image: bytes) -> bool:
    """Whether the Manufacturer Image claims to be a bundle (starts with the magic)."""
    return manufacturer_image[:len(MAGIC)] == MAGIC


def build_bundle(components: Mapping[PpmidVariant, bytes], signer: ec.EllipticCurvePrivateKey) -> AltHanBundle:
    """A bundle of ``components`` (bridge type -> its OTA Upgrade Image), signed by ``signer``."""
    if not 1 <= len(components) <= MAX_COMPONENTS:
        raise ImageFormatError(f"{_WHAT}: a bundle carries 1 to {MAX_COMPONENTS} components, got {len(components)}")
    body = bytearray(MAGIC + bytes([FORMAT_VERSION, len(components)]))
    for variant, image in components.items():
        if variant not in _BY_CODE.values():
            raise ImageFormatError(f"{_WHAT}: {variant} is not a bridge type; a bundle carries B1 to B4")
        if not isinstance(image, bytes) or not image:
            raise ImageFormatError(f"{_WHAT}: the {variant} component must be the bytes of an OTA Upgrade Image")
        body += bytes([variant.code]) + len(image).to_bytes(4, "big") + image
    signed = bytes(body)
    return AltHanBundle(MappingProxyType(dict(components)), sign_raw(signer, signed), signed)


def read_bundle(manufacturer_image: bytes) -> AltHanBundle | None:
    """The bundle a Manufacturer Image carries; ``None`` for one without the magic."""
    if not is_bundle(manufacturer_image):
        return None
    if len(manufacturer_image) < len(MAGIC) + 2 + SIGNATURE_LENGTH:
        raise ImageFormatError(f"{_WHAT}: {len(manufacturer_image)} bytes cannot hold a header and a signature")
    signed, signature = manufacturer_image[:-SIGNATURE_LENGTH], manufacturer_image[-SIGNATURE_LENGTH:]
    cur = Cursor(signed, _WHAT)
    components: dict[PpmidVariant, bytes] = {}
    try:
        cur.format_header(MAGIC, FORMAT_VERSION)
        at = cur.offset
        count = cur.byte("number of components")
        if not 1 <= count <= MAX_COMPONENTS:
            raise cur.fail("number of components", f"{count} is not 1 to {MAX_COMPONENTS}", at)
        for index in range(count):
            at = cur.offset
            code = cur.byte(f"component {index} bridge type")
            variant = _BY_CODE.get(code)
            if variant is None:
                raise cur.fail(f"component {index} bridge type", f"code {code} is not 1 (B1) to 4 (B4)", at)
            if variant in components:
                raise cur.fail(f"component {index} bridge type", f"{variant} appears twice", at)
            length = cur.uint(4, f"component {index} length")
            if length == 0:
                raise cur.fail(f"component {index} length", "a component cannot be empty", at + 1)
            components[variant] = cur.take(length, f"component {index} ({variant})")
        cur.done("end of the components (the signature follows)")
    except MessageFormatError as exc:
        raise ImageFormatError(str(exc)) from None
    return AltHanBundle(MappingProxyType(components), signature, signed)


def package_image(components: Mapping[PpmidVariant, UpgradeImage], orchestrator: PpmidVariant,
                  signer: ec.EllipticCurvePrivateKey) -> UpgradeImage:
    """The OTA Upgrade Image a Supplier sends to ``orchestrator`` (SR 11.4): a bundle of
    ``components``, signed by ``signer``, under the orchestrator's image type and hardware
    range, in the unsigned PPMID form. Its file version is the orchestrator's component's
    (the newest component's when the bundle carries none for it), so the orchestrator's Query
    Next Image finds it newer than what it runs."""
    bundle = build_bundle({variant: image.to_bytes() for variant, image in components.items()}, signer)
    profile = BRIDGE_PROFILES[orchestrator]
    own = components.get(orchestrator)
    version = own.header.file_version if own is not None else max(i.header.file_version for i in components.values())
    names = "+".join(variant.value for variant in components)
    return build_image(bundle.to_bytes(), manufacturer_code=profile.manufacturer_code, image_type=profile.image_type,
                       file_version=version, hw_min=profile.hw_min, hw_max=profile.hw_max,
                       header_string=f"bundle {names} fw {version:08X}")
