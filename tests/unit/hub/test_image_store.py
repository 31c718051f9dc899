"""The CH image store: the image as handed over served as its exact bytes, lookup by device and image
identity, and its two rule sets: seed 002's statements as written (the default) and the slot model."""

from __future__ import annotations

import hashlib

import pytest

from fixture_files import built_image, sample, sample_bytes
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage, build_image, parse_image
from hanbench.gbcs.image_types import profile_for
from hanbench.hub.image_store import IMAGE_RULES, SEED_RULES, SLOT_RULES, ImageRules, ImageStore

ESME_1 = EntityId.parse("00-11-22-33-44-55-66-01")
ESME_2 = EntityId.parse("00-11-22-33-44-55-66-02")
GSME_1 = EntityId.parse("00-11-22-33-44-55-77-01")
PPMID_1 = EntityId.parse("00-11-22-33-44-55-88-01")
HCALCS_1 = EntityId.parse("00-11-22-33-44-55-99-01")
ALT_HAN_1 = EntityId.parse("00-11-22-33-44-55-AA-01")
IHD_1 = EntityId.parse("00-11-22-33-44-55-BB-01")


def image(kind: DeviceType, version: int = 2, *, force_replace: bool = False,
          body: bytes = b"firmware") -> UpgradeImage:
    """A built image for ``kind``; an Alt HAN bridge's is a PPMID's (its store rule is the point)."""
    return built_image(DeviceType.PPMID if kind is DeviceType.ALT_HAN else kind, version,
                       force_replace=force_replace, body=body)


def test_stores_the_original_bytes_and_finds_them_by_device_and_identity() -> None:
    store = ImageStore()
    data = sample_bytes("esme")
    result = store.put(parse_image(data), [ESME_1, "00-11-22-33-44-55-66-02"])
    stored = result.stored
    assert stored is not None and result.discarded == ()
    assert stored.data == data and stored.sha256 == hashlib.sha256(data).digest()
    assert stored.device_type is DeviceType.ESME
    assert stored.targets == {ESME_1, ESME_2}
    profile = profile_for("esme")
    assert store.lookup(ESME_2, profile.manufacturer_code, profile.image_type) is stored
    assert store.lookup(ESME_1, profile.manufacturer_code, profile_for("gsme").image_type) is None
    assert store.lookup(GSME_1, profile.manufacturer_code, profile.image_type) is None
    assert store.waiting_for(ESME_1) is stored and store.waiting_for(GSME_1) is None


def test_settled_target_no_longer_finds_the_image() -> None:
    store = ImageStore()
    stored = store.put(sample("esme"), [ESME_1, ESME_2]).stored
    assert stored is not None
    store.settle(stored, ESME_1)
    profile = profile_for("esme")
    assert store.lookup(ESME_1, profile.manufacturer_code, profile.image_type) is None
    assert store.waiting_for(ESME_1) is None
    assert store.waiting_for(ESME_2) is stored and not stored.spent
    store.settle(stored, ESME_2)
    assert stored.spent


def test_bad_input_changes_nothing() -> None:
    store = ImageStore()
    with pytest.raises(BadInput, match="at least one target"):
        store.put(sample("esme"), [])
    alien = build_image(b"x", manufacturer_code=0xBEEF, image_type=7, file_version=2)
    with pytest.raises(BadInput, match="name the device type"):
        store.put(alien, [ESME_1])
    with pytest.raises(BadInput, match="at least one slot"):
        ImageStore(SLOT_RULES, 0)
    with pytest.raises(BadInput, match="one slot per class"):
        ImageStore(SEED_RULES, 2)
    with pytest.raises(BadInput, match="unknown image rules"):
        ImageStore("first-come")
    assert store.images == ()


def test_same_device_type_overwrites_and_reports_who_was_still_waiting() -> None:
    store = ImageStore()
    old = store.put(image(DeviceType.ESME, 2), [ESME_1, ESME_2]).stored
    assert old is not None
    store.settle(old, ESME_1)
    result = store.put(image(DeviceType.ESME, 3), [ESME_1])
    assert result.stored is not None and store.images == (result.stored,)
    (discard,) = result.discarded
    assert discard.image is old and discard.targets == {ESME_2}
    assert "overwritten" in discard.reason


@pytest.mark.parametrize("rules", [SEED_RULES, SLOT_RULES], ids=lambda r: r.name)
def test_ppmid_and_hcalcs_overwrite_each_other(rules: ImageRules) -> None:
    """Seed 002: "the PPMID and a HCALCS would overwrite each other", under either rule set."""
    store = ImageStore(rules, None if rules.per_group else 4)
    hcalcs = store.put(image(DeviceType.HCALCS), [HCALCS_1]).stored
    result = store.put(image(DeviceType.PPMID), [PPMID_1])
    assert [d.image for d in result.discarded] == [hcalcs]
    assert result.discarded[0].targets == {HCALCS_1}
    back = store.put(image(DeviceType.HCALCS, 3), [HCALCS_1])
    assert [d.image for d in back.discarded] == [result.stored]
    assert [s.device_type for s in store.images] == [DeviceType.HCALCS]


@pytest.mark.parametrize("rules", list(IMAGE_RULES.values()), ids=lambda r: r.name)
def test_an_alt_han_bridge_mirrors_every_priority_the_ppmid_has(rules: ImageRules) -> None:
    """Seed 002: "the Alt HAN Device, acting as a PPMID, will mirror all priorities the PPMID has"."""
    assert rules.rule(DeviceType.ALT_HAN) == rules.rule(DeviceType.PPMID)


@pytest.mark.parametrize("waiting", [DeviceType.ALT_HAN, DeviceType.PPMID, DeviceType.HCALCS])
def test_seed_rules_the_gsme_overwrites_a_waiting_auxiliary_image_with_slots_to_spare(waiting: DeviceType) -> None:
    """Seed 002: "the GSME has priority so would overwrite an image waiting for the Alt HAN Device",
    whatever else the CH holds; the ESME's image is untouched."""
    store = ImageStore()
    esme = store.put(image(DeviceType.ESME), [ESME_1]).stored
    target = {DeviceType.ALT_HAN: ALT_HAN_1, DeviceType.PPMID: PPMID_1, DeviceType.HCALCS: HCALCS_1}[waiting]
    lost = store.put(image(waiting), [target], device_type=waiting).stored
    assert lost is not None and lost.device_type is waiting
    result = store.put(image(DeviceType.GSME), [GSME_1])
    assert result.stored is not None
    (discard,) = result.discarded
    assert discard.image is lost and discard.targets == {target}
    assert "overwritten by the gsme image" in discard.reason and "seed image rules" in discard.reason
    assert store.images == (esme, result.stored)


@pytest.mark.parametrize("newcomer", [DeviceType.ALT_HAN, DeviceType.PPMID, DeviceType.HCALCS])
def test_seed_rules_an_auxiliary_image_arriving_while_the_gsme_image_waits_is_discarded(newcomer: DeviceType) -> None:
    store = ImageStore()
    gsme = store.put(image(DeviceType.GSME), [GSME_1]).stored
    result = store.put(image(newcomer), [PPMID_1], device_type=newcomer)
    assert result.stored is None
    (discard,) = result.discarded
    assert discard.image.device_type is newcomer and discard.targets == {PPMID_1}
    assert "gsme image" in discard.reason and "has priority" in discard.reason
    assert store.images == (gsme,)
    assert gsme is not None
    store.settle(gsme, GSME_1)
    later = store.put(image(newcomer), [PPMID_1], device_type=newcomer)
    assert later.stored is not None and later.discarded == (), "a spent GSME image gives way silently"


def test_seed_rules_give_the_esme_and_the_ihd_slots_of_their_own() -> None:
    store = ImageStore()
    assert store.slots == 3
    for kind, target in ((DeviceType.ESME, ESME_1), (DeviceType.IHD, IHD_1), (DeviceType.GSME, GSME_1)):
        assert store.put(image(kind), [target]).discarded == ()
    assert len(store.images) == 3
    newer = store.put(image(DeviceType.ESME, 3), [ESME_1])
    assert [d.image.device_type for d in newer.discarded] == [DeviceType.ESME]


def test_slot_rules_the_gsme_overwrites_an_alt_han_image_only_when_every_slot_is_taken() -> None:
    roomy = ImageStore(SLOT_RULES, 4)
    roomy.put(image(DeviceType.ESME), [ESME_1])
    roomy.put(image(DeviceType.ALT_HAN), [ALT_HAN_1], device_type=DeviceType.ALT_HAN)
    assert roomy.put(image(DeviceType.GSME), [GSME_1]).discarded == ()


def test_slot_rules_the_gsme_overwrites_an_alt_han_image_on_a_full_store() -> None:
    store = ImageStore(SLOT_RULES, 2)
    store.put(image(DeviceType.ESME), [ESME_1])
    alt = store.put(image(DeviceType.PPMID), [ALT_HAN_1], device_type=DeviceType.ALT_HAN).stored
    assert alt is not None and alt.device_type is DeviceType.ALT_HAN
    result = store.put(image(DeviceType.GSME), [GSME_1])
    assert result.stored is not None
    (discard,) = result.discarded
    assert discard.image is alt and discard.targets == {ALT_HAN_1}
    assert {s.device_type for s in store.images} == {DeviceType.ESME, DeviceType.GSME}


def test_slot_rules_an_auxiliary_image_cannot_displace_meter_images_and_is_itself_discarded() -> None:
    store = ImageStore(SLOT_RULES, 2)
    esme = store.put(image(DeviceType.ESME), [ESME_1]).stored
    gsme = store.put(image(DeviceType.GSME), [GSME_1]).stored
    result = store.put(image(DeviceType.PPMID), [PPMID_1])
    assert result.stored is None
    (discard,) = result.discarded
    assert discard.image.device_type is DeviceType.PPMID and discard.targets == {PPMID_1}
    assert "no free slot" in discard.reason
    assert store.images == (esme, gsme)


def test_slot_rules_a_spent_image_gives_up_its_slot_silently() -> None:
    store = ImageStore(SLOT_RULES, 2)
    esme = store.put(image(DeviceType.ESME), [ESME_1]).stored
    store.put(image(DeviceType.GSME), [GSME_1])
    assert esme is not None
    store.settle(esme, ESME_1)
    result = store.put(image(DeviceType.IHD), [IHD_1])
    assert result.stored is not None and result.discarded == ()
    assert not store.holds(esme)


def test_slot_rules_force_replace_evicts_equal_priority_oldest_first() -> None:
    store = ImageStore(SLOT_RULES, 2)
    esme = store.put(image(DeviceType.ESME), [ESME_1]).stored
    store.put(image(DeviceType.PPMID), [PPMID_1])
    # PPMID is evicted first: lowest priority goes before the ESME image.
    gsme = store.put(image(DeviceType.GSME), [GSME_1]).stored
    assert store.images == (esme, gsme)
    refused = store.put(image(DeviceType.HCALCS, force_replace=True), [HCALCS_1])
    assert refused.stored is None, "force replace does not beat a higher priority"
    # Without the Force Replace byte an equal-priority meter image may not be evicted ...
    assert store.put(image(DeviceType.IHD), [IHD_1]).stored is None
    # ... with it, the oldest equal-priority image goes.
    low_store = ImageStore(SLOT_RULES, 1)
    first = low_store.put(image(DeviceType.ESME), [ESME_1]).stored
    assert low_store.put(image(DeviceType.GSME), [GSME_1]).stored is None
    forced = low_store.put(image(DeviceType.GSME, force_replace=True), [GSME_1])
    assert forced.stored is not None and [d.image for d in forced.discarded] == [first]


@pytest.mark.parametrize("rules", list(IMAGE_RULES.values()), ids=lambda r: r.name)
def test_every_device_type_with_an_image_profile_has_a_rule(rules: ImageRules) -> None:
    from hanbench.gbcs.image_types import IMAGE_PROFILES

    assert set(IMAGE_PROFILES) <= set(rules.rules)
