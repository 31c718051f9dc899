"""The portfolio report after a mixed run, the RSA's restricted view, compliance, renderings,
and the ``hanbench report portfolio`` command's exit codes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dcc_support import (
    CH, ESME, ESME_B, GSME, HCALCS, IHD, OTHER, PPMID, RSA_1, RSA_2, SUPPLIER_A, SUPPLIER_B, V1, V2,
    activation_responder, distribute, receipt_alert,
)

from hanbench.bench.bench_file import load_bench
from hanbench.cli import main
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.report import NoPortfolio, portfolio, to_csv, to_json, to_table
from hanbench.dcc.service_requests import ActivateFirmware
from hanbench.gbcs.device_types import DeviceType

BENCH = Path(__file__).resolve().parents[3] / "bench" / "emu.toml"


async def mixed_run(make_dcc, inventory, hub, keystore) -> None:
    """ESME: RSA update, receipt, activated. GSME: device rejects the image. HCALCS: activation
    response never arrives."""
    dcc = make_dcc("mp207", response_wait=timedelta(minutes=10))
    await distribute(dcc, RSA_1, keystore, [ESME, GSME])
    await distribute(dcc, SUPPLIER_A, keystore, [HCALCS])
    digest = inventory.device(ESME).pending.hash
    hub.alert(receipt_alert(keystore, ESME, SUPPLIER_A, digest))
    hub.alert(receipt_alert(keystore, GSME, SUPPLIER_A, digest, ok=False))
    hub.responder = activation_responder(keystore, version=V2)
    await dcc.submit(SUPPLIER_A, ActivateFirmware(ESME, digest))
    never = asyncio.Event()

    async def silent(target, msg):
        await never.wait()

    hub.responder = silent
    await dcc.submit(SUPPLIER_A, ActivateFirmware(HCALCS, digest))


@pytest.mark.looptime
async def test_report_matches_the_inventory_after_a_mixed_run(make_dcc, inventory, hub, keystore):
    await mixed_run(make_dcc, inventory, hub, keystore)
    report = portfolio(inventory, SUPPLIER_A)
    lines = {line.device.entity_id: line for line in report.lines}
    assert set(lines) == {CH, ESME, GSME, PPMID, HCALCS, IHD}
    for device, line in lines.items():
        assert line.device == inventory.device(device)
        assert line.last_alert == inventory.last_alert(device)
    assert lines[ESME].device.firmware_version == V2 and lines[ESME].device.pending is None
    assert lines[GSME].device.pending.distributed_by == RSA_1
    assert lines[GSME].last_alert.code == "0x8F1C"
    assert {line.device.entity_id for line in report.needing_action} == {GSME, HCALCS}
    assert report.by_update_state == {"activated": 1, "distributed": 1, "failed": 1, "none": 3}
    assert report.by_status == {"commissioned": 6}
    esme = next(c for c in report.compliance if c.device_type is DeviceType.ESME)
    # ESME versions in the whole inventory: V2 (ours, now) and V1 (Supplier B's), so both count
    assert (esme.target, esme.previous, esme.devices, esme.compliant) == (V2, V1, 1, 1)


@pytest.mark.looptime
async def test_rsa_sees_only_its_appointing_suppliers_devices(make_dcc, inventory, hub, keystore):
    await mixed_run(make_dcc, inventory, hub, keystore)
    assert {line.device.entity_id for line in portfolio(inventory, RSA_1).lines} == \
        {line.device.entity_id for line in portfolio(inventory, SUPPLIER_A).lines}
    assert [line.device.entity_id for line in portfolio(inventory, RSA_2).lines] == [ESME_B]
    inventory.change_supplier(ESME, SUPPLIER_B)
    assert ESME not in {line.device.entity_id for line in portfolio(inventory, RSA_1).lines}
    assert ESME in {line.device.entity_id for line in portfolio(inventory, RSA_2).lines}


def test_users_without_a_portfolio_are_told_so(inventory):
    with pytest.raises(NoPortfolio, match="only suppliers and RSAs"):
        portfolio(inventory, OTHER)


def test_compliance_against_a_given_target(inventory):
    inventory.set_status(GSME, "decommissioned")
    report = portfolio(inventory, SUPPLIER_A, {DeviceType.ESME: 3})
    esme = next(c for c in report.compliance if c.device_type is DeviceType.ESME)
    assert (esme.target, esme.previous, esme.compliant, esme.share) == (3, V1, 1, 1.0)
    report = portfolio(inventory, SUPPLIER_A, {DeviceType.ESME: 5, DeviceType.HCALCS: 9})
    hcalcs = next(c for c in report.compliance if c.device_type is DeviceType.HCALCS)
    assert hcalcs.compliant == 1  # V1 is the newest HCALCS version below 9
    assert all(c.device_type is not DeviceType.GSME for c in report.compliance)  # not operating


@pytest.mark.looptime
async def test_renderings_carry_the_same_facts(make_dcc, inventory, hub, keystore):
    await mixed_run(make_dcc, inventory, hub, keystore)
    report = portfolio(inventory, RSA_1)
    data = json.loads(to_json(report))
    assert data["suppliers"] == [SUPPLIER_A.duis]
    assert sorted(data["needs_action"]) == sorted([GSME.duis, HCALCS.duis])
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    by_device = {r["device"]: r for r in rows}
    assert by_device[GSME.duis]["distributed_by"] == RSA_1.duis
    assert by_device[ESME.duis]["running"] == "00000002"
    assert "SR 11.3 response missing" in by_device[HCALCS.duis]["detail"]
    table = to_table(report)
    assert "needing action: 2" in table and GSME.duis in table


# ---- CLI ------------------------------------------------------------------------------------

@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    """The default bench, its paths made absolute and its sessions in ``tmp_path``."""
    root = BENCH.parent
    text = BENCH.read_text().replace('"../', f'"{root.parent}/')
    text = text.replace(f'sessions = "{root.parent}/sessions"', f'sessions = "{tmp_path}"')
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def seed_from_bench(path: Path) -> Path:
    config = load_bench(path)
    config.database_path.parent.mkdir(parents=True, exist_ok=True)
    with Inventory(config.database_path) as inv:
        for user in config.users:
            inv.add_user(user.id, user.name, user.roles)
        for appointment in config.appointments:
            inv.appoint(appointment.supplier, appointment.rsa)
        for device in config.devices:
            inv.add_device(device.id, device.type, import_supplier=device.import_supplier,
                           gas_supplier=device.gas_supplier, firmware_version=device.firmware_version)
    return config.database_path


def run(*args: str):
    return CliRunner().invoke(main, ["report", "portfolio", *args])


def test_cli_prints_the_portfolio_in_each_format(bench_file):
    seed_from_bench(bench_file)
    result = run("--bench", str(bench_file), "--user", "90-B3-D5-1F-30-0A-00-01", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["devices"]) == 5
    result = run("--bench", str(bench_file), "--user", "90-b3-d5-1f-30-01-00-00", "--format", "csv",
                 "--target", "esme=00000002")
    assert result.exit_code == 0 and result.output.startswith("device,type,")
    result = run("--bench", str(bench_file), "--user", "90-B3-D5-1F-30-0A-00-02")
    assert result.exit_code == 0 and "by status: no devices" in result.output


@pytest.mark.parametrize(("user", "message"), [
    ("90-B3-D5-1F-30-99-00-00", "90-B3-D5-1F-30-99-00-00 is not a user"),
    ("90-B3-D5", "is not an entity ID"),
    ("90-B3-D5-1F-30-0F-00-01", "only suppliers and RSAs"),
])
def test_cli_bad_users_exit_2_with_one_line(bench_file, user, message):
    seed_from_bench(bench_file)
    result = run("--bench", str(bench_file), "--user", user)
    assert result.exit_code == 2
    assert message in result.output and result.output.count("\n") == 1 and "Traceback" not in result.output


def test_cli_missing_bench_or_database_exits_2(tmp_path, bench_file):
    result = run("--bench", str(tmp_path / "nope.toml"), "--user", SUPPLIER_A.duis)
    assert result.exit_code == 2 and "cannot read the bench file" in result.output
    result = run("--bench", str(bench_file), "--user", SUPPLIER_A.duis)
    assert result.exit_code == 2 and "no database" in result.output


def test_cli_bad_target_exits_2(bench_file):
    seed_from_bench(bench_file)
    for bad in ("esme", "esme=zz", "toaster=1", "esme=1FFFFFFFF"):
        result = run("--bench", str(bench_file), "--user", SUPPLIER_A.duis, "--target", bad)
        assert result.exit_code == 2, bad
