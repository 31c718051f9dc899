"""The bench file: reading a TOML bench description into a checked :class:`BenchConfig`.

A bench file is TOML (``bench/emu.toml`` is the embedded default and documents every key).
:func:`load_bench` turns it into the frozen records of :mod:`hanbench.bench.bench_config`,
checking everything a lab engineer could get wrong before any radio is opened: types and
ranges, entity IDs, device types, roles, duplicate IDs, appointments and suppliers against
the users, paths, and the rules of the bench kind. Every error is a :class:`BenchConfigError`
naming the file, the dotted key and its line, and nothing is built from a file that has one.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hanbench.bench.bench_config import (
    PLACE_RADIO, AirConfig, AltHanConfig, Appointment, BenchConfig, BenchKind, DeviceConfig, FlowControl, HubConfig,
    LabPlaceConfig, PowerConfig, RadioConfig, RadioType, TimingConfig, User,
)
from hanbench.bench.config_reader import BenchConfigError, Document, Table, user_with
from hanbench.bench.estate_file import ESTATE_KEYS, read_estate
from hanbench.bench.toml_locator import locate_keys
from hanbench.devices.defects import NO_DEFECTS, Defects
from hanbench.gbcs.alt_han import AltHanOption
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import RESPONSIBLE_SUPPLIER_ROLE, SUPPLIER_ROLES, DeviceStatus, Policy, Role
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.power import power_from_config
from hanbench.hub.image_store import SEED_RULES, ImageRules
from hanbench.packaged import default_bench_file, sessions_outside
from hanbench.radio.join_security import link_key_from_install_code, parse_link_key

__all__ = ["BenchConfigError", "default_bench_file", "load_bench"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


_TOP = ("bench", "air", "timing", "radio", "lab", "hub", "alt_han", "users", "appointments", "devices", "estate")
_BENCH = ("name", "kind", "policy", "start", "seed", "keystore", "images", "sessions")
_DEVICE = ("type", "id", "name", "import_supplier", "export_supplier", "gas_supplier",
           "firmware_version", "hardware_version", "status", "board", "power", "install_code", "link_key",
           "wake_phase_s", "defects", "ppmid_variant", "image_page_size", "image_page_spacing_ms")
_HUB = ("id", "image_rules", "image_store_slots", "max_image_size", "firmware_version", "hardware_version")
_PORT = tuple(f.name for f in dataclasses.fields(PortMatch))
# Integer knobs and their ranges; every other knob is a duration that must be positive.
_TIMING_INT_LIMITS = {"block_size_max": (1, 63), "block_period_ms": (0, 0xFFFF), "command_retries": (0, 100)}
# A device's supplier keys are spelt as the supplier roles are.
_SUPPLIER_KEYS = {role.value: role for role in SUPPLIER_ROLES}
# A decommissioned device is no longer on a premises, so no session starts with one.
_START_STATUSES = frozenset(DeviceStatus) - {DeviceStatus.DECOMMISSIONED}


def load_bench(path: Path | str) -> BenchConfig:
    """Read and validate a bench file; raise :class:`BenchConfigError` on the first problem."""
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise BenchConfigError(file, None, None, f"cannot read the bench file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise BenchConfigError(file, None, None, f"not UTF-8 text (byte offset {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(file, exc) from None
    except (ValueError, RecursionError) as exc:  # a decimal integer of over 4,300 digits, deep nesting
        raise BenchConfigError(file, None, None, f"TOML that Python cannot read: {type(exc).__name__}: "
                                                 f"{str(exc)[:80]}") from None
    root = Table(Document(file, locate_keys(text)), (), data, _TOP)
    return _Loader(root).load()


def _syntax_error(file: Path, exc: tomllib.TOMLDecodeError) -> BenchConfigError:
    """tomllib puts the position in the message: "... (at line 3, column 7)"."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return BenchConfigError(file, None, None, f"TOML syntax error: {message}")
    problem = message[: found.start()].rstrip()
    return BenchConfigError(file, None, int(found[1]), f"column {found[2]}: TOML syntax error: {problem}")


class _Loader:
    """Builds a :class:`BenchConfig` from the root table, section by section, then cross-checks."""

    def __init__(self, root: Table) -> None:
        self.root = root

    def load(self) -> BenchConfig:
        bench = self._section("bench", _BENCH)
        name = bench.string("name")
        if not _NAME.fullmatch(name):
            raise bench.error("name", f"{name!r} names a folder of session records: use letters, "
                              "digits, '.', '_' and '-', starting with a letter or digit")
        kind: BenchKind = bench.choice("kind", BenchKind)
        # Arguments are evaluated in order: sections are read in the order a bench file is
        # usually written, so the first error reported is the first a reader of the file meets.
        return BenchConfig(
            file=self.root.doc.file.resolve(),
            name=name,
            kind=kind,
            policy=bench.convert("policy", Policy.parse),
            start=bench.utc_datetime("start"),
            seed=bench.integer("seed", 0, minimum=0),
            keystore=bench.folder("keystore", must_exist=True),
            images=bench.folder("images", must_exist=True),
            sessions=sessions_outside(bench.folder("sessions", "sessions", must_exist=False)),
            air=self._air(kind),
            timing=(timing := self._timing()),
            radio=self._radio(kind, lab := self._lab(kind)),
            lab=lab,
            alt_han=(alt_han := self._alt_han()),
            users=(users := self._users()),
            appointments=self._appointments(users),
            **self._premises(kind, timing, users, lab, alt_han.option),
        )

    def _premises(self, kind: BenchKind, timing: TimingConfig, users: tuple[User, ...],
                  lab: LabPlaceConfig | None, option: AltHanOption) -> dict[str, Any]:
        """``hub`` and ``devices`` of one premises, or ``hub`` (the first premises') and ``estate``
        of an estate (:mod:`hanbench.bench.estate_file`)."""
        estate_table = self.root.table("estate", ESTATE_KEYS)
        if estate_table is None:
            hub = self._hub(self._section("hub", _HUB).convert("id", EntityId.parse))
            return {"hub": hub, "devices": self._devices(kind, timing, users, hub, lab, option)}
        if self.root.has("devices"):
            raise self.root.error("devices", "an estate's premises come from [[estate.templates]]; "
                                  "drop [[devices]], or [estate]")
        estate = read_estate(estate_table, kind, users)
        hub_table = self.root.table("hub", _HUB)
        if hub_table is not None and hub_table.has("id"):
            raise hub_table.error("id", "each premises of an estate gets its CH's ID from [estate] first_id")
        return {"hub": self._hub(estate.first_id), "estate": estate}

    def _section(self, key: str, allowed: Iterable[str]) -> Table:
        table = self.root.table(key, tuple(allowed))
        if table is None:
            raise self.root.error(key, f"missing required table [{key}]")
        return table

    def _timing(self) -> TimingConfig:
        table = self.root.table("timing", tuple(f.name for f in dataclasses.fields(TimingConfig)))
        if table is None:
            return TimingConfig()
        values: dict[str, Any] = {}
        for field in dataclasses.fields(TimingConfig):
            if field.name in _TIMING_INT_LIMITS:
                low, high = _TIMING_INT_LIMITS[field.name]
                values[field.name] = table.integer(field.name, field.default, minimum=low, maximum=high)
            else:
                values[field.name] = table.number(field.name, field.default, above=0)
        timing = TimingConfig(**values)
        if timing.device_retry_max_s < timing.device_retry_s:
            raise table.error("device_retry_max_s", f"a device's longest retry interval ({timing.device_retry_max_s:g} s) "
                              f"cannot be shorter than its first retry (device_retry_s = {timing.device_retry_s:g} s)")
        return timing

    def _air(self, kind: BenchKind) -> AirConfig | None:
        table = self.root.table("air", tuple(f.name for f in dataclasses.fields(AirConfig)))
        if kind is BenchKind.LAB:
            if table is not None:
                raise self.root.error("air", "a lab bench has a real air; [air] is for emu and twin benches")
            return None
        if table is None:
            return AirConfig()
        defaults = AirConfig()
        pacing = dict(defaults.block_pacing_ms)
        types = [device_type.value for device_type in pacing]
        per_type = table.table("block_pacing_ms", types)
        if per_type is not None:
            for device_type in pacing:
                pacing[device_type] = per_type.number(device_type.value, pacing[device_type], minimum=0)
        return AirConfig(
            latency_ms=table.number("latency_ms", defaults.latency_ms, minimum=0),
            loss=table.number("loss", defaults.loss, minimum=0, maximum=1),
            airtime=table.boolean("airtime", defaults.airtime),
            poll_interval_ms=table.number("poll_interval_ms", defaults.poll_interval_ms, above=0),
            block_pacing_ms=pacing,
        )

    def _lab(self, kind: BenchKind) -> LabPlaceConfig | None:
        table = self.root.table("lab", tuple(f.name for f in dataclasses.fields(LabPlaceConfig)))
        if table is None:
            return None
        if kind is not BenchKind.LAB:
            raise self.root.error("lab", f"a {kind} bench has no hardware to share; [lab] is for lab benches")
        return LabPlaceConfig(
            place=table.string("place"),
            coordinator=table.string("coordinator", None),
            acquire_timeout_s=table.number("acquire_timeout_s", LabPlaceConfig.acquire_timeout_s, above=0),
        )

    def _radio(self, kind: BenchKind, lab: LabPlaceConfig | None) -> RadioConfig | None:
        table = self.root.table("radio", ("type", "port", "baudrate", "flow_control", "probe_interval_s",
                                          "probe_timeout_s", "reconnect_timeout_s"))
        if kind is BenchKind.EMU:
            if table is not None:
                raise self.root.error("radio", "an emu bench has no radio; [radio] is for twin and lab benches")
            return None
        if table is None:
            raise self.root.error("radio", f"a {kind} bench needs a [radio] table (the CH's coordinator stick)")
        port = _port(table, "port")
        if port is not None and lab is not None:
            raise table.error("port", f"the stick is labgrid place {lab.place!r}'s serial port "
                              f"'{PLACE_RADIO}'; drop port, or [lab]")
        if port is None and kind is BenchKind.LAB and lab is None:
            raise table.error("port", "missing required key: a lab bench must say which serial port the stick is on "
                              "(or name a labgrid place in [lab])")
        return RadioConfig(
            type=table.choice("type", RadioType),
            port=port,
            baudrate=table.integer("baudrate", 115200, minimum=1),
            flow_control=table.choice("flow_control", FlowControl, FlowControl.SOFTWARE),
            probe_interval_s=table.number("probe_interval_s", RadioConfig.probe_interval_s, above=0),
            probe_timeout_s=table.number("probe_timeout_s", RadioConfig.probe_timeout_s, above=0),
            reconnect_timeout_s=table.number("reconnect_timeout_s", RadioConfig.reconnect_timeout_s, above=0),
        )

    def _hub(self, hub_id: EntityId) -> HubConfig:
        """``[hub]`` (required on a bench of one premises; on an estate, what every CH shares)."""
        table = self.root.table("hub", _HUB) or Table(self.root.doc, ("hub",), {}, _HUB)
        rules: ImageRules = table.convert("image_rules", ImageRules.parse) if table.has("image_rules") else SEED_RULES
        slots = table.integer("image_store_slots", minimum=1) if table.has("image_store_slots") else None
        if slots is not None and rules.per_group:
            raise table.error("image_store_slots", f"image_rules = {rules.name!r} gives the CH one slot per class of "
                              "device (src/hanbench/hub/image_store.py); image_store_slots is for "
                              "image_rules = \"slots\"")
        return HubConfig(
            id=hub_id,
            image_rules=rules,
            image_store_slots=slots,
            max_image_size=table.integer("max_image_size", minimum=1) if table.has("max_image_size") else None,
            firmware_version=table.integer("firmware_version", HubConfig.firmware_version, minimum=0,
                                           maximum=0xFFFFFFFF),
            hardware_version=table.integer("hardware_version", HubConfig.hardware_version, minimum=0, maximum=0xFFFF),
        )

    def _alt_han(self) -> AltHanConfig:
        table = self.root.table("alt_han", ("option", "wake_interval_s", "orchestration_wait_s"))
        defaults = AltHanConfig()
        if table is None:
            return defaults
        return AltHanConfig(
            option=table.convert("option", AltHanOption.parse) if table.has("option") else defaults.option,
            wake_interval_s=table.number("wake_interval_s", defaults.wake_interval_s, above=0),
            orchestration_wait_s=table.number("orchestration_wait_s", defaults.orchestration_wait_s, above=0),
        )

    def _users(self) -> tuple[User, ...]:
        users: list[User] = []
        seen: dict[EntityId, int] = {}
        for index, table in enumerate(self.root.tables("users", ("id", "name", "roles"))):
            user_id = table.convert("id", EntityId.parse)
            if user_id in seen:
                raise table.error("id", f"duplicate user ID {user_id} (also users[{seen[user_id]}])")
            seen[user_id] = index
            roles = table.strings("roles")
            parsed = [table.member(("roles", i), role, Role) for i, role in enumerate(roles)]
            for i, role in enumerate(parsed):
                if role in parsed[:i]:
                    raise table.error(("roles", i), f"role {role} is listed twice")
            users.append(User(id=user_id, name=table.string("name"), roles=frozenset(parsed)))
        return tuple(users)

    def _appointments(self, users: tuple[User, ...]) -> tuple[Appointment, ...]:
        appointments: list[Appointment] = []
        for table in self.root.tables("appointments", ("supplier", "rsa")):
            appointment = Appointment(
                supplier=user_with(table, "supplier", users, SUPPLIER_ROLES),
                rsa=user_with(table, "rsa", users, frozenset({Role.RSA})),
            )
            if appointment in appointments:
                raise table.error("rsa", f"{appointment.rsa} is already appointed by {appointment.supplier}")
            appointments.append(appointment)
        return tuple(appointments)

    def _devices(self, kind: BenchKind, timing: TimingConfig, users: tuple[User, ...], hub: HubConfig,
                 lab: LabPlaceConfig | None, option: AltHanOption) -> tuple[DeviceConfig, ...]:
        devices: list[DeviceConfig] = []
        where: dict[object, str] = {hub.id: "the hub"}
        where.update({user.id: "a user" for user in users})
        bridges: list[PpmidVariant] = []
        for index, table in enumerate(self.root.tables("devices", _DEVICE)):
            device = _device(table, kind, timing, users, lab)
            if device.type is DeviceType.ALT_HAN and device.ppmid_variant is not None:
                if device.ppmid_variant in bridges:
                    raise table.error("ppmid_variant", f"a premises has one bridge of each type; "
                                      f"{device.ppmid_variant} is already listed")
                bridges.append(device.ppmid_variant)
            if device.id in where:
                raise table.error("id", f"duplicate entity ID {device.id} (also {where[device.id]})")
            if device.name in where:
                key = "name" if table.has("name") else "type"
                raise table.error(key, f"two devices are named {device.name!r} (also {where[device.name]}); "
                                  "give each a distinct name")
            where[device.id] = where[device.name] = f"devices[{index}]"
            devices.append(device)
        try:
            option.check_site(bridges)
        except GbcsError as exc:
            raise self.root.error("devices", f"{exc} (MP170 option {option}, [alt_han] option)") from None
        return tuple(devices)


def _device(table: Table, kind: BenchKind, timing: TimingConfig, users: tuple[User, ...],
            lab: LabPlaceConfig | None) -> DeviceConfig:
    device_type: DeviceType = table.choice("type", DeviceType)
    if device_type is DeviceType.CH:
        raise table.error("type", "the Comms Hub is described by [hub], not [[devices]]")
    responsible = RESPONSIBLE_SUPPLIER_ROLE[device_type].value
    allowed = {responsible} | ({"export_supplier"} if device_type is DeviceType.ESME else set())
    for key in _SUPPLIER_KEYS:
        if table.has(key) and key not in allowed:
            raise table.error(key, f"a {device_type} has no {key}; its supplier key is {responsible}")
    if not table.has(responsible):
        raise table.error(responsible, f"missing required key: a {device_type} needs its {responsible}")
    suppliers = {key: user_with(table, key, users, frozenset({_SUPPLIER_KEYS[key]}))
                 for key in sorted(allowed) if table.has(key)}
    board = _port(table, "board")
    if board is not None and kind is BenchKind.EMU:
        raise table.error("board", "an emu bench has no boards; board is for twin and lab benches")
    if board is not None and lab is not None:
        raise table.error("board", f"the board is labgrid place {lab.place!r}'s serial port named as the device; "
                          "drop board, or [lab]")
    if board is None and kind is BenchKind.LAB and lab is None:
        raise table.error("board", "missing required key: a lab bench needs each device's board port "
                          "(or a labgrid place in [lab])")
    power = _power(table, kind)
    install_code, link_key = _join_key(table, kind)
    defects = _defects(table, kind, device_type)
    variant = _ppmid_variant(table, device_type)
    page_size, page_spacing_ms = _image_pages(table, kind)
    table.convert_value("defects", defects, lambda given: given.check_client(page_size))
    return DeviceConfig(
        type=device_type,
        id=table.convert("id", EntityId.parse),
        name=table.string("name", device_type.value),
        firmware_version=table.integer("firmware_version", minimum=0, maximum=0xFFFFFFFF),
        hardware_version=table.integer("hardware_version", minimum=0, maximum=0xFFFF),
        status=table.choice("status", DeviceStatus, DeviceStatus.COMMISSIONED, among=_START_STATUSES),
        board=board,
        power=power,
        install_code=install_code,
        link_key=link_key,
        wake_phase_s=_wake_phase(table, device_type, timing),
        defects=defects,
        ppmid_variant=variant,
        image_page_size=page_size,
        image_page_spacing_ms=page_spacing_ms,
        **suppliers,
    )


def _wake_phase(table: Table, device_type: DeviceType, timing: TimingConfig) -> float | None:
    """A GSME's first wake, within its wake interval."""
    if not table.has("wake_phase_s"):
        return None
    if device_type is not DeviceType.GSME:
        raise table.error("wake_phase_s", f"a {device_type} never sleeps; only a GSME has a wake phase")
    phase = table.number("wake_phase_s", minimum=0)
    if phase >= timing.gsme_wake_interval_s:
        raise table.error("wake_phase_s", f"should be less than the wake interval ([timing] gsme_wake_interval_s = "
                                          f"{timing.gsme_wake_interval_s:g} s), got {phase:g}")
    return phase


def _defects(table: Table, kind: BenchKind, device_type: DeviceType) -> Defects:
    """A device's ``defects``: known-bad behaviours for the emulated device to have (emu and twin)."""
    if not table.has("defects"):
        return NO_DEFECTS
    if kind is BenchKind.LAB:
        raise table.error("defects", "a lab device has the defects its firmware has; defects are for the "
                          "emulated devices of emu and twin benches")
    names = table.strings("defects")
    for index, name in enumerate(names):
        table.convert_value(("defects", index), [name], lambda one: Defects.parse(one, device_type))
    return table.convert_value("defects", names, lambda all_of_them: Defects.parse(all_of_them, device_type))


def _image_pages(table: Table, kind: BenchKind) -> tuple[int | None, int]:
    """An emulated device's Image Page Requests (emu and twin): the page size (None: Image Block
    Requests) and the response spacing it asks for."""
    for key in ("image_page_size", "image_page_spacing_ms"):
        if table.has(key) and kind is BenchKind.LAB:
            raise table.error(key, "a lab device downloads as its firmware does; image pages are for the "
                              "emulated devices of emu and twin benches")
    if table.has("image_page_spacing_ms") and not table.has("image_page_size"):
        raise table.error("image_page_spacing_ms", "a response spacing is for Image Page Requests: give image_page_size")
    size = table.integer("image_page_size", minimum=1, maximum=0xFFFF) if table.has("image_page_size") else None
    return size, table.integer("image_page_spacing_ms", 0, minimum=0, maximum=0xFFFF)


def _ppmid_variant(table: Table, device_type: DeviceType) -> PpmidVariant | None:
    """A PPMID's variant (PPMID, the default) or an Alt HAN bridge's (B1 to B4, required); no other type has one."""
    if device_type not in (DeviceType.PPMID, DeviceType.ALT_HAN):
        if table.has("ppmid_variant"):
            raise table.error("ppmid_variant", f"a {device_type} has no PPMID variant; only a ppmid or alt_han has")
        return None
    if not table.has("ppmid_variant"):
        if device_type is DeviceType.ALT_HAN:
            raise table.error("ppmid_variant", "missing required key: an alt_han device needs its bridge type "
                              "(ppmid_variant = B1, B2, B3 or B4)")
        return PpmidVariant.PPMID
    variant: PpmidVariant = table.convert("ppmid_variant", PpmidVariant.parse)
    if variant.device_type is not device_type:
        wanted = "PPMID" if device_type is DeviceType.PPMID else "B1, B2, B3 or B4"
        raise table.error("ppmid_variant", f"a {device_type} has PPMID variant {wanted}, not {variant}")
    return variant



def _power(table: Table, kind: BenchKind) -> PowerConfig | None:
    """A lab device's power table, checked by building its driver once."""
    if not table.has("power"):
        return None
    if kind is not BenchKind.LAB:
        raise table.error("power", "power switching is for lab benches only")
    raw = table.data["power"]
    if not isinstance(raw, dict):
        raise table.error("power", "should be a table such as { driver = \"manual\" }")
    name = table.data.get("name", table.data.get("type", "device"))
    table.convert_value("power", raw, lambda t: power_from_config(t, name=str(name)))
    return PowerConfig(MappingProxyType(dict(raw)))


def _join_key(table: Table, kind: BenchKind) -> tuple[str | None, str | None]:
    """A device's ``install_code`` or ``link_key``, each checked by the code that will derive the key.

    Checking here rather than when the network opens means a miscopied code (its CRC) is
    reported against its line before a session starts, not minutes into one.
    """
    parsers = {"install_code": link_key_from_install_code, "link_key": parse_link_key}
    given = [key for key in parsers if table.has(key)]
    if not given:
        return None, None
    if kind is BenchKind.EMU:
        raise table.error(given[0], "an emu bench has no network security; install_code and link_key are "
                          "for twin and lab benches")
    if len(given) == 2:
        raise table.error("link_key", "a device joins with an install code or a link key, not both; "
                          "keep one of install_code and link_key")
    key = given[0]
    text: str = table.string(key)
    table.convert_value(key, text, parsers[key])
    return (text, None) if key == "install_code" else (None, text)


def _port(table: Table, key: str) -> PortMatch | None:
    """A port match table at ``key`` (checked by the hardware layer), or None if absent."""
    port = table.table(key, _PORT)
    return None if port is None else table.convert_value(key, port.data, PortMatch.from_toml)
