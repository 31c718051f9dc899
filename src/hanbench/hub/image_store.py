"""The images a Comms Hub holds for its HAN devices, and the rules that decide which it keeps.

Each stored image is kept as it was read where it entered the bench (the DCC reads an SR's
image once and hands the CH that :class:`~hanbench.gbcs.image.UpgradeImage`), with the bytes
it is served as (a read image encodes back byte for byte), and the set of target devices
(GBCS entity IDs) still waiting for it. When a newcomer overwrites an image, or is itself
refused, the image that loses is *discarded* and :meth:`ImageStore.put` returns a
:class:`Discard` for it, naming the targets still waiting, so the CH raises CCS08 response
code 1 "Image Discarded" for each and the DCC routes it to whoever sent the lost image.

The rules are data, an :class:`ImageRules`, and the bench file chooses one (``[hub]
image_rules``). Both share one algorithm (:meth:`ImageStore.put`): each device type's images
go to a *slot group* with a *priority*; a group holds one image, so a newcomer replaces the
image of its group unless that image still waits for a device and has a higher priority,
in which case the newcomer is the one discarded; and when the store holds more groups than
it has slots, a newcomer may evict another group's image of lower priority.

**``seed`` (the default): the CH as seed ``002`` (MP170 working group, July 2022) states
it, each statement as written.**

* "the GSME has priority so would overwrite an image waiting for the Alt HAN Device": the
  GSME's image and the Alt HAN bridges' share one slot, and the GSME's has the higher
  priority: a GSME image overwrites a waiting Alt HAN image, whatever else the CH holds,
  and an Alt HAN image arriving while a GSME image waits is itself discarded;
* "the Alt HAN Device, acting as a PPMID, will mirror all priorities the PPMID has": the
  PPMID's rule and the Alt HAN bridge's are one rule;
* "the PPMID and a HCALCS would overwrite each other": they share that slot at equal
  priority, so the newer image wins.

So the CH has a slot for the ESME's image and one shared by the GSME, PPMID, HCALCS and Alt
HAN images, with the GSME first. The seed says nothing of the ESME (it has a slot of its own
here, as a CH stores the meters' images apart) nor of the IHD (out of GBCS OTA scope since
SECMP0007; its own slot here, so that it never costs a GBCS device its image). The number
of slots is the number of groups: ``image_store_slots`` does not apply.

**``slots``: the earlier model, kept as a documented alternative** for a CH whose store is a
number of interchangeable slots (``[hub] image_store_slots``, 2 by default). Images of one
group overwrite each other (ESME, GSME, the auxiliary PPMID / HCALCS / Alt HAN group, IHD);
a meter image (priority 2) may evict an auxiliary device's image (priority 1) only when
every slot is taken, the IHD's (0) goes first. Under it the seed's first statement holds
only on a full store, which is why it is not the default. It is what a CH built on a
generic slot store (Silicon Labs' OTA storage plugins keep a list of images) would do.

Both rule sets share what the sources leave to the CH:

* an image whose targets have all settled (delivered, or refused by hardware version) is
  spent: it gives up its slot to any newcomer without a discard report;
* the Force Replace byte of an Upgrade Image is "only used by the CH, not by the meter"
  (GBCS 11.2.2): it lets a newcomer also evict another group's image of *equal* priority
  (the oldest first), which it otherwise could not;
* when nothing may be evicted, the *newcomer* is discarded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import device_type_of
from hanbench.gbcs.ota_header import OtaHeader

DEFAULT_SLOTS = 2


@dataclass(frozen=True)
class StoreRule:
    """How one device type's images compete for the CH's slots.

    ``group`` names the slot an image occupies: a group holds one image at a time.
    ``priority``: a newcomer does not replace a waiting image of its group with a higher
    priority; when every slot is taken, it may evict another group's image of lower priority.
    """

    group: str
    priority: int


@dataclass(frozen=True)
class ImageRules:
    """A whole rule set: each device type's :class:`StoreRule`, and how the store is sized.

    ``per_group``: the store has one slot per group (the seed model); otherwise its number
    of slots comes from the bench file (``[hub] image_store_slots``).
    """

    name: str
    rules: Mapping[DeviceType, StoreRule]
    per_group: bool

    def rule(self, device_type: DeviceType) -> StoreRule:
        try:
            return self.rules[device_type]
        except KeyError:
            raise BadInput(f"the CH does not store images for {device_type.value}") from None

    def slot_count(self, configured: int | None) -> int:
        """How many images the store holds: one per group, or the ``configured`` number."""
        if self.per_group:
            if configured is not None:
                raise BadInput(f"image rules {self.name!r} give the CH one slot per class of device; "
                               "a number of slots applies to image rules 'slots' only")
            return len({rule.group for rule in self.rules.values()})
        slots = DEFAULT_SLOTS if configured is None else configured
        if not isinstance(slots, int) or isinstance(slots, bool) or slots < 1:
            raise BadInput(f"the CH image store needs at least one slot, got {slots!r}")
        return slots

    @classmethod
    def parse(cls, name: "str | ImageRules") -> "ImageRules":
        if isinstance(name, ImageRules):
            return name
        try:
            return IMAGE_RULES[name.strip().lower()]
        except KeyError:
            raise BadInput(f"unknown image rules {name!r}; expected one of {', '.join(IMAGE_RULES)}") from None


_SHARED = "gsme_and_han"  # the slot seed 002 has the GSME share with the Alt HAN bridges, PPMID and HCALCS

SEED_RULES = ImageRules("seed", MappingProxyType({
    DeviceType.ESME: StoreRule(group="esme", priority=1),
    DeviceType.GSME: StoreRule(group=_SHARED, priority=2),
    DeviceType.PPMID: StoreRule(group=_SHARED, priority=1),
    DeviceType.ALT_HAN: StoreRule(group=_SHARED, priority=1),  # "mirror all priorities the PPMID has"
    DeviceType.HCALCS: StoreRule(group=_SHARED, priority=1),
    DeviceType.IHD: StoreRule(group="ihd", priority=0),
}), per_group=True)
"""Seed 002's three statements as written (see the module docstring); the default."""

SLOT_RULES = ImageRules("slots", MappingProxyType({
    DeviceType.ESME: StoreRule(group="esme", priority=2),
    DeviceType.GSME: StoreRule(group="gsme", priority=2),
    DeviceType.PPMID: StoreRule(group="auxiliary", priority=1),
    DeviceType.HCALCS: StoreRule(group="auxiliary", priority=1),
    DeviceType.ALT_HAN: StoreRule(group="auxiliary", priority=1),
    DeviceType.IHD: StoreRule(group="ihd", priority=0),
}), per_group=False)
"""Interchangeable slots, meters before auxiliary devices (see the module docstring)."""

IMAGE_RULES: Mapping[str, ImageRules] = MappingProxyType({r.name: r for r in (SEED_RULES, SLOT_RULES)})


@dataclass(frozen=True)
class ImageKey:
    """What a Zigbee OTA client names an image by: manufacturer code, image type, file version."""

    manufacturer_code: int
    image_type: int
    file_version: int

    @classmethod
    def of(cls, header: OtaHeader) -> ImageKey:
        """The key an OTA header names."""
        return cls(header.manufacturer_code, header.image_type, header.file_version)

    def __str__(self) -> str:
        return f"{self.manufacturer_code:04X}-{self.image_type:04X}-{self.file_version:08X}"

    def fields(self) -> dict[str, int]:
        """The three fields as the OTA cluster's command schemas name them."""
        return {"manufacturer_code": self.manufacturer_code, "image_type": self.image_type,
                "file_version": self.file_version}


@dataclass(eq=False)
class StoredImage:
    """One image in a CH slot: the original bytes, parsed, and who is still waiting for it.

    Identity is the object: two deliveries of the same bytes are two stored images.
    """

    data: bytes
    image: UpgradeImage
    device_type: DeviceType
    targets: frozenset[EntityId]
    sequence: int
    #: Targets that have not yet settled (received it, or been refused by hardware version).
    pending: set[EntityId] = field(default_factory=set)

    @cached_property
    def key(self) -> ImageKey:
        return ImageKey.of(self.image.header)

    @property
    def size(self) -> int:
        """Bytes a device downloads: the whole OTA Upgrade Image, header included."""
        return len(self.data)

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the whole file, to check what a device received byte for byte."""
        return hashlib.sha256(self.data).digest()

    @property
    def force_replace(self) -> bool:
        return self.image.force_replace

    @property
    def spent(self) -> bool:
        """Whether every target has settled, so the slot can be reused without loss."""
        return not self.pending

    def __repr__(self) -> str:
        return f"StoredImage({self.device_type.value} {self.key}, {len(self.pending)}/{len(self.targets)} pending)"


@dataclass(frozen=True)
class Discard:
    """An image the CH dropped, and the targets that were still waiting for it (CCS08 code 1)."""

    image: StoredImage
    targets: frozenset[EntityId]
    reason: str


@dataclass(frozen=True)
class PutResult:
    """What :meth:`ImageStore.put` did: the image stored (or ``None``) and what was discarded."""

    stored: StoredImage | None
    discarded: tuple[Discard, ...]


class ImageStore:
    """A CH's bounded image store under ``rules``; see the module docstring.

    ``slots`` is the bench file's ``image_store_slots``, for rule sets that take one (``None``:
    their default).
    """

    def __init__(self, rules: ImageRules | str = SEED_RULES, slots: int | None = None) -> None:
        self.rules = ImageRules.parse(rules)
        self.slots = self.rules.slot_count(slots)
        self._images: list[StoredImage] = []
        self._sequence = 0

    @property
    def images(self) -> tuple[StoredImage, ...]:
        """The stored images, oldest first."""
        return tuple(self._images)

    def put(
        self,
        image: UpgradeImage,
        targets: Iterable[EntityId | str],
        *,
        device_type: DeviceType | None = None,
    ) -> PutResult:
        """Store ``image`` for ``targets``, applying the rules.

        ``device_type`` defaults to the type whose image profile matches the header; give it
        for images no profile names. Raises :class:`BadInput` before changing anything.
        """
        kind = self.kind_of(image, device_type)
        wanted = frozenset(EntityId.parse(t) for t in targets)
        if not wanted:
            raise BadInput(f"an image for {kind.value} needs at least one target device")
        self._sequence += 1
        newcomer = StoredImage(image.to_bytes(), image, kind, wanted, self._sequence, pending=set(wanted))
        rule = self.rules.rule(kind)

        losers = [s for s in self._images if self._rule(s).group == rule.group]
        keeping = [s for s in losers if not s.spent and self._rule(s).priority > rule.priority]
        if keeping:
            held = keeping[0]
            reason = (f"the {held.device_type.value} image {held.key} waiting for "
                      f"{', '.join(str(d) for d in sorted(held.pending))} has priority over the "
                      f"{kind.value} image {newcomer.key} in their shared slot ({self.rules.name} image rules)")
            return PutResult(None, (Discard(newcomer, wanted, reason),))
        free = self.slots - len(self._images) + len(losers)
        candidates = sorted(
            (s for s in self._images if s not in losers),
            key=lambda s: (not s.spent, self._rule(s).priority, s.sequence),
        )
        for stored in candidates:
            if free > 0:
                break
            if stored.spent or self._may_evict(newcomer, stored):
                losers.append(stored)
                free += 1
        if free <= 0:
            reason = (
                f"no free slot among {self.slots} for the {kind.value} image {newcomer.key}: "
                f"{', '.join(repr(s) for s in self._images)} may not be overwritten"
            )
            return PutResult(None, (Discard(newcomer, wanted, reason),))

        discards = []
        for loser in losers:
            self._images.remove(loser)
            if loser.pending:
                reason = f"overwritten by the {kind.value} image {newcomer.key} ({self.rules.name} image rules)"
                discards.append(Discard(loser, frozenset(loser.pending), reason))
        self._images.append(newcomer)
        return PutResult(newcomer, tuple(discards))

    def _rule(self, stored: StoredImage) -> StoreRule:
        return self.rules.rule(stored.device_type)

    def _may_evict(self, newcomer: StoredImage, stored: StoredImage) -> bool:
        mine = self._rule(newcomer).priority
        theirs = self._rule(stored).priority
        return mine > theirs or (newcomer.force_replace and mine == theirs)

    def kind_of(self, image: UpgradeImage, device_type: DeviceType | None = None) -> DeviceType:
        """The device type ``image`` is for: ``device_type`` if given, else the type whose image
        profile its header names. :class:`BadInput` for an image the store does not take."""
        header = image.header
        kind = device_type if device_type is not None else device_type_of(header)
        if kind is None:
            raise BadInput(
                f"no device type uses images with manufacturer code 0x{header.manufacturer_code:04X} and "
                f"image type 0x{header.image_type:04X}; name the device type the image is for"
            )
        self.rules.rule(kind)
        return kind

    def lookup(self, device: EntityId, manufacturer_code: int, image_type: int) -> StoredImage | None:
        """The image waiting for ``device`` under this manufacturer code and image type.

        This is what a Query Next Image is answered from. The newest such image wins.
        """
        for stored in reversed(self._images):
            if device in stored.pending and stored.image.header.is_for(manufacturer_code, image_type):
                return stored
        return None

    def waiting_for(self, device: EntityId) -> StoredImage | None:
        """Any image ``device`` has not yet settled: what sets a sleepy device's "new OTA firmware" flag."""
        for stored in reversed(self._images):
            if device in stored.pending:
                return stored
        return None

    def settle(self, stored: StoredImage, device: EntityId) -> None:
        """``device`` is done with ``stored`` (it took it, or it cannot take it)."""
        stored.pending.discard(device)

    def holds(self, stored: StoredImage) -> bool:
        """Whether ``stored`` is still in a slot."""
        return stored in self._images
