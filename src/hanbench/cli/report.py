"""``hanbench report``: reports read from a bench's database.

``hanbench report portfolio --bench FILE --user ID`` prints the firmware portfolio the user
may see (MP207 requirement 4): a Supplier's own devices, or an RSA's appointing suppliers'.
Exit codes: 0 printed, 2 bad input (unknown user, malformed ID, missing bench file or
database, a user with no portfolio).
"""

from __future__ import annotations

from pathlib import Path

import click

from hanbench.bench.bench_file import load_bench
from hanbench.cli._database import existing_database
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.report import RENDERERS, portfolio
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId


def _targets(values: tuple[str, ...]) -> dict[DeviceType, int]:
    """``esme=0x00000002`` pairs: the version N each device type should run."""
    targets: dict[DeviceType, int] = {}
    for value in values:
        kind, sep, version = value.partition("=")
        if not sep:
            raise BadInput(f"--target {value!r}: write TYPE=VERSION, e.g. esme=00000002")
        try:
            number = int(version.strip().removeprefix("0x"), 16)
        except ValueError:
            raise BadInput(f"--target {value!r}: the version is 8 hex digits, e.g. 00000002") from None
        if not 0 <= number <= 0xFFFFFFFF:
            raise BadInput(f"--target {value!r}: a firmware version is 4 bytes")
        targets[DeviceType.parse(kind)] = number
    return targets


@click.group("report")
def command() -> None:
    """Reports read from a bench's database."""


@command.command("portfolio")
@click.option("--bench", "bench_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="bench file (TOML) whose database to read")
@click.option("--user", "user_id", required=True, help="the user whose view to show, e.g. 90-B3-D5-1F-30-01-00-00")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="table", show_default=True)
@click.option("--target", "targets", multiple=True, metavar="TYPE=VERSION",
              help="version N a device type should run (default: the newest seen); repeatable")
def portfolio_command(bench_file: Path, user_id: str, fmt: str, targets: tuple[str, ...]) -> None:
    """Each device's running version, pending image and last alert; counts, failures and compliance."""
    user = EntityId.parse(user_id)
    wanted = _targets(targets)
    with Inventory(existing_database(load_bench(bench_file))) as inventory:
        click.echo(RENDERERS[fmt](portfolio(inventory, user, wanted)), nl=False)
