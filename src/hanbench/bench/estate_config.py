"""An estate in one bench: many premises described by templates, as the ``[estate]`` table gives them.

A supplier's portfolio is not one premises: MP207's report tells "the exact state of all
Devices at any one time" over a million of them, and SECMP0024 is a campaign over every
Comms Hub. An estate bench file describes such a population the way a portfolio is
described, by its mix rather than device by device:

* ``premises`` and one ``[[estate.templates]]`` per kind of premises (which HAN devices,
  which suppliers: electricity only, gas only, dual fuel), each with a ``count`` or a
  ``share`` of the premises;
* ``[estate.firmware]``: per device type, the versions running across the estate (newest,
  N, first; then N-1; then older ones) and the share of devices on each;
* per template, the link quality of its premises (a frame loss drawn per premises);
* the GSMEs' first wakes spread over their wake interval.

These records are what the file says once checked; :mod:`hanbench.bench.estate_plan` draws
the premises from them with the bench's seed, the same every time.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping

from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId

#: Entity IDs each premises takes: its CH's, then one per HAN device (the same block whatever
#: the template, so a premises keeps its IDs when a template gains a device).
IDS_PER_PREMISES = 16


@dataclasses.dataclass(frozen=True)
class VersionMix:
    """The firmware versions one device type runs across an estate, newest (N) first, and the
    share of devices running each."""

    versions: tuple[int, ...]
    shares: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.versions or len(self.versions) != len(self.shares):
            raise BadInput("a version mix needs as many shares as versions, at least one of each")
        if list(self.versions) != sorted(set(self.versions), reverse=True):
            raise BadInput("a version mix lists distinct versions, newest (N) first")
        if any(share < 0 for share in self.shares) or abs(sum(self.shares) - 1.0) > 1e-9:
            raise BadInput(f"the shares of a version mix are >= 0 and add up to 1, got {list(self.shares)}")

    @property
    def target(self) -> int:
        """N: the newest version of the mix."""
        return self.versions[0]

    def draw(self, rng: random.Random) -> int:
        """One device's version."""
        return rng.choices(self.versions, weights=self.shares)[0]


@dataclasses.dataclass(frozen=True)
class PremisesTemplate:
    """One kind of premises: its HAN devices (the CH is always there) and their suppliers.

    ``count`` premises of this template, or a ``share`` of those no template counts. A GSME
    belongs to ``gas_supplier``, every electricity-side device to ``import_supplier`` (and an
    ESME may have an ``export_supplier``); the CH to the import supplier, or to the gas
    supplier on a gas-only premises. ``link_loss`` is the range each premises' frame loss is
    drawn from.
    """

    name: str
    devices: tuple[DeviceType, ...]
    count: int | None = None
    share: float | None = None
    import_supplier: EntityId | None = None
    export_supplier: EntityId | None = None
    gas_supplier: EntityId | None = None
    link_loss: tuple[float, float] = (0.0, 0.0)

    @property
    def hub_supplier(self) -> EntityId | None:
        """The CH's responsible supplier: the import supplier, or on a gas-only premises the gas supplier."""
        return self.import_supplier or self.gas_supplier


@dataclasses.dataclass(frozen=True)
class EstateConfig:
    """The ``[estate]`` table: how many premises, of which templates, running which firmware.

    Entity IDs are allocated from ``first_id`` upwards, :data:`IDS_PER_PREMISES` per premises.
    ``hardware_version`` is every generated device's (and CH's). ``assembly_concurrency`` is
    how many premises come up at once when the estate opens: joins run concurrently on the
    one loop, so the estate is ready after about ``premises / assembly_concurrency`` times
    the bench time one premises takes to join.
    """

    premises: int
    first_id: EntityId
    templates: tuple[PremisesTemplate, ...]
    firmware: Mapping[DeviceType, VersionMix]
    hardware_version: int
    assembly_concurrency: int = 50

    def template_counts(self) -> dict[str, int]:
        """How many premises each template has: its ``count``, or its ``share`` of the premises
        no count claims, rounded by largest remainder so that the counts add up."""
        counted = {t.name: t.count for t in self.templates if t.count is not None}
        rest = self.premises - sum(counted.values())
        shared = [t for t in self.templates if t.share is not None]
        exact = {t.name: rest * (t.share or 0.0) for t in shared}
        counts = {name: int(value) for name, value in exact.items()}
        left = rest - sum(counts.values())
        for name in sorted(exact, key=lambda n: (counts[n] - exact[n], n))[:left]:
            counts[name] += 1
        return {t.name: counted.get(t.name, counts.get(t.name, 0)) for t in self.templates}

    def id_of(self, premises: int, slot: int) -> EntityId:
        """The entity ID of slot ``slot`` (0: the CH) of premises number ``premises``."""
        value = int.from_bytes(self.first_id.raw, "big") + premises * IDS_PER_PREMISES + slot
        return EntityId(value.to_bytes(8, "big"))

    @property
    def last_id(self) -> EntityId:
        """The highest entity ID the estate may use."""
        return self.id_of(self.premises - 1, IDS_PER_PREMISES - 1)

    def knobs(self) -> dict[str, object]:
        """What the session record keeps of the estate (the seed is the bench's)."""
        return {
            "premises": self.premises, "first_id": self.first_id.duis, "hardware_version": self.hardware_version,
            "templates": self.template_counts(),
            "firmware": {kind.value: {"versions": [f"{v:08X}" for v in mix.versions], "shares": list(mix.shares)}
                         for kind, mix in self.firmware.items()},
        }
