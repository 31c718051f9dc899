"""The images a Comms Hub holds for its HAN devices, and the rules that decide which it keeps.

A CH has room for a few OTA Upgrade Images (``slots``, 2 by default). Each stored image is
kept as it was read where it entered the bench (the DCC reads an SR's image once and hands
the CH that :class:`~hanbench.gbcs.image.UpgradeImage`), with the bytes it is served as (a
read image encodes back byte for byte), and the set of target devices (GBCS entity IDs) still waiting
for it. When there is no room, or a new image overwrites an older one, the images that lose
are *discarded* and :meth:`ImageStore.put` returns a :class:`Discard` for each, naming the
targets still waiting, so the CH can raise CCS08 response code 1 "Image Discarded" for each.

The rules are data, in :data:`STORE_RULES`, and nowhere else. What the sources say (seed
``002``, MP170 working group, July 2022, and GBCS 11.2.2):

* the GSME image has priority and overwrites an image waiting for an Alt HAN device;
* an Alt HAN device joins as a PPMID variant and mirrors all the PPMID's priorities;
* PPMID and HCALCS images overwrite each other;
* the Force Replace byte of an Upgrade Image is "only used by the CH, not by the meter".

What the bench decides where the sources are silent (the CHTS is not in the corpus):

* images for one *slot group* overwrite each other: a newer ESME image replaces the stored
  ESME image, a PPMID image replaces an HCALCS image and the other way round;
* a meter image (ESME or GSME, priority 2) may evict an auxiliary device's image (PPMID,
  Alt HAN, HCALCS, priority 1) when every slot is taken; the IHD (out of GBCS OTA scope
  since SECMP0007) has the lowest priority, 0;
* an image whose targets have all settled (delivered, or refused by hardware version) is
  spent: it gives up its slot to any newcomer without a discard report;
* Force Replace lets a newcomer also evict an image of *equal* priority (the oldest first),
  which it otherwise could not;
* when nothing may be evicted, the *newcomer* is discarded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import device_type_of

DEFAULT_SLOTS = 2


@dataclass(frozen=True)
class StoreRule:
    """How one device type's images compete for the CH's slots.

    ``group`` names the slot an image occupies: images of one group overwrite each other.
    ``priority``: when every slot is taken, a newcomer may evict an image of lower priority.
    """

    group: str
    priority: int


STORE_RULES: Mapping[DeviceType, StoreRule] = MappingProxyType({
    DeviceType.ESME: StoreRule(group="esme", priority=2),
    DeviceType.GSME: StoreRule(group="gsme", priority=2),
    # MP170: PPMID and HCALCS overwrite each other; an Alt HAN device mirrors the PPMID.
    DeviceType.PPMID: StoreRule(group="auxiliary", priority=1),
    DeviceType.HCALCS: StoreRule(group="auxiliary", priority=1),
    DeviceType.ALT_HAN: StoreRule(group="auxiliary", priority=1),
    DeviceType.IHD: StoreRule(group="ihd", priority=0),
})


@dataclass(frozen=True)
class ImageKey:
    """What a Zigbee OTA client names an image by: manufacturer code, image type, file version."""

    manufacturer_code: int
    image_type: int
    file_version: int

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

    @property
    def key(self) -> ImageKey:
        header = self.image.header
        return ImageKey(header.manufacturer_code, header.image_type, header.file_version)

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
    def rule(self) -> StoreRule:
        return STORE_RULES[self.device_type]

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
    """A CH's bounded image store; see the module docstring for the rules."""

    def __init__(self, slots: int = DEFAULT_SLOTS, rules: Mapping[DeviceType, StoreRule] = STORE_RULES) -> None:
        if not isinstance(slots, int) or slots < 1:
            raise BadInput(f"the CH image store needs at least one slot, got {slots!r}")
        self.slots = slots
        self._rules = rules
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
        for images no profile names (an Alt HAN bridge's). Raises :class:`BadInput` before
        changing anything.
        """
        kind = self._device_type(image, device_type)
        wanted = frozenset(EntityId.parse(t) for t in targets)
        if not wanted:
            raise BadInput(f"an image for {kind.value} needs at least one target device")
        self._sequence += 1
        newcomer = StoredImage(image.to_bytes(), image, kind, wanted, self._sequence, pending=set(wanted))
        rule = self._rules[kind]

        losers = [s for s in self._images if self._rules[s.device_type].group == rule.group]
        free = self.slots - len(self._images) + len(losers)
        candidates = sorted(
            (s for s in self._images if s not in losers),
            key=lambda s: (not s.spent, self._rules[s.device_type].priority, s.sequence),
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
            return PutResult(None, (Discard(newcomer, frozenset(wanted), reason),))

        discards = []
        for loser in losers:
            self._images.remove(loser)
            if loser.pending:
                reason = f"overwritten by the {kind.value} image {newcomer.key}"
                discards.append(Discard(loser, frozenset(loser.pending), reason))
        self._images.append(newcomer)
        return PutResult(newcomer, tuple(discards))

    def _may_evict(self, newcomer: StoredImage, stored: StoredImage) -> bool:
        mine = self._rules[newcomer.device_type].priority
        theirs = self._rules[stored.device_type].priority
        return mine > theirs or (newcomer.force_replace and mine == theirs)

    def _device_type(self, image: UpgradeImage, device_type: DeviceType | None) -> DeviceType:
        header = image.header
        kind = device_type if device_type is not None else device_type_of(header)
        if kind is None:
            raise BadInput(
                f"no device type uses images with manufacturer code 0x{header.manufacturer_code:04X} and "
                f"image type 0x{header.image_type:04X}; name the device type the image is for"
            )
        if kind not in self._rules:
            raise BadInput(f"the CH does not store images for {kind.value}")
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
