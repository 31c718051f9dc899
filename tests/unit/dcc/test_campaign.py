"""SECMP0024 campaigns over an estate's CHs: notify, pilot, halt criteria, investigation, mass deployment."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixture_files import dual_fuel_and_electricity, estate_copy
from hanbench import (
    CampaignPlan,
    CampaignRefused,
    CampaignStage,
    Decision,
    HaltCriteria,
    HaltReport,
    PilotSelection,
    open_estate,
    run_virtual,
)
from hanbench.bench.record import SessionRecord
from hanbench.cli import main
from hanbench.bench.bench_file import load_bench
from hanbench.dcc.records import UpdateState
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

SUPPLIER_A = EntityId.parse("90-B3-D5-1F-30-01-00-00")
SUPPLIER_B = EntityId.parse("90-B3-D5-1F-30-02-00-00")
DAY = dt.timedelta(days=1)
SIX = dual_fuel_and_electricity(4, 2)


def dual_fuel_chs(estate) -> tuple[EntityId, ...]:  # type: ignore[no-untyped-def]
    return tuple(p.plan.hub.id for p in estate.premises if p.template == "dual_fuel")


def plan_for(estate, **knobs) -> CampaignPlan:  # type: ignore[no-untyped-def]
    start = estate.now() + DAY
    defaults = dict(name="chf-2", image=estate.ch_image(NEXT_FILE_VERSION), window_start=start,
                    window_end=start + 14 * DAY, deployment=start + 7 * DAY,
                    pilot=PilotSelection(how="named", named=dual_fuel_chs(estate)[:2]))
    return CampaignPlan(**{**defaults, **knobs})


def test_a_campaign_notifies_pilots_then_deploys_to_every_ch_and_says_so_at_each_stage(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, SIX)

    async def session() -> None:
        async with open_estate(path) as estate:
            campaign = estate.campaign(plan_for(estate))
            assert campaign.pilot == dual_fuel_chs(estate)[:2]
            assert await campaign.run() is CampaignStage.COMPLETED
            assert estate.now() >= campaign.plan.deployment
            for premises in estate.premises:
                assert premises.hub.firmware.running_version == NEXT_FILE_VERSION
                record = estate.dcc.inventory.device(premises.plan.hub.id)
                assert record.firmware_version == NEXT_FILE_VERSION and record.update_state is UpdateState.ACTIVATED
            pilot_done = max(campaign.updates[ch].at for ch in campaign.pilot)
            assert pilot_done < campaign.plan.deployment <= min(
                campaign.updates[ch].at for ch in set(estate.chs) - set(campaign.pilot)), "pilot first, the rest on the DCC's date"
            stages = [n.stage for n in campaign.notices_to(SUPPLIER_A)]
            assert stages == [CampaignStage.NOTIFIED, CampaignStage.PILOT_STARTED, CampaignStage.PILOT_PASSED,
                              CampaignStage.MASS_STARTED, CampaignStage.COMPLETED]
            first = campaign.notices_to(SUPPLIER_B)[0]
            assert first.stage is CampaignStage.NOTIFIED and len(first.chs) == 2, "B is told of its two CHs only"
            assert campaign.plan.window_start.isoformat() in first.text
            assert [n.stage for n in campaign.notices_to(SUPPLIER_B)][1] is CampaignStage.PILOT_PASSED, \
                "B's CHs are not in the pilot, so it is not told the pilot started"
            sent = [e for e in estate.events.history if e.kind == "campaign_notice"]
            assert len(sent) == len(campaign.notices)

    run_virtual(session())
    with SessionRecord(load_bench(path).database_path) as record:
        [info] = record.list_sessions()
        kinds = Counter(e.kind for e in record.events(info.id))
        assert kinds["campaign_notice"] == 5 + 4, "every notice to A and B is in the session record"
        assert kinds["ch_firmware_updated"] == 6
    page = tmp_path / "session.html"
    shown = CliRunner().invoke(main, ["sessions", "show", str(info.id), "--bench", str(path), "--html", str(page)])
    assert shown.exit_code == 0, shown.output
    html = page.read_text()
    assert "CH firmware campaigns" in html and "campaign chf-2: 6 CHs activated, 0 failed" in html
    assert "pilot_started at 24.0 h, pilot_passed at 24.0 h, mass_started at 192.0 h, completed at 192.0 h" in html, \
        "the pilot on the window's first day, the rest on the DCC's date a week later"


def test_a_failing_pilot_halts_the_campaign_and_an_abandoned_one_updates_nothing_more(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, SIX)

    async def session() -> None:
        async with open_estate(path) as estate:
            broken, fine = (estate.premises_of(ch) for ch in dual_fuel_chs(estate)[:2])
            broken.hub.firmware.hardware_version = 0x9999  # a CH the image is not for
            campaign = estate.campaign(plan_for(estate, halt=HaltCriteria(max_failure_rate=0.0)))
            assert await campaign.run() is CampaignStage.ABANDONED
            assert campaign.halt is not None and "1 of 2 pilot CHs failed" in campaign.halt.reasons[0]
            assert "hardware version 9999" in campaign.halt.reasons[0], "the reason says why the CH failed"
            assert set(campaign.updates) == set(campaign.pilot), "nothing beyond the pilot"
            assert {p.name: p.hub.firmware.running_version for p in estate.premises} == {
                p.name: 2 if p is fine else 1 for p in estate.premises}
            assert [n.stage for n in campaign.notices_to(SUPPLIER_B)] == [
                CampaignStage.NOTIFIED, CampaignStage.HALTED, CampaignStage.ABANDONED]
            with pytest.raises(CampaignRefused, match="abandoned"):
                campaign.trigger(SUPPLIER_A, dual_fuel_chs(estate)[2:], campaign.plan.window_start + DAY)

    run_virtual(session())


def test_an_investigation_may_let_a_halted_campaign_proceed_and_its_finding_is_recorded(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, SIX)
    seen: list[HaltReport] = []

    async def investigate(report: HaltReport) -> Decision:
        seen.append(report)
        return Decision(True, "the failed CH is a known hardware outlier")

    async def session() -> None:
        async with open_estate(path) as estate:
            estate.premises_of(dual_fuel_chs(estate)[1]).hub.firmware.hardware_version = 0x9999
            campaign = estate.campaign(plan_for(estate, investigate=investigate))
            assert await campaign.run() is CampaignStage.COMPLETED
            [report] = seen
            assert [u.succeeded for u in report.pilot] == [True, False]
            assert campaign.decision == Decision(True, "the failed CH is a known hardware outlier")
            stages = [n.stage for n in campaign.notices_to(SUPPLIER_A)]
            assert stages[2:4] == [CampaignStage.HALTED, CampaignStage.RESUMED]
            assert "known hardware outlier" in campaign.notices_to(SUPPLIER_A)[3].text
            assert sum(u.succeeded for u in campaign.updates.values()) == 5
            assert "failed: " in campaign.notices[-1].text

    run_virtual(session())


def test_alerts_from_the_pilot_premises_beyond_the_limit_halt_the_campaign(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, SIX)

    async def session() -> None:
        async with open_estate(path) as estate:
            plan = plan_for(estate, window_start=estate.now(), halt=HaltCriteria(max_alerts=0,
                                                                                 alert_codes=frozenset({"0x8F72"})))
            campaign = estate.campaign(plan)
            supplier = estate.user(SUPPLIER_A)
            pilot_esme = estate.devices("esme", premises=[estate.premises_of(campaign.pilot[0])])
            await supplier.update_firmware(estate.image(pilot_esme[0], NEXT_FILE_VERSION), pilot_esme)
            await supplier.wait_alert(0x8F72, device=pilot_esme[0], timeout=3600)
            assert await campaign.run() is CampaignStage.ABANDONED
            assert campaign.halt is not None and campaign.halt.alerts == 1
            assert "1 alerts from the pilot premises (more than 0)" in campaign.halt.reasons

    run_virtual(session())


def test_a_plan_and_a_pilot_that_cannot_be_are_bad_input(tmp_path: Path) -> None:
    path = estate_copy(tmp_path, SIX)

    async def session() -> None:
        async with open_estate(path) as estate:
            with pytest.raises(BadInput, match="not within the window"):
                plan_for(estate, deployment=estate.now() + 30 * DAY)
            with pytest.raises(BadInput, match="first, random or named"):
                PilotSelection(how="best")
            with pytest.raises(BadInput, match="between 0 and 1"):
                HaltCriteria(max_failure_rate=1.5)
            with pytest.raises(BadInput, match="not in the campaign"):
                estate.campaign(plan_for(estate, pilot=PilotSelection(how="named", named=(SUPPLIER_A,))))
            share = estate.campaign(plan_for(estate, pilot=PilotSelection(size=0.5, how="random", seed=3)))
            again = estate.campaign(plan_for(estate, pilot=PilotSelection(size=0.5, how="random", seed=3)))
            assert len(share.pilot) == 3 and share.pilot == again.pilot, "a seeded draw of half the CHs"

    run_virtual(session())


def test_the_live_view_shows_the_campaign_as_it_records_itself(tmp_path: Path) -> None:
    from rich.console import Console

    from hanbench.bench.campaign_view import campaign_view, progress_table

    path = estate_copy(tmp_path, SIX)

    async def session() -> None:
        async with open_estate(path) as estate:
            estate.premises_of(dual_fuel_chs(estate)[3]).hub.firmware.hardware_version = 0x9999
            campaign = estate.campaign(plan_for(estate))
            before = campaign.progress()
            assert (before.stage, before.waiting, before.pilot) == (None, 6, 2)
            console = Console(record=True, width=120, force_terminal=False)
            with campaign_view(campaign, console):
                assert await campaign.run() is CampaignStage.COMPLETED
            after = campaign.progress()
            assert (after.started, after.activated, after.failed, after.in_progress) == (6, 5, 1, 0)
            console.print(progress_table(after))
            text = console.export_text()
            assert "campaign chf-2: completed" in text and "5 of 6 CHs updated" in text

    run_virtual(session())
