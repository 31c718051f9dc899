"""The codec against the DCC's own reference images (RTDS 4.5.0, SR 11.1 and SR 11.4)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
import pytest

from fixture_files import RTDS, RTDS_KEYS, supplier_public_key
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.keystore import load_certificate, public_key_of
from hanbench.gbcs.ota_header import FieldControl

DEVICE_CERT = RTDS_KEYS / "00db1234567890a0-ds.pem"
RTDS_HASH = "7542f475e3f12eae887d81e32c46d313741d67076b13caec2f82e00ba5e1bb36"
_SR = "{http://www.dccinterface.co.uk/ServiceUserGateway}"


def rtds_image(xml_name: str) -> bytes:
    """The OTA image a DUIS request template carries in ``FirmwareImage`` (base64)."""
    element = ET.parse(RTDS / "duis" / xml_name).getroot().find(f".//{_SR}FirmwareImage")
    assert element is not None and element.text
    return base64.b64decode(element.text)


@pytest.fixture(scope="module")
def esme_bytes() -> bytes:
    return rtds_image("11.1_UPDATE_FIRMWARE_REQUEST_DUIS.XML")


@pytest.fixture(scope="module")
def ppmid_bytes() -> bytes:
    return rtds_image("11.4_UPDATE_PPMID_FIRMWARE_REQUEST_DUIS.XML")


@pytest.fixture(scope="module")
def esme(esme_bytes: bytes) -> UpgradeImage:
    return parse_image(esme_bytes)


def test_rtds_11_1_header_fields(esme_bytes: bytes, esme: UpgradeImage) -> None:
    h = esme.header
    assert len(esme_bytes) == 361
    assert h.manufacturer_code == 0x121D
    assert h.image_type == 0x0000
    assert h.file_version == 0xACDCACDC
    assert h.stack_version == 0x0002
    assert h.text == "I am a GFI ESME[] firmware image"
    assert h.total_image_size == 361
    assert (h.hw_min, h.hw_max) == (0x1111, 0x1211)
    assert h.header_length == 60
    assert h.field_control == FieldControl.HARDWARE_VERSIONS == 0x0004
    assert h.security_credential_version is None and h.upgrade_file_destination is None


def test_rtds_11_1_body(esme: UpgradeImage) -> None:
    assert esme.is_signed
    assert len(esme.manufacturer_image) == 235
    assert esme.force_replace is False
    assert esme.manufacturer_image_hash.hex() == RTDS_HASH


def test_rtds_11_1_reencodes_byte_for_byte(esme_bytes: bytes, esme: UpgradeImage) -> None:
    assert esme.to_bytes() == esme_bytes


def test_rtds_11_1_signature_is_the_suppliers(esme: UpgradeImage) -> None:
    assert esme.verify(supplier_public_key())
    assert not esme.verify(public_key_of(load_certificate(DEVICE_CERT)))


def test_rtds_11_1_any_changed_manufacturer_image_byte_breaks_the_signature(esme_bytes: bytes) -> None:
    key = supplier_public_key()
    start = 60
    for offset in range(start, start + 235):
        mutated = bytearray(esme_bytes)
        mutated[offset] ^= 0x01
        image = parse_image(bytes(mutated))
        assert not image.verify(key), f"signature still verifies after changing byte {offset}"


def test_rtds_11_1_auto_detection_reads_it_as_signed(esme_bytes: bytes, esme: UpgradeImage) -> None:
    assert parse_image(esme_bytes, signed=None) == esme


def test_rtds_11_4_ppmid_image_is_the_unsigned_form(ppmid_bytes: bytes) -> None:
    image = parse_image(ppmid_bytes, signed=False)
    assert len(ppmid_bytes) == 295
    assert not image.is_signed and image.signature is None
    assert image.header.image_type == 0x0084
    assert image.header.manufacturer_code == 0x121D
    assert image.header.total_image_size == 295
    assert len(image.manufacturer_image) == 235
    assert image.to_bytes() == ppmid_bytes
    assert parse_image(ppmid_bytes, signed=None) == image
    assert not image.verify(supplier_public_key())


def test_rtds_11_4_ppmid_image_refused_where_a_signed_image_is_required(ppmid_bytes: bytes) -> None:
    with pytest.raises(ImageFormatError, match=r"Force Replace at offset 229"):
        parse_image(ppmid_bytes)
