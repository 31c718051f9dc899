"""SECMP0024: the exceptions TABASC asked the CH firmware process to answer (seed 003).

"The requirements follow a 'happy path' and don't account for any exceptions": a change of
supplier during deployment, a premises with two responsible suppliers, a single party using
two User IDs, and the working group's concurrent risk of a supplier's scheduled meter firmware
deployment landing in the CH update's window. Each test runs a campaign on an emulated estate
of its own (whatever bench the run is on) and holds the DCC to the behaviour
``hanbench.dcc.campaign`` defines for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from fixture_files import estate_copy, estate_template
from hanbench import (
    AutomationAction,
    CampaignPlan,
    CampaignRefused,
    CampaignStage,
    PilotSelection,
    open_estate,
    run_virtual,
)
from hanbench.bench.events import TransferFinished, TransferStarted
from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

A = EntityId.parse("90-B3-D5-1F-30-01-00-00")
B = EntityId.parse("90-B3-D5-1F-30-02-00-00")
DAY = dt.timedelta(days=1)
TEMPLATES = "\n".join([
    estate_template("a_dual_fuel", 2, ["esme", "gsme"], import_supplier=str(A), gas_supplier=str(A)),
    estate_template("a_electricity_b_gas", 1, ["esme", "gsme"], import_supplier=str(A), gas_supplier=str(B)),
    estate_template("b_electricity", 1, ["esme"], import_supplier=str(B)),
    estate_template("b_gas_only", 1, ["gsme"], gas_supplier=str(B)),
])


def ch_of(estate, template: str) -> EntityId:  # type: ignore[no-untyped-def]
    return next(p.plan.hub.id for p in estate.premises if p.template == template)


def plan(estate, *, start_in: dt.timedelta = DAY) -> CampaignPlan:  # type: ignore[no-untyped-def]
    start = estate.now() + start_in
    return CampaignPlan("chf-2", estate.ch_image(NEXT_FILE_VERSION), start, start + 14 * DAY, start + 7 * DAY,
                        pilot=PilotSelection(how="named", named=(ch_of(estate, "a_dual_fuel"),)))


def test_a_change_of_supplier_during_deployment_moves_the_notices_and_the_right_to_trigger(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_estate(estate_copy(tmp_path, TEMPLATES)) as estate:
            campaign = estate.campaign(plan(estate))
            campaign.notify()
            moving = ch_of(estate, "b_electricity")
            early = campaign.plan.window_start + 2 * DAY
            campaign.trigger(B, [moving], early)  # B's early date, made before it loses the premises
            run = asyncio.ensure_future(campaign.run())
            await estate.advance(DAY / 2 / dt.timedelta(seconds=1))  # notified, window not open yet
            assert moving in campaign.notices_to(B)[0].chs
            for device in estate.devices(premises=[estate.premises_of(moving)]):  # the change of supplier
                await estate.change_supplier(device, estate.user(A))
            estate.dcc.inventory.change_supplier(moving, A)
            with pytest.raises(CampaignRefused, match="not a responsible supplier"):
                campaign.trigger(B, [moving], early)
            assert await run is CampaignStage.COMPLETED
            assert campaign.updates[moving].at >= campaign.plan.deployment, \
                "B's trigger no longer counts: the CH was updated on the DCC's date"
            assert all(moving not in n.chs for n in campaign.notices_to(B)[1:]), "B hears no more of it"
            assert moving in campaign.notices_to(A)[-1].chs, "A, the new supplier, is told it completed"
            assert estate.premises_of(moving).hub.firmware.running_version == NEXT_FILE_VERSION

    run_virtual(session())


def test_a_premises_with_two_responsible_suppliers_tells_both_and_updates_its_ch_once(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_estate(estate_copy(tmp_path, TEMPLATES)) as estate:
            campaign = estate.campaign(plan(estate))
            campaign.notify()
            shared = ch_of(estate, "a_electricity_b_gas")
            assert campaign.responsible(shared) == {A, B}
            assert all(shared in campaign.notices_to(user)[0].chs for user in (A, B)), "both are notified"
            first, second = campaign.plan.window_start + 2 * DAY, campaign.plan.window_start + 3 * DAY
            campaign.trigger(B, [shared], first)   # the gas supplier first
            campaign.trigger(A, [shared], second)  # then the electricity supplier
            assert await campaign.run() is CampaignStage.COMPLETED
            update = campaign.updates[shared]
            assert first <= update.at < second, "the earlier trigger updated it"
            early = [n for n in campaign.notices if n.stage is CampaignStage.EARLY_TRIGGER]
            assert [(n.user, n.text) for n in early if n.user == A][-1][1].endswith("(1 already under way)")
            assert Counter(e.kind for e in estate.events.history)["campaign_notice"] == len(campaign.notices)
            assert estate.premises_of(shared).hub.firmware.running_version == NEXT_FILE_VERSION

    run_virtual(session())


def test_one_party_with_two_user_ids_is_told_and_acts_under_each_id_for_what_that_id_holds(tmp_path: Path) -> None:
    """A party that supplies electricity under A and gas under B: the DCC knows User IDs, not
    parties, so each ID is told of the CHs it is responsible for and may trigger those only."""

    async def session() -> None:
        async with open_estate(estate_copy(tmp_path, TEMPLATES)) as estate:
            campaign = estate.campaign(plan(estate))
            campaign.notify()
            shared, gas_only = ch_of(estate, "a_electricity_b_gas"), ch_of(estate, "b_gas_only")
            told = {user: set(campaign.notices_to(user)[0].chs) for user in (A, B)}
            assert shared in told[A] and shared in told[B], "the dual-fuel CH under both IDs"
            assert gas_only in told[B] and gas_only not in told[A], "the gas-only CH under the gas ID only"
            with pytest.raises(CampaignRefused, match=f"{A} is not a responsible supplier of {gas_only}"):
                campaign.trigger(A, [gas_only], campaign.plan.window_start + DAY)
            campaign.trigger(B, [gas_only, shared], campaign.plan.window_start + DAY)
            assert await campaign.run() is CampaignStage.COMPLETED
            assert campaign.updates[gas_only].at < campaign.plan.deployment
            assert campaign.updates[shared].at < campaign.plan.deployment

    run_virtual(session())


def test_a_suppliers_meter_deployment_in_the_window_completes_and_the_ch_switches_after_it(tmp_path: Path) -> None:
    async def session() -> None:
        async with open_estate(estate_copy(tmp_path, TEMPLATES)) as estate:
            supplier = estate.user(A)
            meters = estate.devices("esme", supplier=supplier)
            mark = estate.events.last_seq
            paced = supplier.paced(concurrency=10)
            await paced.update_firmware(estate.image(meters[0], NEXT_FILE_VERSION), meters)
            pilot_esme = estate.devices("esme", premises=[estate.premises_of(ch_of(estate, "a_dual_fuel"))])[0]
            await estate.events.wait_for(lambda e: isinstance(e, TransferStarted) and e.device == pilot_esme.id,
                                         600, since=mark)
            campaign = estate.campaign(plan(estate, start_in=dt.timedelta(0)))  # the window opens now
            assert await campaign.run() is CampaignStage.COMPLETED
            pilot = campaign.updates[campaign.pilot[0]]
            assert pilot.succeeded and pilot.waited_s > 0, "the pilot CH waited for its ESME's transfer"
            finished = [e for e in estate.events.history if e.seq > mark and isinstance(e, TransferFinished)]
            assert {e.device for e in finished} == set(meters.ids)
            assert {e.result for e in finished} == {TransferResult.SUCCESS}, "no meter transfer was cut"
            outcomes = await paced.automate(meters)
            assert {o.action for o in outcomes} == {AutomationAction.ACTIVATION_SENT}
            assert {m.state.running_version for m in meters} == {NEXT_FILE_VERSION}
            assert {p.hub.firmware.running_version for p in estate.premises} == {NEXT_FILE_VERSION}

    run_virtual(session())
