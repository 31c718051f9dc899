"""Build the sample GBCS OTA Upgrade Images in this folder (run by ``make images``).

For each device type in :data:`hanbench.gbcs.image_types.IMAGE_PROFILES`, each Alt HAN bridge
type in :data:`~hanbench.gbcs.image_types.BRIDGE_PROFILES`, and for the two file versions the
bench uses (the one emulated devices start on and the next one to distribute), it generates a
small deterministic Manufacturer Image in the emulated firmware format
(:mod:`hanbench.gbcs.emulated_firmware`: the device type, firmware version and hardware range
inside the signed content, then the payload) with
:func:`~hanbench.gbcs.emulated_firmware.build_emulated_image`, writes it with the
:func:`~hanbench.image_files.write_image` that ``hanbench image build`` uses, and signs it with
the RTDS test Supplier's DS key (PPMID and bridge images stay unsigned, like RTDS 11.4). Then
the two bundles of MP170's options for the next version (:mod:`hanbench.gbcs.althan_bundle`):
Bridge 3's package with Bridge 4's firmware (option A), and Bridge 1's with that of Bridges 2
to 4 (option B, for a premises with all four), each signed as a whole with the same key.

Everything is reproducible except ECDSA signatures, which are randomised. So that re-running
does not rewrite committed files for nothing, an existing file is kept when it already holds
the same header and Manufacturer Image with a signature that verifies (for a bundle, the same
components under a bundle signature that verifies).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.errors import BadInput
from hanbench.gbcs.alt_han import AltHanOption
from hanbench.gbcs.althan_bundle import package_image, read_bundle
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.emulated_firmware import build_emulated_image
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import (
    INITIAL_FILE_VERSION,
    NEXT_FILE_VERSION,
    ImageProfile,
    all_profiles,
    profile_for,
)
from hanbench.gbcs.keystore import load_certificate, load_private_key, public_key_of
from hanbench.image_files import read_image, write_image

HERE = Path(__file__).resolve().parent
KEYSTORE = HERE.parent / "fixtures" / "rtds" / "keystore"
SUPPLIER_KEY = KEYSTORE / "90b3d51f30010000-ds.key"
SUPPLIER_CERT = KEYSTORE / "90b3d51f30010000-ds.pem"
FILE_VERSIONS = (INITIAL_FILE_VERSION, NEXT_FILE_VERSION)
_BLOCKS = 96

#: Each option's sample package: the option, and the bridge Suppliers send it to.
BUNDLES = ((AltHanOption.A, PpmidVariant.B3), (AltHanOption.B, PpmidVariant.B1))


def payload(profile: ImageProfile, file_version: int) -> bytes:
    """A ~4 KiB payload that names its device type and version in every line.

    Text rather than random bytes so that a capture or a hex dump shows at a glance which
    image a device received; different for every type and version so their hashes differ.
    """
    name = profile.name
    lines = [f"hanbench sample firmware: {name} image type 0x{profile.image_type:04X} "
             f"file version 0x{file_version:08X}\n"]
    for block in range(_BLOCKS):
        lines.append(f"{name}:{file_version:08X}:{block:04d}:{'0123456789ABCDEF'[block % 16] * 16}\n")
    return "".join(lines).encode("ascii")


def sample_image(profile: ImageProfile, file_version: int, key: ec.EllipticCurvePrivateKey) -> UpgradeImage:
    """The sample image of ``profile`` at ``file_version`` (emulated firmware: the signed facts
    header, then :func:`payload`), signed with ``key`` unless in the unsigned SR 11.4 form."""
    return build_emulated_image(profile, file_version, payload(profile, file_version),
                                sign_key=key if profile.signed else None,
                                header_string=f"hanbench {profile.name} fw {file_version:08X}")


def bundle_file_name(package: tuple[PpmidVariant, ...], profile: ImageProfile, file_version: int) -> str:
    """A sample bundle's file name, e.g. ``ALT_HAN_B3+B4-121D-0088-00000002.ota``: the bridges it
    carries, then the orchestrator's image type."""
    names = "+".join(variant.value for variant in package)
    return f"ALT_HAN_{names}-{profile.manufacturer_code:04X}-{profile.image_type:04X}-{file_version:08X}.ota"


def bundle_samples(key: ec.EllipticCurvePrivateKey) -> list[tuple[str, UpgradeImage]]:
    """Each option's sample package for the next version, for a premises with all four bridges."""
    samples = []
    for option, orchestrator in BUNDLES:
        package = option.package_of(orchestrator, PpmidVariant.bridges())
        components = {v: sample_image(profile_for(DeviceType.ALT_HAN, v), NEXT_FILE_VERSION, key) for v in package}
        image = package_image(components, orchestrator, key)
        name = bundle_file_name(package, profile_for(DeviceType.ALT_HAN, orchestrator), NEXT_FILE_VERSION)
        samples.append((name, image))
    return samples


def _unchanged(path: Path, image: UpgradeImage, public_key: ec.EllipticCurvePublicKey) -> bool:
    """Whether ``path`` already holds ``image`` up to a (valid) randomised signature."""
    if not path.is_file():
        return False
    try:
        old = read_image(path, signed=image.is_signed)
    except BadInput:
        return False
    if image.is_signed:
        return replace(old, signature=image.signature) == image and old.verify(public_key)
    new_bundle, old_bundle = read_bundle(image.manufacturer_image), read_bundle(old.manufacturer_image)
    if new_bundle is None or old_bundle is None:
        return old == image
    return (old.header == image.header and old_bundle.signed_bytes == new_bundle.signed_bytes
            and old_bundle.verify(public_key))


def main() -> int:
    key = load_private_key(SUPPLIER_KEY)
    public_key = public_key_of(load_certificate(SUPPLIER_CERT), SUPPLIER_CERT)
    samples = [(profile.file_name(version), sample_image(profile, version, key))
               for profile in all_profiles() for version in FILE_VERSIONS]
    for name, image in [*samples, *bundle_samples(key)]:
        path = HERE / name
        if _unchanged(path, image, public_key):
            print(f"unchanged {path.name}")
            continue
        write_image(path, image)
        print(f"wrote     {path.name} ({image.header.total_image_size} bytes, "
              f"{'signed' if image.is_signed else 'unsigned'}, hash {image.manufacturer_image_hash.hex()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
