"""MP207 business requirement 4: after a run, the portfolio report shows each device's real state.

A mixed session on an emu bench of its own (so its database is this test's alone): the
ESME updated and activated, the GSME's image distributed by the RSA and left pending without
CS06, the HCALCS sent an image signed by someone else past the DCC (it refuses it, 0x8F1C),
the PPMID updated by SR 11.4 (it activates by itself), and the IHD moved to supplier B by a
change of supplier. Then, with the session closed, ``hanbench report portfolio`` reads the
database the session wrote and must agree with what the devices themselves said.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hanbench.suites.conformance.flows import NEW, distribute, emu_bench_file, image_signed_by, receipt_wait_s
from hanbench import Bench, BenchUser, Outcome, load_bench, open_bench, run_virtual
from hanbench.cli import main
from hanbench.gbcs.roles import Role


@dataclass(frozen=True)
class Seen:
    """What the session saw, to hold the report against."""

    database: Path
    supplier: BenchUser
    rsa: BenchUser
    stranger: BenchUser
    supplier_b: BenchUser
    ids: dict[str, str]            # device name (and "ch") -> DUIS entity ID
    running: dict[str, int]        # device name -> version the device itself runs at the end
    last_alert: dict[str, str]     # device name -> last alert code the supplier received about it
    gsme_hash: bytes
    gsme_since: tuple[str, str]    # the bench clock just before and just after the RSA's SR 11.1


async def mixed_session(bench_file: Path) -> Seen:
    async with open_bench(bench_file) as bench:
        supplier, rsa = bench.supplier, bench.rsa_of(bench.supplier)
        supplier_b = bench.other_supplier(supplier)
        esme, gsme, hcalcs, ppmid, ihd = (bench.device(n) for n in ("esme", "gsme", "hcalcs", "ppmid", "ihd"))

        alert = await distribute(bench, supplier, esme)
        assert (await supplier.activate_firmware(esme, alert.calculated_hash)).outcome is Outcome.ACTIVATED

        before = bench.now()
        assert (await rsa.update_firmware(bench.image(gsme, NEW), [gsme])).accepted == (gsme.id,)
        after = bench.now()
        receipt = await supplier.wait_alert(0x8F72, device=gsme, timeout=receipt_wait_s(bench))

        await bench.hub.distribute(image_signed_by(bench, hcalcs, supplier_b), [hcalcs.id])
        await supplier.wait_alert(0x8F1C, device=hcalcs, timeout=receipt_wait_s(bench))

        await supplier.update_ppmid_firmware(bench.image(ppmid, NEW), [ppmid])
        await supplier.wait_alert(0x8F8B, device=ppmid, timeout=receipt_wait_s(bench))

        await bench.change_supplier(ihd, supplier_b)
        await bench.advance(600)  # let every trailing alert land

        devices = (esme, gsme, hcalcs, ppmid, ihd)
        return Seen(
            database=Path(bench.dcc.inventory.path), supplier=supplier, rsa=rsa, supplier_b=supplier_b,
            stranger=bench.user_with(Role.RSA, besides=[rsa]),
            ids={**{d.name: d.id.duis for d in devices}, "ch": bench.config.hub.id.duis},
            running={d.name: d.state.running_version for d in devices},
            last_alert={d.name: codes[-1] for d in devices
                        if (codes := [a.code for a in supplier.alerts() if a.device == d.id])},
            gsme_hash=receipt.calculated_hash or b"", gsme_since=(before.isoformat(), after.isoformat()))


def report(bench_file: Path, user: BenchUser, *args: str) -> Any:
    result = CliRunner().invoke(main, ["report", "portfolio", "--bench", str(bench_file), "--user", user.id.duis,
                                       *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "json" in args else result.output


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seen]:
    """One mixed session, closed, shared by the report checks below."""
    bench_file = emu_bench_file(tmp_path_factory.mktemp("report"), name="report")
    return bench_file, run_virtual(mixed_session(bench_file))


@pytest.mark.emu
def test_the_report_reads_the_database_the_session_wrote(mixed_run: tuple[Path, Seen]) -> None:
    bench_file, seen = mixed_run
    assert load_bench(bench_file).database_path == seen.database


@pytest.mark.emu
def test_the_suppliers_report_shows_each_devices_real_state(mixed_run: tuple[Path, Seen]) -> None:
    bench_file, seen = mixed_run
    data = report(bench_file, seen.supplier, "--format", "json")
    rows = {name: row for name, duis in seen.ids.items() for row in data["devices"] if row["device"] == duis}

    assert set(rows) == {"ch", "esme", "gsme", "hcalcs", "ppmid"}, "the IHD went to supplier B"
    for name in ("esme", "gsme", "hcalcs", "ppmid"):
        assert rows[name]["running"] == f"{seen.running[name]:08X}", name
        assert rows[name]["last_alert"] == seen.last_alert[name], name
    expected_states = {"ch": "none", "esme": "activated", "gsme": "received", "hcalcs": "failed",
                       "ppmid": "activated"}
    assert {name: row["update_state"] for name, row in rows.items()} == expected_states
    assert data["counts_by_update_state"] == dict(sorted(Counter(expected_states.values()).items()))
    assert data["counts_by_status"] == {"commissioned": 5}

    gsme = rows["gsme"]
    assert (gsme["pending_hash"], gsme["pending_version"], gsme["distributed_by"]) == \
        (seen.gsme_hash.hex(), f"{NEW:08X}", seen.rsa.id.duis)
    assert seen.gsme_since[0] <= gsme["pending_since"] <= seen.gsme_since[1]
    assert all(row["pending_hash"] == "" for name, row in rows.items() if name != "gsme")

    assert data["needs_action"] == [seen.ids["hcalcs"]]
    assert "0x8F1C" in rows["hcalcs"]["detail"] and rows["hcalcs"]["needs_action"] is True
    compliance = {c["type"]: (c["target"], c["devices"], c["compliant"]) for c in data["compliance"]}
    assert compliance["esme"] == (f"{NEW:08X}", 1, 1) and compliance["ppmid"] == (f"{NEW:08X}", 1, 1)
    assert data["compliant_share"] == 1.0

    table = report(bench_file, seen.supplier)
    assert "needing action: 1" in table and f"{seen.ids['hcalcs']} hcalcs: 0x8F1C" in table


@pytest.mark.emu
def test_an_rsa_sees_only_its_appointing_suppliers_meters(mixed_run: tuple[Path, Seen]) -> None:
    bench_file, seen = mixed_run
    mine = report(bench_file, seen.rsa, "--format", "json")
    assert mine["suppliers"] == [seen.supplier.id.duis]
    assert sorted(row["device"] for row in mine["devices"]) == \
        sorted(seen.ids[n] for n in ("ch", "esme", "gsme", "hcalcs", "ppmid"))
    assert seen.ids["ihd"] not in [row["device"] for row in mine["devices"]]

    theirs = report(bench_file, seen.supplier_b, "--format", "json")
    assert [row["device"] for row in theirs["devices"]] == [seen.ids["ihd"]]
    nobody = report(bench_file, seen.stranger, "--format", "json")
    assert (nobody["suppliers"], nobody["devices"]) == ([], [])
