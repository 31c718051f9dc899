"""``hanbench estate``: the premises an estate bench file draws, without building any.

``hanbench estate --bench bench/estate.toml`` prints how many premises each template got,
how many devices of each type, and the versions they run; ``--list`` adds one line per
premises (its CH, devices, versions, frame loss and GSME wake phase); ``--format json``
gives the whole plan. The draw is seeded by the bench file, so the output is the same on
every run and is what :func:`hanbench.open_estate` builds. Exit codes: 0 printed, 2 bad
input (a bench file that does not load, or describes one premises).
"""

from __future__ import annotations

from pathlib import Path

import click

from hanbench.bench.bench_file import load_bench
from hanbench.bench.estate_plan import EstatePlan, PremisesPlan, plan_estate


def _table(plan: EstatePlan, listed: bool) -> str:
    summary = plan.summary()
    lines = [f"{summary['premises']} premises"]
    lines += [f"  {name}: {count}" for name, count in summary["templates"].items()]
    for kind, versions in summary["versions"].items():
        shown = ", ".join(f"{version} x{count}" for version, count in versions.items())
        lines.append(f"{kind}: {summary['devices'][kind]} ({shown})")
    if listed:
        lines += [_premises_line(premises) for premises in plan]
    return "\n".join(lines) + "\n"


def _premises_line(premises: PremisesPlan) -> str:
    devices = " ".join(
        f"{d.type.value}={d.id}@{d.firmware_version:08X}"
        + (f"(wakes +{d.wake_phase_s:.0f}s)" if d.wake_phase_s is not None else "") for d in premises.devices)
    return (f"{premises.name} {premises.template} ch={premises.hub.id}@{premises.hub.firmware_version:08X} "
            f"loss={premises.link_loss:.4f} {devices}").rstrip()


@click.command("estate")
@click.option("--bench", "bench_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="an estate bench file (TOML with an [estate] table)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--list", "listed", is_flag=True, help="one line per premises (table format)")
def command(bench_file: Path, fmt: str, listed: bool) -> None:
    """The premises an estate bench file describes, drawn from its seed."""
    plan = plan_estate(load_bench(bench_file))
    click.echo(plan.to_json() if fmt == "json" else _table(plan, listed), nl=fmt == "json")
