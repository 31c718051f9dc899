"""Virtual time: BenchClock on loop time, run_virtual, loop factories, real I/O caveats."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import threading
import time

import pytest

from hanbench.clock import (
    LOOP_FACTORIES,
    _ExecutorFutures,
    BenchClock,
    is_virtual,
    real_event_loop,
    run_virtual,
    virtual_event_loop,
)
from hanbench.errors import BadInput

pytest_plugins = ["pytester"]

EPOCH = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_a_day_of_sleep_moves_the_clock_by_exactly_a_day() -> None:
    async def scenario() -> tuple[dt.datetime, dt.datetime]:
        clock = BenchClock(EPOCH)
        before = clock.now()
        await asyncio.sleep(24 * 3600)
        return before, clock.now()

    before, after = run_virtual(scenario())
    assert before == EPOCH
    assert after - before == dt.timedelta(hours=24)


def test_sleep_until_fires_at_the_requested_clock_time() -> None:
    target = dt.datetime(2030, 1, 15, 9, 0, tzinfo=dt.UTC)

    async def scenario() -> tuple[dt.datetime, float]:
        clock = BenchClock(EPOCH)
        await clock.sleep_until(target)
        return clock.now(), asyncio.get_running_loop().time()

    now, loop_time = run_virtual(scenario())
    assert now == target
    assert loop_time == (target - EPOCH).total_seconds()


def test_timers_due_on_the_microsecond_grid_fire_after_years_of_virtual_time() -> None:
    # With asyncio's default 1 ns clock resolution this loop spins forever once the loop
    # time passes ~2**23 s: time() + 1e-9 == time() in floats of that size.
    async def scenario() -> float:
        await asyncio.sleep(3 * 365 * 24 * 3600)
        for _ in range(10):
            await asyncio.sleep(1800)
        return asyncio.get_running_loop().time()

    assert run_virtual(scenario()) == 3 * 365 * 24 * 3600 + 10 * 1800


def test_sleep_until_a_past_time_returns_at_once() -> None:
    async def scenario() -> float:
        clock = BenchClock(EPOCH)
        await asyncio.sleep(10)
        start = asyncio.get_running_loop().time()
        await clock.sleep_until(EPOCH)
        return asyncio.get_running_loop().time() - start

    assert run_virtual(scenario()) == 0


def test_loop_time_at_maps_dates_to_loop_time_from_the_origin() -> None:
    clock = BenchClock(EPOCH, loop=asyncio.new_event_loop(), origin=100.0)
    try:
        assert clock.loop_time_at(EPOCH + dt.timedelta(minutes=30)) == 1900.0
        other_zone = dt.timezone(dt.timedelta(hours=1))
        assert clock.loop_time_at(dt.datetime(2024, 3, 1, 13, 0, tzinfo=other_zone)) == 100.0
    finally:
        clock.loop.close()


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(BadInput, match="time zone"):
        BenchClock(dt.datetime(2024, 1, 1), loop=asyncio.new_event_loop())
    clock = BenchClock(EPOCH, loop=asyncio.new_event_loop())
    try:
        with pytest.raises(BadInput, match="time zone"):
            clock.loop_time_at(dt.datetime(2030, 1, 1))
    finally:
        clock.loop.close()


def test_run_virtual_cancels_what_the_coroutine_left_running() -> None:
    cancelled = []

    async def forever() -> None:
        try:
            await asyncio.sleep(10**6)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> str:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)
        return "done"

    assert run_virtual(scenario()) == "done"
    assert cancelled == [True]


def test_real_time_mode_is_the_same_api_on_an_ordinary_loop() -> None:
    async def scenario() -> tuple[bool, dt.timedelta]:
        clock = BenchClock(EPOCH)
        await asyncio.sleep(0.02)
        return is_virtual(asyncio.get_running_loop()), clock.now() - EPOCH

    with asyncio.Runner(loop_factory=real_event_loop) as runner:
        virtual, elapsed = runner.run(scenario())
    assert not virtual
    assert elapsed >= dt.timedelta(seconds=0.02)


def _answer_after(sock: socket.socket, delay_s: float) -> threading.Thread:
    def answer() -> None:
        time.sleep(delay_s)
        # On the virtual loop the reader has long given up and closed its end.
        with contextlib.suppress(BrokenPipeError):
            sock.sendall(b"pong")

    thread = threading.Thread(target=answer)
    thread.start()
    return thread


async def _read_with_timeout(sock: socket.socket, timeout: float) -> bytes:
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        return await asyncio.wait_for(reader.read(4), timeout)
    finally:
        writer.close()


@pytest.mark.parametrize("loop_name", ["virtual", "real"])
def test_virtual_time_does_not_wait_for_real_io(loop_name: str) -> None:
    """A peer outside the loop gets no real time to answer: the timeout wins at once.

    This is why the hardware path (ptys, sockets, serial ports) runs on the real loop.
    """
    ours, theirs = socket.socketpair()
    thread = _answer_after(theirs, 0.2)
    try:
        with asyncio.Runner(loop_factory=LOOP_FACTORIES[loop_name]) as runner:
            if loop_name == "virtual":
                with pytest.raises(TimeoutError):
                    runner.run(_read_with_timeout(ours, 30.0))
            else:
                assert runner.run(_read_with_timeout(ours, 30.0)) == b"pong"
    finally:
        thread.join()
        theirs.close()
        ours.close()


def test_virtual_loop_factory_makes_virtual_loops() -> None:
    loop = virtual_event_loop()
    try:
        assert is_virtual(loop)
        assert loop.time() == 0.0
    finally:
        loop.close()


def test_the_virtual_loop_still_tracks_executor_work_in_the_set_it_scans_quickly() -> None:
    """looptime 0.9 keeps run_in_executor futures under this private name; the bench's loop
    replaces the WeakSet with one that is scanned as nothing while empty. A looptime that
    keeps them elsewhere fails here: review hanbench.clock.virtual_event_loop."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        futures = getattr(loop, "_LoopTimeEventLoop__sync_futures")
        assert isinstance(futures, _ExecutorFutures)
        assert list(futures) == []
        work = loop.run_in_executor(None, time.sleep, 0.01)
        assert list(futures) == [work]  # tracked: the clock steps in real time until it is done
        await work
        assert all(future.done() for future in futures)  # nothing left to step the clock for

    run_virtual(scenario())


CONFTEST = """
from hanbench.clock import LOOP_FACTORIES

def pytest_asyncio_loop_factories(config, item):
    return {"virtual": LOOP_FACTORIES["virtual"]}
"""

TEST_WITH_VIRTUAL_LOOP = """
import asyncio
import contextlib
import datetime as dt

import pytest
import pytest_asyncio

from hanbench.clock import BenchClock, is_virtual


@pytest_asyncio.fixture
async def clock():
    await asyncio.sleep(3600)  # fixtures run on the virtual loop too
    return BenchClock(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


@pytest.mark.asyncio
async def test_runs_on_a_virtual_loop(clock):
    loop = asyncio.get_running_loop()
    assert is_virtual(loop)
    assert loop.time() == 3600
    await asyncio.sleep(7 * 24 * 3600)
    assert clock.now() == dt.datetime(2024, 1, 8, tzinfo=dt.UTC)
"""


def test_pytest_asyncio_runs_tests_and_fixtures_on_the_virtual_loop(
    pytester: pytest.Pytester,
) -> None:
    """How a conftest (or the hanbench plugin) gives pytest-asyncio 1.5 the virtual loop."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST_WITH_VIRTUAL_LOOP)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


async def test_run_virtual_works_inside_a_running_loop_as_in_a_notebook() -> None:
    """A notebook cell already runs a loop; run_virtual must still give the bench virtual time."""

    async def a_day_later() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(24 * 3600)
        return loop.time() - start

    assert run_virtual(a_day_later()) == pytest.approx(24 * 3600)


def test_a_virtual_loop_jumps_to_the_next_timer_without_an_idle_iteration() -> None:
    """looptime spins idle iterations (selector polls) before each jump, 42 by default, and
    one even with none to count; an emu bench has no outside actor to wait for, and its
    updates make thousands of jumps. A looptime that no longer keeps its countdown where
    hanbench.clock starts it fails here."""
    loop = virtual_event_loop()
    selector = loop._selector  # type: ignore[attr-defined]
    polls = 0
    select = selector.select

    def counting(timeout: float | None = None) -> list[object]:
        nonlocal polls
        polls += 1
        return select(timeout)

    selector.select = counting
    try:
        async def hundred_jumps() -> float:
            for _ in range(100):
                await asyncio.sleep(60)
            return asyncio.get_running_loop().time()

        assert loop.run_until_complete(hundred_jumps()) == 6000
    finally:
        loop.close()
    # Two loop iterations a sleep: the one that jumps to the timer and runs it, the one that
    # resumes the task (three with looptime's own idle iteration, 44 with its default).
    assert polls <= 2 * 100 + 2


def test_a_virtual_loop_polls_the_outside_world_only_when_it_runs_out_of_work() -> None:
    """An iteration with callbacks ready cannot move the clock, so it makes no selector
    system call; the iteration that runs out of work polls before it jumps, so a socket
    that is ready is still read before any time passes."""
    loop = virtual_event_loop()
    polls = 0
    poll = getattr(loop, "_LoopTimeEventLoop__original_select")

    def counting(timeout: float | None = None) -> list[object]:
        nonlocal polls
        polls += 1
        return poll(timeout=timeout)

    setattr(loop, "_LoopTimeEventLoop__original_select", counting)
    ours, theirs = socket.socketpair()
    try:
        async def busy_then_read() -> tuple[int, bytes, float]:
            for _ in range(100):
                await asyncio.sleep(0)
            busy_polls = polls
            theirs.sendall(b"ping")
            reader, writer = await asyncio.open_connection(sock=ours)
            try:
                data = await asyncio.wait_for(reader.read(4), 30.0)
            finally:
                writer.close()
            return busy_polls, data, asyncio.get_running_loop().time()

        busy_polls, data, at = loop.run_until_complete(busy_then_read())
    finally:
        loop.close()
        theirs.close()
    assert busy_polls <= 2  # 100 iterations with work ready
    assert (data, at) == (b"ping", 0.0)  # read before the clock moved
