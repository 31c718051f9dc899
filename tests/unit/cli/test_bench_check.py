"""``hanbench bench check``: the twin bench for real, a lab bench against emulated boards on ptys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner

from fixture_files import BENCH_FILES, SUPPLIER, bench_copy, bench_keys
from hanbench.bench.bench_file import load_bench
from hanbench.cli import main
from hanbench.cli.bench import BAD_FILE_OR_PORT, BOARD_PROBLEM, check_lab
from hanbench.clock import BenchClock
from hanbench.devices import DeviceSettings, build_device
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.radio.air import VirtualAir
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.device_board import DeviceBoard

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


@pytest_asyncio.fixture
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


@pytest.mark.asyncio
async def test_a_lab_board_that_answers_is_identified(tmp_path: Path, esme_board: EmulatedBoard) -> None:
    rows = await check_lab(load_bench(lab_with_esme_board_at(tmp_path, esme_board.path)))
    assert [(r.name, r.problem) for r in rows] == [("radio", None), ("esme", None)]
    assert rows[1].identity is not None and rows[1].identity.eui64 == ESME


@pytest.mark.asyncio
async def test_a_board_with_another_role_is_exit_1(tmp_path: Path, esme_board: EmulatedBoard) -> None:
    config = load_bench(lab_with_esme_board_at(tmp_path, esme_board.path, as_type="hcalcs"))
    _, row = await check_lab(config)
    assert row.exit_code == BOARD_PROBLEM
    assert row.problem is not None and "is a esme" in row.problem and "says hcalcs" in row.problem
