"""The emulated GSME: a sleepy meter that only hears the CH when it wakes, on its own schedule.

On the emu bench in virtual time: what a GSME does is seen from the supplier's side (when its
answers and alerts arrive) and from the bench's events, against the wake schedule its
:class:`GsmeTiming` gives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from fixture_files import bench_copy
from hanbench import Bench, Outcome, open_bench
from hanbench.bench.events import ActivationFired, CommandQueued, ReceiptAlertRaised
from hanbench.devices.gsme import GsmeTiming
from hanbench.errors import BadInput
from hanbench.gbcs.entity import EntityId
from hanbench.timing import GSME_WAKE_INTERVAL_S

pytestmark = pytest.mark.looptime

GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
#: A wake's work (mirror read, GET, the answer's PUT and its way to the DCC) takes a few
#: seconds of air; an image pull about a minute and a quarter. Nothing reaches the supplier later.
WAKE_WORK_S = 90.0


def interval(bench: Bench) -> float:
    return bench.config.timing.gsme_wake_interval_s


def off_schedule(bench: Bench, when: dt.datetime, answered: dt.datetime) -> float:
    """Seconds between ``when`` and the nearest wake of the schedule an answer at ``answered`` came in
    (an answer reaches the supplier a moment after its wake, so the schedule is known to that moment)."""
    offset = (when - answered).total_seconds() % interval(bench)
    return min(offset, interval(bench) - offset)


# -- the schedule, on its own ------------------------------------------------------------------


@pytest.mark.parametrize(("timing", "message"), [
    (dict(wake_interval_s=0), "wake interval must be > 0 s"),
    (dict(wake_interval_s=60, phase_s=60), r"wake phase must be within \[0, 60\) s"),
    (dict(wake_interval_s=60, phase_s=-1), r"wake phase must be within \[0, 60\) s"),
])
def test_a_schedule_that_cannot_be_kept_is_bad_input(timing: dict[str, float], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        GsmeTiming(**timing)


def test_the_first_wake_is_the_given_phase_or_a_whole_second_drawn_from_the_id() -> None:
    assert GsmeTiming(phase_s=12.5).phase_for(GSME) == 12.5
    timing = GsmeTiming()
    assert timing.wake_interval_s == GSME_WAKE_INTERVAL_S == 1800
    phases = {timing.phase_for(EntityId.parse(f"00-DB-12-34-56-78-91-{n:02X}")) for n in range(32)}
    assert all(p == int(p) and 0 <= p < 1800 for p in phases)
    assert len(phases) > 24, "meters on one bench should not all wake together"
    assert timing.phase_for(GSME) == GsmeTiming().phase_for(GSME), "the same meter wakes at the same offset each run"


# -- on the air --------------------------------------------------------------------------------

async def test_a_command_waits_on_the_ch_and_is_answered_at_each_wake_and_no_sooner(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, gsme = bench.supplier, bench.device("gsme")
        opened, mark = bench.now(), bench.events.last_seq
        first = await supplier.read_firmware_version(gsme)
        assert (first.outcome, first.firmware_version) == (Outcome.VERSION_READ, 1)
        queued = await bench.events.wait_for(CommandQueued, 0, since=mark)
        assert queued.device == gsme.id, "the GSME was asleep: the CH held the command"
        # The GSME's schedule starts as it joins, a few seconds before the bench is open.
        first_wake = opened + dt.timedelta(seconds=GsmeTiming(interval(bench)).phase_for(gsme.id))
        assert abs((bench.now() - first_wake).total_seconds()) < WAKE_WORK_S, "answered at the first wake"

        answered = bench.now()
        await supplier.read_firmware_version(gsme)
        waited = (bench.now() - answered).total_seconds()
        assert interval(bench) - WAKE_WORK_S < waited <= interval(bench), "asked just after a wake: the next one"


async def test_a_wake_on_demand_collects_what_is_queued_at_once(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, gsme = bench.supplier, bench.device("gsme")
        await supplier.read_firmware_version(gsme)  # just after a wake: the next is an interval away
        asked = bench.now()
        mark = bench.events.last_seq
        reading = asyncio.create_task(supplier.read_firmware_version(gsme))
        await bench.events.wait_for(CommandQueued, 60, since=mark)
        await bench.emulator.wake(gsme.config)
        result = await reading
        assert result.firmware_version == 1
        assert (bench.now() - asked).total_seconds() < WAKE_WORK_S


async def test_an_image_is_pulled_and_its_receipt_alert_sent_during_a_wake(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, gsme = bench.supplier, bench.device("gsme")
        await supplier.read_firmware_version(gsme)
        first_wake = bench.now()  # an answer's time stands for its wake's, give or take the wake's work
        await supplier.update_firmware(bench.image(gsme, 2), [gsme])
        assert gsme.state.held_version is None, "nothing reaches a sleeping GSME"
        raised = await bench.events.wait_for(ReceiptAlertRaised, 2 * interval(bench), since=bench.opened_seq)
        alert = await supplier.wait_alert(0x8F72, device=gsme)
        assert gsme.state.held_version == 2 and alert.calculated_hash == raised.image_hash
        assert (raised.at - first_wake).total_seconds() >= interval(bench) - WAKE_WORK_S
        for when in (raised.at, alert.received_at):
            assert off_schedule(bench, when, first_wake) < WAKE_WORK_S


async def test_an_activation_fires_while_asleep_and_its_alert_goes_at_the_next_wake(tmp_path: Path) -> None:
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, gsme = bench.supplier, bench.device("gsme")
        await supplier.update_firmware(bench.image(gsme, 2), [gsme])
        receipt = await supplier.wait_alert(0x8F72, device=gsme, timeout=2 * interval(bench))
        await supplier.read_firmware_version(gsme)
        first_wake = bench.now()
        at = (first_wake + dt.timedelta(seconds=1.5 * interval(bench))).replace(microsecond=0)  # between two wakes
        scheduled = await supplier.activate_firmware(gsme, receipt.calculated_hash, at=at)
        assert scheduled.outcome is Outcome.ACTIVATION_SCHEDULED

        fired = await bench.events.wait_for(ActivationFired, 3 * interval(bench), since=bench.opened_seq)
        assert fired.at == at and gsme.state.running_version == 2
        outcome = await supplier.wait_alert(0x8F66, device=gsme, timeout=interval(bench))
        assert outcome.received_at > at
        assert (outcome.received_at - at).total_seconds() <= interval(bench) / 2 + WAKE_WORK_S
        assert off_schedule(bench, outcome.received_at, first_wake) < WAKE_WORK_S



async def test_a_gsme_on_a_lossy_link_has_its_cs06_in_gbt_blocks_within_one_wake(tmp_path: Path) -> None:
    # The CS06 is longer than one frame: the CH serves it one GBT block per GET. On a link losing
    # 40 % of the frames on the air some GET or GET-RESPONSE is lost; the GSME asks again within
    # the wake instead of sleeping on a part-message it would drop long before its next wake.
    async with open_bench(bench_copy(tmp_path)) as bench:
        supplier, gsme = bench.supplier, bench.device("gsme")
        await supplier.update_firmware(bench.image(gsme, 2), [gsme])
        receipt = await supplier.wait_alert(0x8F72, device=gsme, timeout=2 * interval(bench))
        bench.emulator.set_link_loss(gsme.config, 0.4)
        mark = bench.events.last_seq
        activating = asyncio.create_task(supplier.activate_firmware(gsme, receipt.calculated_hash))
        queued = await bench.events.wait_for(CommandQueued, 60, since=mark)
        assert queued.device == gsme.id
        woken = bench.now()
        await bench.emulator.wake(gsme.config)
        assert gsme.state.running_version == 2, "activated by the CS06 collected in this one wake"
        assert (bench.now() - woken).total_seconds() < WAKE_WORK_S
        assert (await activating).outcome is Outcome.ACTIVATED
