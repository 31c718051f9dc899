"""The bench: one premises (a Comms Hub and its HAN devices) and the users around it, as typed records.

A :class:`BenchConfig` is what a bench file says once it has been checked: frozen dataclasses
whose values are already parsed (entity IDs, device types, roles, port matches, absolute
paths, a UTC start), so nothing above this module reads TOML or re-validates a value.
:mod:`hanbench.bench.bench_file` builds one from a file; the lookups here (a device by handle,
a user, a supplier's RSAs) and :meth:`BenchConfig.knobs` are what the rest of the bench asks
of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hanbench.bench.estate_config import EstateConfig
from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.errors import BadInput
from hanbench.gbcs.alt_han import SLEEPY_BRIDGES, AltHanOption
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION, RTDS_HW_MIN
from hanbench.gbcs.roles import SUPPLIER_ROLES, DeviceStatus, DeviceSuppliers, Policy, Role
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.power import PowerDriver, power_from_config
from hanbench.hub.image_store import SEED_RULES, ImageRules
from hanbench.timing import (
    AIR_BLOCK_PACING_S,
    AIR_POLL_INTERVAL_S,
    BOARD_RESET_TIMEOUT_S,
    DEVICE_OTA_TIMEOUT_S,
    DEVICE_QUERY_INTERVAL_S,
    GBT_ACK_TIMEOUT_S,
    GBT_REASSEMBLY_TIMEOUT_S,
    HUB_COMMAND_RETRIES,
    HUB_COMMAND_RETRY_S,
    DEVICE_RETRY_MAX_S,
    DEVICE_RETRY_S,
    BRIDGE_ORCHESTRATION_WAIT_S,
    BRIDGE_WAKE_INTERVAL_S,
    GSME_WAKE_INTERVAL_S,
    OTA_MAX_BLOCK_SIZE,
    OTA_MINIMUM_BLOCK_PERIOD_MS,
    OTA_STALL_TIMEOUT_S,
    OTA_TARGET_WAIT_S,
    QUEUE_EXPIRY_S,
    RECEIPT_ALERT_WAIT_S,
    RESPONSE_WAIT_S,
)

__all__ = [
    "AirConfig", "AltHanConfig", "Appointment", "BenchConfig", "BenchKind", "DeviceConfig", "FlowControl", "HubConfig",
    "LabPlaceConfig", "NotOnBench", "PLACE_RADIO", "PowerConfig", "RadioConfig", "RadioType", "TimingConfig", "User",
]

class BenchKind(enum.StrEnum):
    """Where the premises lives."""

    EMU = "emu"    # everything emulated on a virtual air, in virtual time
    TWIN = "twin"  # the hardware code path: bellows and board control on pseudo-terminals
    LAB = "lab"    # a real coordinator stick and real dev boards on USB serial ports


class RadioType(enum.StrEnum):
    """The zigpy radio library driving the CH's coordinator stick."""

    EZSP = "ezsp"      # bellows (Silicon Labs EmberZNet)
    ZNP = "znp"        # zigpy-znp (TI Z-Stack)
    DECONZ = "deconz"  # zigpy-deconz (dresden elektronik)


class FlowControl(enum.StrEnum):
    """Serial flow control towards the stick (bellows' ``flow_control`` setting)."""

    SOFTWARE = "software"  # XON/XOFF, the EmberZNet NCP default
    HARDWARE = "hardware"  # RTS/CTS
    NONE = "none"


def _default_block_pacing() -> dict[DeviceType, float]:
    return {device_type: AIR_BLOCK_PACING_S * 1000 for device_type in DeviceType if device_type is not DeviceType.CH}


@dataclasses.dataclass(frozen=True)
class AirConfig:
    """The virtual air (emu and twin benches; a lab has a real air).

    ``airtime`` chooses the honest 802.15.4 air over the free one (see
    :mod:`hanbench.radio.air`). ``latency_ms`` is added to every frame. ``loss`` is the
    probability (0..1) that a frame is lost: on the free air after all MAC/APS retries, on the
    honest air each frame on the air. On the honest air only: ``poll_interval_ms``, how often a
    sleepy device (the GSME) polls the CH while awake; ``block_pacing_ms``, per device type,
    how long a device takes over each Image Block Response before it asks for the next
    (defaults and their sources: :mod:`hanbench.timing`).
    """

    latency_ms: float = 0.0
    loss: float = 0.0
    airtime: bool = False
    poll_interval_ms: float = AIR_POLL_INTERVAL_S * 1000
    block_pacing_ms: dict[DeviceType, float] = dataclasses.field(default_factory=_default_block_pacing)


@dataclasses.dataclass(frozen=True)
class TimingConfig:
    """Every timing knob of an update, defaulted from the specs and recorded per session.

    Each default, and its source, is in :mod:`hanbench.timing`, where the part that uses the
    knob (the CH's OTA server and sleepy queue, the GSME, the DCC, a board's control client)
    takes it from too.
    """

    block_size_max: int = OTA_MAX_BLOCK_SIZE
    block_period_ms: int = OTA_MINIMUM_BLOCK_PERIOD_MS
    stall_timeout_s: float = OTA_STALL_TIMEOUT_S
    gsme_wake_interval_s: float = GSME_WAKE_INTERVAL_S
    queue_expiry_s: float = QUEUE_EXPIRY_S
    response_wait_s: float = RESPONSE_WAIT_S
    receipt_alert_wait_s: float = RECEIPT_ALERT_WAIT_S
    device_retry_s: float = DEVICE_RETRY_S
    device_retry_max_s: float = DEVICE_RETRY_MAX_S
    target_wait_s: float = OTA_TARGET_WAIT_S
    device_ota_timeout_s: float = DEVICE_OTA_TIMEOUT_S
    device_query_interval_s: float = DEVICE_QUERY_INTERVAL_S
    gbt_ack_timeout_s: float = GBT_ACK_TIMEOUT_S
    gbt_reassembly_timeout_s: float = GBT_REASSEMBLY_TIMEOUT_S
    command_retry_s: float = HUB_COMMAND_RETRY_S
    command_retries: int = HUB_COMMAND_RETRIES
    board_reset_timeout_s: float = BOARD_RESET_TIMEOUT_S


@dataclasses.dataclass(frozen=True)
class AltHanConfig:
    """The premises' Alt HAN installation (MP170, :mod:`hanbench.gbcs.alt_han`): which solution
    option its bridges follow, how often the sleepy Bridge 4 wakes, and how long an
    orchestrating bridge waits for each bridge behind it (defaults and why: :mod:`hanbench.timing`)."""

    option: AltHanOption = AltHanOption.A
    wake_interval_s: float = BRIDGE_WAKE_INTERVAL_S
    orchestration_wait_s: float = BRIDGE_ORCHESTRATION_WAIT_S


@dataclasses.dataclass(frozen=True)
class RadioConfig:
    """The CH's coordinator stick (twin and lab benches).

    ``port`` is a port match; a twin bench may leave it out, since the twin creates the
    stick's pseudo-terminal itself. The bench asks the stick a trivial question every
    ``probe_interval_s`` and calls it hung if no answer comes within ``probe_timeout_s``:
    a hung stick is reported within ``probe_interval_s + probe_timeout_s``. A stick that
    failed is brought back for up to ``reconnect_timeout_s``; then the bench gives up on it
    and the session is aborted, so an unattended run does not wait for ever on a stick
    that was pulled for good.
    """

    type: RadioType
    port: PortMatch | None
    baudrate: int = 115200
    flow_control: FlowControl = FlowControl.SOFTWARE
    probe_interval_s: float = 5.0
    probe_timeout_s: float = 3.0
    reconnect_timeout_s: float = 300.0


#: The name of a labgrid place's serial port that is the stick (a board's is its device's name).
PLACE_RADIO = "radio"


@dataclasses.dataclass(frozen=True)
class LabPlaceConfig:
    """A lab bench whose stick and boards are a labgrid place (``[lab]``) rather than local ports.

    ``place`` is the place's name or alias on the coordinator at ``coordinator``
    (``HOST[:PORT]``; None: ``$LG_COORDINATOR``, else labgrid's default). A run holds the
    place for its whole life and waits up to ``acquire_timeout_s`` for one someone else
    holds. The place's serial port named :data:`PLACE_RADIO` is the stick, the one named as a device
    (its ``name``) that device's board (:mod:`hanbench.bench.lab_place`).
    """

    place: str
    coordinator: str | None = None
    acquire_timeout_s: float = 600.0


@dataclasses.dataclass(frozen=True)
class HubConfig:
    """The Comms Hub: its entity ID (its EUI-64), the rules its image store keeps images by
    (:mod:`hanbench.hub.image_store`: ``seed`` by default, or ``slots``), the number of slots
    for rules that take one (``None``: their default), and the largest image it takes (bytes;
    None: the bench knows no limit, and GBCS sets none). ``hanbench validate`` checks an
    image's size against ``max_image_size``. The CH is a device with firmware of its own:
    ``firmware_version`` is what it runs when a session starts, ``hardware_version`` what a
    CH image's range is checked against."""

    id: EntityId
    image_rules: ImageRules = SEED_RULES
    image_store_slots: int | None = None
    max_image_size: int | None = None
    firmware_version: int = INITIAL_FILE_VERSION
    hardware_version: int = RTDS_HW_MIN


@dataclasses.dataclass(frozen=True)
class User:
    """A DCC User (supplier, RSA, network operator, other user) and its roles."""

    id: EntityId
    name: str
    roles: frozenset[Role]

    @property
    def is_supplier(self) -> bool:
        return bool(self.roles & SUPPLIER_ROLES)


@dataclasses.dataclass(frozen=True)
class Appointment:
    """MP207: ``supplier`` appoints ``rsa`` as its Registered Supplier Agent."""

    supplier: EntityId
    rsa: EntityId


@dataclasses.dataclass(frozen=True)
class PowerConfig:
    """How a lab board's power is switched: the table ``hardware.power`` builds a driver from.

    ``driver`` is ``manual``, ``serial-relay`` (with ``port``, ``channel``, ``baudrate``) or
    ``usb-port`` (with ``hub``, ``port``); :func:`~hanbench.bench.bench_file.load_bench` has the
    hardware layer check it.
    """

    table: Mapping[str, Any]

    @property
    def driver(self) -> str:
        return str(self.table["driver"])

    def build(self, name: str) -> PowerDriver:
        """The power driver for the board called ``name``."""
        return power_from_config(self.table, name=name)


@dataclasses.dataclass(frozen=True)
class DeviceConfig(DeviceSuppliers):
    """One HAN device at the start of a session.

    ``name`` is the handle tests and fixtures use (the type when not given).
    ``import_supplier`` (ESME, HCALCS, PPMID, IHD, Alt HAN) or ``gas_supplier`` (GSME) is its
    responsible supplier (the rule is ``gbcs.roles``'); an ESME may also have an
    ``export_supplier``. ``ppmid_variant`` is a PPMID's (PPMID) or an Alt HAN bridge's
    (B1 to B4), and ``None`` for every other type. ``status`` is its inventory status at the start of a session, any
    but decommissioned (a decommissioned device is no longer on the premises). ``board``
    matches the board's control port (twin, lab); ``power`` switches it (lab).
    ``install_code`` or ``link_key`` (twin, lab; at most one, hex as written, checked on
    load) is the key the device joins with instead of the network's: GB devices would
    establish it by CBKE, which the bench's radio libraries lack (``hardware.md``).
    ``wake_phase_s`` (a GSME, emulated) is when it first wakes after joining, in seconds
    within its wake interval; None: an offset drawn from its entity ID.
    ``defects`` (emu, twin) are the known-bad behaviours the emulated device is given
    (:mod:`hanbench.devices.defects`); none for a good device. ``image_page_size`` (emu,
    twin): the emulated device downloads with Image Page Requests of this many bytes, asking
    for ``image_page_spacing_ms`` between the blocks; None: Image Block Requests.
    """

    type: DeviceType
    id: EntityId
    name: str
    firmware_version: int
    hardware_version: int
    status: DeviceStatus
    import_supplier: EntityId | None = None
    export_supplier: EntityId | None = None
    gas_supplier: EntityId | None = None
    board: PortMatch | None = None
    power: PowerConfig | None = None
    install_code: str | None = None
    link_key: str | None = None
    wake_phase_s: float | None = None
    defects: Defects = NO_DEFECTS
    ppmid_variant: PpmidVariant | None = None
    image_page_size: int | None = None
    image_page_spacing_ms: int = 0

    @property
    def responsible_supplier(self) -> EntityId:
        """The supplier whose key signs this device's images and CS06 (never None in a loaded file)."""
        supplier = super().responsible_supplier
        assert supplier is not None, "load_bench guarantees a responsible supplier"
        return supplier


class NotOnBench(BadInput):
    """A device or user handle that names nothing on the bench, or more than one device."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """A validated bench file. Paths are absolute; the start time is UTC."""

    file: Path
    name: str
    kind: BenchKind
    policy: Policy
    start: dt.datetime
    seed: int
    keystore: Path
    images: Path
    sessions: Path
    timing: TimingConfig
    hub: HubConfig
    air: AirConfig | None = None
    radio: RadioConfig | None = None
    lab: LabPlaceConfig | None = None
    users: tuple[User, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()
    #: An estate of many premises (``[estate]``) instead of one: then ``devices`` is empty and
    #: ``hub`` is what every premises' CH shares, with the first premises' ID.
    estate: EstateConfig | None = None
    alt_han: AltHanConfig = AltHanConfig()

    @property
    def database_path(self) -> Path:
        """The session record (SQLite) of this bench: ``<sessions>/<name>/hanbench.db``."""
        return self.sessions / self.name / "hanbench.db"

    def device(self, handle: str | EntityId) -> DeviceConfig:
        """A device by name, by type (when only one has it) or by entity ID."""
        for device in self.devices:
            if device.name == handle or device.id == handle:
                return device
        if isinstance(handle, str):
            of_type = [d for d in self.devices if d.type.value == handle.lower()]
            if len(of_type) == 1:
                return of_type[0]
            if of_type:
                names = ", ".join(d.name for d in of_type)
                raise NotOnBench(f"bench {self.name!r} has several {handle} devices ({names}); name one")
            try:
                return self.device(EntityId.parse(handle))
            except BadInput:
                pass
        names = ", ".join(d.name for d in self.devices) or "none"
        raise NotOnBench(f"bench {self.name!r} has no device {str(handle)!r}; its devices: {names}")

    def with_defects(self, device: str | EntityId, defects: Iterable[Defect | str]) -> BenchConfig:
        """This bench with ``device`` given ``defects`` (its others kept): the scripting API's
        way to the bench file's ``defects``, for emu and twin benches."""
        if self.kind is BenchKind.LAB:
            raise BadInput(f"{self.file} is a lab bench: a real device has the defects its firmware has")
        entry = self.device(device)
        given = Defects.parse([str(d) for d in defects], entry.type)
        given.check_client(entry.image_page_size)
        changed = dataclasses.replace(entry, defects=Defects(entry.defects | given))
        return dataclasses.replace(self, devices=tuple(changed if d is entry else d for d in self.devices))
    def bridge(self, variant: PpmidVariant) -> DeviceConfig | None:
        """The premises' Alt HAN bridge of type ``variant`` (there is at most one), or None."""
        for device in self.devices:
            if device.ppmid_variant is variant and device.type is DeviceType.ALT_HAN:
                return device
        return None

    def orchestrator_of(self, device: DeviceConfig) -> DeviceConfig | None:
        """The bridge ``device`` sits behind (its firmware comes through it), or None for a
        device on the CH's HAN."""
        if device.type is not DeviceType.ALT_HAN or device.ppmid_variant is None:
            return None
        orchestrator = self.alt_han.option.orchestrator_of(device.ppmid_variant)
        return None if orchestrator is None else self.bridge(orchestrator)

    def on_ch_han(self, device: DeviceConfig) -> bool:
        """Whether ``device`` joins the CH's HAN (every device but a bridge behind another)."""
        return self.orchestrator_of(device) is None

    def on_smi(self, device: DeviceConfig) -> bool:
        """Whether the DCC's inventory holds ``device``: every device but the bridges MP170's
        option hides from Suppliers."""
        variant = device.ppmid_variant
        return device.type is not DeviceType.ALT_HAN or variant is None or self.alt_han.option.on_smi(variant)

    def bridges_behind(self, device: DeviceConfig) -> tuple[DeviceConfig, ...]:
        """The bridges whose firmware ``device`` fetches and serves on, in bench-file order."""
        return tuple(d for d in self.devices if self.orchestrator_of(d) == device)

    def sleeps(self, device: DeviceConfig) -> bool:
        """Whether a bridge sleeps between wakes (Bridge 4)."""
        return device.type is DeviceType.ALT_HAN and device.ppmid_variant in SLEEPY_BRIDGES

    def devices_of(self, device_type: DeviceType | str) -> tuple[DeviceConfig, ...]:
        """Every device of one type, in file order."""
        wanted = DeviceType.parse(device_type)
        return tuple(d for d in self.devices if d.type is wanted)

    def user(self, user_id: EntityId | str) -> User:
        """A user by entity ID."""
        wanted = EntityId.parse(user_id)
        for user in self.users:
            if user.id == wanted:
                return user
        raise NotOnBench(f"bench {self.name!r} has no user {wanted}")

    def supplier_of(self, device: DeviceConfig | str) -> User:
        """The responsible supplier of ``device`` (a config or a handle for :meth:`device`)."""
        config = device if isinstance(device, DeviceConfig) else self.device(device)
        return self.user(config.responsible_supplier)

    def rsas_of(self, supplier: EntityId | str) -> tuple[User, ...]:
        """The RSAs ``supplier`` has appointed."""
        wanted = EntityId.parse(supplier)
        return tuple(self.user(a.rsa) for a in self.appointments if a.supplier == wanted)

    def knobs(self) -> dict[str, Any]:
        """Everything that shapes a session's timing and randomness, as JSON-ready values.

        The session record stores this so that a result can be reproduced or compared.
        """
        return {
            "bench_file": str(self.file),
            "kind": self.kind.value,
            "policy": self.policy.name,
            "start": self.start.isoformat(),
            "seed": self.seed,
            "timing": dataclasses.asdict(self.timing),
            "air": dataclasses.asdict(self.air) if self.air is not None else None,
            "alt_han": {"option": self.alt_han.option.value, "wake_interval_s": self.alt_han.wake_interval_s,
                        "orchestration_wait_s": self.alt_han.orchestration_wait_s},
            "hub": {"id": str(self.hub.id), "image_rules": self.hub.image_rules.name,
                    "image_store_slots": self.hub.image_store_slots, "max_image_size": self.hub.max_image_size,
                    "firmware_version": self.hub.firmware_version, "hardware_version": self.hub.hardware_version},
            "radio": None if self.radio is None else {
                "type": self.radio.type.value, "port": None if self.radio.port is None else str(self.radio.port),
                "baudrate": self.radio.baudrate, "flow_control": self.radio.flow_control.value,
            },
            "lab": None if self.lab is None else dataclasses.asdict(self.lab),
            "estate": None if self.estate is None else self.estate.knobs(),
            "defects": {d.name: sorted(d.defects) for d in self.devices if d.defects},
            "image_pages": {d.name: {"size": d.image_page_size, "spacing_ms": d.image_page_spacing_ms}
                            for d in self.devices if d.image_page_size is not None},
        }
