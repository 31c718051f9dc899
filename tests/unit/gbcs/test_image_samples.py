"""The committed sample images in firmware_images/ are what the image profiles document."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from fixture_files import IMAGES, supplier_public_key
from hanbench.gbcs.alt_han import AltHanOption
from hanbench.gbcs.althan_bundle import read_bundle
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.emulated_firmware import read_emulated_firmware
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import (
    BRIDGE_PROFILES,
    IMAGE_PROFILES,
    INITIAL_FILE_VERSION,
    NEXT_FILE_VERSION,
    ImageProfile,
    all_profiles,
    device_type_of,
    profile_for,
    profile_of,
)

SUPPLIER_PUBLIC = supplier_public_key()
SAMPLES = [(p, v) for p in all_profiles() for v in (INITIAL_FILE_VERSION, NEXT_FILE_VERSION)]


def _make_images() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_images", IMAGES / "make_images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_table_is_as_documented() -> None:
    ids = {p.device_type: (p.manufacturer_code, p.image_type, p.hw_min, p.hw_max, p.signed)
           for p in IMAGE_PROFILES.values()}
    assert ids == {
        DeviceType.ESME: (0x121D, 0x0000, 0x1111, 0x1211, True),
        DeviceType.GSME: (0x121D, 0x0001, 0x1111, 0x1211, True),
        DeviceType.HCALCS: (0x121D, 0x0083, 0x1111, 0x1211, True),
        DeviceType.PPMID: (0x121D, 0x0084, 0x1111, 0x1211, False),
        DeviceType.IHD: (0x121D, 0x0085, 0x1111, 0x1211, True),
    }
    assert profile_for("ESME") is profile_for(DeviceType.ESME)
    assert profile_for(DeviceType.ESME).file_name(2) == "ESME-121D-0000-00000002.ota"
    with pytest.raises(GbcsError, match="no firmware image profile for ch"):
        profile_for("ch")
    with pytest.raises(GbcsError, match="unknown device type"):
        profile_for("toaster")


def test_each_bridge_type_has_its_own_firmware_package() -> None:
    """Seed 002: "Each Alt HAN Device will have its own firmware package"; unsigned, as SR 11.4 wants."""
    ids = {v: (p.device_type, p.manufacturer_code, p.image_type, p.signed) for v, p in BRIDGE_PROFILES.items()}
    assert ids == {PpmidVariant.B1: (DeviceType.ALT_HAN, 0x121D, 0x0086, False),
                   PpmidVariant.B2: (DeviceType.ALT_HAN, 0x121D, 0x0087, False),
                   PpmidVariant.B3: (DeviceType.ALT_HAN, 0x121D, 0x0088, False),
                   PpmidVariant.B4: (DeviceType.ALT_HAN, 0x121D, 0x0089, False)}
    assert profile_for("alt_han", PpmidVariant.B3).file_name(2) == "ALT_HAN_B3-121D-0088-00000002.ota"
    with pytest.raises(GbcsError, match="name the bridge type"):
        profile_for(DeviceType.ALT_HAN)


def _sample_id(value: object) -> str:
    return value.name if isinstance(value, ImageProfile) else f"{value:08X}"


@pytest.mark.parametrize(("profile", "version"), SAMPLES, ids=_sample_id)
def test_sample_image_parses_verifies_and_matches_its_profile(profile: ImageProfile, version: int) -> None:
    data = (IMAGES / profile.file_name(version)).read_bytes()
    image = parse_image(data, signed=profile.signed)
    h = image.header
    assert (h.manufacturer_code, h.image_type) == (profile.manufacturer_code, profile.image_type)
    assert h.file_version == version
    assert (h.hw_min, h.hw_max) == (profile.hw_min, profile.hw_max)
    assert h.total_image_size == len(data)
    assert device_type_of(h) is profile.device_type and profile_of(h) is profile
    assert image.is_signed is profile.signed
    assert image.verify(SUPPLIER_PUBLIC) is profile.signed
    assert image.to_bytes() == data
    # Committed images are current: the generator would produce the same payload ...
    facts = read_emulated_firmware(image.manufacturer_image)
    assert facts is not None and facts.payload == _make_images().payload(profile, version)
    # ... and its signed content says what the unsigned header says.
    assert (facts.device_type, facts.firmware_version, facts.hw_min, facts.hw_max) == \
        (profile.device_type, version, profile.hw_min, profile.hw_max)


def test_next_version_is_newer_than_the_initial_one() -> None:
    for profile in IMAGE_PROFILES.values():
        first, second = (parse_image((IMAGES / profile.file_name(v)).read_bytes(), signed=profile.signed).header
                         for v in (INITIAL_FILE_VERSION, NEXT_FILE_VERSION))
        assert second.is_newer_than(first.file_version)
        assert not first.is_newer_than(second.file_version)


def test_make_images_rebuilds_into_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _make_images()
    monkeypatch.setattr(module, "HERE", tmp_path)
    assert module.main() == 0
    bundles = [name for name, _ in module.bundle_samples(module.load_private_key(module.SUPPLIER_KEY))]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(p.file_name(v) for p, v in SAMPLES), *bundles])
    for profile, version in SAMPLES:
        built = parse_image((tmp_path / profile.file_name(version)).read_bytes(), signed=profile.signed)
        committed = parse_image((IMAGES / profile.file_name(version)).read_bytes(), signed=profile.signed)
        assert (built.header, built.manufacturer_image) == (committed.header, committed.manufacturer_image)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert module.main() == 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before, "a re-run must keep valid images"


@pytest.mark.parametrize(("option", "orchestrator"), [(AltHanOption.A, PpmidVariant.B3), (AltHanOption.B, PpmidVariant.B1)])
def test_sample_bundles_carry_each_options_package_signed_as_a_whole(
        option: AltHanOption, orchestrator: PpmidVariant) -> None:
    make = _make_images()
    package = option.package_of(orchestrator, PpmidVariant.bridges())
    profile = profile_for(DeviceType.ALT_HAN, orchestrator)
    data = (IMAGES / make.bundle_file_name(package, profile, NEXT_FILE_VERSION)).read_bytes()
    image = parse_image(data, signed=False)
    assert profile_of(image.header) is profile and image.header.file_version == NEXT_FILE_VERSION
    bundle = read_bundle(image.manufacturer_image)
    assert bundle is not None and bundle.bridges == package and bundle.verify(SUPPLIER_PUBLIC)
    for variant in package:  # each component is that bridge's own sample, byte for byte
        assert bundle.component(variant) == (IMAGES / BRIDGE_PROFILES[variant].file_name(NEXT_FILE_VERSION)).read_bytes()
