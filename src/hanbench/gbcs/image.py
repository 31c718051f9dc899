"""The GBCS OTA Upgrade Image (GBCS 11.2.2 - 11.2.4), encoded, decoded, hashed and signed.

Signed form (SR 11.1 images for ESME, GSME, HCALCS)::

    OTA header || Manufacturer Image || Force Replace (1) || 0x40 || signature (64, raw r||s)

where the signature is the authorising Supplier's ECDSA P-256 / SHA-256 signature over the
Manufacturer Image. Unsigned form (SR 11.4 PPMID images, as in RTDS 11.4)::

    OTA header || Manufacturer Image

The Manufacturer Image Hash (SHA-256 of the Manufacturer Image) is what CS06 Activate
Firmware and the Firmware Distribution Receipt Alert carry.

Pure: bytes in, bytes out; no files, no asyncio, no zigpy (a generic Zigbee OTA parser would
read the GBCS trailer as tag/length sub-elements and get it wrong).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.ota_header import (
    HEADER_STRING_LENGTH,
    TOTAL_IMAGE_SIZE_OFFSET,
    ZIGBEE_PRO_STACK,
    FieldControl,
    OtaHeader,
    parse_header,
)
from hanbench.gbcs.signing import SIGNATURE_LENGTH, sign_raw, verify_raw

__all__ = [
    "TRAILER_LENGTH",
    "FieldControl",
    "OtaHeader",
    "UpgradeImage",
    "build_image",
    "parse_header",
    "parse_image",
]

# Force Replace byte, signature length byte, signature.
TRAILER_LENGTH = 2 + SIGNATURE_LENGTH
_UNSIGNED_HINT = " (if this is an unsigned PPMID image, read it as unsigned)"


@dataclass(frozen=True)
class UpgradeImage:
    """One GBCS OTA Upgrade Image; ``signature`` is ``None`` for the unsigned (PPMID) form.

    The header's total image size must match what :meth:`to_bytes` produces, and the unsigned
    form cannot say "force replace" (it has no byte for it); both are refused at construction
    so an inconsistent image cannot exist.
    """

    header: OtaHeader
    manufacturer_image: bytes
    force_replace: bool = False
    signature: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.manufacturer_image, bytes):
            raise ImageFormatError("the manufacturer image must be bytes")
        if self.signature is not None and len(self.signature) != SIGNATURE_LENGTH:
            raise ImageFormatError(
                f"a signature is {SIGNATURE_LENGTH} bytes (raw r||s), got {len(self.signature)}"
            )
        if self.signature is None and self.force_replace:
            raise ImageFormatError("the unsigned image form has no Force Replace byte; sign it to force replace")
        expected = _encoded_size(self.header, len(self.manufacturer_image), self.is_signed)
        if self.header.total_image_size != expected:
            raise ImageFormatError(
                f"header total image size {self.header.total_image_size} does not match the image's {expected} bytes"
            )

    @property
    def is_signed(self) -> bool:
        """Whether the image carries the Force Replace / signature trailer."""
        return self.signature is not None

    @cached_property
    def manufacturer_image_hash(self) -> bytes:
        """SHA-256 of the Manufacturer Image (GBCS 11.2.4): what CS06 must name to activate it."""
        return hashlib.sha256(self.manufacturer_image).digest()

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> bool:
        """Whether the signature is the holder of ``public_key``'s over the Manufacturer Image.

        An unsigned image never verifies.
        """
        return self.signature is not None and verify_raw(public_key, self.manufacturer_image, self.signature)

    def signed(self, private_key: ec.EllipticCurvePrivateKey) -> UpgradeImage:
        """A copy signed with ``private_key`` (the authorising Supplier's DS key).

        ECDSA signatures are randomised, so two calls give different, equally valid, bytes.
        """
        header = replace(
            self.header, total_image_size=_encoded_size(self.header, len(self.manufacturer_image), signed=True)
        )
        return replace(self, header=header, signature=sign_raw(private_key, self.manufacturer_image))

    def to_bytes(self) -> bytes:
        """The image as it is distributed; a parsed image re-encodes byte for byte."""
        body = self.header.to_bytes() + self.manufacturer_image
        if self.signature is None:
            return body
        return body + bytes([int(self.force_replace), SIGNATURE_LENGTH]) + self.signature


def _encoded_size(header: OtaHeader, manufacturer_image_length: int, signed: bool) -> int:
    return header.header_length + manufacturer_image_length + (TRAILER_LENGTH if signed else 0)


def _has_trailer_shape(body: bytes) -> bool:
    """The auto-detection rule: the last 66 bytes start with a 0/1 byte and then 0x40."""
    if len(body) < TRAILER_LENGTH:
        return False
    return body[-TRAILER_LENGTH] in (0, 1) and body[-TRAILER_LENGTH + 1] == SIGNATURE_LENGTH


def parse_image(data: bytes, *, signed: bool | None = True) -> UpgradeImage:
    """Decode a GBCS OTA Upgrade Image, strictly.

    ``signed`` says which form to expect, and fails closed by default:

    * ``True`` (default): the signed form. A missing or malformed trailer (Force Replace
      not 0/1, signature length not 0x40, too few bytes) is an error naming its offset, so an
      unsigned or damaged image is never mistaken for a shorter signed one. Use this for
      SR 11.1 images (ESME, GSME, HCALCS).
    * ``False``: the unsigned PPMID form (SR 11.4): everything after the header is the
      Manufacturer Image.
    * ``None``: detect. Signed if the last 66 bytes have the trailer's shape (a 0/1 byte,
      then 0x40), else unsigned. Only for tools that inspect a file of unknown origin: an
      unsigned image whose data happens to end in that shape reads as signed, and a signed
      image with a damaged trailer reads as unsigned (and then fails to verify).

    Every defect raises :class:`ImageFormatError` naming the field and byte offset.
    """
    data = bytes(data)
    header = parse_header(data)
    size_at = TOTAL_IMAGE_SIZE_OFFSET
    if header.total_image_size > len(data):
        raise ImageFormatError(
            f"truncated image: total image size at offset {size_at} is {header.total_image_size} "
            f"but only {len(data)} bytes are present"
        )
    if header.total_image_size < len(data):
        raise ImageFormatError(
            f"{len(data) - header.total_image_size} trailing bytes after the image's total size "
            f"({header.total_image_size}, from offset {size_at}) at offset {header.total_image_size}"
        )
    start = header.header_length
    body = data[start:]
    if signed is None:
        signed = _has_trailer_shape(body)
    if not signed:
        return UpgradeImage(header, body)
    if len(body) < TRAILER_LENGTH:
        raise ImageFormatError(
            f"truncated signed image: the {TRAILER_LENGTH}-byte Force Replace/signature trailer needs "
            f"{TRAILER_LENGTH} bytes after the header at offset {start}, only {len(body)} present"
        )
    force_at = len(data) - TRAILER_LENGTH
    force, length = data[force_at], data[force_at + 1]
    if force not in (0, 1):
        raise ImageFormatError(
            f"Force Replace at offset {force_at} is 0x{force:02X}, expected 0x00 or 0x01{_UNSIGNED_HINT}"
        )
    if length != SIGNATURE_LENGTH:
        raise ImageFormatError(
            f"signature length at offset {force_at + 1} is 0x{length:02X}, "
            f"expected 0x{SIGNATURE_LENGTH:02X}{_UNSIGNED_HINT}"
        )
    return UpgradeImage(header, data[start:force_at], force_replace=bool(force), signature=data[force_at + 2:])


def build_image(
    manufacturer_image: bytes,
    *,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    hw_min: int | None = None,
    hw_max: int | None = None,
    header_string: str = "",
    stack_version: int = ZIGBEE_PRO_STACK,
    security_credential_version: int | None = None,
    upgrade_file_destination: EntityId | None = None,
    force_replace: bool = False,
    sign_key: ec.EllipticCurvePrivateKey | None = None,
) -> UpgradeImage:
    """Wrap a Manufacturer Image in an OTA header and, given ``sign_key``, sign it.

    Without ``sign_key`` the result is the unsigned PPMID form. Out-of-range numbers, a
    header string over 32 bytes of UTF-8 and a half-given or inverted hardware range raise
    :class:`ImageFormatError`.
    """
    if not isinstance(header_string, str):
        raise ImageFormatError(f"header string must be text, got {header_string!r}")
    encoded = header_string.encode("utf-8")
    if len(encoded) > HEADER_STRING_LENGTH:
        raise ImageFormatError(
            f"header string is {len(encoded)} bytes of UTF-8, at most {HEADER_STRING_LENGTH} fit: {header_string!r}"
        )
    if not isinstance(manufacturer_image, bytes):
        raise ImageFormatError("the manufacturer image must be bytes")
    if force_replace and sign_key is None:
        raise ImageFormatError("force replace needs a signed image (the unsigned form has no Force Replace byte)")
    header = OtaHeader(
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        total_image_size=0,
        stack_version=stack_version,
        header_string=encoded,
        security_credential_version=security_credential_version,
        upgrade_file_destination=upgrade_file_destination,
        hw_min=hw_min,
        hw_max=hw_max,
    )
    size = _encoded_size(header, len(manufacturer_image), signed=False)
    image = UpgradeImage(replace(header, total_image_size=size), manufacturer_image)
    if sign_key is None:
        return image
    return replace(image.signed(sign_key), force_replace=force_replace)
