"""The event loop's own cost for a given count of events: what a run would cost if its callbacks did nothing.

A run on the virtual loop is a sequence of loop iterations. Some of them jump the clock to
the next timer and run the timers due then; the others run the callbacks that are ready (a
task's next step, a future's done-callbacks). :class:`LoopCounts` counts these on a running
loop (:func:`counting`): iterations, clock jumps, timers scheduled and cancelled, timer
callbacks and other callbacks run, and the timer heap's size at each iteration.
:func:`replay` then makes a fresh loop, built by the same factory as every virtual bench
(:func:`hanbench.clock.run_virtual`, so the same looptime configuration), go through the
same counts with callbacks that do nothing and a timer heap of the same mean size: its CPU
time is the floor under any code that needs that many events, and the difference to the
real run's CPU time is what everything above the loop (the air, zigpy, the devices, the
hub, the DCC) cost.

The replay spreads the counts evenly: ``jumps`` groups, each opened by a jump to its timers
(the first of which schedules the next group's timers, schedules and cancels the group's
share of cancelled timers, and starts the group's chain of ready iterations), then the
group's share of iterations without a jump, each running its share of the callbacks (in an
iteration with callbacks ready the clock cannot move, so every callback that is not a timer
runs in such an iteration, as in the real run). The timers the real run left pending at
each iteration are stood in for by timers due far beyond the replay's end, never run: the
heap's operations cost as on a heap of the real run's mean size. The replay counts itself
too (:func:`replay` with ``count=True``), so the figures can show that it made the same
events as the run it stands in for.

Usage (``benchmarks/estate.py --floor`` runs it beside an estate; by hand)::

    .venv/bin/python benchmarks/loop_floor.py '{"iterations": 1000, "jumps": 500, ...}'
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from hanbench.bench.estate import collected_for_the_estate
from hanbench.clock import run_virtual


@dataclasses.dataclass
class LoopCounts:
    """What a loop did: its iterations, clock jumps, timers and callbacks, and its timer heap."""

    iterations: int = 0
    jumps: int = 0
    timers: int = 0
    cancelled: int = 0
    timer_callbacks: int = 0
    callbacks: int = 0
    heap_sum: int = 0  # the timer heap's size summed over every iteration (mean: heap_sum / iterations)

    @property
    def heap(self) -> float:
        """The timer heap's mean size at the start of an iteration."""
        return self.heap_sum / max(self.iterations, 1)

    def per(self, unit: int) -> str:
        """The counts per ``unit`` (a block, a premises), for a line of figures."""
        return (f"{self.iterations / unit:.1f} iterations, {self.jumps / unit:.1f} jumps, "
                f"{self.timers / unit:.1f} timers ({self.cancelled / unit:.1f} cancelled), "
                f"{self.callbacks / unit:.1f} callbacks ({self.timer_callbacks / unit:.1f} of timers)")


@contextlib.contextmanager
def counting(loop: asyncio.AbstractEventLoop) -> Iterator[LoopCounts]:
    """Count what ``loop`` (running, or about to) does until the block ends.

    Wraps the loop's own iteration and timer cancellation on the instance, and a handle's
    ``_run`` and a timer handle's ``__init__`` on their classes (every callback and timer of
    every loop of the process, however the loop's ``call_at`` was reached: count on one loop
    at a time). The wrappers cost a little CPU of their own: a counted run is for its
    counts, not for its time."""
    counts = LoopCounts()
    base: Any = loop
    run_once, cancelled = base._run_once, base._timer_handle_cancelled
    handle_run, timer_init = asyncio.Handle._run, asyncio.TimerHandle.__init__

    def counted_run_once() -> None:
        counts.iterations += 1
        counts.heap_sum += len(base._scheduled)
        before = loop.time()
        run_once()
        counts.jumps += loop.time() != before

    def counted_timer_init(handle: asyncio.TimerHandle, *args: Any, **kwargs: Any) -> None:
        counts.timers += 1
        timer_init(handle, *args, **kwargs)

    def counted_cancelled(handle: Any) -> None:  # a timer cancelled after it ran is not counted
        counts.cancelled += handle._scheduled
        cancelled(handle)

    def counted_handle_run(handle: asyncio.Handle) -> None:
        counts.callbacks += 1
        counts.timer_callbacks += isinstance(handle, asyncio.TimerHandle)
        handle_run(handle)

    base._run_once, base._timer_handle_cancelled = counted_run_once, counted_cancelled
    asyncio.Handle._run, asyncio.TimerHandle.__init__ = counted_handle_run, counted_timer_init  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        asyncio.Handle._run, asyncio.TimerHandle.__init__ = handle_run, timer_init  # type: ignore[method-assign]
        del base._run_once, base._timer_handle_cancelled


def _share(total: int, parts: int, index: int) -> int:
    """Part ``index`` of ``total`` split as evenly as whole numbers allow over ``parts``."""
    return (index + 1) * total // parts - index * total // parts


def _nothing() -> None:
    """A callback that does no work."""


async def _events(target: LoopCounts) -> None:
    """Go through ``target``'s counts on the running loop with callbacks that do nothing."""
    if not target.jumps:  # a run that never moved the clock: nothing to replay
        return
    loop = asyncio.get_running_loop()
    groups = target.jumps
    ready_iterations = target.iterations - target.jumps
    ready_callbacks = target.callbacks - target.timer_callbacks
    step_s = 1e-3
    beyond = loop.time() + step_s * (groups + 10) + 1e6
    left_pending = max(0, target.timers - target.timer_callbacks - target.cancelled)
    # The real run's pending timers, never due here; the timers the run left pending at its end
    # are made as the replay goes, and are on the heap for half of it on average.
    for _ in range(max(0, round(target.heap - left_pending / 2))):
        loop.call_at(beyond, _nothing)
    finished = loop.create_future()
    iteration = 0  # ready iterations handed out so far

    def ready(left: int) -> None:
        nonlocal iteration
        # This callback is one of the iteration's callbacks; the next iteration's are scheduled now.
        if left:
            for _ in range(_share(ready_callbacks, ready_iterations, iteration) - 1):
                loop.call_soon(_nothing)
            iteration += 1
            loop.call_soon(ready, left - 1)

    def opening(group: int) -> None:
        nonlocal iteration
        at = loop.time()
        if group + 1 < groups:
            loop.call_at(at + step_s, opening, group + 1)
            for _ in range(_share(target.timer_callbacks, groups, group + 1) - 1):
                loop.call_at(at + step_s, _nothing)
        else:
            loop.call_at(at + step_s, finished.set_result, None)
        for _ in range(_share(target.cancelled, groups, group)):
            loop.call_at(at + 2 * step_s, _nothing).cancel()
        for _ in range(_share(left_pending, groups, group)):  # timers the run left pending at its end
            loop.call_at(beyond, _nothing)
        iterations = _share(ready_iterations, groups, group)
        if iterations:
            for _ in range(_share(ready_callbacks, ready_iterations, iteration) - 1):
                loop.call_soon(_nothing)
            iteration += 1
            loop.call_soon(ready, iterations - 1)

    loop.call_at(loop.time() + step_s, opening, 0)
    for _ in range(_share(target.timer_callbacks, groups, 0) - 1):
        loop.call_at(loop.time() + step_s, _nothing)
    await finished


def replay(target: LoopCounts, premises: int, *, count: bool = False) -> tuple[float, LoopCounts]:
    """The CPU seconds a fresh virtual loop takes to go through ``target``'s counts doing no
    work, with the garbage collector tuned as for an estate of ``premises``; and the replay's
    own counts if ``count`` (then the CPU time includes the counting)."""

    async def run() -> tuple[float, LoopCounts]:
        loop = asyncio.get_running_loop()
        with contextlib.ExitStack() as stack:
            counts = stack.enter_context(counting(loop)) if count else LoopCounts()
            began = time.process_time()
            await _events(target)
            return time.process_time() - began, counts

    with collected_for_the_estate(premises):
        return run_virtual(run())


def main() -> int:
    """Replay the counts given as JSON (``LoopCounts`` fields, and ``premises``); print the
    floor's CPU seconds and the replay's own counts as JSON."""
    given = json.loads(sys.argv[1])
    target = LoopCounts(**{f.name: given[f.name] for f in dataclasses.fields(LoopCounts)})
    _, counts = replay(target, given["premises"], count=True)
    gc.collect()
    floor_s, _ = replay(target, given["premises"])
    print(json.dumps({"floor_cpu_s": floor_s, "replayed": dataclasses.asdict(counts)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
