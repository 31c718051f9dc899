"""The Alt HAN bundle codec: its documented layout byte for byte, the signature over the whole, and a
clear refusal of every malformed bundle."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanbench.gbcs.althan_bundle import AltHanBundle, build_bundle, is_bundle, read_bundle
from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.entity import EntityId

KEYS = KeyStore(Path(__file__).resolve().parents[3] / "fixtures" / "keys")
SUPPLIER = EntityId.parse("90-B3-D5-1F-30-01-00-00")
OTHER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
B3_IMAGE, B4_IMAGE = b"\x1e\xf1\xee\x0b" + b"three" * 20, b"\x1e\xf1\xee\x0b" + b"four" * 9


def layout(*components: tuple[int, bytes]) -> bytes:
    """The signed part of a bundle, assembled from the documented table (not from the codec)."""
    out = b"HBAB" + struct.pack(">BB", 1, len(components))
    for code, image in components:
        out += struct.pack(">BI", code, len(image)) + image
    return out


def test_a_built_bundle_has_the_documented_layout_and_verifies_with_the_signers_key() -> None:
    bundle = build_bundle({PpmidVariant.B3: B3_IMAGE, PpmidVariant.B4: B4_IMAGE}, KEYS.private_key(SUPPLIER))
    data = bundle.to_bytes()
    assert data[:-64] == layout((3, B3_IMAGE), (4, B4_IMAGE))
    assert is_bundle(data) and bundle.bridges == (PpmidVariant.B3, PpmidVariant.B4)
    assert bundle.verify(KEYS.public_key(SUPPLIER)) and not bundle.verify(KEYS.public_key(OTHER))
    read = read_bundle(data)
    assert read is not None and read.to_bytes() == data
    assert read.component(PpmidVariant.B4) == B4_IMAGE and read.component(PpmidVariant.B1) is None


def test_a_bundle_someone_else_assembled_is_read_and_its_signature_checked() -> None:
    signed = layout((1, b"one"), (2, b"two two"), (3, B3_IMAGE))
    from hanbench.gbcs.signing import sign_raw

    data = signed + sign_raw(KEYS.private_key(SUPPLIER), signed)
    bundle = read_bundle(data)
    assert bundle is not None and bundle.bridges == (PpmidVariant.B1, PpmidVariant.B2, PpmidVariant.B3)
    assert bundle.component(PpmidVariant.B2) == b"two two" and bundle.verify(KEYS.public_key(SUPPLIER))
    tampered = bytearray(data)
    tampered[len(layout((1, b"one"))) + 5] ^= 0x01  # a byte of B2's firmware
    again = read_bundle(bytes(tampered))
    assert again is not None and not again.verify(KEYS.public_key(SUPPLIER))


def test_a_manufacturer_image_without_the_magic_is_no_bundle() -> None:
    assert read_bundle(b"HBFW\x01\x07rest") is None and not is_bundle(b"")


SIGNATURE = bytes(64)
MALFORMED = [
    ("too short", b"HBAB\x01", "cannot hold a header and a signature"),
    ("format version", b"HBAB\x02\x01" + SIGNATURE, "format version at offset 4: 2 is not 1"),
    ("no components", b"HBAB\x01\x00" + SIGNATURE, "number of components at offset 5: 0 is not 1 to 4"),
    ("five components", b"HBAB\x01\x05" + SIGNATURE, "5 is not 1 to 4"),
    ("unknown bridge type", b"HBAB\x01\x01\x05" + SIGNATURE, "code 5 is not 1 (B1) to 4 (B4)"),
    ("bridge type twice", layout((1, b"x"), (1, b"y")) + SIGNATURE, "component 1 bridge type at offset 12: B1 appears twice"),
    ("empty component", layout((2, b"")) + SIGNATURE, "a component cannot be empty"),
    ("truncated component", layout((2, b"firmware"))[:-3] + SIGNATURE, "component 0 (B2) at offset 11: needs 8 bytes"),
    ("trailing bytes", layout((2, b"x")) + b"\x00" + SIGNATURE, "1 unexpected trailing bytes"),
]


@pytest.mark.parametrize("case, data, message", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_a_malformed_bundle_is_refused_naming_the_field(case: str, data: bytes, message: str) -> None:
    with pytest.raises(ImageFormatError, match="Alt HAN bundle") as caught:
        read_bundle(data)
    assert message in str(caught.value)


def test_building_refuses_what_it_could_not_write() -> None:
    key = KEYS.private_key(SUPPLIER)
    with pytest.raises(ImageFormatError, match="1 to 4 components"):
        build_bundle({}, key)
    with pytest.raises(ImageFormatError, match="PPMID is not a bridge type"):
        build_bundle({PpmidVariant.PPMID: b"x"}, key)
    with pytest.raises(ImageFormatError, match="B2 component must be the bytes"):
        build_bundle({PpmidVariant.B2: b""}, key)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from(PpmidVariant.bridges()), st.binary(min_size=1, max_size=200),
                       min_size=1, max_size=4))
def test_any_bundle_reads_back_as_built(components: dict[PpmidVariant, bytes]) -> None:
    bundle = build_bundle(components, KEYS.private_key(SUPPLIER))
    read = read_bundle(bundle.to_bytes())
    assert isinstance(read, AltHanBundle) and dict(read.components) == components
    assert read.verify(KEYS.public_key(SUPPLIER))
