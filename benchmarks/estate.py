"""An estate updating at once: 10, 100 and 1,000 premises on one loop, wall time, bench time and memory.

Each size is an estate of ``dual_fuel`` premises (a CH, an ESME and a GSME each, one
supplier), drawn from ``bench/estate.toml`` with the honest air on (``[air] airtime``: every
premises its own channel, CSMA-CA, ACKs). Every device runs version 1. The supplier sends
SR 11.1 of a 16 KiB image to every ESME and every GSME (one SR per ``--batch`` devices, at
most ``--concurrency`` requests in flight), then its automation (``PacedUser.automate``)
activates each device with SR 11.3 when its receipt alert arrives: every transfer and
activation of the estate runs concurrently in virtual time.

``--campaign`` runs a SECMP0024 CH firmware campaign instead: notify, a 1 % pilot group
(seeded random), then every other CH on the DCC's date a day later.

Each size runs in a process of its own so that its peak RSS (``ru_maxrss``) is its own. For
each it prints:

``open``    the wall time to build the estate (every CH, air and device joined, interviewed);
``update``  the wall time of the update, from the first SR 11.1 to the last activation (or
            of the campaign, from notice to completion);
``cpu``     the process's CPU time for open and update together (on a shared machine it
            varies less than wall time);
``bench``   the bench (virtual) time the update took;
``rss``     the process's peak resident memory;
``gc``      the CPU time the garbage collector took of ``cpu``, and its collections (young,
            middle, full): what the run allocates is collected while the estate runs, and a
            collector that grows faster than the estate shows here first;

and, against the smallest size of the same run, how wall time and RSS grow per premises
(``x`` per-premises cost over the smallest size's: 1.00 is linear, below 1 better than
linear). ``--profile`` runs one size under cProfile and prints where its time goes.

``--floor`` runs each size a second time, in a process of its own, counting what the event
loop does during the update (iterations, clock jumps, timers, callbacks, the timer heap's
size: :mod:`loop_floor`); the run is seeded, so it makes the same events as the first. Then,
in a third process, a fresh virtual loop goes through the same counts with callbacks that do
nothing, and the figures show that floor's CPU time beside the first (uncounted) update's:
the loop's own share, the share left to the code above it, and the floor against the budget
of 60 s per 1,000 premises. (The counters cost the counted run about a tenth more CPU, which
is why its time is not the one compared.)

Usage::

    .venv/bin/python benchmarks/estate.py                      # 10, 100, 1000
    .venv/bin/python benchmarks/estate.py --sizes 10 --smoke   # CI
    .venv/bin/python benchmarks/estate.py --profile 1000       # where the time goes
    .venv/bin/python benchmarks/estate.py --floor --sizes 1000 # the loop's own share of it
    .venv/bin/python benchmarks/estate.py --campaign --sizes 100 1000

Exits 1 if a device ends anywhere but on the new version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import gc
import json
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from air_model import image_for
from loop_floor import LoopCounts, counting

from hanbench import AutomationAction, CampaignPlan, CampaignStage, Estate, Outcome, PilotSelection, open_estate, \
    run_virtual
from hanbench.bench.bench_file import load_bench
from hanbench.bench.events import Event, TransferFinished
from hanbench.dcc.bulk import Throttle
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

ROOT = Path(__file__).resolve().parents[1]
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
KIB = 1024
DAY = timedelta(days=1)
#: The issue's bound on an update of 1,000 premises, per premises.
BUDGET_S_PER_PREMISES = 60 / 1000
TEMPLATE = f"""\
[[estate.templates]]
name = "dual_fuel"
count = {{count}}
devices = ["esme", "gsme"]
import_supplier = "{SUPPLIER}"
gas_supplier = "{SUPPLIER}"
link_loss = [0.0, 0.02]
"""


def estate_file(folder: Path, premises: int) -> Path:
    """bench/estate.toml with ``premises`` dual-fuel premises all on version 1, its sessions in ``folder``."""
    text = (ROOT / "bench" / "estate.toml").read_text("utf-8")
    head = text[: text.index("[estate.firmware]")].replace("premises = 100 ", "# premises ")
    text = head + "\n" + TEMPLATE.format(count=premises) + "\n" + text[text.index("# [[users]]"):]
    for old, new in {'"../fixtures/keys"': f'"{ROOT / "fixtures" / "keys"}"',
                     '"../firmware_images"': f'"{ROOT / "firmware_images"}"',
                     '"../sessions"': f'"{folder}"'}.items():
        text = text.replace(old, new)
    path = folder / f"estate-{premises}.toml"
    path.write_text(text, "utf-8")
    assert load_bench(path).air.airtime, "the estate does not run on the honest air"
    return path


async def meters(estate: Estate, size: int, concurrency: int, batch: int) -> dict[str, object]:
    """Every ESME and GSME takes a ``size``-byte image and activates it."""
    supplier = estate.user(SUPPLIER)
    paced = supplier.paced(concurrency=concurrency, batch=batch)
    devices = estate.devices()
    for kind in (DeviceType.ESME, DeviceType.GSME):
        of_kind = devices.where(lambda d, kind=kind: d.type is kind)
        sent = await paced.update_firmware(image_for(kind, size), of_kind)
        assert sent.outcomes() == {Outcome.DISTRIBUTED: len(of_kind)}, sent.outcomes()
    outcomes = await paced.automate(devices)
    actions = Counter(o.action.value for o in outcomes)
    running = Counter(d.state.running_version for d in devices)
    return {"devices": len(devices), "activated": running[NEXT_FILE_VERSION], "actions": dict(actions),
            "ok": running == {NEXT_FILE_VERSION: len(devices)}
            and actions == {AutomationAction.ACTIVATION_SENT.value: len(devices)}}


async def campaign(estate: Estate, concurrency: int) -> dict[str, object]:
    """A CH firmware campaign over every CH: 1 % pilot now, the rest a day later."""
    start = estate.now()
    run = estate.campaign(CampaignPlan("bench", estate.ch_image(NEXT_FILE_VERSION), start, start + 7 * DAY,
                                       start + DAY, pilot=PilotSelection(size=0.01, how="random", seed=1),
                                       throttle=Throttle(concurrency=concurrency)))
    stage = await run.run()
    running = Counter(p.hub.firmware.running_version for p in estate.premises)
    return {"devices": len(estate.chs), "activated": running[NEXT_FILE_VERSION], "actions": {stage.value: 1},
            "ok": stage is CampaignStage.COMPLETED and running == {NEXT_FILE_VERSION: len(estate.chs)}}


class Collector:
    """The garbage collector's collections by generation and the CPU time they took."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.cpu_s = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.collections[info["generation"]] += 1
            self.cpu_s += time.process_time() - self._began


async def measured(path: Path, work: Callable[[Estate], Awaitable[dict[str, object]]],
                   count: bool = False) -> dict[str, object]:
    """Open the estate, do ``work`` on it, and time both (and the collector); with ``count``,
    count the loop's events during ``work``."""
    collector = Collector()
    gc.callbacks.append(collector)
    began, cpu = time.perf_counter(), time.process_time()
    blocks = 0

    def transferred(event: Event) -> None:
        nonlocal blocks
        if isinstance(event, TransferFinished):
            blocks += event.blocks

    async with open_estate(path) as estate:
        opened, opened_cpu = time.perf_counter(), time.process_time()
        start = estate.now()
        estate.events.subscribe(transferred)
        with counting(asyncio.get_running_loop()) if count else contextlib.nullcontext(LoopCounts()) as counts:
            figures = await work(estate)
        bench_s = (estate.now() - start).total_seconds()
        updated, updated_cpu = time.perf_counter(), time.process_time()
    gc.callbacks.remove(collector)
    return {"premises": len(estate.premises), "open_wall_s": opened - began, "update_wall_s": updated - opened,
            "cpu_s": time.process_time() - cpu, "update_cpu_s": updated_cpu - opened_cpu, "bench_s": bench_s,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "gc_s": collector.cpu_s,
            "gc_collections": collector.collections, "blocks": blocks,
            **({"loop": dataclasses.asdict(counts)} if count else {}), **figures}


def one(premises: int, args: argparse.Namespace) -> dict[str, object]:
    size = 4 * KIB if args.smoke else 16 * KIB
    if args.campaign:
        def work(estate: Estate) -> Awaitable[dict[str, object]]:
            return campaign(estate, args.concurrency)
    else:
        def work(estate: Estate) -> Awaitable[dict[str, object]]:
            return meters(estate, size, args.concurrency, args.batch)
    with tempfile.TemporaryDirectory(prefix="hanbench-estate-") as folder:
        path = estate_file(Path(folder), premises)
        if args.profile is None:
            return run_virtual(measured(path, work, args.count))
        profiler = cProfile.Profile()
        figures = profiler.runcall(run_virtual, measured(path, work, args.count))
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        return figures


def line(f: dict[str, object], base: dict[str, object] | None) -> str:
    text = (f"{f['premises']:>6} premises {f['devices']:>6} devices  open {f['open_wall_s']:7.2f} s  "
            f"update {f['update_wall_s']:7.2f} s  cpu {f['cpu_s']:7.2f} s  bench {f['bench_s']:8.0f} s  rss {f['rss_mib']:7.1f} MiB  "
            f"gc {f['gc_s']:5.2f} s {'/'.join(map(str, f['gc_collections']))}")
    if base is not None and base is not f:
        scale = f["premises"] / base["premises"]  # type: ignore[operator]
        wall = (f["open_wall_s"] + f["update_wall_s"]) / (base["open_wall_s"] + base["update_wall_s"])  # type: ignore[operator]
        cpu = f["cpu_s"] / base["cpu_s"]  # type: ignore[operator]
        text += (f"  | x{scale:.0f} premises: wall x{wall:.1f} ({wall / scale:.2f} per premises), "
                 f"cpu x{cpu:.1f} ({cpu / scale:.2f}), "
                 f"rss x{f['rss_mib'] / base['rss_mib']:.1f}, gc x{f['gc_s'] / max(base['gc_s'], 1e-9):.1f}, bench x{f['bench_s'] / base['bench_s']:.2f}")  # type: ignore[operator]
    if not f["ok"]:
        text += f"  FAILED: {f['activated']} of {f['devices']} on the new version, {f['actions']}"
    return text


def floor_line(f: dict[str, object], counted: dict[str, object]) -> str:
    """The loop floor for the event count of the update ``counted`` made again (measured in a
    process of its own) beside the update ``f``."""
    if (counted["bench_s"], counted["blocks"]) != (f["bench_s"], f["blocks"]):
        return (f"        the counted run is not the same run: bench {counted['bench_s']} s, {counted['blocks']} blocks "
                f"against {f['bench_s']} s, {f['blocks']} blocks")
    counts = LoopCounts(**counted["loop"])  # type: ignore[arg-type]
    command = [sys.executable, str(Path(__file__).with_name("loop_floor.py")),
               json.dumps({**dataclasses.asdict(counts), "premises": f["premises"]})]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return f"        the loop floor failed\n{done.stderr[-3000:]}"
    floor = json.loads(done.stdout.strip().splitlines()[-1])
    floor_s, update_s = floor["floor_cpu_s"], f["update_cpu_s"]
    budget_s = BUDGET_S_PER_PREMISES * f["premises"]  # type: ignore[operator]
    unit, units = ("block", f["blocks"]) if f["blocks"] else ("premises", f["premises"])
    per_us = 1e6 / units  # type: ignore[operator]
    return (f"        loop floor for this event count: {floor_s:.2f} s cpu ({floor_s * per_us:.0f} us a {unit}); "
            f"estate update: {update_s:.2f} s cpu ({update_s * per_us:.0f} us a {unit}; counted {counted['update_cpu_s']:.2f} s); "
            f"floor/estate {floor_s / update_s:.2f}, floor/budget {floor_s / budget_s:.2f} "
            f"(budget {budget_s:.0f} s: 60 s per 1,000 premises; above the loop {update_s - floor_s:.2f} s)\n"
            f"        events a {unit}: {counts.per(units)}; timer heap {counts.heap:.0f} (mean)\n"  # type: ignore[arg-type]
            f"        replayed a {unit}: {LoopCounts(**floor['replayed']).per(units)}")  # type: ignore[arg-type]


def run_one(premises: int, command: list[str]) -> dict[str, object] | None:
    """The figures of one size run by ``command`` in a process of its own; None (and why) if it failed."""
    done = subprocess.run(command, capture_output=True, text=True)
    if not done.stdout.strip():
        print(f"{premises:>6} premises: the run failed\n{done.stderr[-3000:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], metavar="N")
    parser.add_argument("--smoke", action="store_true", help="a 4 KiB image (for CI)")
    parser.add_argument("--concurrency", type=int, default=500, help="the supplier's requests in flight")
    parser.add_argument("--batch", type=int, default=50, help="devices per SR 11.1")
    parser.add_argument("--profile", type=int, metavar="N", help="one size under cProfile (to stderr)")
    parser.add_argument("--campaign", action="store_true", help="a CH firmware campaign instead of meter updates")
    parser.add_argument("--floor", action="store_true",
                        help="count the update's loop events and measure the loop's floor for them")
    parser.add_argument("--one", type=int, metavar="N", help=argparse.SUPPRESS)  # a size, in this process
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)  # ... counting its loop's events
    args = parser.parse_args()
    if args.one is not None or args.profile is not None:
        figures = one(args.one or args.profile, args)
        print(json.dumps(figures))
        return 0 if figures["ok"] else 1
    print("a CH firmware campaign, 1 % pilot, " if args.campaign else
          f"{4 if args.smoke else 16} KiB image to every ESME and GSME, SR 11.1 batch {args.batch}, ",
          f"honest air, cap {args.concurrency}", sep="", flush=True)
    base = None
    failed = False
    for premises in args.sizes:
        command = [sys.executable, __file__, "--one", str(premises), "--concurrency", str(args.concurrency),
                   "--batch", str(args.batch), *(["--smoke"] if args.smoke else []),
                   *(["--campaign"] if args.campaign else [])]
        figures = run_one(premises, command)
        if figures is None:
            failed = True
            continue
        base = base or figures
        print(line(figures, base), flush=True)
        failed |= not figures["ok"]
        if args.floor:
            counted = run_one(premises, [*command, "--count"])
            failed |= counted is None
            if counted is not None:
                print(floor_line(figures, counted), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
