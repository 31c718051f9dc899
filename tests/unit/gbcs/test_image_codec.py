"""Building, parsing, signing and checking GBCS OTA Upgrade Images made here."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fixture_files import supplier_key, supplier_public_key
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.image import TRAILER_LENGTH, UpgradeImage, build_image, parse_image
from hanbench.gbcs.ota_header import FieldControl, OtaHeader, parse_header

SUPPLIER_KEY = supplier_key()
SUPPLIER_PUBLIC = supplier_public_key()
FIRMWARE = bytes(range(256)) * 4


def _esme(**overrides: object) -> UpgradeImage:
    fields: dict[str, object] = dict(
        manufacturer_code=0x121D, image_type=0x0000, file_version=0x01020304, hw_min=0x1111, hw_max=0x1211,
        header_string="bench ESME", sign_key=SUPPLIER_KEY,
    )
    fields.update(overrides)
    return build_image(FIRMWARE, **fields)  # type: ignore[arg-type]


def test_built_signed_image_round_trips_and_verifies() -> None:
    image = _esme()
    data = image.to_bytes()
    assert len(data) == image.header.total_image_size == 60 + len(FIRMWARE) + TRAILER_LENGTH
    parsed = parse_image(data)
    assert parsed == image
    assert parsed.to_bytes() == data
    assert parsed.verify(SUPPLIER_PUBLIC)
    assert parsed.header.text == "bench ESME"
    assert data[-66:-64] == b"\x00\x40"


def test_a_different_key_does_not_verify() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert not _esme().verify(other.public_key())
    assert _esme(sign_key=other).verify(other.public_key())
    assert not _esme(sign_key=other).verify(SUPPLIER_PUBLIC)


def test_unsigned_build_then_signed_copy() -> None:
    unsigned = _esme(sign_key=None)
    assert not unsigned.is_signed and not unsigned.verify(SUPPLIER_PUBLIC)
    assert unsigned.header.total_image_size == 60 + len(FIRMWARE)
    assert parse_image(unsigned.to_bytes(), signed=False) == unsigned
    signed = unsigned.signed(SUPPLIER_KEY)
    assert signed.is_signed and signed.verify(SUPPLIER_PUBLIC)
    assert signed.header.total_image_size == unsigned.header.total_image_size + TRAILER_LENGTH
    assert signed.manufacturer_image_hash == unsigned.manufacturer_image_hash
    assert parse_image(signed.to_bytes()) == signed


def test_force_replace_is_carried_in_the_trailer() -> None:
    image = _esme(force_replace=True)
    data = image.to_bytes()
    assert data[-66] == 0x01
    assert parse_image(data).force_replace is True


def test_force_replace_needs_a_signed_image() -> None:
    with pytest.raises(ImageFormatError, match="Force Replace"):
        _esme(force_replace=True, sign_key=None)


def test_all_optional_header_fields_round_trip_in_order() -> None:
    destination = EntityId.parse("00-DB-12-34-56-78-90-A0")
    image = _esme(security_credential_version=0x02, upgrade_file_destination=destination)
    h = image.header
    assert h.field_control == FieldControl(0x0007)
    assert h.header_length == 56 + 1 + 8 + 4
    data = image.to_bytes()
    assert data[56] == 0x02
    assert data[57:65] == destination.raw[::-1]  # IEEE address, little-endian
    assert data[65:69] == bytes.fromhex("11111112")
    assert parse_image(data) == image


def test_header_without_optional_fields_is_56_bytes() -> None:
    image = _esme(hw_min=None, hw_max=None)
    assert image.header.header_length == 56 and image.header.field_control == 0
    assert parse_image(image.to_bytes()) == image


def test_hardware_version_check() -> None:
    h = _esme().header
    assert h.accepts_hardware_version(0x1111) and h.accepts_hardware_version(0x1211)
    assert h.accepts_hardware_version(0x1200)
    assert not h.accepts_hardware_version(0x1110) and not h.accepts_hardware_version(0x1212)
    assert _esme(hw_min=None, hw_max=None).header.accepts_hardware_version(0xFFFF)


def test_query_next_image_checks() -> None:
    h = _esme().header
    assert h.is_for(0x121D, 0x0000)
    assert not h.is_for(0x121D, 0x0001) and not h.is_for(0x1234, 0x0000)
    assert h.is_newer_than(0x01020303) and not h.is_newer_than(0x01020304)
    assert not h.is_newer_than(0xFFFFFFFF)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"manufacturer_code": 0x10000}, "manufacturer code"),
        ({"image_type": -1}, "image type"),
        ({"file_version": 1 << 32}, "file version"),
        ({"stack_version": 0x10000}, "zigbee stack version"),
        ({"security_credential_version": 256}, "security credential version"),
        ({"hw_min": 0x1111, "hw_max": None}, "hardware version"),
        ({"hw_min": 0x1212, "hw_max": 0x1211}, "above maximum"),
        ({"hw_min": 0x10000, "hw_max": 0x10000}, "minimum hardware version"),
        ({"header_string": "x" * 33}, "header string"),
        ({"header_string": "é" * 17}, "34 bytes of UTF-8"),
        ({"upgrade_file_destination": "00DB1234567890A0"}, "upgrade file destination"),
    ],
)
def test_build_refuses_bad_field_values(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ImageFormatError, match=field):
        _esme(**overrides)


def test_header_string_of_exactly_32_bytes_is_allowed() -> None:
    text = "I am a GFI ESME[] firmware image"
    assert _esme(header_string=text).header.text == text


def test_image_refuses_an_inconsistent_total_size() -> None:
    header = _esme().header
    with pytest.raises(ImageFormatError, match="total image size"):
        UpgradeImage(header, FIRMWARE + b"x", signature=bytes(64))


def test_image_refuses_a_short_signature() -> None:
    header = _esme().header
    with pytest.raises(ImageFormatError, match="64 bytes"):
        UpgradeImage(header, FIRMWARE, signature=bytes(63))


def test_format_errors_are_bad_input() -> None:
    assert issubclass(ImageFormatError, BadInput)


# --- strict parsing: every defect named, with its offset ---------------------------------

def _data() -> bytearray:
    return bytearray(_esme().to_bytes())


def _set(data: bytearray, offset: int, fmt: str, value: int) -> bytes:
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _set(d, 0, "<I", 0x0BEEF11F), r"upgrade file identifier at offset 0 is 0x0BEEF11F"),
        (lambda d: _set(d, 4, "<H", 0x0200), r"header version 0x0200 at offset 4"),
        (lambda d: _set(d, 6, "<H", 61), r"header length at offset 6 is 61 but field control 0x0004 implies 60"),
        (lambda d: _set(d, 8, "<H", 0x0005), r"header length at offset 6 is 60 but field control 0x0005 implies 61"),
        (lambda d: _set(d, 8, "<H", 0x0014), r"field control at offset 8 is 0x0014: unknown bits 0x0010"),
        (lambda d: _set(d, 52, "<I", len(d) + 1), r"truncated image: total image size at offset 52"),
        (lambda d: _set(d, 52, "<I", len(d) - 1), r"1 trailing bytes .* at offset %d" % (len(_data()) - 1)),
        (lambda d: _set(d, 56, "<H", 0x1212), r"hardware versions at offset 56: minimum 0x1212"),
        (lambda d: _set(d, len(d) - 66, "<B", 0x02), r"Force Replace at offset %d is 0x02" % (len(_data()) - 66)),
        (lambda d: _set(d, len(d) - 65, "<B", 0x41), r"signature length at offset %d is 0x41" % (len(_data()) - 65)),
        (lambda d: bytes(d) + b"\0", r"1 trailing bytes"),
        (lambda d: bytes(d[:-1]), r"truncated image"),
        (lambda d: bytes(d[:30]), r"truncated OTA header: header string at offset 20 needs 32 bytes, only 10 left"),
        (lambda d: bytes(d[:58]), r"truncated OTA header: maximum hardware version at offset 58"),
        (lambda d: b"", r"upgrade file identifier at offset 0 needs 4 bytes, only 0 left"),
    ],
)
def test_parse_names_field_and_offset(mutate: object, message: str) -> None:
    with pytest.raises(ImageFormatError, match=message):
        parse_image(mutate(_data()))  # type: ignore[operator]


def test_signed_image_too_short_for_its_trailer() -> None:
    image = build_image(b"abc", manufacturer_code=1, image_type=2, file_version=3)
    with pytest.raises(ImageFormatError, match=r"66-byte Force Replace/signature trailer .* offset 56, only 3"):
        parse_image(image.to_bytes())


def test_auto_detection_rule() -> None:
    signed = _esme()
    assert parse_image(signed.to_bytes(), signed=None) == signed
    unsigned = _esme(sign_key=None)
    assert parse_image(unsigned.to_bytes(), signed=None) == unsigned
    # A damaged trailer makes auto-detection read the file as unsigned; it then never verifies.
    damaged = bytearray(signed.to_bytes())
    damaged[-65] = 0x41
    reread = parse_image(bytes(damaged), signed=None)
    assert not reread.is_signed and not reread.verify(SUPPLIER_PUBLIC)


def test_parse_header_reads_only_the_header() -> None:
    image = _esme()
    header = parse_header(image.to_bytes()[:60])
    assert header == image.header
    assert isinstance(header, OtaHeader)


def test_raw_header_string_survives_round_trip() -> None:
    data = _data()
    data[20:52] = b"\xff" * 16 + b"text  " + b" " * 10  # not UTF-8, space padded
    image = parse_image(bytes(data))
    assert image.to_bytes() == bytes(data)
    assert image.header.text.endswith("text" + " " * 12)
