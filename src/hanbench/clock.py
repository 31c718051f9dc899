"""One clock for the whole bench: the asyncio event loop.

Protocol decisions (a device's clock, a future-dated activation, a queue expiry) read the
date and time from :class:`BenchClock`, which derives it from ``loop.time()``. Nothing asks
the operating system for the date. That single rule lets emulation run on a *virtual* loop
that fast-forwards: when every task is waiting on a timer, the loop jumps straight to the
next timer, so a 30-minute GSME wake cycle or an activation dated 2030 costs milliseconds.
Hardware benches run the same code on an ordinary loop, in real time.

Virtual time comes from ``looptime`` (:func:`virtual_event_loop`). What it does with the
outside world, read from ``looptime/_internal/loops.py`` (0.9) and checked in
``tests/unit/radio/test_clock.py``:

* Each loop iteration first polls the selector with timeout 0; ready I/O is processed at
  once, without moving the clock.
* When nothing is ready and a timer is pending, it spins ``noop_cycles`` idle iterations
  (looptime's default is 42) and then *jumps* to the timer. It does not wait for a pty,
  socket or thread to answer. So any ``asyncio.wait_for(read(), timeout)`` on real I/O times
  out at once, in loop time, before the peer had any real time to reply. bellows' ASH and
  EZSP timeouts would fire the same way. The idle spins are there for such outside actors
  (a thread's ``call_soon_threadsafe`` lands within them); an emu bench has none, and every
  spin is a selector poll: with 42, a whole update on the honest air spent more than half its
  wall time spinning. :func:`virtual_event_loop` sets :data:`IDLE_CYCLES_PER_JUMP` = 0.
  looptime then still passes one idle iteration before each jump: the iteration that finds
  nothing ready starts its countdown of idle cycles (its private ``__noop_limit`` and
  ``__noop_cycle``, None until then), and only the next one jumps. With no cycles to count,
  that iteration runs nothing and only polls the selector once more, yet a GSME update on
  the honest air makes eight jumps a block and spent a third of its loop iterations there.
  The bench's loop starts the (empty) countdown itself when an iteration finds nothing ready,
  so the same iteration jumps (:func:`_jump_when_idle`); the jumps, their times and the
  selector poll before each are looptime's. An iteration with callbacks ready does not poll
  the selector at all: the clock cannot move in it, and the next idle iteration polls.
* Work sent to ``loop.run_in_executor`` is tracked: while such a future is pending the clock
  advances in real-time steps. Threads started otherwise (bellows' serial thread, which
  talks back with ``call_soon_threadsafe``) are not tracked. looptime keeps those futures
  in a ``WeakSet`` (its private ``__sync_futures``) and scans it on every loop iteration;
  iterating a ``WeakSet``, even an empty one, enters and leaves its iteration guard, which
  cost a twelfth of the wall time of a whole update on the honest air. The bench's loop
  gets a :class:`_ExecutorFutures` instead, the same set scanned as nothing when empty.
* With no timer and no I/O at all it blocks in the selector (real time) until I/O arrives.

Hence: virtual time is only for benches whose every actor lives in the loop (the virtual
air, emulated devices, the zigpy coordinator on :class:`~hanbench.radio.virtual_app.VirtualRadioApp`).
Anything with a pty, a socket or a serial port (the EZSP twin, real sticks, dev boards)
runs on :func:`real_event_loop`. The API is identical.

pytest: pytest-asyncio 1.5 builds each test's loop from the ``pytest_asyncio_loop_factories``
hook (firstresult; it returns ``{name: factory}`` for an item, and the item is parametrised
over the factories, or over the subset named in ``@pytest.mark.asyncio(loop_factories=[...])``).
Return :data:`LOOP_FACTORIES` (or part of it) from that hook in a conftest or plugin, and
async tests and their async fixtures run on a virtual loop from the start. looptime's own
pytest plugin leaves such a loop alone (it only patches pytest-asyncio's default loops, and
only activates them for ``@pytest.mark.looptime`` tests, and only for the test body).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import weakref
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import looptime

from hanbench.errors import BadInput

_T = TypeVar("_T")


#: looptime keeps its clock in integer microseconds.
VIRTUAL_CLOCK_RESOLUTION_S = 1e-6
#: Idle loop iterations before a time jump (see the module docstring).
IDLE_CYCLES_PER_JUMP = 0


def virtual_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop whose clock starts at 0.0 and jumps over idle waits, at once.

    The loop's ``_clock_resolution`` is raised from the monotonic clock's 1 ns to
    looptime's 1 us. asyncio runs a timer when ``when < time() + _clock_resolution``; once
    the loop time passes about 2**23 s (97 days) a 1 ns margin is below the float's
    precision, ``time() + 1e-9 == time()``, and a timer due exactly now never runs (the
    loop spins with a zero timeout forever). A 1 us margin holds up to 2**33 s.
    """
    loop = looptime.new_event_loop(start=0.0, noop_cycles=IDLE_CYCLES_PER_JUMP)
    loop._clock_resolution = VIRTUAL_CLOCK_RESOLUTION_S
    if isinstance(getattr(loop, _EXECUTOR_FUTURES, None), weakref.WeakSet):
        setattr(loop, _EXECUTOR_FUTURES, _ExecutorFutures())
    _jump_when_idle(loop)
    return loop


#: looptime 0.9's idle-cycle countdown (name-mangled privates; see the module docstring).
_NOOP_CYCLES, _NOOP_LIMIT, _NOOP_CYCLE = (f"_LoopTimeEventLoop__noop_{name}" for name in ("cycles", "limit", "cycle"))


#: What an iteration with callbacks ready finds from the outside world: not asked (see
#: :func:`_jump_when_idle`). Empty, and never filled: asyncio only iterates over it.
_NOTHING_READY: list[Any] = []


def _jump_when_idle(loop: asyncio.AbstractEventLoop) -> None:
    """Make an idle iteration of ``loop`` jump to its next timer at once, rather than the
    iteration after (only with no idle cycles to count, and only if looptime keeps its
    countdown where 0.9 does: otherwise the loop is left as it is, and ``test_clock`` fails).

    An iteration with callbacks ready does not poll the selector at all: asyncio asks for a
    zero-timeout poll, and looptime makes a system call for it, on every iteration; an emu
    bench has nothing outside the loop to poll, and ran half its iterations with work ready.
    The clock does not move in such an iteration, and the next iteration with nothing ready
    polls before it jumps, so I/O (a socket, a thread's ``call_soon_threadsafe``) is still
    seen before any time passes, only after the work already queued at that instant."""
    if getattr(loop, _NOOP_CYCLES, None) != 0 or not hasattr(loop, _NOOP_LIMIT) or not hasattr(loop, _NOOP_CYCLE):
        return
    selector = loop._selector  # type: ignore[attr-defined]
    select = selector.select  # looptime's, which moves the clock

    def select_or_jump(timeout: float | None = None) -> Any:
        # A zero timeout: callbacks are ready, so the clock cannot move in this iteration;
        # the outside world is polled when the loop next runs out of work, before any jump.
        if timeout == 0:
            return _NOTHING_READY
        # A positive timeout: nothing is ready and a timer is pending, the case in which
        # looptime would start its countdown now and jump on the next iteration.
        if timeout and getattr(loop, _NOOP_LIMIT) is None:
            setattr(loop, _NOOP_LIMIT, 0)
            setattr(loop, _NOOP_CYCLE, 0)
        return select(timeout)

    selector.select = select_or_jump


#: Where looptime 0.9 keeps its ``run_in_executor`` futures (a name-mangled private: a looptime
#: that keeps them elsewhere leaves the loop as it is, and ``test_clock`` fails).
_EXECUTOR_FUTURES = "_LoopTimeEventLoop__sync_futures"


class _ExecutorFutures(weakref.WeakSet):  # type: ignore[type-arg]
    """looptime's set of ``run_in_executor`` futures, iterated as nothing while it is empty
    (see the module docstring): a ``WeakSet`` iteration guards itself against removals,
    and an empty set has nothing to guard."""

    def __iter__(self) -> Iterator[Any]:
        return super().__iter__() if self.data else iter(())


def real_event_loop() -> asyncio.AbstractEventLoop:
    """A new ordinary event loop, for benches with real I/O (ptys, sockets, radios)."""
    return asyncio.new_event_loop()


#: Named loop factories, in the shape pytest-asyncio's ``pytest_asyncio_loop_factories``
#: hook returns.
LOOP_FACTORIES: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "virtual": virtual_event_loop,
    "real": real_event_loop,
}


def is_virtual(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` fast-forwards its clock."""
    return isinstance(loop, looptime.LoopTimeEventLoop) and loop.looptime_on


def run_virtual(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion on a fresh virtual-time loop, from synchronous code.

    Tasks still pending when ``coro`` returns are cancelled and the loop is closed, as
    :class:`asyncio.Runner` does. Called where a loop is already running in this thread (a
    Jupyter notebook cell), the virtual loop runs in a worker thread and this call blocks
    until it is done: the notebook's own loop keeps real time, the bench keeps virtual time.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_on_virtual_loop(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hanbench-virtual") as pool:
        return pool.submit(_run_on_virtual_loop, coro).result()


def _run_on_virtual_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    with asyncio.Runner(loop_factory=virtual_event_loop) as runner:
        return runner.run(coro)


class BenchClock:
    """Wall date-time (UTC) derived from the event loop's clock.

    The clock reads ``epoch`` at the loop time it is created (or at ``origin`` if given) and
    advances exactly as ``loop.time()`` does, virtual or real. Devices, the hub and the DCC
    each take the bench's clock rather than asking the operating system, so a test can set
    "now" to any date and jump to any future one.
    """

    def __init__(
        self,
        epoch: dt.datetime,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        origin: float | None = None,
    ) -> None:
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            raise BadInput(f"the bench clock epoch must carry a time zone, got {epoch!r}")
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self.epoch = epoch.astimezone(dt.UTC)
        self.origin = self._loop.time() if origin is None else origin

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop whose time this clock reads."""
        return self._loop

    def now(self) -> dt.datetime:
        """The current date-time, in UTC."""
        return self.at(self._loop.time())

    def at(self, loop_time: float) -> dt.datetime:
        """The date-time this clock reads (or read) at ``loop_time``: stamps recorded in loop
        time, such as frames on the virtual air, become bench-clock dates."""
        return self.epoch + dt.timedelta(seconds=loop_time - self.origin)

    def loop_time_at(self, when: dt.datetime) -> float:
        """The loop time at which this clock will read ``when``."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise BadInput(f"a bench date-time must carry a time zone, got {when!r}")
        return self.origin + (when - self.epoch).total_seconds()

    async def sleep_until(self, when: dt.datetime) -> None:
        """Return when the clock reads ``when``; at once if that is already past."""
        delay = self.loop_time_at(when) - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
