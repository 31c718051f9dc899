"""The premises of an estate, drawn from its templates with the bench's seed: the same every time.

:func:`plan_estate` turns a bench file's ``[estate]`` into one :class:`PremisesPlan` per
premises: which template it follows, its CH and HAN devices (entity IDs from the estate's
range, names such as ``p0042-esme``), the firmware each runs (drawn from the estate's
version mix: N, N-1, older), the frame loss of its air (drawn from its template's range)
and its GSME's first wake (spread evenly at random over the wake interval, so that a
thousand gas meters do not all wake in the same second).

Everything is drawn from one :class:`random.Random` seeded with the bench's ``seed``, in
premises order, so an estate is reproduced by its bench file alone: ``hanbench estate``
prints it, :func:`hanbench.open_estate` builds it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from hanbench.bench.bench_config import AirConfig, BenchConfig, DeviceConfig, HubConfig, NotOnBench
from hanbench.bench.estate_config import EstateConfig, PremisesTemplate
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION
from hanbench.gbcs.roles import RESPONSIBLE_SUPPLIER_ROLE, DeviceStatus


class NotAnEstate(NotOnBench):
    """An estate was asked of a bench file without ``[estate]``, or the other way round."""


@dataclasses.dataclass(frozen=True)
class PremisesPlan:
    """One premises of an estate: its CH, its devices, its air."""

    index: int
    name: str
    template: str
    hub: HubConfig
    devices: tuple[DeviceConfig, ...]
    link_loss: float

    def bench_config(self, estate: BenchConfig) -> BenchConfig:
        """This premises as a bench of its own (the view a bench kind assembles): the estate's
        file, users and timing, this premises' CH and devices, its air's loss, a seed of its own."""
        air = dataclasses.replace(estate.air or AirConfig(), loss=self.link_loss)
        return dataclasses.replace(estate, hub=self.hub, devices=self.devices, air=air, estate=None,
                                   seed=estate.seed * 1_000_003 + self.index)


@dataclasses.dataclass(frozen=True)
class EstatePlan:
    """Every premises of an estate, in order."""

    config: EstateConfig
    premises: tuple[PremisesPlan, ...]

    def __iter__(self) -> Iterator[PremisesPlan]:
        return iter(self.premises)

    def __len__(self) -> int:
        return len(self.premises)

    def devices(self) -> Iterator[DeviceConfig]:
        """Every HAN device of the estate, premises by premises."""
        for premises in self.premises:
            yield from premises.devices

    def summary(self) -> dict[str, Any]:
        """Counts: premises per template, devices per type, and the versions each type runs."""
        versions: dict[str, Counter[str]] = {}
        templates = Counter(p.template for p in self.premises)
        for premises in self.premises:
            versions.setdefault(DeviceType.CH.value, Counter())[f"{premises.hub.firmware_version:08X}"] += 1
            for device in premises.devices:
                versions.setdefault(device.type.value, Counter())[f"{device.firmware_version:08X}"] += 1
        return {
            "premises": len(self.premises),
            "templates": {t.name: templates[t.name] for t in self.config.templates},
            "devices": {kind: sum(counts.values()) for kind, counts in versions.items()},
            "versions": {kind: dict(sorted(counts.items(), reverse=True)) for kind, counts in versions.items()},
        }

    def to_json(self) -> str:
        """The whole plan: the summary, then each premises with its CH and devices."""
        return json.dumps({"summary": self.summary(), "premises": [_premises_json(p) for p in self.premises]},
                          indent=2)


def _premises_json(premises: PremisesPlan) -> dict[str, Any]:
    return {
        "name": premises.name, "template": premises.template, "ch": premises.hub.id.duis,
        "ch_firmware_version": f"{premises.hub.firmware_version:08X}", "link_loss": round(premises.link_loss, 6),
        "devices": [{"name": d.name, "type": d.type.value, "id": d.id.duis,
                     "supplier": d.responsible_supplier.duis, "firmware_version": f"{d.firmware_version:08X}",
                     **({"wake_phase_s": d.wake_phase_s} if d.wake_phase_s is not None else {})}
                    for d in premises.devices],
    }


def plan_estate(config: BenchConfig) -> EstatePlan:
    """The premises of ``config``'s estate (:class:`NotAnEstate` if it describes one premises)."""
    estate = config.estate
    if estate is None:
        raise NotAnEstate(f"{config.file} describes one premises, not an estate (no [estate] table)")
    rng = random.Random(config.seed)
    by_name = {t.name: t for t in estate.templates}
    order = [name for name, count in estate.template_counts().items() for _ in range(count)]
    rng.shuffle(order)
    width = max(4, len(str(estate.premises - 1)))
    premises = tuple(_premises(config, estate, index, by_name[template], f"p{index:0{width}d}", rng)
                     for index, template in enumerate(order))
    return EstatePlan(estate, premises)


def _version(estate: EstateConfig, kind: DeviceType, rng: random.Random) -> int:
    mix = estate.firmware.get(kind)
    return INITIAL_FILE_VERSION if mix is None else mix.draw(rng)


def _premises(config: BenchConfig, estate: EstateConfig, index: int, template: PremisesTemplate, name: str,
              rng: random.Random) -> PremisesPlan:
    hub = dataclasses.replace(config.hub, id=estate.id_of(index, 0), firmware_version=_version(estate, DeviceType.CH, rng),
                              hardware_version=estate.hardware_version)
    devices = []
    for slot, kind in enumerate(template.devices, start=1):
        role = RESPONSIBLE_SUPPLIER_ROLE[kind].value
        suppliers = {role: getattr(template, role)}
        if kind is DeviceType.ESME and template.export_supplier is not None:
            suppliers["export_supplier"] = template.export_supplier
        devices.append(DeviceConfig(
            type=kind, id=estate.id_of(index, slot), name=f"{name}-{kind.value}",
            firmware_version=_version(estate, kind, rng), hardware_version=estate.hardware_version,
            status=DeviceStatus.COMMISSIONED,
            wake_phase_s=rng.random() * config.timing.gsme_wake_interval_s if kind is DeviceType.GSME else None,
            **suppliers))
    low, high = template.link_loss
    return PremisesPlan(index, name, template.name, hub, tuple(devices), rng.uniform(low, high) if high else 0.0)
