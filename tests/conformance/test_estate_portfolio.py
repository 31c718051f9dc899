"""MP207 requirement 4 over an estate: the portfolio report tells each supplier the state of
all its devices, with N / N-1 compliance by device type, in table, CSV and JSON.

An emulated estate of its own, its firmware drawn from the seed (N, N-1 and older), then a
supplier updates its oldest ESMEs and a CH firmware campaign runs. With the session closed,
``hanbench report portfolio`` reads the database and must agree with what the devices and
CHs themselves run.
"""

from __future__ import annotations

import csv
import io
import json
import datetime as dt
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from fixture_files import dual_fuel_and_electricity, estate_copy
from hanbench import CampaignPlan, CampaignStage, PilotSelection, open_estate, run_virtual
from hanbench.cli import main
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId

A = "90-B3-D5-1F-30-01-00-00"
RSA = "90-B3-D5-1F-30-0A-00-01"  # appointed by A
FIRMWARE = """\
[estate.firmware]
ch = { versions = [0x00000002, 0x00000001], shares = [0.5, 0.5] }
esme = { versions = [0x00000002, 0x00000001, 0x00000000], shares = [0.3, 0.3, 0.4] }
gsme = { versions = [0x00000002, 0x00000001], shares = [0.5, 0.5] }
"""
TEMPLATES = dual_fuel_and_electricity(24, 6, other_name="other")


def test_the_portfolio_report_of_an_estate_matches_what_every_device_runs(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, TEMPLATES, firmware=FIRMWARE)
    running: dict[str, int] = {}

    async def session() -> None:
        async with open_estate(path) as estate:
            supplier = estate.user(A)
            oldest = estate.devices("esme", supplier=supplier).where(lambda d: d.state.running_version == 0)
            assert len(oldest) >= 3
            paced = supplier.paced(concurrency=20)
            await paced.update_firmware(estate.image(oldest[0], 2), oldest[:3])
            await paced.automate(oldest[:3])
            start = estate.now() + dt.timedelta(hours=1)
            campaign = estate.campaign(CampaignPlan(
                "chf-3", estate.ch_image(3), start, start + dt.timedelta(days=7), start + dt.timedelta(days=2),
                pilot=PilotSelection(size=0.1, how="random", seed=1)))
            assert await campaign.run() is CampaignStage.COMPLETED
            for premises in estate.premises:
                running[premises.plan.hub.id.duis] = premises.hub.firmware.running_version
                for device in premises.devices:
                    running[device.id.duis] = device.state.running_version
            mine = {d.id.duis for d in estate.devices(supplier=supplier)}
            mine |= {p.plan.hub.id.duis for p in estate.premises if p.template == "dual_fuel"}
            running["mine"] = len(mine)

    run_virtual(session())
    cli = CliRunner()
    as_json = cli.invoke(main, ["report", "portfolio", "--bench", str(path), "--user", A, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    rows = {row["device"]: row for row in report["devices"]}
    assert len(rows) == running["mine"], "every device and CH of A's, none of the other supplier's"
    for device, row in rows.items():
        assert int(row["running"], 16) == running[device], f"{device}: the report says what the device runs"
    compliance = {c["type"]: c for c in report["compliance"]}
    assert compliance["ch"]["target"] == "00000003" and compliance["ch"]["compliant"] == 24
    esmes = [int(row["running"], 16) for row in rows.values() if row["type"] == DeviceType.ESME.value]
    assert (compliance["esme"]["target"], compliance["esme"]["previous"]) == ("00000002", "00000001")
    assert compliance["esme"]["compliant"] == sum(v in (1, 2) for v in esmes) < len(esmes), "some still on 0"
    as_csv = cli.invoke(main, ["report", "portfolio", "--bench", str(path), "--user", A, "--format", "csv"])
    assert Counter(r["type"] for r in csv.DictReader(io.StringIO(as_csv.output))) == Counter(
        row["type"] for row in rows.values())
    table = cli.invoke(main, ["report", "portfolio", "--bench", str(path), "--user", RSA, "--format", "table"])
    assert table.exit_code == 0 and "compliance ch: 24/24 on 00000003" in table.output, table.output
    assert EntityId.parse(A).duis in table.output.splitlines()[0], "the RSA sees its appointing supplier's devices"
