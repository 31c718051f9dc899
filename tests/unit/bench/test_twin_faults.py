"""What a twin bench does when its hardware fails under it: a pulled or hung stick, a vanished board.

Each is an infrastructure fault on the event stream, never something a device did, and the
bench carries on once the part is back. Real time: waits are bounded by what the bench file
documents, never asserted as durations.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hanbench.bench.bench import Bench, open_bench
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.events import (
    ActivationRefused,
    BenchAborted,
    BlockProgress,
    Event,
    InfrastructureFaultRaised,
    InfrastructureLost,
    InfrastructureRestored,
    TransferFinished,
)
from hanbench.bench.kinds.stick_watch import StickLost
from hanbench.bench.kinds.twin import TwinPremises
from hanbench.bench.record import SessionOutcome, SessionRecord
from hanbench.gbcs.alerts import TransferResult

ROOT = Path(__file__).resolve().parents[3]
NEW = 2
#: Long enough for an emulated device to re-request a block that went unanswered (5 s) and finish.
RESUME_S = 30.0
#: Far longer than pytest's timeout: a wait this long must end because the bench gave up, not by itself.
FOREVER_S = 3600.0


def twin_config(tmp_path: Path) -> BenchConfig:
    return dataclasses.replace(load_bench(ROOT / "bench" / "twin.toml"), sessions=tmp_path / "sessions")


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    async with open_bench(twin_config(tmp_path)) as opened:
        yield opened


def twin_of(bench: Bench) -> TwinPremises:
    premises = bench._premises  # the twin's fault controls are test equipment, not scripting API
    assert isinstance(premises, TwinPremises)
    return premises


def about(component: str, kind: type[Event]) -> object:
    return lambda e: isinstance(e, kind) and e.component == component  # type: ignore[attr-defined]


async def test_a_stick_pulled_mid_transfer_is_a_fault_and_the_transfer_resumes_where_it_was(bench: Bench) -> None:
    esme, stick = bench.device("esme"), twin_of(bench).stick
    mark = bench.events.last_seq
    await bench.supplier.update_firmware(bench.image(esme, NEW), [esme])
    before = await bench.events.wait_for(lambda e: isinstance(e, BlockProgress) and e.offset >= 1000, 10)

    stick.close_port()
    fault = await bench.events.wait_for(about("stick", InfrastructureFaultRaised), 5, since=mark)
    assert "connection to the stick was lost" in fault.message  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)  # the stick stays out for a moment
    await stick.reopen_port()
    await bench.events.wait_for(about("stick", InfrastructureRestored), 10, since=mark)

    receipt = await bench.supplier.wait_alert(0x8F72, device=esme, timeout=RESUME_S)
    assert esme.state.held_version == NEW and esme.state.held_hash == receipt.calculated_hash
    seen = [e for e in bench.events.history if e.seq > mark]
    after = [e.offset for e in seen if isinstance(e, BlockProgress) and e.seq > fault.seq]
    assert after and min(after) >= before.offset, "the device carried on from its offset, not from 0"  # type: ignore[attr-defined]
    finished = [e for e in seen if isinstance(e, TransferFinished)]
    assert [e.result for e in finished] == [TransferResult.SUCCESS], "one transfer, never reported failed"
    assert not any(isinstance(e, ActivationRefused) for e in seen)


async def test_a_hung_stick_is_found_by_the_liveness_probe_and_the_bench_recovers(bench: Bench) -> None:
    esme, stick = bench.device("esme"), twin_of(bench).stick
    radio = bench.config.radio
    assert radio is not None
    mark = bench.events.last_seq
    stick.freeze()
    # The documented bound is probe_interval_s + probe_timeout_s; the slack is for a loaded machine.
    fault = await bench.events.wait_for(about("stick", InfrastructureFaultRaised),
                                        2 * (radio.probe_interval_s + radio.probe_timeout_s) + 2, since=mark)
    assert "did not answer a liveness probe" in fault.message  # type: ignore[attr-defined]
    stick.thaw()
    await bench.events.wait_for(about("stick", InfrastructureRestored), 20, since=mark)
    await bench.supplier.update_firmware(bench.image(esme, NEW), [esme])
    await bench.supplier.wait_alert(0x8F72, device=esme)
    assert esme.state.held_version == NEW


async def test_a_board_port_that_vanishes_for_a_while_is_waited_for(bench: Bench) -> None:
    esme, board = bench.device("esme"), twin_of(bench).boards["esme"]
    mark = bench.events.last_seq
    away = asyncio.create_task(board.vanish(3.0))
    await bench.supplier.update_firmware(bench.image(esme, NEW), [esme])
    receipt = await bench.supplier.wait_alert(0x8F72, device=esme, timeout=RESUME_S)
    await away
    assert esme.state.held_version == NEW and esme.state.held_hash == receipt.calculated_hash
    await bench.events.wait_for(about("board esme", InfrastructureFaultRaised), 0, since=mark)
    await bench.events.wait_for(about("board esme", InfrastructureRestored), 0, since=mark)


def recorded_failure(config: BenchConfig) -> tuple[SessionOutcome, str | None]:
    with SessionRecord(config.database_path) as record:
        [session] = record.list_sessions()
        return session.outcome, session.failure


async def test_a_stick_that_never_comes_back_ends_every_wait_and_aborts_the_session(tmp_path: Path) -> None:
    config = twin_config(tmp_path)
    assert config.radio is not None
    with pytest.raises(BenchAborted) as caught:
        async with open_bench(config) as bench:
            esme, stick = bench.device("esme"), twin_of(bench).stick
            port = stick.port
            transfer = asyncio.create_task(bench.events.wait_for(TransferFinished, FOREVER_S))
            stick.close_port()  # and never reopened
            try:
                await bench.supplier.wait_alert(0x8F72, device=esme, timeout=FOREVER_S)
            finally:
                with pytest.raises(BenchAborted):
                    await transfer
    message = str(caught.value)
    assert f'path = "{port}"' in message, message
    assert f"within {config.radio.reconnect_timeout_s:g} s" in message and "last error:" in message
    outcome, failure = recorded_failure(config)
    assert outcome is SessionOutcome.ABORTED and failure is not None and message in failure


async def test_a_session_that_outlived_its_stick_is_aborted_even_if_nothing_waited(tmp_path: Path) -> None:
    config = twin_config(tmp_path)
    with pytest.raises(StickLost, match="did not come back within"):
        async with open_bench(config) as bench:
            mark = bench.events.last_seq
            twin_of(bench).stick.close_port()
            await bench.events.wait_for(InfrastructureLost, FOREVER_S, since=mark)
    outcome, failure = recorded_failure(config)
    assert outcome is SessionOutcome.ABORTED and failure is not None and "StickLost" in failure
