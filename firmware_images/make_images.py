"""Build the sample GBCS OTA Upgrade Images in this folder (run by ``make images``).

For each device type in :data:`hanbench.gbcs.image_types.IMAGE_PROFILES` and for the two file
versions the bench uses (the one emulated devices start on and the next one to distribute),
it generates a small deterministic Manufacturer Image in the emulated firmware format
(:mod:`hanbench.gbcs.emulated_firmware`: the device type, firmware version and hardware range
inside the signed content, then the payload) with
:func:`~hanbench.gbcs.emulated_firmware.build_emulated_image`, writes it with the
:func:`~hanbench.image_files.write_image` that ``hanbench image build`` uses, and signs it with the RTDS test Supplier's DS key (PPMID
images stay unsigned, like RTDS 11.4).

Everything is reproducible except ECDSA signatures, which are randomised. So that re-running
does not rewrite committed files for nothing, an existing file is kept when it already holds
the same header and Manufacturer Image with a signature that verifies.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.errors import BadInput
from hanbench.gbcs.emulated_firmware import build_emulated_image
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import (
    IMAGE_PROFILES,
    INITIAL_FILE_VERSION,
    NEXT_FILE_VERSION,
    ImageProfile,
)
from hanbench.gbcs.keystore import load_certificate, load_private_key, public_key_of
from hanbench.image_files import read_image, write_image

HERE = Path(__file__).resolve().parent
KEYSTORE = HERE.parent / "fixtures" / "rtds" / "keystore"
SUPPLIER_KEY = KEYSTORE / "90b3d51f30010000-ds.key"
SUPPLIER_CERT = KEYSTORE / "90b3d51f30010000-ds.pem"
FILE_VERSIONS = (INITIAL_FILE_VERSION, NEXT_FILE_VERSION)
_BLOCKS = 96


def payload(profile: ImageProfile, file_version: int) -> bytes:
    """A ~4 KiB payload that names its device type and version in every line.

    Text rather than random bytes so that a capture or a hex dump shows at a glance which
    image a device received; different for every type and version so their hashes differ.
    """
    name = profile.device_type.name
    lines = [f"hanbench sample firmware: {name} image type 0x{profile.image_type:04X} "
             f"file version 0x{file_version:08X}\n"]
    for block in range(_BLOCKS):
        lines.append(f"{name}:{file_version:08X}:{block:04d}:{'0123456789ABCDEF'[block % 16] * 16}\n")
    return "".join(lines).encode("ascii")


def sample_image(profile: ImageProfile, file_version: int, key: ec.EllipticCurvePrivateKey) -> UpgradeImage:
    """The sample image of ``profile`` at ``file_version`` (emulated firmware: the signed facts
    header, then :func:`payload`), signed with ``key`` unless PPMID."""
    return build_emulated_image(profile, file_version, payload(profile, file_version),
                                sign_key=key if profile.signed else None,
                                header_string=f"hanbench {profile.device_type.name} fw {file_version:08X}")


def _unchanged(path: Path, image: UpgradeImage, public_key: ec.EllipticCurvePublicKey) -> bool:
    """Whether ``path`` already holds ``image`` up to a (valid) randomised signature."""
    if not path.is_file():
        return False
    try:
        old = read_image(path, signed=image.is_signed)
    except BadInput:
        return False
    if not image.is_signed:
        return old == image
    return replace(old, signature=image.signature) == image and old.verify(public_key)


def main() -> int:
    key = load_private_key(SUPPLIER_KEY)
    public_key = public_key_of(load_certificate(SUPPLIER_CERT), SUPPLIER_CERT)
    for profile in IMAGE_PROFILES.values():
        for file_version in FILE_VERSIONS:
            image = sample_image(profile, file_version, key)
            path = HERE / profile.file_name(file_version)
            if _unchanged(path, image, public_key):
                print(f"unchanged {path.name}")
                continue
            write_image(path, image)
            print(f"wrote     {path.name} ({image.header.total_image_size} bytes, "
                  f"{'signed' if image.is_signed else 'unsigned'}, hash {image.manufacturer_image_hash.hex()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
