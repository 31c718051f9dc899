"""The loop floor of ``benchmarks/estate.py --floor`` counts what a virtual loop does, and its
replay of those counts makes the same events: otherwise the floor it prints beside an estate
would be the floor of some other run."""

from __future__ import annotations

import asyncio
import gc

from fixture_files import ROOT, script_module
from hanbench.clock import run_virtual

floor = script_module(ROOT / "benchmarks" / "loop_floor.py")


async def _known_events() -> None:
    """Two sleeps (two jumps, two timers run), a timer cancelled before it is due and one
    cancelled after it ran, and three callbacks made ready at once."""
    loop = asyncio.get_running_loop()
    loop.call_later(5, lambda: None).cancel()
    ran = loop.call_later(0.5, lambda: None)
    await asyncio.sleep(1)
    ran.cancel()
    done = loop.create_future()
    for n in range(3):
        loop.call_soon(lambda n=n: n == 2 and done.set_result(None))
    await done
    await asyncio.sleep(1)


def test_counting_sees_the_jumps_timers_and_callbacks_of_a_run() -> None:
    originals = asyncio.Handle._run, asyncio.TimerHandle.__init__

    async def counted() -> object:
        loop = asyncio.get_running_loop()
        with floor.counting(loop) as counts:
            await _known_events()
        assert "_run_once" not in vars(loop) and "_timer_handle_cancelled" not in vars(loop)
        return counts

    counts = run_virtual(counted())
    assert (counts.jumps, counts.timers, counts.cancelled) == (3, 4, 1), counts
    assert counts.timer_callbacks == 3, counts  # 0.5 s, and the two sleeps
    assert counts.callbacks >= counts.timer_callbacks + 3 and counts.iterations >= counts.jumps + 2, counts
    assert (asyncio.Handle._run, asyncio.TimerHandle.__init__) == originals


def test_the_replay_makes_the_events_it_was_given_with_a_heap_of_the_same_size() -> None:
    given = floor.LoopCounts(iterations=9000, jumps=5800, timers=6100, cancelled=150, timer_callbacks=5800,
                             callbacks=11000, heap_sum=9000 * 400)
    threshold = gc.get_threshold()
    cpu_s, made = floor.replay(given, 10, count=True)
    assert gc.get_threshold() == threshold
    assert cpu_s > 0
    # The replay's own opening and ending: the future it awaits, one jump to it, the far timers.
    assert given.jumps <= made.jumps <= given.jumps + 1, made
    assert given.iterations <= made.iterations <= given.iterations + 3, made
    assert given.callbacks <= made.callbacks <= given.callbacks + 3, made
    assert made.timer_callbacks in (given.timer_callbacks, given.timer_callbacks + 1), made
    assert made.cancelled == given.cancelled, made
    assert abs(made.heap - given.heap) <= 0.02 * given.heap, made
