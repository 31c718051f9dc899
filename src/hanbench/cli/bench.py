"""``hanbench bench check FILE``: is this bench file right, and is everything it names there?

Before a session a lab engineer wants one command that says whether the stick and every board
are plugged in where the file says, and whether each board is the device the file says. It
validates the file, finds every port and asks every board ``identify``, then prints one table
row per board and one line per problem. Exit status: 0 all good, 1 a board did not answer or
is another device, 2 the file is wrong or a port is missing.

A lab bench is checked without starting the stick's network (finding its port is enough; a
labgrid place is held while it is checked); a twin bench is brought up whole, since its
ports exist only while the twin runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import click

from hanbench.bench.bench_config import BenchConfig, BenchKind, DeviceConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.readiness import check_ready
from hanbench.bench.events import EventStream
from hanbench.bench.kinds import kind_strategy
from hanbench.bench.kinds.boards import BoardDevice, WrongBoard, check_identity
from hanbench.bench.lab_place import bench_on_place
from hanbench.bench.premises import AssemblyContext
from hanbench.clock import BenchClock
from hanbench.errors import BadInput, ExitCode, HanbenchError
from hanbench.gbcs.keystore import KeyStore
from hanbench.hardware.control import BoardControl
from hanbench.hardware.protocol import Identity

ALL_GOOD, BOARD_PROBLEM, BAD_FILE_OR_PORT = ExitCode.OK, ExitCode.CHECK_FAILED, ExitCode.BAD_INPUT


@dataclasses.dataclass(frozen=True)
class Row:
    """One board's line in the table, or the stick's; ``problem`` says what is wrong."""

    name: str
    role: str
    port: str
    identity: Identity | None = None
    problem: str | None = None
    exit_code: int = ALL_GOOD


def _problem(exc: BaseException) -> int:
    """The exit status a failure stands for: a wrong file or a missing port is 2; a board that
    is silent, refuses or is another device is 1."""
    return BAD_FILE_OR_PORT if isinstance(exc, BadInput) and not isinstance(exc, WrongBoard) else BOARD_PROBLEM


async def check_board(entry: DeviceConfig, control: BoardControl) -> Row:
    """Find ``entry``'s board port, ask it who it is and compare with the file."""
    try:
        port = control.match.find()
    except BadInput as exc:
        return Row(entry.name, entry.type.value, str(control.match), problem=str(exc), exit_code=BAD_FILE_OR_PORT)
    try:
        async with control:
            identity = await control.identify()
        check_identity(entry, identity, port)
    except HanbenchError as exc:
        return Row(entry.name, entry.type.value, port, problem=str(exc), exit_code=_problem(exc))
    return Row(entry.name, entry.type.value, port, identity)


async def check_lab(config: BenchConfig) -> list[Row]:
    assert config.radio is not None and config.radio.port is not None
    try:
        stick = Row("radio", config.radio.type.value, config.radio.port.find())
    except BadInput as exc:
        stick = Row("radio", config.radio.type.value, str(config.radio.port), problem=str(exc),
                    exit_code=BAD_FILE_OR_PORT)
    boards = [await check_board(entry, BoardControl(entry.board, name=entry.name,
                                                      reset_timeout=config.timing.board_reset_timeout_s))
              for entry in config.devices if entry.board is not None]
    return [stick, *boards]


async def check_twin(config: BenchConfig) -> list[Row]:
    """Bring the twin's premises up (its assembly checks every board) and identify each board."""
    clock = BenchClock(config.start)
    context = AssemblyContext(config, clock, EventStream(clock.now), KeyStore(config.keystore))
    try:
        async with kind_strategy(config.kind).assemble(context) as premises:
            rows = []
            for name, device in premises.devices.items():
                assert isinstance(device, BoardDevice)
                identity = await device.control.identify()
                rows.append(Row(name, device.config.type.value, device.control.device or "", identity))
            return rows
    except HanbenchError as exc:
        return [Row("bench", config.kind.value, str(config.file), problem=str(exc), exit_code=_problem(exc))]


def _table(rows: list[Row]) -> str:
    header = ("ROLE", "NAME", "PORT", "IDENTITY", "FIRMWARE")
    lines = [header]
    for row in rows:
        identity = row.identity
        who = "" if identity is None else f"{identity.role.value} {identity.eui64}"
        firmware = "" if identity is None else f"0x{identity.firmware_version:08X}" + (
            "" if identity.held_image is None else f" (holds 0x{identity.held_image.version:08X})")
        lines.append((row.role, row.name, row.port, who, firmware if row.problem is None else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


@click.group("bench")
def command() -> None:
    """Check bench files and the hardware they name."""


@command.command("check")
@click.argument("bench_file", type=click.Path(path_type=Path))
def check(bench_file: Path) -> None:
    """Validate BENCH_FILE; on twin and lab benches find every port and identify every board."""
    config = load_bench(bench_file)
    check_ready(config)
    if config.kind is BenchKind.EMU:
        what = f"{len(config.devices)} devices" if config.estate is None else \
            f"an estate of {config.estate.premises} premises ('hanbench estate' lists them)"
        click.echo(f"{bench_file}: emu bench {config.name!r}, {what}, no ports to check")
        return
    with bench_on_place(config, say=lambda line: click.echo(line, err=True)) as bound:
        rows = asyncio.run(check_twin(bound) if bound.kind is BenchKind.TWIN else check_lab(bound))
    click.echo(_table(rows))
    for row in rows:
        if row.problem is not None:
            click.echo(f"error: {row.name}: {row.problem.splitlines()[0]}", err=True)
    status = max(row.exit_code for row in rows)
    if status != ALL_GOOD:
        sys.exit(status)
