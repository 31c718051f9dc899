"""Unmodified bellows against the EZSP twin, over a pty and over socket://, in real time.

Durations are printed (run with -s to see them), never asserted.

bellows runs with the bench's stick config (`use_thread` off): with bellows' serial thread,
a vanished port stops that thread's loop before the application hears of the loss, and the
`disconnect` that `app.shutdown()` then submits to it may never run (bellows issue #745).
The shutdowns after a loss are bounded here so that this race, if it came back, fails the
test at once instead of hanging it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import threading
import time

from bellows.ash import NcpFailure
import bellows.ash
from bellows.zigbee.application import ControllerApplication
import bellows.types as bt
import pytest

from hanbench.twin.ezsp_twin import EzspTwin, Transport, bellows_app_config

TRANSPORTS: list[Transport] = ["pty", "socket"]
# Closing an app whose link already failed sends nothing and waits on nothing remote
SHUTDOWN_AFTER_LOSS_S = 5
# asyncio's default executor names its workers so (BaseEventLoop.run_in_executor)
LOOP_EXECUTOR_PREFIX = "asyncio_"


class ConnectionWatcher:
    """A zigpy application listener that records `connection_lost`."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()
        self.exc: BaseException | None = None
        self.at = 0.0

    def connection_lost(self, exc: BaseException | None) -> None:
        self.exc, self.at = exc, time.monotonic()
        self.lost.set()


async def start_app(twin: EzspTwin) -> tuple[ControllerApplication, float]:
    started = time.monotonic()
    app = await ControllerApplication.new(bellows_app_config(twin.port), auto_form=True)
    return app, time.monotonic() - started


def background_tasks() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def threads_left(before: set[threading.Thread], settle: float = 2.0) -> set[str]:
    """Threads started since `before` that are still alive after `settle` seconds.

    The event loop's default executor workers (`asyncio_N`, used by serialx to open the
    port) belong to the loop, which joins them when it closes; any other thread, such as
    bellows' serial thread or aiosqlite's, would outlive the application.
    """
    deadline = time.monotonic() + settle
    while True:
        extra = {th.name for th in threading.enumerate()
                 if th not in before and not th.name.startswith(LOOP_EXECUTOR_PREFIX)}
        if not extra or time.monotonic() > deadline:
            return extra
        await asyncio.sleep(0.01)


@pytest.fixture(params=TRANSPORTS)
async def twin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EzspTwin]:
    """A factory-new twin."""
    async with EzspTwin(state_dir=tmp_path, transport=request.param) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
async def formed_twin(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EzspTwin]:
    """A twin whose NVRAM already holds a network.

    It is formed over a pty: forming over socket:// costs two of bellows' 2 s waits
    for an unsolicited RSTACK (one per reset during formation), which only the
    formation test needs to pay.
    """
    async with EzspTwin(state_dir=tmp_path) as forming:
        app, _ = await start_app(forming)
        await app.shutdown()
    async with EzspTwin(state_dir=tmp_path, transport=request.param) as running:
        yield running


async def test_bellows_forms_then_resumes_the_network(twin: EzspTwin) -> None:
    threads_before = set(threading.enumerate())
    app, formed_in = await start_app(twin)
    network = app.state.network_info
    assert app.state.node_info.nwk == 0x0000
    assert str(app.state.node_info.ieee) == twin.store.nvram.effective_eui64
    assert app.state.node_info.manufacturer == "hanbench"
    assert network.channel == 15
    assert network.network_key.key.serialize().hex() == twin.store.nvram.network_key
    await app.shutdown()

    # A second start finds the network in the NCP's NVRAM and does not form again
    app, resumed_in = await start_app(twin)
    assert app.state.network_info.pan_id == network.pan_id
    assert app.state.network_info.extended_pan_id == network.extended_pan_id
    assert twin.ncp.link.commands_seen["formNetwork"] == 1
    await app.shutdown()

    assert await threads_left(threads_before) == set()
    assert background_tasks() == set()
    assert twin.link_stats.retransmissions == 0
    print(f"\n{twin.port}: form+start {formed_in:.3f} s, resume {resumed_in:.3f} s")


async def test_network_survives_a_twin_restart(tmp_path: Path) -> None:
    async with EzspTwin(state_dir=tmp_path) as first:
        app, _ = await start_app(first)
        pan_id = app.state.network_info.pan_id
        ieee = app.state.node_info.ieee
        await app.shutdown()

    async with EzspTwin(state_dir=tmp_path) as second:
        app, _ = await start_app(second)
        assert app.state.network_info.pan_id == pan_id
        assert app.state.node_info.ieee == ieee
        assert "formNetwork" not in second.ncp.link.commands_seen
        await app.shutdown()


async def test_port_closing_mid_session_is_a_connection_loss(formed_twin: EzspTwin) -> None:
    app, _ = await start_app(formed_twin)
    pan_id = app.state.network_info.pan_id
    watcher = ConnectionWatcher()
    app.add_listener(watcher)
    pulled = time.monotonic()
    formed_twin.close_port()
    async with asyncio.timeout(5):
        await watcher.lost.wait()
    # A pty reports the vanished device as EIO; a TCP bridge closes cleanly (no error)
    if formed_twin.port.startswith("socket://"):
        assert watcher.exc is None
    else:
        assert isinstance(watcher.exc, OSError)
    async with asyncio.timeout(SHUTDOWN_AFTER_LOSS_S):
        await app.shutdown()
    print(f"\n{formed_twin.port}: connection loss seen after {watcher.at - pulled:.3f} s: {watcher.exc!r}")

    # The stick comes back on the same path and a new session starts on the same network
    await formed_twin.reopen_port()
    app, _ = await start_app(formed_twin)
    assert app.state.network_info.pan_id == pan_id
    assert "formNetwork" not in formed_twin.ncp.link.commands_seen
    await app.shutdown()


async def test_spontaneous_ncp_reset_is_reported(formed_twin: EzspTwin) -> None:
    app, _ = await start_app(formed_twin)
    watcher = ConnectionWatcher()
    app.add_listener(watcher)
    formed_twin.reset(bt.NcpResetCode.RESET_WATCHDOG)
    async with asyncio.timeout(5):
        await watcher.lost.wait()
    assert watcher.exc == NcpFailure(code=bt.NcpResetCode.RESET_WATCHDOG)
    async with asyncio.timeout(SHUTDOWN_AFTER_LOSS_S):
        await app.shutdown()


async def test_frozen_ncp_is_detected(formed_twin: EzspTwin, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hung chip stops ACKing; bellows gives up after ACK_TIMEOUTS attempts.

    bellows' default of 5 attempts takes about 9 s (see benchmarks/twin_faults.py); two
    keep this test short while exercising the same path.
    """
    monkeypatch.setattr(bellows.ash, "ACK_TIMEOUTS", 2)
    app, _ = await start_app(formed_twin)
    watcher = ConnectionWatcher()
    app.add_listener(watcher)
    frozen = time.monotonic()
    formed_twin.freeze()
    with pytest.raises((NcpFailure, TimeoutError)):
        await app._ezsp.nop()
    async with asyncio.timeout(5):
        await watcher.lost.wait()
    assert watcher.exc == NcpFailure(code=bt.NcpResetCode.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
    async with asyncio.timeout(SHUTDOWN_AFTER_LOSS_S):
        await app.shutdown()
    print(f"\n{formed_twin.port}: frozen NCP detected after {watcher.at - frozen:.3f} s (2 attempts)")


async def test_watchdog_commands_answer_with_counters(formed_twin: EzspTwin) -> None:
    app, _ = await start_app(formed_twin)
    await app._watchdog_feed()
    counters = app.state.counters["ezsp_counters"]
    assert counters["EZSP_FREE_BUFFERS"].value > 0
    # The startup broadcasts bellows sent were counted by the NCP
    assert counters["APS_DATA_TX_BROADCAST"].value >= 1
    await app._ezsp.nop()
    await app.shutdown()
