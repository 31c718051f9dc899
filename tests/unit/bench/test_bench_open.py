"""open_bench: a premises assembled from the bench file, shut down with nothing left running,
and a session record that says how the session ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fixture_files import bench_copy
from hanbench import BenchConfigError, VirtualTimeRequired, open_bench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.lock import BenchBusy
from hanbench.bench.kinds.emu import EmulatedFirmwareFault
from hanbench.bench.record import SessionOutcome, SessionRecord
from hanbench.clock import real_event_loop
from hanbench.errors import BadInput

pytestmark = pytest.mark.looptime

ROOT = Path(__file__).resolve().parents[3]


def emu_copy(folder: Path, *, name: str = "unit") -> Path:
    """bench/emu.toml in ``folder`` as a bench of its own called ``name``."""
    return bench_copy(folder, replace={'name = "emu"': f'name = "{name}"'}, file_name="bench.toml")


def sessions(path: Path) -> list:
    with SessionRecord(load_bench(path).database_path) as record:
        return record.list_sessions()


async def test_open_and_close_leaves_no_task_and_records_a_passed_session(tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)
    async with open_bench(bench_file) as bench:
        assert [d.name for d in bench.devices] == ["esme", "gsme", "ppmid", "hcalcs", "ihd"]
        assert bench.device("esme").state.running_version == 1
        assert bench.supplier.name == "GITTESTSUPPLIER"
        await bench.advance(3600)  # a GSME wake cycle runs meanwhile
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()
    [info] = sessions(bench_file)
    assert info.outcome is SessionOutcome.PASSED
    assert (info.ended_at - info.started_at).total_seconds() >= 3600


@pytest.mark.parametrize(("error", "outcome"), [(AssertionError("check"), SessionOutcome.FAILED),
                                                (KeyError("bug"), SessionOutcome.ABORTED)])
async def test_an_exception_in_the_block_fails_or_aborts_the_session(tmp_path: Path, error: Exception,
                                                                     outcome: SessionOutcome) -> None:
    bench_file = emu_copy(tmp_path)
    with pytest.raises(type(error)):
        async with open_bench(bench_file):
            raise error
    [info] = sessions(bench_file)
    assert info.outcome is outcome
    assert type(error).__name__ in (info.failure or "")


async def test_a_second_session_reconciles_the_inventory_and_keeps_counting(tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)

    async def update() -> int:
        async with open_bench(bench_file) as bench:
            esme = bench.device("esme")
            result = await bench.supplier.update_firmware(bench.image(esme, 2), [esme])
            alert = await bench.supplier.wait_alert(0x8F72, device=esme)
            await bench.supplier.activate_firmware(esme, alert.calculated_hash)
            assert bench.dcc.inventory.device(esme.id).firmware_version == 2
            return result.request_id

    first = await update()
    second = await update()
    assert second > first  # the SR log outlives the session; the device started again at version 1


async def test_a_bad_bench_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[bench]\nname = 'x'\nkind = 'emu'\npolicy = 'nonsense'\n")
    with pytest.raises(BenchConfigError, match=r"bad.toml:4: bench.policy"):
        async with open_bench(bad):
            pass
    assert not (tmp_path / "sessions").exists()


def test_an_emu_bench_refuses_an_ordinary_loop(tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)

    async def session() -> None:
        async with open_bench(bench_file):
            pass

    with asyncio.Runner(loop_factory=real_event_loop) as runner, \
            pytest.raises(VirtualTimeRequired, match="run_virtual"):
        runner.run(session())


async def test_a_busy_bench_is_refused_and_the_emulator_wakes_only_a_gsme(tmp_path: Path) -> None:
    bench_file = emu_copy(tmp_path)
    async with open_bench(bench_file) as bench:
        with pytest.raises(BenchBusy, match="in use by pid"):
            async with open_bench(bench_file):
                pass
        gsme = bench.device("gsme")
        await bench.emulator.wake(gsme.config)
        with pytest.raises(BadInput, match="never sleeps"):
            await bench.emulator.wake(bench.device("esme").config)


async def test_a_bug_in_emulated_firmware_fails_the_session_instead_of_passing_as_a_refusal(tmp_path: Path) -> None:
    """On the air a raising handler answers FAILURE, like real firmware; the bench must still
    fail loudly, or a test expecting a refusal could pass on an emulator bug."""
    bench_file = emu_copy(tmp_path)

    async def broken(*args: object) -> None:
        raise ZeroDivisionError("emulated firmware bug")

    with pytest.raises(EmulatedFirmwareFault, match="esme: ZeroDivisionError"):
        async with open_bench(bench_file) as bench:
            esme = bench.device("esme")
            node = esme._device.device.node  # the emulated ESME's Zigbee stack
            node.handle_cluster_command = broken  # type: ignore[method-assign]
            await bench.supplier.update_firmware(bench.image(esme, 2), [esme])  # the CH's Image Notify
            await bench.advance(60)
