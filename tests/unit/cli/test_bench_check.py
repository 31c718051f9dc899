"""``hanbench bench check``: the twin bench for real, a lab bench against emulated boards on ptys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixture_files import BENCH_FILES, BENCH_KEYS, SUPPLIER, bench_copy, bench_keys
from hanbench.bench.bench import open_bench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.readiness import MissingKeys, check_keys
from hanbench.cli import main
from hanbench.cli.bench import BAD_FILE_OR_PORT, BOARD_PROBLEM, check_lab
from hanbench.clock import BenchClock, run_virtual
from hanbench.dcc.inventory import Inventory
from hanbench.devices import DeviceSettings, build_device
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import Role
from hanbench.radio.air import VirtualAir
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.device_board import DeviceBoard

OTHER_SUPPLIER = EntityId.parse("90-B3-D5-1F-30-02-00-00")
RSA = EntityId.parse("90-B3-D5-1F-30-0A-00-01")
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")


def test_the_twin_bench_checks_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "check", str(bench_copy(tmp_path, "twin.toml"))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ROLE", "NAME", "PORT", "IDENTITY", "FIRMWARE"]
    esme = next(line for line in lines if line.startswith("esme "))
    assert "esme 00-DB-12-34-56-78-91-00" in esme and "0x00000001" in esme
    assert len(lines) == 6


def test_a_bad_file_exits_2_with_the_key_named(tmp_path: Path) -> None:
    bad = bench_copy(tmp_path, "twin.toml", replace={'type = "ezsp"': 'type = "zstack"'})
    result = CliRunner().invoke(main, ["bench", "check", str(bad)])
    assert result.exit_code == BAD_FILE_OR_PORT
    assert "radio.type" in result.output


def test_missing_ports_exit_2_with_one_line_each(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "check", str(bench_copy(tmp_path, "lab-example.toml"))])
    assert result.exit_code == BAD_FILE_OR_PORT
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1].strip() for e in errors] == ["radio", "esme", "gsme", "ppmid", "hcalcs", "ihd"]


@pytest.fixture
async def esme_board(tmp_path: Path) -> AsyncIterator[EmulatedBoard]:
    clock = BenchClock(load_bench(BENCH_FILES / "twin.toml").start)
    device = build_device(DeviceType.ESME, VirtualAir(), DeviceSettings(entity_id=ESME, nwk=0x1000, supplier=SUPPLIER),
                          clock, bench_keys())
    async with EmulatedBoard(DeviceBoard(device, clock), tmp_path, name="board0") as board:
        yield board
    await device.close()


def lab_with_esme_board_at(tmp_path: Path, board: Path, *, as_type: str = "esme") -> Path:
    """lab-example.toml with only the ESME (on ``board``), optionally claimed to be another type."""
    path = bench_copy(tmp_path, "lab-example.toml")
    text = path.read_text()
    text = text[:text.index("[[devices]]\ntype = \"gsme\"")]  # the ESME is the first device
    text = text.replace('board = { serial_number = "A10K1234" }', f'board = {{ path = "{board}" }}')
    text = text.replace('power = { driver = "usb-port", hub = "1-1", port = 4 }', "")
    text = text.replace('port = { serial_number = "9a3f1c2b7e45ed11a0c1c2d3e4f5a6b7" }', f'port = {{ path = "{board}" }}')
    if as_type != "esme":
        text = text.replace('type = "esme"\nid = "00-DB-12-34-56-78-91-00"', f'type = "{as_type}"\nid = "00-DB-12-34-56-78-91-00"')
    path.write_text(text)
    return path


async def test_a_lab_board_that_answers_is_identified(tmp_path: Path, esme_board: EmulatedBoard) -> None:
    rows = await check_lab(load_bench(lab_with_esme_board_at(tmp_path, esme_board.path)))
    assert [(r.name, r.problem) for r in rows] == [("radio", None), ("esme", None)]
    assert rows[1].identity is not None and rows[1].identity.eui64 == ESME


async def test_a_board_with_another_role_is_exit_1(tmp_path: Path, esme_board: EmulatedBoard) -> None:
    config = load_bench(lab_with_esme_board_at(tmp_path, esme_board.path, as_type="hcalcs"))
    _, row = await check_lab(config)
    assert row.exit_code == BOARD_PROBLEM
    assert row.problem is not None and "is a esme" in row.problem and "says hcalcs" in row.problem


# Bad bench content that loads but cannot run: found by `bench check` (and at load by `run`),
# one error line, exit 2, no session recorded

def check(bench: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["bench", "check", str(bench)])
    return result.exit_code, [line for line in result.output.splitlines() if line.startswith("error:")]


def test_a_device_without_keys_in_the_key_store(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for path in BENCH_KEYS.glob("*-*.*"):
        if not path.name.startswith("00db123456789101"):  # the GSME's
            (keys / path.name).write_bytes(path.read_bytes())
    bench = bench_copy(tmp_path, "emu.toml", replace={'"../fixtures/keys"': f'"{keys}"'})
    code, errors = check(bench)
    assert code == 2 and len(errors) == 1
    assert "device 'gsme' (00-DB-12-34-56-78-91-01): 00db123456789101-ds.pem and 00db123456789101-ds.key and " \
        "00db123456789101-ka.pem and 00db123456789101-ka.key" in errors[0]
    assert not (tmp_path / "sessions").exists()


def keys_without(folder: Path, *names: str) -> Path:
    """A copy of the bench key store in ``folder`` without the files ``names``."""
    keys = folder / "keys"
    keys.mkdir()
    for path in BENCH_KEYS.iterdir():
        if path.name not in names:
            (keys / path.name).write_bytes(path.read_bytes())
    return keys


@pytest.mark.parametrize("name", ["emu.toml", "twin.toml", "lab-example.toml", "althan.toml"])
def test_every_shipped_bench_file_has_its_ds_and_ka_keys(tmp_path: Path, name: str) -> None:
    check_keys(load_bench(bench_copy(tmp_path, name)))


def test_a_device_without_its_ka_key_and_a_missing_acb_certificate_are_bad_input(tmp_path: Path) -> None:
    keys = keys_without(tmp_path, "00db123456789100-ka.key", "90b3d51f30000002-ka.pem")
    code, [error] = check(bench_copy(tmp_path, "emu.toml", replace={'"../fixtures/keys"': f'"{keys}"'}))
    assert code == 2
    assert "the DCC's Access Control Broker (90-B3-D5-1F-30-00-00-02): 90b3d51f30000002-ka.pem" in error
    assert "device 'esme' (00-DB-12-34-56-78-91-00): 00db123456789100-ka.key" in error


def test_a_lab_device_needs_only_its_certificates_and_an_ihd_no_ka_pair(tmp_path: Path) -> None:
    device_keys = [p.name for p in BENCH_KEYS.glob("00db12345678910[01456]-*.key")]
    ihd_ka = ["00db123456789106-ka.pem", "00db123456789106-ka.key"]
    keys = keys_without(tmp_path, *device_keys, *ihd_ka)
    check_keys(load_bench(bench_copy(tmp_path, "lab-example.toml", replace={'"../fixtures/keys"': f'"{keys}"'})))
    with pytest.raises(MissingKeys, match="device 'esme' .*00db123456789100-ds.key and 00db123456789100-ka.key"):
        check_keys(load_bench(bench_copy(tmp_path, "emu.toml", replace={'"../fixtures/keys"': f'"{keys}"'})))


def test_an_alt_han_device_is_refused_on_a_twin_bench(tmp_path: Path) -> None:
    bench = bench_copy(tmp_path, "twin.toml", replace={'type = "ihd"': 'type = "alt_han"\nppmid_variant = "B1"'})
    code, errors = check(bench)
    assert code == 2 and len(errors) == 1
    assert "device 'ihd' (00-DB-12-34-56-78-91-06) is an alt_han, which a twin bench would have to emulate " \
           "behind a board" in errors[0] and "bench/althan.toml" in errors[0]


def test_the_alt_han_premises_checks_clean() -> None:
    code, errors = check(BENCH_FILES / "althan.toml")
    assert (code, errors) == (0, [])


def _first_session(bench: Path) -> None:
    async def session() -> None:
        async with open_bench(bench):
            pass

    run_virtual(session())


def test_a_user_whose_roles_changed_is_migrated_keeping_the_database(tmp_path: Path) -> None:
    bench = bench_copy(tmp_path, "emu.toml")
    _first_session(bench)
    database = load_bench(bench).database_path
    before = database.stat().st_size
    text = bench.read_text()
    bench.write_text(text.replace('roles = ["rsa"]', 'roles = ["rsa", "other_user"]', 1))
    assert check(bench) == (0, [])
    _first_session(bench)
    with Inventory(database) as inventory:
        assert Role.OTHER_USER in inventory.user(RSA).roles
    assert database.stat().st_size >= before


def test_a_role_a_forgotten_device_still_relies_on_is_refused_with_what_to_do(tmp_path: Path) -> None:
    bench = bench_copy(tmp_path, "emu.toml")
    text = bench.read_text()
    ihd = text.index('[[devices]]\ntype = "ihd"')
    end = text.find("\n[", ihd + 2)
    ihd_block = text[ihd:end if end >= 0 else len(text)]
    # The IHD belongs to the second supplier in the first session...
    bench.write_text(text.replace(ihd_block, ihd_block.replace(str(SUPPLIER), str(OTHER_SUPPLIER))))
    _first_session(bench)
    # ...then the file forgets the IHD and takes that supplier's import_supplier role away
    other = 'name = "OTHERSUPPLIER"\nroles = ["import_supplier", "gas_supplier"]'
    assert other in text
    bench.write_text(text.replace(ihd_block, "").replace(other, 'name = "OTHERSUPPLIER"\nroles = ["gas_supplier"]'))
    code, errors = check(bench)
    assert code == 2 and len(errors) == 1, errors
    assert "loses role import_supplier" in errors[0] and "00-DB-12-34-56-78-91-06" in errors[0]
    assert "give the bench another name to start a new database beside this one" in errors[0]
