"""Properties of the image codec: every valid image round-trips; no input escapes the error type."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fixture_files import supplier_key
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.image import UpgradeImage, build_image, parse_image

SUPPLIER_KEY = supplier_key()

# Random bytes behind a valid magic and header version reach the deeper checks.
MAGIC_AND_VERSION = bytes.fromhex("1ef1ee0b0001")
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def images(draw: st.DrawFn) -> UpgradeImage:
    hw = draw(st.none() | st.tuples(u16, u16).map(sorted))
    signed = draw(st.booleans())
    return build_image(
        draw(st.binary(max_size=300)),
        manufacturer_code=draw(u16),
        image_type=draw(u16),
        file_version=draw(u32),
        hw_min=hw[0] if hw else None,
        hw_max=hw[1] if hw else None,
        header_string=draw(st.text(max_size=32).filter(lambda s: len(s.encode()) <= 32)),
        stack_version=draw(u16),
        security_credential_version=draw(st.none() | u8),
        upgrade_file_destination=draw(st.none() | st.binary(min_size=8, max_size=8).map(EntityId)),
        force_replace=signed and draw(st.booleans()),
        sign_key=SUPPLIER_KEY if signed else None,
    )


def _parse_or_refuse(data: bytes, signed: bool | None) -> None:
    """Parsing either succeeds (and then re-encodes exactly) or raises ImageFormatError."""
    try:
        image = parse_image(data, signed=signed)
    except ImageFormatError:
        return
    assert image.to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(images())
def test_every_valid_image_round_trips(image: UpgradeImage) -> None:
    data = image.to_bytes()
    assert len(data) == image.header.total_image_size
    assert parse_image(data, signed=image.is_signed) == image
    assert parse_image(data, signed=image.is_signed).to_bytes() == data


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([b"", MAGIC_AND_VERSION]).flatmap(lambda prefix: st.binary(max_size=200).map(prefix.__add__)),
    st.sampled_from([True, False, None]),
)
def test_random_bytes_only_ever_raise_image_format_error(data: bytes, signed: bool | None) -> None:
    _parse_or_refuse(data, signed)


@settings(max_examples=200, deadline=None)
@given(images(), st.data(), st.sampled_from([True, False, None]))
def test_mutations_and_truncations_only_ever_raise_image_format_error(
    image: UpgradeImage, data: st.DataObject, signed: bool | None
) -> None:
    raw = bytearray(image.to_bytes())
    offset = data.draw(st.integers(0, len(raw) - 1))
    mutated = bytearray(raw)
    mutated[offset] = data.draw(u8)
    _parse_or_refuse(bytes(mutated), signed)
    _parse_or_refuse(bytes(raw[: data.draw(st.integers(0, len(raw)))]), signed)
    # A header with a corrupted size field still names the defect rather than crashing.
    _parse_or_refuse(bytes(raw[:60]), signed)
