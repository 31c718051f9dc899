"""``hanbench ports``: what serial ports are attached, and how to bind a role to each.

The first thing a lab engineer does with a new bench is plug things in and ask which port is
which; the second is write the match into the bench TOML. This prints both, so nobody copies
``/dev/ttyUSB0`` into a file where it will point at another board after the next reboot.
"""

from __future__ import annotations

import json

import click

from hanbench.hardware.ports import attached_ports, by_id_links, port_fields, suggest_match, toml_inline


@click.command("ports")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per port, in a list.")
def command(as_json: bool) -> None:
    """List attached serial ports and the bench TOML that matches each."""
    ports = sorted(attached_ports(), key=lambda p: p.device)
    links = by_id_links()
    rows = [{**port_fields(p, links), "match": suggest_match(p, ports, links)} for p in ports]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no serial ports found")
        return
    for row in rows:
        click.echo(row["device"])
        for key, value in row.items():
            if key not in ("device", "match") and value:
                click.echo(f"  {key:<14}{value}")
        match = row["match"]
        note = "   # unstable: names whichever device enumerates first" if "path" in match else ""
        click.echo(f"  {'match':<14}port = {toml_inline(match)}{note}")
