"""Static image checks on the sample images, the RTDS reference images and images altered the way
a bad release or a relabelled header alters them."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from fixture_files import SUPPLIER, bench_keys, sample_bytes, supplier_key
from test_image_rtds import rtds_image

from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import EmulatedFirmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import GbcsError, ImageFormatError
from hanbench.gbcs.image import UpgradeImage, build_image, parse_image
from hanbench.gbcs.image_checks import CHECKS, CheckOutcome, SupplierKey, ValidationTarget, validate_image

OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
PASS, FAIL, NA = CheckOutcome.PASS, CheckOutcome.FAIL, CheckOutcome.NOT_APPLICABLE


def target(device_type: DeviceType = DeviceType.ESME, *, hw: int = 0x1111, running: int = 1,
           supplier: EntityId = SUPPLIER, max_image_size: int | None = None) -> ValidationTarget:
    key = SupplierKey(supplier, "GITTESTSUPPLIER" if supplier == SUPPLIER else "OTHERSUPPLIER",
                      bench_keys().public_key(supplier))
    return ValidationTarget(device_type, ESME, hw, running, key, max_image_size)


def outcomes(data: bytes, tgt: ValidationTarget, **kw: bytes) -> dict[str, CheckOutcome]:
    return {c.check: c.outcome for c in validate_image(data, tgt, **kw).checks}


def reason(data: bytes, tgt: ValidationTarget, check: str) -> str:
    return next(c.reason for c in validate_image(data, tgt).checks if c.check == check)


ALL_GOOD = {"ota_header": PASS, "image_identity": PASS, "hardware_version": PASS, "file_version": PASS,
            "image_size": NA, "signature": PASS, "manufacturer_image_hash": NA, "firmware_facts_device": PASS,
            "firmware_facts_header": PASS}


def test_the_sample_image_passes_every_check_that_applies() -> None:
    result = validate_image(sample_bytes(DeviceType.ESME), target())
    assert [c.check for c in result.checks] == [c.id for c in CHECKS]
    assert {c.check: c.outcome for c in result.checks} == ALL_GOOD
    assert result.passed
    assert result.firmware is not None and result.firmware.firmware_version == 2
    signature = next(c for c in result.checks if c.check == "signature")
    assert signature.reason == ("signed over the Manufacturer Image by the device's Supplier, "
                                "GITTESTSUPPLIER (90-B3-D5-1F-30-01-00-00)")
    assert signature.clause == "GBCS 11.2.2, SR 11.1 / SR 11.4"


def test_every_sample_image_suits_its_own_device_type() -> None:
    for device_type in (DeviceType.ESME, DeviceType.GSME, DeviceType.HCALCS, DeviceType.PPMID, DeviceType.IHD):
        assert validate_image(sample_bytes(device_type), target(device_type)).passed, device_type


def test_the_rtds_reference_image_is_opaque_but_signed_by_the_rtds_supplier() -> None:
    found = outcomes(rtds_image("11.1_UPDATE_FIRMWARE_REQUEST_DUIS.XML"), target())
    assert found == {**ALL_GOOD, "firmware_facts_device": NA, "firmware_facts_header": NA}


def test_an_image_for_another_type_fails_identity_and_the_signed_facts() -> None:
    gsme = sample_bytes(DeviceType.GSME)
    found = outcomes(gsme, target())
    assert found["image_identity"] is FAIL and found["firmware_facts_device"] is FAIL
    assert found["firmware_facts_header"] is PASS  # header and content agree: it is a GSME image
    assert "(an image for GSME); ESME devices ask for manufacturer code 0x121D, image type 0x0000" in reason(
        gsme, target(), "image_identity")


def test_hardware_outside_the_range_fails_in_the_header_and_in_the_signed_facts() -> None:
    found = outcomes(sample_bytes(DeviceType.ESME), target(hw=0x2000))
    assert found["hardware_version"] is FAIL and found["firmware_facts_device"] is FAIL
    assert "0x2000 is outside the header's 0x1111..0x1211" in reason(sample_bytes(DeviceType.ESME), target(hw=0x2000),
                                                                      "hardware_version")


def test_an_image_not_newer_than_the_running_version_is_never_offered() -> None:
    assert outcomes(sample_bytes(DeviceType.ESME), target(running=2))["file_version"] is FAIL
    assert "NO_IMAGE_AVAILABLE" in reason(sample_bytes(DeviceType.ESME), target(running=2), "file_version")


def test_size_against_the_chs_limit() -> None:
    size = len(sample_bytes(DeviceType.ESME))
    assert outcomes(sample_bytes(DeviceType.ESME), target(max_image_size=size))["image_size"] is PASS
    assert outcomes(sample_bytes(DeviceType.ESME), target(max_image_size=size - 1))["image_size"] is FAIL


def test_a_signature_by_another_supplier_fails() -> None:
    found = outcomes(sample_bytes(DeviceType.ESME), target(supplier=OTHER_SUPPLIER))
    assert found["signature"] is FAIL
    assert "OTHERSUPPLIER (90-B3-D5-1F-30-02-00-00)" in reason(sample_bytes(DeviceType.ESME), target(supplier=OTHER_SUPPLIER),
                                                               "signature")


def test_an_unsigned_esme_image_fails_the_signature_check_rather_than_being_unreadable() -> None:
    image = parse_image(sample_bytes(DeviceType.ESME))
    unsigned = build_image(image.manufacturer_image, manufacturer_code=0x121D, image_type=0, file_version=2,
                           hw_min=0x1111, hw_max=0x1211).to_bytes()
    assert outcomes(unsigned, target())["signature"] is FAIL
    assert "only PPMID images travel unsigned (SR 11.4)" in reason(unsigned, target(), "signature")


def test_a_ppmid_image_travels_unsigned_and_a_signed_one_is_refused() -> None:
    ppmid = sample_bytes(DeviceType.PPMID)
    assert outcomes(ppmid, target(DeviceType.PPMID))["signature"] is PASS
    signed = parse_image(ppmid, signed=False).signed(supplier_key()).to_bytes()
    assert outcomes(signed, target(DeviceType.PPMID))["signature"] is FAIL
    assert "would hash the trailer" in reason(signed, target(DeviceType.PPMID), "signature")


def relabelled(data: bytes, **header_fields: int) -> bytes:
    """The image with its unsigned OTA header rewritten and the Supplier's signature kept."""
    image = parse_image(data)
    return dataclasses.replace(image, header=dataclasses.replace(image.header, **header_fields)).to_bytes()


def test_a_relabelled_header_passes_the_signature_and_fails_against_the_signed_facts() -> None:
    relabel = relabelled(sample_bytes(DeviceType.ESME), file_version=3, hw_min=0x1000)
    found = outcomes(relabel, target())
    assert found["signature"] is PASS  # GBCS signs the Manufacturer Image only
    assert found["firmware_facts_header"] is FAIL
    assert reason(relabel, target(), "firmware_facts_header") == (
        "the unsigned OTA header disagrees with the signed content (relabelled?): the header says file version "
        "0x00000003, the signed firmware 0x00000002; the header says 0x1000..0x1211, the signed firmware "
        "0x1111..0x1211")


def test_a_header_relabelled_to_another_type_is_caught_by_the_signed_type() -> None:
    as_gsme = relabelled(sample_bytes(DeviceType.ESME), image_type=0x0001)
    found = outcomes(as_gsme, target(DeviceType.GSME))
    assert found["image_identity"] is PASS and found["signature"] is PASS
    assert found["firmware_facts_device"] is FAIL and found["firmware_facts_header"] is FAIL


def test_the_hash_against_an_expected_one() -> None:
    data = sample_bytes(DeviceType.ESME)
    digest = hashlib.sha256(parse_image(data).manufacturer_image).digest()
    assert outcomes(data, target(), expected_hash=digest)["manufacturer_image_hash"] is PASS
    assert outcomes(data, target(), expected_hash=bytes(32))["manufacturer_image_hash"] is FAIL
    with pytest.raises(GbcsError, match="32 bytes"):
        validate_image(data, target(), expected_hash=b"\x01")


def test_content_that_claims_to_be_emulated_firmware_and_is_not_fails_both_fact_checks() -> None:
    damaged = EmulatedFirmware(DeviceType.ESME, 2, 0x1111, 0x1211, b"x").encode()[:4] + b"\x09" + bytes(20)
    data = build_image(damaged, manufacturer_code=0x121D, image_type=0, file_version=2, hw_min=0x1111,
                       hw_max=0x1211, sign_key=supplier_key()).to_bytes()
    found = outcomes(data, target())
    assert found["signature"] is PASS
    assert found["firmware_facts_device"] is FAIL and found["firmware_facts_header"] is FAIL
    assert "claims to be emulated firmware and is not: " in reason(data, target(), "firmware_facts_device")


def test_header_fields_a_device_would_refuse() -> None:
    image = parse_image(sample_bytes(DeviceType.ESME))
    other = build_image(image.manufacturer_image, manufacturer_code=0x121D, image_type=0, file_version=2,
                        hw_min=0x1111, hw_max=0x1211, stack_version=0x0001,
                        upgrade_file_destination=EntityId.parse("00-DB-12-34-56-78-91-01"),
                        sign_key=supplier_key()).to_bytes()
    assert reason(other, target(), "ota_header") == (
        "Zigbee stack version is 0x0001, GB HAN devices run Zigbee PRO (0x0002); upgrade file destination "
        "00-DB-12-34-56-78-91-01 makes it a file for that device only, not for 00-DB-12-34-56-78-91-00")
    mine = build_image(image.manufacturer_image, manufacturer_code=0x121D, image_type=0, file_version=2,
                       hw_min=0x1111, hw_max=0x1211, upgrade_file_destination=ESME,
                       sign_key=supplier_key()).to_bytes()
    assert outcomes(mine, target())["ota_header"] is PASS


def test_a_header_without_a_hardware_range_suits_every_hardware_version() -> None:
    image = parse_image(sample_bytes(DeviceType.ESME))
    data = dataclasses.replace(image, header=dataclasses.replace(image.header, hw_min=None, hw_max=None,
                                                                 total_image_size=len(sample_bytes(DeviceType.ESME)) - 4))
    found = outcomes(data.to_bytes(), target(hw=0x9999))
    assert found["hardware_version"] is PASS
    assert found["firmware_facts_header"] is FAIL  # the signed firmware names a range the header dropped


def test_bytes_that_are_no_image_are_bad_input_not_a_failed_check() -> None:
    with pytest.raises(ImageFormatError, match="not an OTA image"):
        validate_image(b"\x00" * 80, target())
    with pytest.raises(ImageFormatError, match="truncated image"):
        validate_image(sample_bytes(DeviceType.ESME)[:-1], target())


def test_a_device_type_without_an_image_profile_is_bad_input() -> None:
    with pytest.raises(GbcsError, match="no firmware image profile for ch"):
        validate_image(sample_bytes(DeviceType.ESME), target(DeviceType.CH))
    with pytest.raises(GbcsError, match="name the bridge type"):
        validate_image(sample_bytes(DeviceType.ESME), target(DeviceType.ALT_HAN))


def test_an_image_is_checked_as_read_not_as_reencoded() -> None:
    data = sample_bytes(DeviceType.ESME)
    assert isinstance(validate_image(data, target()).image, UpgradeImage)
    assert validate_image(data, target()).image.to_bytes() == data
