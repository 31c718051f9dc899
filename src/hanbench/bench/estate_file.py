"""Reading the ``[estate]`` table of a bench file into an :class:`~hanbench.bench.estate_config.EstateConfig`.

Every mistake is a :class:`~hanbench.bench.config_reader.BenchConfigError` at its key and
line, found before any premises is built: a template without the supplier its devices need,
shares that do not add up, counts that contradict ``premises``, an ID range that runs into a
user's ID or past 64 bits, an estate on a kind that cannot hold one.
"""

from __future__ import annotations

from collections.abc import Mapping

from hanbench.bench.bench_config import BenchKind, User
from hanbench.bench.config_reader import Table, user_with
from hanbench.bench.estate_config import IDS_PER_PREMISES, EstateConfig, PremisesTemplate, VersionMix
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import RTDS_HW_MIN
from hanbench.gbcs.roles import RESPONSIBLE_SUPPLIER_ROLE, Role

ESTATE_KEYS = ("premises", "first_id", "hardware_version", "assembly_concurrency", "firmware", "templates")
_TEMPLATE_KEYS = ("name", "count", "share", "devices", "import_supplier", "export_supplier", "gas_supplier",
                  "link_loss")
_MIX_KEYS = ("versions", "shares")
_HAN_TYPES = tuple(kind for kind in DeviceType if kind is not DeviceType.CH)
DEFAULT_FIRST_ID = EntityId.parse("00-DB-20-00-00-00-00-00")
_MAX_PREMISES = 1_000_000


def read_estate(table: Table, kind: BenchKind, users: tuple[User, ...]) -> EstateConfig:
    """The estate ``table`` describes, for a bench of ``kind`` with ``users``."""
    if kind is not BenchKind.EMU:
        raise table.error("premises", f"an estate is emulated (hundreds of premises on one loop); this is a "
                                      f"{kind} bench: make it an emu bench, or drop [estate]")
    templates = _templates(table, users)
    premises = _premises(table, templates)
    first_id = table.convert("first_id", EntityId.parse, DEFAULT_FIRST_ID.duis)
    estate = EstateConfig(
        premises=premises, first_id=first_id, templates=templates,
        firmware=_firmware(table), hardware_version=table.integer("hardware_version", RTDS_HW_MIN, minimum=0,
                                                                  maximum=0xFFFF),
        assembly_concurrency=table.integer("assembly_concurrency", EstateConfig.assembly_concurrency, minimum=1))
    _check_ids(table, estate, users)
    return estate


def _templates(table: Table, users: tuple[User, ...]) -> tuple[PremisesTemplate, ...]:
    tables = table.tables("templates", _TEMPLATE_KEYS)
    if not tables:
        raise table.error("templates", "an estate needs at least one [[estate.templates]]")
    templates: list[PremisesTemplate] = []
    for entry in tables:
        template = _template(entry, users)
        if any(t.name == template.name for t in templates):
            raise entry.error("name", f"two templates are named {template.name!r}")
        templates.append(template)
    shared = [t for t in templates if t.share is not None]
    if shared and abs(sum(t.share or 0.0 for t in shared) - 1.0) > 1e-9:
        listed = ", ".join(f"{t.name} {t.share:g}" for t in shared)
        raise tables[0].error("share", f"the shares of the templates without a count split the rest of the "
                                       f"premises, so they add up to 1; they are {listed}")
    return tuple(templates)


def _template(table: Table, users: tuple[User, ...]) -> PremisesTemplate:
    name: str = table.string("name")
    if table.has("count") == table.has("share"):
        raise table.error("count", "give a template either a count of premises or a share of them, not both")
    count = table.integer("count", minimum=0) if table.has("count") else None
    share = table.number("share", above=0, maximum=1) if table.has("share") else None
    devices = _device_types(table)
    wanted = {RESPONSIBLE_SUPPLIER_ROLE[kind] for kind in devices}
    if not devices and not (table.has("import_supplier") or table.has("gas_supplier")):
        raise table.error("import_supplier", "a premises with only a CH needs its supplier: import_supplier, "
                                             "or gas_supplier on a gas-only premises")
    for role in wanted:
        if not table.has(role.value):
            needing = ", ".join(kind.value for kind in devices if RESPONSIBLE_SUPPLIER_ROLE[kind] is role)
            raise table.error(role.value, f"missing required key: the template's {needing} need their {role.value}")
    if table.has("export_supplier") and DeviceType.ESME not in devices:
        raise table.error("export_supplier", "only an ESME has an export supplier, and the template has none")
    suppliers = {role.value: user_with(table, role.value, users, frozenset({role}))
                 for role in (Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER) if table.has(role.value)}
    return PremisesTemplate(name=name, devices=devices, count=count, share=share, link_loss=_link_loss(table),
                            **suppliers)


def _device_types(table: Table) -> tuple[DeviceType, ...]:
    if not table.has("devices"):
        raise table.error("devices", "missing required key: the template's HAN devices, e.g. [\"esme\", \"gsme\"] "
                                     "([] for a premises with only its CH)")
    raw = table.data["devices"]
    if not isinstance(raw, list):
        raise table.error("devices", "should be an array of device types, e.g. [\"esme\", \"gsme\"]")
    kinds: list[DeviceType] = []
    for index, text in enumerate(raw):
        kind = table.member(("devices", index), text, DeviceType, among=_HAN_TYPES)
        if kind in kinds:
            raise table.error(("devices", index), f"{kind} is listed twice; a template has one device of each type")
        kinds.append(kind)
    return tuple(kinds)


def _link_loss(table: Table) -> tuple[float, float]:
    """A frame loss (``0.01``) or a range each premises' loss is drawn from (``[0.0, 0.05]``)."""
    if not table.has("link_loss"):
        return (0.0, 0.0)
    raw = table.data["link_loss"]
    values = raw if isinstance(raw, list) else [raw]
    if len(values) not in (1, 2):
        raise table.error("link_loss", "should be a loss (0.01) or a range [low, high] of losses")
    checked = [table.convert_value(("link_loss", i) if isinstance(raw, list) else "link_loss", value, _probability)
               for i, value in enumerate(values)]
    low, high = checked[0], checked[-1]
    if low > high:
        raise table.error("link_loss", f"the range [{low:g}, {high:g}] runs backwards")
    return (low, high)


def _probability(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise BadInput(f"a frame loss is a probability between 0 and 1, got {value!r}")
    return float(value)


def _premises(table: Table, templates: tuple[PremisesTemplate, ...]) -> int:
    counted = sum(t.count or 0 for t in templates)
    shared = any(t.share is not None for t in templates)
    if not table.has("premises"):
        if shared:
            raise table.error("premises", "missing required key: how many premises the templates' shares divide")
        if counted == 0:
            raise table.error("templates", "the templates' counts add up to no premises at all")
        return counted
    premises = table.integer("premises", minimum=1, maximum=_MAX_PREMISES)
    if counted > premises or (not shared and counted != premises):
        raise table.error("premises", f"the templates count {counted} premises, the estate has {premises}")
    return premises


def _firmware(table: Table) -> Mapping[DeviceType, VersionMix]:
    section = table.table("firmware", tuple(kind.value for kind in DeviceType))
    if section is None:
        return {}
    mixes: dict[DeviceType, VersionMix] = {}
    for kind in DeviceType:
        entry = section.table(kind.value, _MIX_KEYS)
        if entry is None:
            continue
        versions = _integers(entry, "versions", 0xFFFFFFFF)
        shares = _numbers(entry, "shares")
        mixes[kind] = entry.convert_value("versions", (versions, shares), lambda vs: VersionMix(*vs))
    return mixes


def _integers(table: Table, key: str, maximum: int) -> tuple[int, ...]:
    raw = table.data.get(key)
    if not isinstance(raw, list) or not raw:
        raise table.error(key, "should be a non-empty array of firmware versions, newest first")
    for index, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            raise table.error((key, index), f"should be a firmware version 0..0x{maximum:X}, got {value!r}")
    return tuple(raw)


def _numbers(table: Table, key: str) -> tuple[float, ...]:
    raw = table.data.get(key)
    if not isinstance(raw, list) or not raw:
        raise table.error(key, "should be a non-empty array of shares (0..1, adding up to 1)")
    for index, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise table.error((key, index), f"should be a number, got {value!r}")
    return tuple(float(v) for v in raw)


def _check_ids(table: Table, estate: EstateConfig, users: tuple[User, ...]) -> None:
    """The estate's ID range fits in 64 bits and holds no user's ID."""
    end = int.from_bytes(estate.first_id.raw, "big") + estate.premises * IDS_PER_PREMISES
    if end > 1 << 64:
        raise table.error("first_id", f"{estate.premises} premises of {IDS_PER_PREMISES} IDs each from "
                                      f"{estate.first_id} run past the largest entity ID; start lower")
    for user in users:
        if estate.first_id <= user.id <= estate.last_id:
            raise table.error("first_id", f"the estate's IDs {estate.first_id} .. {estate.last_id} include user "
                                          f"{user.name}'s {user.id}; start the estate elsewhere")
