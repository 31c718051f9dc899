"""load_bench: the embedded default, derived values, kind rules, and every error's location."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from bench_helpers import BASE, edit, line_of

import zigpy.types as zt

from hanbench.bench.bench_config import (
    AirConfig, BenchConfig, BenchKind, FlowControl, LabPlaceConfig, RadioType, TimingConfig,
)
from hanbench.bench.bench_file import default_bench_file, load_bench
from hanbench.bench.config_reader import BenchConfigError
from hanbench.devices.defects import Defect
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs import roles
from hanbench.gbcs.roles import DeviceStatus, Role
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.power import ManualPower
from hanbench.bench.kinds.boards import join_security
from hanbench.bench.kinds.emu import hub_timing
from hanbench.radio.addresses import eui64_of
from hanbench.timing import BOARD_RESET_TIMEOUT_S, HUB_COMMAND_RETRIES, HUB_COMMAND_RETRY_S

REPO = Path(__file__).resolve().parents[3]
RTDS = EntityId.parse("90-B3-D5-1F-30-01-00-00")

# -- the embedded default ----------------------------------------------------------------------


def test_emu_toml_is_the_default_and_loads_with_every_documented_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The default is the package's copy: in a checkout, a link to bench/emu.toml.
    assert default_bench_file().resolve() == REPO / "bench" / "emu.toml"
    monkeypatch.chdir(tmp_path)
    config = load_bench(REPO / "bench" / "emu.toml")

    assert (config.name, config.kind, config.policy.name, config.seed) == ("emu", BenchKind.EMU, "mp207", 1)
    assert config.start == dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    assert config.keystore == REPO / "fixtures" / "keys"
    assert config.images == REPO / "firmware_images"
    assert config.sessions == REPO / "sessions"
    assert config.database_path == REPO / "sessions" / "emu" / "hanbench.db"
    assert config.timing == TimingConfig(50, 0, 30, 1800, 86400, 86400, 3600)
    assert config.air is not None and (config.air.latency_ms, config.air.loss, config.air.airtime) == (0, 0, True)
    assert config.radio is None
    assert config.hub.id == EntityId.parse("00-DB-12-34-56-78-91-02")
    assert config.hub.image_rules.name == "seed" and config.hub.image_store_slots is None
    assert config.hub.max_image_size is None

    users = {str(u.id): (u.name, u.roles) for u in config.users}
    assert users == {
        "90-B3-D5-1F-30-01-00-00": ("GITTESTSUPPLIER", {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
        "90-B3-D5-1F-30-02-00-00": ("OTHERSUPPLIER", {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
        "90-B3-D5-1F-30-0A-00-01": ("APPOINTEDRSA", {Role.RSA}),
        "90-B3-D5-1F-30-0A-00-02": ("UNAPPOINTEDRSA", {Role.RSA}),
        "90-B3-D5-1F-30-0F-00-01": ("OTHERUSER", {Role.OTHER_USER}),
    }
    assert [u.name for u in config.rsas_of(RTDS)] == ["APPOINTEDRSA"]
    assert config.rsas_of("90-B3-D5-1F-30-02-00-00") == ()

    ids = {d.name: (d.type, str(d.id)) for d in config.devices}
    assert ids == {
        "esme": (DeviceType.ESME, "00-DB-12-34-56-78-91-00"),
        "gsme": (DeviceType.GSME, "00-DB-12-34-56-78-91-01"),
        "ppmid": (DeviceType.PPMID, "00-DB-12-34-56-78-91-04"),
        "hcalcs": (DeviceType.HCALCS, "00-DB-12-34-56-78-91-05"),
        "ihd": (DeviceType.IHD, "00-DB-12-34-56-78-91-06"),
    }
    for device in config.devices:
        assert (device.firmware_version, device.hardware_version) == (1, 0x1111)
        assert device.status is DeviceStatus.COMMISSIONED and DeviceStatus is roles.DeviceStatus
        assert device.responsible_supplier == RTDS and config.supplier_of(device).name == "GITTESTSUPPLIER"
        assert device.board is None and device.power is None
    assert config.device("gsme").gas_supplier == RTDS and config.device("gsme").import_supplier is None


def test_emu_toml_documents_every_key_the_loader_knows() -> None:
    """Every key the loader accepts appears in emu.toml, written or in a comment."""
    from hanbench.bench import bench_file as module

    text = (REPO / "bench" / "emu.toml").read_text()
    keys = {*module._TOP, *module._BENCH, *module._DEVICE, *module._PORT,
            *(f.name for f in dataclasses.fields(TimingConfig)),
            *(f.name for f in dataclasses.fields(AirConfig)),
            *module._HUB, "type", "port", "baudrate", "flow_control", "roles", "supplier", "rsa"}
    assert sorted(k for k in keys if k not in text) == []


def test_the_chs_image_size_limit_is_read_when_given(load_text: Callable[[str], BenchConfig]) -> None:
    assert load_text(BASE.replace("[hub]", "[hub]\nmax_image_size = 0x40000")).hub.max_image_size == 0x40000


def test_the_slot_model_takes_its_number_of_slots(load_text: Callable[[str], BenchConfig]) -> None:
    hub = load_text(BASE.replace("[hub]", "[hub]\nimage_rules = \"slots\"\nimage_store_slots = 3")).hub
    assert (hub.image_rules.name, hub.image_store_slots) == ("slots", 3)
    assert load_text(BASE.replace("[hub]", "[hub]\nimage_rules = \"slots\"")).hub.image_store_slots is None


def test_timing_defaults_when_the_table_is_absent(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE)
    assert config.timing == TimingConfig()
    assert (config.timing.block_size_max, config.timing.stall_timeout_s, config.timing.gsme_wake_interval_s,
            config.timing.queue_expiry_s) == (50, 30.0, 1800.0, 86400.0)
    assert config.seed == 0
    assert config.sessions == config.file.parent / "sessions"


def test_timing_overrides_are_read(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE + "\n[timing]\nblock_size_max = 63\nblock_period_ms = 250\nqueue_expiry_s = 0.5\n")
    assert (config.timing.block_size_max, config.timing.block_period_ms, config.timing.queue_expiry_s) == (63, 250, 0.5)
    assert config.knobs()["timing"]["block_period_ms"] == 250


def test_the_chs_command_retries_are_read_and_reach_the_ch(load_text: Callable[[str], BenchConfig]) -> None:
    default = hub_timing(load_text(BASE))
    assert (default.command_retry_s, default.command_retries) == (HUB_COMMAND_RETRY_S, HUB_COMMAND_RETRIES)
    hub = hub_timing(load_text(BASE + "\n[timing]\ncommand_retry_s = 2.5\ncommand_retries = 0\n"))
    assert (hub.command_retry_s, hub.command_retries) == (2.5, 0)


def test_a_boards_reset_timeout_is_read_from_timing(load_text: Callable[[str], BenchConfig]) -> None:
    assert load_text(BASE).timing.board_reset_timeout_s == BOARD_RESET_TIMEOUT_S
    config = load_text(BASE + "\n[timing]\nboard_reset_timeout_s = 40\n")
    assert config.timing.board_reset_timeout_s == 40.0
    assert config.knobs()["timing"]["board_reset_timeout_s"] == 40.0


# -- paths ---------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_bench_files_folder(
    bench_dir: Path, write_bench: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write_bench(edit(BASE, 'images = "../images"', 'images = "../images"\nsessions = "runs"'))
    config = load_bench(path)
    assert config.keystore == (tmp_path / "keys").resolve()
    assert config.images == (tmp_path / "images").resolve()
    assert config.sessions == (bench_dir / "runs").resolve()
    assert config.database_path == (bench_dir / "runs" / "t" / "hanbench.db").resolve()


def test_a_relative_bench_path_is_read_from_the_current_folder(
    write_bench: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_bench(BASE)
    monkeypatch.chdir(tmp_path)
    config = load_bench("bench/t.toml")
    assert config.file == (tmp_path / "bench" / "t.toml").resolve()
    assert config.keystore == (tmp_path / "keys").resolve()


def test_absolute_paths_are_used_as_given(load_text: Callable[[str], BenchConfig], tmp_path: Path) -> None:
    config = load_text(edit(BASE, 'keystore = "../keys"', f'keystore = "{tmp_path / "keys"}"'))
    assert config.keystore == (tmp_path / "keys").resolve()


# -- derived values ------------------------------------------------------------------------------


# -- kinds -------------------------------------------------------------------------------------

LAB = edit(BASE, 'kind = "emu"', 'kind = "lab"') + """
[radio]
type = "ezsp"
port = { serial_number = "STICK1" }
flow_control = "hardware"
"""


def with_boards(text: str) -> str:
    for n, device in enumerate(("esme", "gsme", "ihd")):
        text = edit(text, f'type = "{device}"\n', f'type = "{device}"\nboard = {{ serial_number = "B{n}" }}\n')
    return text


def test_a_lab_bench_with_radio_boards_and_power(load_text: Callable[[str], BenchConfig]) -> None:
    text = edit(with_boards(LAB), 'board = { serial_number = "B0" }',
                'board = { serial_number = "B0" }\npower = { driver = "manual" }')
    config = load_text(text)
    assert config.kind is BenchKind.LAB and config.air is None
    assert config.radio is not None
    assert (config.radio.type, config.radio.port, config.radio.baudrate, config.radio.flow_control) == (
        RadioType.EZSP, PortMatch(serial_number="STICK1"), 115200, FlowControl.HARDWARE)
    assert [d.board for d in config.devices] == [PortMatch(serial_number=f"B{n}") for n in range(3)]
    power = config.device("esme").power
    assert power is not None and power.driver == "manual"
    assert isinstance(power.build("esme"), ManualPower)
    assert config.knobs()["radio"]["port"] == '{serial_number = "STICK1"}'


ON_PLACE = edit(LAB, 'port = { serial_number = "STICK1" }\n', "") + '\n[lab]\nplace = "gb-bench-3"\n'


def test_a_lab_bench_may_name_a_labgrid_place_instead_of_ports(load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(ON_PLACE)
    assert config.lab == LabPlaceConfig(place="gb-bench-3", coordinator=None, acquire_timeout_s=600.0)
    assert config.radio is not None and config.radio.port is None
    assert [d.board for d in config.devices] == [None, None, None]
    assert config.knobs()["lab"] == {"place": "gb-bench-3", "coordinator": None, "acquire_timeout_s": 600.0}
    config = load_text(ON_PLACE + 'coordinator = "lab-server:20408"\nacquire_timeout_s = 30\n')
    assert (config.lab.coordinator, config.lab.acquire_timeout_s) == ("lab-server:20408", 30.0)


def test_a_twin_bench_may_leave_ports_to_the_twin(load_text: Callable[[str], BenchConfig]) -> None:
    text = edit(BASE, 'kind = "emu"', 'kind = "twin"') + '\n[radio]\ntype = "ezsp"\n'
    config = load_text(text)
    assert config.radio is not None and config.radio.port is None
    assert config.radio.flow_control is FlowControl.SOFTWARE
    assert config.radio.reconnect_timeout_s == 300.0  # minutes: a lab stick may be replugged by hand
    assert config.air is not None  # the twin's emulated stick sits on the virtual air


TWIN = edit(BASE, 'kind = "emu"', 'kind = "twin"') + '\n[radio]\ntype = "ezsp"\n'
# Zigbee 3.0 Base Device Behaviour spec, install code example (16 bytes and CRC), and its link key
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"
INSTALL_CODE_KEY = "66:b6:90:09:81:e1:ee:3c:a4:20:6b:6b:86:1c:02:bb"
# An 8-byte install code with its CRC, written with separators, and its link key
SHORT_CODE = "01:02:03:04:05:06:07:08:D4:6D"
SHORT_CODE_KEY = "0a:7e:11:a3:60:ae:d8:c8:c1:73:b6:73:67:06:0e:f3"


def with_join_key(text: str, device: str, line: str) -> str:
    """``text`` with ``line`` (an ``install_code`` or ``link_key``) added to ``device``'s table."""
    return edit(text, f'type = "{device}"\n', f'type = "{device}"\n{line}\n')


def test_devices_may_join_with_an_install_code_or_a_link_key(load_text: Callable[[str], BenchConfig]) -> None:
    text = with_join_key(TWIN, "esme", f'install_code = "{INSTALL_CODE}"')
    text = with_join_key(text, "gsme", f'install_code = "{SHORT_CODE}"')
    text = with_join_key(text, "ihd", 'link_key = "5A-69-67-42-65-65-41-6C 6C-69-61-6E-63-65-30-39"')
    config = load_text(text)
    esme, gsme, ihd = config.devices
    assert (esme.install_code, esme.link_key) == (INSTALL_CODE, None)
    assert (ihd.install_code, ihd.link_key) == (None, "5A-69-67-42-65-65-41-6C 6C-69-61-6E-63-65-30-39")
    security = join_security(config)
    assert security.key_for(eui64_of(esme.id)) == zt.KeyData.convert(INSTALL_CODE_KEY)
    assert security.key_for(eui64_of(gsme.id)) == zt.KeyData.convert(SHORT_CODE_KEY)
    assert security.key_for(eui64_of(ihd.id)) == zt.KeyData(b"ZigBeeAlliance09")
    assert join_security(load_text(TWIN)).link_keys == {}  # no keys: every device joins with the network's


def test_emulated_devices_take_defects_from_the_file_and_from_the_api(
        load_text: Callable[[str], BenchConfig]) -> None:
    text = with_join_key(BASE, "esme", 'defects = ["ignores_wait_for_data", "skips_the_mac_check"]')
    config = load_text(text)
    esme, gsme, ihd = config.devices
    assert esme.defects == {Defect.IGNORES_WAIT_FOR_DATA, Defect.SKIPS_MAC_CHECK}
    assert gsme.defects == ihd.defects == frozenset()
    assert config.knobs()["defects"] == {"esme": ["ignores_wait_for_data", "skips_the_mac_check"]}
    changed = config.with_defects("gsme", ["never_sends_invalid_image"])
    assert changed.device("gsme").defects == {Defect.NEVER_SENDS_INVALID_IMAGE}
    assert changed.device("esme") is esme and config.device("gsme").defects == frozenset()
    with pytest.raises(BadInput, match="a device of type ihd cannot have defect 'skips_the_counter_check'"):
        config.with_defects("ihd", [Defect.SKIPS_COUNTER_CHECK])
    with pytest.raises(BadInput, match="in a client that downloads with Image Page Requests: give the device image_page"):
        config.with_defects("esme", [Defect.TAKES_PAGE_BLOCKS_AS_THEY_COME])


def test_an_emulated_device_downloads_by_image_pages_when_the_file_gives_a_page_size(
        load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(with_join_key(BASE, "esme", "image_page_size = 256\nimage_page_spacing_ms = 50\n"
                                                   'defects = ["takes_an_image_pages_blocks_as_they_come"]'))
    esme, gsme, _ = config.devices
    assert (esme.image_page_size, esme.image_page_spacing_ms) == (256, 50)
    assert (gsme.image_page_size, gsme.image_page_spacing_ms) == (None, 0)
    assert config.knobs()["image_pages"] == {"esme": {"size": 256, "spacing_ms": 50}}


# -- errors: each names the file, the dotted key and its line ------------------------------------

ERRORS = [
    # (case, old, new, dotted key, fragment locating the line (None: no line), message fragment)
    ("unknown top-level table", "[hub]", "[hubb]", "hubb", "[hubb]", "unknown key (did you mean 'hub'?)"),
    ("unknown key", 'name = "t"', 'naem = "t"', "bench.naem", "naem", "did you mean 'name'?"),
    ("unknown device key", 'type = "ihd"', 'tpye = "ihd"', "devices[2].tpye", "tpye", "did you mean 'type'?"),
    ("missing key", 'name = "t"\n', "", "bench.name", "[bench]", "missing required key"),
    ("missing device key", "firmware_version = 1\nhardware_version = 0x1111\n\n[[devices]]\ntype = \"gsme\"",
     "hardware_version = 0x1111\n\n[[devices]]\ntype = \"gsme\"", "devices[0].firmware_version",
     '[[devices]]\ntype = "esme"', "missing required key"),
    ("wrong type", 'kind = "emu"', "kind = 1", "bench.kind", "kind = 1", "should be a string, got integer 1"),
    ("a boolean is not an integer", "[hub]", "[hub]\nimage_rules = \"slots\"\nimage_store_slots = true",
     "hub.image_store_slots", "image_store_slots", "should be an integer, got boolean True"),
    ("unknown image rules", "[hub]", "[hub]\nimage_rules = \"seeds\"", "hub.image_rules", "seeds",
     "unknown image rules 'seeds'; expected one of seed, slots"),
    ("slots under the seed rules", "[hub]", "[hub]\nimage_store_slots = 3", "hub.image_store_slots",
     "image_store_slots", "one slot per class of device"),
    ("no image fits", "[hub]", "[hub]\nmax_image_size = 0", "hub.max_image_size", "max_image_size",
     "at least 1, got 0"),
    ("out of range", "[hub]", "[timing]\nblock_size_max = 64\n\n[hub]", "timing.block_size_max",
     "block_size_max", "should be between 1 and 63, got 64"),
    ("negative seed", 'policy = "mp207"', 'policy = "mp207"\nseed = -1', "bench.seed", "seed", "at least 0"),
    ("zero timeout", "[hub]", "[timing]\nstall_timeout_s = 0\n\n[hub]", "timing.stall_timeout_s",
     "stall_timeout_s", "greater than 0"),
    ("board reset timeout as a word", "[hub]", "[timing]\nboard_reset_timeout_s = \"15 s\"\n\n[hub]",
     "timing.board_reset_timeout_s", "board_reset_timeout_s", "should be a number"),
    ("nan", "[hub]", "[timing]\nqueue_expiry_s = nan\n\n[hub]", "timing.queue_expiry_s", "nan", "got nan"),
    ("retries that shrink", "[hub]", "[timing]\ndevice_retry_s = 60\ndevice_retry_max_s = 30\n\n[hub]",
     "timing.device_retry_max_s", "device_retry_max_s", "cannot be shorter than its first retry"),
    ("negative command retries", "[hub]", "[timing]\ncommand_retries = -1\n\n[hub]", "timing.command_retries",
     "command_retries", "between 0 and 100, got -1"),
    ("loss above 1", "[hub]", "[air]\nloss = 1.5\n\n[hub]", "air.loss", "loss", "between 0 and 1, got 1.5"),
    ("poll interval 0", "[hub]", "[air]\npoll_interval_ms = 0\n\n[hub]", "air.poll_interval_ms", "poll_interval_ms",
     "greater than 0, got 0"),
    ("negative pacing", "[hub]", "[air]\n[air.block_pacing_ms]\ngsme = -1\n\n[hub]", "air.block_pacing_ms.gsme",
     "gsme = -1", "at least 0, got -1"),
    ("pacing for the CH", "[hub]", "[air]\n[air.block_pacing_ms]\nch = 10\n\n[hub]", "air.block_pacing_ms.ch",
     "ch = 10", "unknown key; known keys here: esme, gsme, hcalcs, ppmid, ihd, alt_han"),
    ("firmware version above 32 bits", "firmware_version = 1", "firmware_version = 0x100000000",
     "devices[0].firmware_version", "0x100000000", "between 0 and 4294967295"),
    ("bad entity ID", 'id = "00-DB-12-34-56-78-91-02"', 'id = "00-DB-12-34"', "hub.id", 'id = "00-DB-12-34"',
     "is not an entity ID"),
    ("unknown device type", 'type = "ihd"', 'type = "ihdd"', "devices[2].type", "ihdd",
     "unknown value 'ihdd' (did you mean 'ihd'?)"),
    ("the hub as a device", 'type = "ihd"', 'type = "ch"', "devices[2].type", 'type = "ch"', "described by [hub]"),
    ("unknown role", '"rsa"]', '"rsaa"]', "users[1].roles[0]", '"rsaa"', "unknown value 'rsaa' (did you mean 'rsa'?)"),
    ("role listed twice", '["import_supplier", "gas_supplier"]', '["import_supplier",\n  "import_supplier"]',
     "users[0].roles[1]", '  "import_supplier"]', "role import_supplier is listed twice"),
    ("no roles", 'roles = ["rsa"]', "roles = []", "users[1].roles", "roles = []", "non-empty array"),
    ("unknown policy", 'policy = "mp207"', 'policy = "mp208"', "bench.policy", "mp208", "unknown policy 'mp208'"),
    ("unknown kind", 'kind = "emu"', 'kind = "Lab "', "bench.kind", "Lab ", "unknown value 'Lab '"),
    ("unknown status", "hardware_version = 0x1111\n\n[[devices]]\ntype = \"gsme\"",
     "hardware_version = 0x1111\nstatus = \"active\"\n\n[[devices]]\ntype = \"gsme\"", "devices[0].status",
     "active", "expected one of pending, commissioned, suspended"),
    ("decommissioned at the start", "hardware_version = 0x1111\n\n[[devices]]\ntype = \"gsme\"",
     "hardware_version = 0x1111\nstatus = \"decommissioned\"\n\n[[devices]]\ntype = \"gsme\"", "devices[0].status",
     "decommissioned", "'decommissioned' is not allowed here; expected one of pending, commissioned, suspended"),
    ("duplicate user", 'id = "90-B3-D5-1F-30-0A-00-01"', 'id = "90b3d51f30010000"', "users[1].id",
     "90b3d51f30010000", "duplicate user ID 90-B3-D5-1F-30-01-00-00 (also users[0])"),
    ("duplicate device", 'id = "00-DB-12-34-56-78-91-01"', 'id = "00-DB-12-34-56-78-91-00"', "devices[1].id",
     'id = "00-DB-12-34-56-78-91-00"\ngas', "(also devices[0])"),
    ("a device with the hub's ID", 'id = "00-DB-12-34-56-78-91-06"', 'id = "00-DB-12-34-56-78-91-02"',
     "devices[2].id", 'id = "00-DB-12-34-56-78-91-02"\nimport', "(also the hub)"),
    ("two devices with one name", 'type = "ihd"', 'type = "ihd"\nname = "esme"', "devices[2].name",
     'name = "esme"', "two devices are named 'esme' (also devices[0])"),
    ("appointment of an unknown user", 'rsa = "90-B3-D5-1F-30-0A-00-01"', 'rsa = "90-B3-D5-1F-30-0A-00-09"',
     "appointments[0].rsa", "0A-00-09", "is not a user of this bench"),
    ("appointing a non-RSA", 'rsa = "90-B3-D5-1F-30-0A-00-01"', 'rsa = "90-B3-D5-1F-30-01-00-00"',
     "appointments[0].rsa", 'rsa = "90-B3-D5-1F-30-01-00-00"', "does not hold role rsa"),
    ("an RSA appointing", 'supplier = "90-B3-D5-1F-30-01-00-00"', 'supplier = "90-B3-D5-1F-30-0A-00-01"',
     "appointments[0].supplier", 'supplier = "90-B3-D5-1F-30-0A-00-01"',
     "does not hold role export_supplier or gas_supplier or import_supplier; its roles: rsa"),
    ("the same appointment twice", "[[devices]]",
     '[[appointments]]\nsupplier = "90-B3-D5-1F-30-01-00-00"\nrsa = "90-B3-D5-1F-30-0A-00-01"\n\n[[devices]]',
     "appointments[1].rsa", 'rsa = "90-B3-D5-1F-30-0A-00-01"\n\n[[devices]]', "already appointed"),
    ("a device's supplier is not a user", 'import_supplier = "90-B3-D5-1F-30-01-00-00"',
     'import_supplier = "90-B3-D5-1F-30-03-00-00"', "devices[0].import_supplier", "03-00-00",
     "is not a user of this bench"),
    ("a device's supplier lacks the role", 'import_supplier = "90-B3-D5-1F-30-01-00-00"',
     'import_supplier = "90-B3-D5-1F-30-0A-00-01"', "devices[0].import_supplier", "import_supplier = \"90-B3-D5-1F-30-0A",
     "does not hold role import_supplier"),
    ("a GSME with an import supplier", 'gas_supplier = "90-B3-D5-1F-30-01-00-00"',
     'import_supplier = "90-B3-D5-1F-30-01-00-00"', "devices[1].import_supplier",
     'import_supplier = "90-B3-D5-1F-30-01-00-00"\nfirmware_version = 1\nhardware_version = 0x1111\n\n[[devices]]\ntype = "ihd"',
     "a gsme has no import_supplier; its supplier key is gas_supplier"),
    ("a device without its supplier", 'gas_supplier = "90-B3-D5-1F-30-01-00-00"\n', "", "devices[1].gas_supplier",
     '[[devices]]\ntype = "gsme"', "a gsme needs its gas_supplier"),
    ("key store missing", 'keystore = "../keys"', 'keystore = "../keyz"', "bench.keystore", "keyz",
     "folder '../keyz' does not exist (resolved to "),
    ("a NUL in a folder path", 'keystore = "../keys"', 'keystore = "../ke\\u0000ys"', "bench.keystore",
     "keystore", "folder path '../ke\\x00ys' contains a NUL character"),
    ("a hexadecimal integer too long to print", "hardware_version = 0x1111", "hardware_version = 0x" + "F" * 4000,
     "devices[0].hardware_version", "hardware_version = 0xFFF", "got an integer of 16000 bits"),
    ("a number no float holds", 'images = "../images"', 'images = "../images"\n\n[timing]\nreceipt_alert_wait_s = 0x'
     + "F" * 300, "timing.receipt_alert_wait_s", "receipt_alert_wait_s", "got an integer of 1200 bits"),
    ("a folder name too long for the OS", 'images = "../images"', 'images = "' + "i" * 300 + '"', "bench.images",
     'images = "iii', "cannot be used: File name too long"),
    ("images is a file", 'images = "../images"', 'images = "t.toml"', "bench.images", "t.toml", "is not a folder"),
    ("start with an offset", "start = 2026-01-05T09:00:00Z", "start = 2026-01-05T09:00:00+01:00", "bench.start",
     "start", "should be in UTC (end it with Z), got 2026-01-05T09:00:00+01:00"),
    ("start without a zone", "start = 2026-01-05T09:00:00Z", "start = 2026-01-05T09:00:00", "bench.start",
     "start", "should be a UTC date-time such as 2026-01-05T09:00:00Z"),
    ("start as a string", "start = 2026-01-05T09:00:00Z", 'start = "2026-01-05"', "bench.start", "start",
     "should be a TOML date-time, got string"),
    ("a name that is not a folder", 'name = "t"', 'name = "a/b"', "bench.name", "a/b", "names a folder"),
    ("radio on an emu bench", "[hub]", '[radio]\ntype = "ezsp"\n\n[hub]', "radio", "[radio]", "an emu bench has no radio"),
    ("board on an emu bench", 'type = "ihd"', 'type = "ihd"\nboard = { path = "/dev/pts/3" }', "devices[2].board",
     "board", "an emu bench has no boards"),
    ("missing [hub]", '[hub]\nid = "00-DB-12-34-56-78-91-02"\n', "", "hub", None, "missing required table [hub]"),
]


@pytest.mark.parametrize(("old", "new", "key", "at", "fragment"), [case[1:] for case in ERRORS],
                         ids=[case[0] for case in ERRORS])
def test_errors_name_file_key_and_line(error_for: Callable[[str], BenchConfigError],
                                       old: str, new: str, key: str, at: str | None, fragment: str) -> None:
    text = edit(BASE, old, new)
    error = error_for(text)
    assert error.key == key
    assert fragment in error.problem
    expected_line = None if at is None else line_of(text, at)
    assert error.line == expected_line
    where = f"{error.file}:{expected_line}" if expected_line else str(error.file)
    assert str(error) == f"{where}: {key}: {error.problem}"
    assert isinstance(error, BadInput) and error.exit_code == 2


KIND_ERRORS = [
    ("twin without radio", edit(BASE, 'kind = "emu"', 'kind = "twin"'), "radio", None,
     "a twin bench needs a [radio] table"),
    ("lab without a stick port", with_boards(edit(LAB, 'port = { serial_number = "STICK1" }\n', "")),
     "radio.port", "[radio]", "a lab bench must say which serial port the stick is on"),
    ("lab without boards", LAB, "devices[0].board", '[[devices]]\ntype = "esme"', "needs each device's board port"),
    ("a place and a stick port", ON_PLACE.replace('type = "ezsp"', 'type = "ezsp"\nport = { path = "/dev/ttyACM0" }'),
     "radio.port", "ttyACM0", "the stick is labgrid place 'gb-bench-3''s serial port 'radio'; drop port, or [lab]"),
    ("a place and a board", edit(ON_PLACE, 'type = "gsme"\n', 'type = "gsme"\nboard = { serial_number = "B1" }\n'),
     "devices[1].board", "B1", "the board is labgrid place 'gb-bench-3''s serial port named as the device"),
    ("a place on a twin bench", TWIN + '\n[lab]\nplace = "gb-bench-3"\n', "lab", "[lab]",
     "a twin bench has no hardware to share; [lab] is for lab benches"),
    ("a place without its name", edit(ON_PLACE, 'place = "gb-bench-3"', 'coordinator = "x"'), "lab.place", "[lab]",
     "missing required key"),
    ("a place wait that is not positive", ON_PLACE + "acquire_timeout_s = 0\n", "lab.acquire_timeout_s",
     "acquire_timeout_s", "greater than 0"),
    ("air on a lab bench", with_boards(LAB) + "\n[air]\nloss = 0.1\n", "air", "[air]", "a lab bench has a real air"),
    ("power on a twin bench", edit(edit(BASE, 'kind = "emu"', 'kind = "twin"') + '\n[radio]\ntype = "ezsp"\n',
                                   'type = "ihd"', 'type = "ihd"\npower = { driver = "manual" }'),
     "devices[2].power", "power =", "power switching is for lab benches only"),
    ("unknown power driver", edit(with_boards(LAB), 'board = { serial_number = "B2" }',
                                  'board = { serial_number = "B2" }\npower = { driver = "relay" }'),
     "devices[2].power", "power =", "unknown power driver 'relay'"),
    ("unknown radio type", edit(with_boards(LAB), 'type = "ezsp"', 'type = "ezps"'), "radio.type", "ezps",
     "did you mean 'ezsp'?"),
    ("unknown port key", edit(with_boards(LAB), 'port = { serial_number = "STICK1" }', 'port = { serial = "STICK1" }'),
     "radio.port.serial", "serial =", "unknown key (did you mean 'serial_number'?)"),
    ("bad VID:PID", edit(with_boards(LAB), 'port = { serial_number = "STICK1" }', 'port = { vid_pid = "10c4" }'),
     "radio.port", "vid_pid", "should look like '10c4:ea60'"),
    ("a board match on two ports", edit(with_boards(LAB), '{ serial_number = "B1" }',
                                        '{ path = "/dev/ttyUSB1", serial_number = "B1" }'),
     "devices[1].board", "ttyUSB1", "names one port by itself"),
    ("flow control", edit(with_boards(LAB), 'flow_control = "hardware"', 'flow_control = "rtscts"'),
     "radio.flow_control", "rtscts", "expected one of software, hardware, none"),
    ("a reconnect limit that is not positive", edit(with_boards(LAB), 'flow_control = "hardware"',
                                                    'flow_control = "hardware"\nreconnect_timeout_s = 0'),
     "radio.reconnect_timeout_s", "reconnect_timeout_s", "greater than 0"),
    ("a port that is not a table", edit(with_boards(LAB), 'port = { serial_number = "STICK1" }', 'port = "COM3"'),
     "radio.port", "COM3", "should be a table, got string 'COM3'"),
    ("power that is not a table", edit(with_boards(LAB), 'board = { serial_number = "B2" }',
                                       'board = { serial_number = "B2" }\npower = "manual"'),
     "devices[2].power", 'power = "manual"', "should be a table such as { driver = \"manual\" }"),
    ("a section that is not a table", "hub = 1\n" + BASE.replace('[hub]\nid = "00-DB-12-34-56-78-91-02"\n', ""),
     "hub", "hub = 1", "should be a table, got integer 1"),
    ("users that are not tables", 'users = ["SUPPLIER"]\n' + BASE[: BASE.index("[[users]]")], "users[0]",
     "users = [", "should be a table, got string 'SUPPLIER'"),
    ("an install code on an emu bench", with_join_key(BASE, "gsme", f'install_code = "{INSTALL_CODE}"'),
     "devices[1].install_code", "install_code", "an emu bench has no network security"),
    ("a link key on an emu bench", with_join_key(BASE, "ihd", f'link_key = "{"00" * 16}"'),
     "devices[2].link_key", "link_key", "an emu bench has no network security"),
    ("an install code with a bad CRC", with_join_key(TWIN, "ihd", f'install_code = "{INSTALL_CODE[:-2]}B6"'),
     "devices[2].install_code", "install_code", "Invalid install code CRC"),
    ("an install code of the wrong length", with_join_key(TWIN, "esme", 'install_code = "83FED3407A939723A5C639"'),
     "devices[0].install_code", "install_code", "Invalid install code length"),
    ("an install code that is not hex", with_join_key(TWIN, "esme", 'install_code = "83FED3407A9397ZZ"'),
     "devices[0].install_code", "install_code", "is not hexadecimal"),
    ("an install code that is not a string", with_join_key(TWIN, "esme", "install_code = 0x83FED3"),
     "devices[0].install_code", "install_code", "should be a string, got integer"),
    ("a short link key", with_join_key(TWIN, "gsme", 'link_key = "01020304"'), "devices[1].link_key", "link_key",
     "'01020304' is 4 bytes; a Zigbee link key is 16"),
    ("an install code and a link key", with_join_key(TWIN, "ihd", f'install_code = "{INSTALL_CODE}"\n'
                                                                  f'link_key = "{"00" * 16}"'),
     "devices[2].link_key", "link_key", "an install code or a link key, not both"),
    ("an unknown defect", with_join_key(BASE, "gsme", 'defects = ["skips_the_mac_check", "forgets_keys"]'),
     "devices[1].defects[1]", "defects", "no defect 'forgets_keys'; known defects: ignores_wait_for_data"),
    ("a defect the device type cannot have", with_join_key(BASE, "ihd", 'defects = ["skips_the_counter_check"]'),
     "devices[2].defects[0]", "defects", "a device of type ihd cannot have defect 'skips_the_counter_check'"),
    ("a defect named twice", with_join_key(BASE, "esme", 'defects = ["accepts_a_bad_signature", "accepts_a_bad_signature"]'),
     "devices[0].defects", "defects", "listed twice"),
    ("a response spacing without pages", with_join_key(BASE, "esme", "image_page_spacing_ms = 50"),
     "devices[0].image_page_spacing_ms", "image_page_spacing_ms", "give image_page_size"),
    ("a page defect without pages", with_join_key(BASE, "esme", 'defects = ["takes_an_image_pages_blocks_as_they_come"]'),
     "devices[0].defects", "defects", "downloads with Image Page Requests: give the device image_page_size"),
    ("image pages on a lab device", edit(with_boards(LAB), 'board = { serial_number = "B2" }',
                                         'board = { serial_number = "B2" }\nimage_page_size = 256'),
     "devices[2].image_page_size", "image_page_size", "a lab device downloads as its firmware does"),
    ("defects on a lab device", edit(with_boards(LAB), 'board = { serial_number = "B2" }',
                                     'board = { serial_number = "B2" }\ndefects = ["skips_the_mac_check"]'),
     "devices[2].defects", "defects", "a lab device has the defects its firmware has"),
    ("users that are not an array", 'users = "SUPPLIER"\n' + BASE[: BASE.index("[[users]]")], "users",
     "users = ", "should be an array of tables, got string 'SUPPLIER'"),
]


@pytest.mark.parametrize(("text", "key", "at", "fragment"), [case[1:] for case in KIND_ERRORS],
                         ids=[case[0] for case in KIND_ERRORS])
def test_kind_rules(error_for: Callable[[str], BenchConfigError], text: str, key: str, at: str | None,
                    fragment: str) -> None:
    error = error_for(text)
    assert (error.key, error.line) == (key, None if at is None else line_of(text, at))
    assert fragment in error.problem


def test_a_syntax_error_gives_tomllibs_line_and_column(error_for: Callable[[str], BenchConfigError]) -> None:
    text = edit(BASE, 'policy = "mp207"', "policy = = 1")
    error = error_for(text)
    assert error.key is None and error.line == line_of(text, "policy = = 1")
    assert error.problem.startswith("column 10: TOML syntax error: Invalid value")
    assert str(error).startswith(f"{error.file}:{error.line}: column 10: TOML syntax error")


def test_a_duplicate_key_is_a_syntax_error(error_for: Callable[[str], BenchConfigError]) -> None:
    text = edit(BASE, 'name = "t"', 'name = "t"\nname = "u"')
    error = error_for(text)
    assert error.line == line_of(text, 'name = "u"') and "TOML syntax error" in error.problem


@pytest.mark.parametrize("value", ["9" * 5000, "[" * 100_000], ids=["5,000 decimal digits", "deep nesting"])
def test_toml_python_cannot_read_is_a_bench_file_error(error_for: Callable[[str], BenchConfigError],
                                                        value: str) -> None:
    error = error_for(edit(BASE, 'name = "t"', f'name = "t"\nx = {value}'))
    assert error.key is None and "TOML that Python cannot read" in error.problem


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(BenchConfigError, match="missing.toml: cannot read the bench file: No such file"):
        load_bench(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[bench]\nname = "caf\xe9"\n')
    with pytest.raises(BenchConfigError, match="latin.toml: not UTF-8 text \\(byte offset 19\\)"):
        load_bench(latin)


def test_the_package_s_bench_keeps_its_sessions_in_the_working_directory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Read from the package, the embedded bench's ``../sessions`` would be inside the package
    (site-packages in a wheel install): its session records go to the working directory instead."""
    monkeypatch.chdir(tmp_path)
    config = load_bench(default_bench_file())
    assert config.sessions == tmp_path.resolve() / "sessions"
    assert config.keystore == REPO / "fixtures" / "keys"
    assert config.images == REPO / "firmware_images"
