"""Whole updates on the honest air: bench time a lab would recognise, and the wall time it costs.

Each scenario opens an emu premises from ``bench/emu.toml`` (its users, keys and devices) with
``[air] airtime = true`` and pushes GBCS images through the DCC, the CH and the virtual air,
exactly as the conformance suite does; only the image size differs from the sample images:

``router``   SR 11.1 of a 241 KB image to the ESME (an awake, router-class device): the bench
             time from the request to the receipt alert, and the image bytes per bench second.
``gsme``     SR 11.1 of a 256 KiB image to the GSME (a sleepy end device polling its parent),
             then SR 11.3 on the receipt alert, to the activation.
``premises`` SR 11.1 of a 16 KiB image to the ESME and to the GSME at once (one shared
             channel), then SR 11.3 to each, to both activations.

For each it prints the bench time, the wall time, and their ratio (bench seconds per wall
second), and the process's CPU time over the same span (on a shared machine the wall time
also counts other processes' turns on the cores; the CPU time does not). Transfer rates are image bytes over the time from the CH's ``TransferStarted`` to its
``TransferFinished`` event, so they count image bytes only, not headers or retries.

Usage::

    .venv/bin/python benchmarks/air_model.py                 # all three
    .venv/bin/python benchmarks/air_model.py gsme premises   # a choice
    .venv/bin/python benchmarks/air_model.py --smoke         # 8 KiB images, for CI
    .venv/bin/python benchmarks/air_model.py --idle-cycles 42 gsme   # against looptime's idle spin

Exits 1 if an update does not end as it should (no receipt alert, not activated).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import looptime

from hanbench import Bench, BenchDevice, Outcome, UserAlert, open_bench
from hanbench import clock as bench_clock
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.events import ActivationFired, ActivationImmediate, TransferFinished, TransferStarted
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.emulated_firmware import build_emulated_image
from hanbench.gbcs.image_types import NEXT_FILE_VERSION, profile_for
from hanbench.gbcs.keystore import load_private_key

ROOT = Path(__file__).resolve().parents[1]
SUPPLIER_KEY = ROOT / "fixtures" / "rtds" / "keystore" / "90b3d51f30010000-ds.key"
KIB = 1024


@dataclasses.dataclass(frozen=True)
class Figures:
    scenario: str
    image_bytes: int
    bench_s: float
    wall_s: float
    detail: str
    cpu_s: float = 0.0

    def line(self) -> str:
        return (f"{self.scenario:<9} {self.image_bytes / KIB:7.1f} KiB  bench {self.bench_s:9.1f} s "
                f"({self.bench_s / 60:6.1f} min)  wall {self.wall_s:7.2f} s  "
                f"x{self.bench_s / self.wall_s:9.0f}  (CPU {self.cpu_s:5.2f} s)  {self.detail}")


def image_for(device_type: DeviceType, size: int) -> bytes:
    """A supplier-signed emulated-firmware image of ``size`` bytes for ``device_type`` at the next version."""
    profile = profile_for(device_type)
    key = load_private_key(SUPPLIER_KEY)
    body = (b"hanbench air model benchmark " * (size // 29 + 1))[:size]
    image = build_emulated_image(profile, NEXT_FILE_VERSION, body, sign_key=key, header_string="hanbench air model")
    # Trim the payload so the whole file is ``size`` bytes.
    overshoot = image.header.total_image_size - size
    if overshoot > 0:
        image = build_emulated_image(profile, NEXT_FILE_VERSION, body[:len(body) - overshoot], sign_key=key,
                                     header_string="hanbench air model")
    return image.to_bytes()


def honest_bench(folder: Path) -> BenchConfig:
    """bench/emu.toml (which runs on the honest air), its session database in ``folder``."""
    text = (ROOT / "bench" / "emu.toml").read_text("utf-8")
    text = text.replace('keystore = "../fixtures/keys"', f'keystore = "{ROOT / "fixtures" / "keys"}"')
    text = text.replace('images = "../firmware_images"', f'images = "{ROOT / "firmware_images"}"')
    text = text.replace('sessions = "../sessions"', f'sessions = "{folder}"')
    path = folder / "air-model.toml"
    path.write_text(text, "utf-8")
    config = load_bench(path)
    assert config.air is not None and config.air.airtime, "the bench file did not switch the honest air on"
    return config


def transfer_rate(bench: Bench, device_id: object, since: int) -> str:
    """Image bytes per bench second of the CH's last transfer to ``device_id`` since event ``since``."""
    history = [e for e in bench.events.history if e.seq > since and getattr(e, "device", None) == device_id]
    started = [e for e in history if isinstance(e, TransferStarted)]
    finished = [e for e in history if isinstance(e, TransferFinished)]
    if not started or not finished:
        return "no transfer seen"
    seconds = (finished[-1].at - started[-1].at).total_seconds()
    return f"{finished[-1].bytes_sent / seconds:6.1f} B/s over {seconds / 60:.1f} min of transfer"


async def distribute(bench: Bench, device: BenchDevice, size: int) -> UserAlert:
    """SR 11.1 of a ``size``-byte image to ``device`` by its supplier; the receipt alert."""
    supplier = bench.supplier_of(device)
    mark = bench.events.last_seq
    result = await supplier.update_firmware(image_for(device.type, size), [device])
    assert result.target(device.id).outcome is Outcome.DISTRIBUTED, result
    alert = await supplier.wait_alert(0x8F72, device=device, timeout=12 * 3600)
    # The device may raise its receipt alert before its Upgrade End reaches the CH.
    await bench.events.wait_for(lambda e: isinstance(e, TransferFinished) and e.device == device.id, 60, since=mark)
    return alert


async def activate(bench: Bench, device: BenchDevice, alert: UserAlert) -> None:
    """SR 11.3 with the hash the receipt alert reported."""
    outcome = await bench.supplier_of(device).activate_firmware(device, alert.calculated_hash)
    assert outcome.outcome is Outcome.ACTIVATED, outcome


async def router(bench: Bench, size: int) -> Figures:
    esme = bench.device("esme")
    start, mark = bench.now(), bench.events.last_seq
    await distribute(bench, esme, size)
    bench_s = (bench.now() - start).total_seconds()
    return Figures("router", size, bench_s, 0.0, f"ESME: {transfer_rate(bench, esme.id, mark)}")


async def gsme(bench: Bench, size: int) -> Figures:
    device = bench.device("gsme")
    start, mark = bench.now(), bench.events.last_seq
    alert = await distribute(bench, device, size)
    received = bench.now()
    await activate(bench, device, alert)
    bench_s = (bench.now() - start).total_seconds()
    return Figures("gsme", size, bench_s, 0.0, f"receipt after {(received - start).total_seconds():.0f} s; "
                   f"GSME: {transfer_rate(bench, device.id, mark)}")


async def premises(bench: Bench, size: int) -> Figures:
    esme, gsme_ = bench.device("esme"), bench.device("gsme")
    start, mark = bench.now(), bench.events.last_seq

    async def through(device: BenchDevice) -> None:
        await activate(bench, device, await distribute(bench, device, size))

    await asyncio.gather(through(esme), through(gsme_))
    fired = [e for e in bench.events.history
             if e.seq > mark and isinstance(e, ActivationFired | ActivationImmediate)]
    bench_s = (bench.now() - start).total_seconds()
    return Figures("premises", 2 * size, bench_s, 0.0,
                   f"{len(fired)} activations; ESME: {transfer_rate(bench, esme.id, mark)}; "
                   f"GSME: {transfer_rate(bench, gsme_.id, mark)}")


SCENARIOS: dict[str, tuple[Callable[[Bench, int], object], int, int]] = {
    # name: (scenario, image bytes, image bytes with --smoke)
    "router": (router, 241_000, 8 * KIB),
    "gsme": (gsme, 256 * KIB, 8 * KIB),
    "premises": (premises, 16 * KIB, 8 * KIB),
}


def run(name: str, smoke: bool, idle_cycles: int | None = None) -> Figures:
    """One scenario on the bench's virtual loop, or on a looptime loop that spins
    ``idle_cycles`` idle iterations before each time jump."""
    scenario, size, smoke_size = SCENARIOS[name]
    size = smoke_size if smoke else size

    async def main(config: BenchConfig) -> Figures:
        async with open_bench(config) as bench:
            wall, cpu = time.perf_counter(), time.process_time()
            figures = await scenario(bench, size)  # type: ignore[misc]
            return dataclasses.replace(figures, wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)

    with tempfile.TemporaryDirectory(prefix="hanbench-air-") as folder:
        config = honest_bench(Path(folder))
        if idle_cycles is None:
            return bench_clock.run_virtual(main(config))
        loop = looptime.new_event_loop(start=0.0, noop_cycles=idle_cycles)
        loop._clock_resolution = bench_clock.VIRTUAL_CLOCK_RESOLUTION_S  # as virtual_event_loop does
        try:
            return loop.run_until_complete(main(config))
        finally:
            loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--smoke", action="store_true", help="8 KiB images (seconds of wall time)")
    parser.add_argument("--idle-cycles", type=int, default=None, metavar="N",
                        help="also run each scenario on a looptime loop spinning N idle iterations before "
                             "each time jump (looptime's default is 42), and print the wall-time ratio")
    args = parser.parse_args()
    failed = False
    for name in args.scenarios or list(SCENARIOS):
        try:
            ours = run(name, args.smoke)
            print(ours.line(), flush=True)
            if args.idle_cycles is not None:
                spun = run(name, args.smoke, args.idle_cycles)
                assert spun.bench_s == ours.bench_s, "the idle spins changed the bench time"
                print(f"{'':<9} with {args.idle_cycles} idle cycles a jump: wall {spun.wall_s:7.2f} s, "
                      f"{spun.wall_s / ours.wall_s:.2f}x the bench's loop", flush=True)
        except AssertionError as exc:
            print(f"{name:<9} FAILED: {exc}", flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
