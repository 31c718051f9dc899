"""A fault soak: many seeded runs of one small update under the faults a lab has.

Each run opens an emu premises with one device from ``bench/emu.toml`` (an ESME or a GSME,
drawn by the seed) on the honest air and puts a small update through the DCC, the CH and the
virtual air as a supplier's systems would: SR 11.1 of the sample image, then, on the receipt
alert 0x8F72, SR 11.3 with the hash it carries. Meanwhile the seed draws the faults:

* a link loss between the CH and the device, 0-60% of the frames on the air, both ways
  (MAC and APS retry as a stack does);
* up to two power cycles of the device (``bench.emulator.power_cycle``), each off for up to
  two minutes;
* up to one restart of the CH (``bench.emulator.restart_hub``).

A run ends, within a bench-time bound, in one of:

``completed``          the device runs the new image and the DCC says so;
``failed-with-alert``  the device does not run it, the DCC flags the device as needing
                       action, and an alert in the supplier's inbox says why (CCS08 0x8F89
                       with N61, 0x8F1C, 0x819D, 0x8F67);
``not-delivered``      SR 11.3 ended ``not_delivered`` (the CH could not deliver the CS06, at
                       once or after its resends) with no failure alert: an outcome the supplier sees, so no hang;
``hung``               none of these within the bound: the silent outcome this soak exists to find;
``crashed``            an exception escaped the run, or one was logged with its traceback
                       where the bench should have handled it.

It prints the five counts (and which alert ended each failed run), how many of the faults
drawn struck before their run ended, the longest run in bench time against the bound, then
for each not-delivered, hung or crashed run its seed, what went wrong, and a command that runs
it alone.

Usage::

    .venv/bin/python benchmarks/fault_soak.py --runs 1000         # seeds 0..999
    .venv/bin/python benchmarks/fault_soak.py --runs 50           # what CI runs
    .venv/bin/python benchmarks/fault_soak.py --seed 123 -v       # one run, with its log

Exits 1 if any run hung or crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import enum
import logging
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import zigpy.exceptions

from hanbench import Bench, BenchDevice, Outcome, open_bench, run_virtual
from hanbench.bench.bench_file import load_bench
from hanbench.dcc.records import InboxMessage
from hanbench.errors import HanbenchError
from hanbench.gbcs.image_types import NEXT_FILE_VERSION

ROOT = Path(__file__).resolve().parents[1]
BENCH_FILE = ROOT / "bench" / "emu.toml"
#: Session records go to memory where the system has a tmpfs: each run commits its events to
#: SQLite, and on a disk the syncs, not the bench, would set the wall time.
_SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None

RECEIPT = "0x8F72"
FAILURE_ALERTS = frozenset({"0x8F89", "N61", "0x8F1C", "0x819D", "0x8F67"})
"""Alerts that tell the supplier an update did not get through: CCS08 failure (and the DCC's
N61 from it), Firmware Verification Failed, GSME Command Not Retrieved, a future-dated
activation not actioned."""

MAX_LOSS = 0.6
MAX_POWER_CYCLES = 2
MAX_OFF_S = 120.0
MAX_HUB_DOWN_S = 60.0
#: Faults fall within this much bench time from the SR 11.1: about an update's length under
#: loss (an ESME's takes 20-150 s, a GSME's, fetched at its half-hourly wakes, 0.5-6 h), so
#: they strike the transfer, the receipt alert and the activation alike.
FAULT_WINDOW_S = {"esme": 90.0, "gsme": 2 * 3600.0}
BOUND_S = 4 * 24 * 3600.0
"""Bench time a run may take: past the CH's longest wait (24 h for a sleepy device's command or
a target that never starts), the DCC's response wait (24 h) and a GSME's wake interval, twice."""


class Verdict(enum.StrEnum):
    COMPLETED = "completed"
    FAILED_WITH_ALERT = "failed-with-alert"
    NOT_DELIVERED = "not-delivered"
    HUNG = "hung"
    CRASHED = "crashed"


@dataclasses.dataclass(frozen=True)
class Fault:
    """A power cycle of the device (``kind`` "power") or a CH restart ("hub"), ``at_s`` bench
    seconds after the SR 11.1, lasting ``down_s``."""

    kind: str
    at_s: float
    down_s: float


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one seed draws."""

    seed: int
    device: str
    loss: float
    faults: tuple[Fault, ...]

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rng = random.Random(seed)
        device = rng.choice(["esme", "gsme"])
        loss = round(rng.uniform(0.0, MAX_LOSS), 3)
        window = FAULT_WINDOW_S[device]
        faults = [Fault("power", round(rng.uniform(0, window), 1), round(rng.uniform(1, MAX_OFF_S), 1))
                  for _ in range(rng.randint(0, MAX_POWER_CYCLES))]
        if rng.random() < 0.5:
            faults.append(Fault("hub", round(rng.uniform(0, window), 1), round(rng.uniform(1, MAX_HUB_DOWN_S), 1)))
        return cls(seed, device, loss, tuple(sorted(faults, key=lambda f: f.at_s)))

    def describe(self) -> str:
        faults = ", ".join(f"{f.kind}@{f.at_s:g}s/{f.down_s:g}s" for f in self.faults) or "no faults"
        return f"{self.device}, loss {self.loss:.0%}, {faults}"


@dataclasses.dataclass(frozen=True)
class RunResult:
    plan: Plan
    verdict: Verdict
    detail: str
    bench_s: float
    wall_s: float
    struck: tuple[Fault, ...]
    """The faults of the plan that struck before the run ended."""


class _Tracebacks(logging.Handler):
    """Every log record that carries an exception the bench should have handled itself.

    A frame lost on the air (zigpy's DeliveryError), a request that timed out and the bench's
    own typed errors are what a lossy air produces and are handled where they arise; anything
    else logged with a traceback is a bug the soak reports as a crash.
    """

    EXPECTED = (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError, asyncio.CancelledError)

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.unexpected: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        if not isinstance(exc, self.EXPECTED):
            self.unexpected.append(f"{record.name}: {record.getMessage()}: {type(exc).__name__}: {exc}")


@contextmanager
def _watching_tracebacks() -> Iterator[_Tracebacks]:
    """The watcher on the root logger, which passes it INFO and up meanwhile (whatever -v prints)."""
    handler = _Tracebacks()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _bench_config(plan: Plan, sessions: Path):
    config = load_bench(BENCH_FILE)
    devices = tuple(d for d in config.devices if d.name == plan.device)
    return dataclasses.replace(config, devices=devices, seed=plan.seed, sessions=sessions)


async def _inject(bench: Bench, device: BenchDevice, faults: tuple[Fault, ...], struck: list[Fault]) -> None:
    """Strike each fault at its time (one still under way delays the next), noting it in ``struck``."""
    start = asyncio.get_running_loop().time()
    for fault in faults:
        await asyncio.sleep(max(0.0, start + fault.at_s - asyncio.get_running_loop().time()))
        struck.append(fault)
        if fault.kind == "power":
            await bench.emulator.power_cycle(device.config, off_s=fault.down_s)
        else:
            await bench.emulator.restart_hub(down_s=fault.down_s)


async def _update(bench: Bench, device: BenchDevice) -> tuple[Verdict, str]:
    """The supplier's side of the update: SR 11.1, then SR 11.3 on the receipt alert."""
    supplier = bench.supplier
    inbox = bench.dcc.inbox(supplier.id)
    mark = bench.dcc.inboxes.last_seq(supplier.id)
    result = await supplier.update_firmware(bench.image(device, NEXT_FILE_VERSION), [device])
    target = result.target(device.id)
    if target.outcome is not Outcome.DISTRIBUTED:
        return Verdict.CRASHED, f"SR 11.1 was not distributed: {target.outcome} {target.message}"

    def ends(message: InboxMessage) -> bool:
        return message.alert.device == device.id and message.alert.code in FAILURE_ALERTS | {RECEIPT}

    first = await inbox.wait_for(ends, float("inf"), after=mark)
    if first.alert.code != RECEIPT:
        return _failed(bench, device, first)
    assert first.alert.hash is not None
    activation = await supplier.activate_firmware(device, first.alert.hash)
    if activation.outcome is Outcome.ACTIVATED and device.state.running_version == NEXT_FILE_VERSION:
        return Verdict.COMPLETED, "activated"
    later = [m for m in inbox.messages(after=first.seq) if ends(m) and m.alert.code != RECEIPT]
    if later:
        return _failed(bench, device, later[0])
    if activation.outcome is Outcome.NOT_DELIVERED:
        return Verdict.NOT_DELIVERED, activation.message
    return Verdict.HUNG, f"SR 11.3 ended {activation.outcome} with no failure alert"


def _failed(bench: Bench, device: BenchDevice, alert: InboxMessage) -> tuple[Verdict, str]:
    record = bench.dcc.inventory.device(device.id)
    if device.state.running_version == NEXT_FILE_VERSION:
        return Verdict.HUNG, f"{alert.alert.code} arrived, yet the device runs the new image"
    if not record.needs_action:
        return Verdict.HUNG, f"{alert.alert.code} arrived, but the DCC does not flag the device ({record.update_state})"
    detail = alert.alert.detail.split(";")[0]
    return Verdict.FAILED_WITH_ALERT, f"{alert.alert.code} {detail}".strip()


async def _run(plan: Plan, sessions: Path, struck: list[Fault]) -> tuple[Verdict, str, float]:
    async with open_bench(_bench_config(plan, sessions)) as bench:
        device = bench.device(plan.device)
        bench.emulator.set_link_loss(device.config, plan.loss)
        start = bench.now()
        injector = asyncio.ensure_future(_inject(bench, device, plan.faults, struck))
        bound = asyncio.timeout(BOUND_S)
        try:
            async with bound:
                verdict, detail = await _update(bench, device)
        except TimeoutError:
            if not bound.expired():
                raise
            verdict, detail = Verdict.HUNG, (f"no outcome within {BOUND_S:g} s of bench time; the device "
                                             f"{_device_summary(bench, device)}")
        finally:
            injector.cancel()
            (injected,) = await asyncio.gather(injector, return_exceptions=True)
        if isinstance(injected, Exception):
            raise injected  # a fault the emulator failed to inject: the run crashed, whatever it ended in
        return verdict, detail, (bench.now() - start).total_seconds()


def _device_summary(bench: Bench, device: BenchDevice) -> str:
    state = device.state
    record = bench.dcc.inventory.device(device.id)
    held = "nothing" if state.held_version is None else f"{state.held_version:08X}"
    return (f"runs {state.running_version:08X}, holds {held}; the DCC has it {record.update_state} "
            f"({record.update_detail})")


def run_one(plan: Plan, sessions: Path) -> RunResult:
    """One run of ``plan``, recorded under ``sessions``; never raises."""
    began = time.perf_counter()
    struck: list[Fault] = []
    with _watching_tracebacks() as tracebacks:
        try:
            verdict, detail, bench_s = run_virtual(_run(plan, sessions, struck))
        except Exception as exc:  # noqa: BLE001 - whatever escapes is what the soak reports
            verdict, detail, bench_s = Verdict.CRASHED, f"{type(exc).__name__}: {exc}", 0.0
    if tracebacks.unexpected and verdict is not Verdict.CRASHED:
        verdict, detail = Verdict.CRASHED, f"{tracebacks.unexpected[0]} (then {detail})"
    return RunResult(plan, verdict, detail, bench_s, time.perf_counter() - began, tuple(struck))


def _reproduce(seed: int) -> str:
    return f".venv/bin/python benchmarks/fault_soak.py --seed {seed} -v"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs, with seeds first..first+runs-1")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, default=None, help="run this one seed alone")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the bench's log (INFO)")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.runs))
    counts: collections.Counter[Verdict] = collections.Counter()
    alerts: collections.Counter[str] = collections.Counter()
    listed: list[RunResult] = []
    drawn: collections.Counter[str] = collections.Counter()
    struck: collections.Counter[str] = collections.Counter()
    longest = 0.0
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hanbench-soak-", dir=_SCRATCH) as folder:
        for seed in seeds:
            result = run_one(Plan.draw(seed), Path(folder))
            counts[result.verdict] += 1
            drawn.update(f.kind for f in result.plan.faults)
            struck.update(f.kind for f in result.struck)
            longest = max(longest, result.bench_s)
            if result.verdict is Verdict.FAILED_WITH_ALERT:
                alerts[result.detail] += 1
            if result.verdict in (Verdict.NOT_DELIVERED, Verdict.HUNG, Verdict.CRASHED):
                listed.append(result)
            if args.verbose or args.seed is not None:
                print(f"seed {seed}: {result.plan.describe()}: {result.verdict} ({result.detail}) "
                      f"in {result.bench_s:.0f} s bench, {result.wall_s:.2f} s wall", flush=True)
    wall = time.perf_counter() - began
    by_alert = ", ".join(f"{code} {n}" for code, n in sorted(alerts.items()))
    print(f"{len(seeds)} runs in {wall:.1f} s wall: completed {counts[Verdict.COMPLETED]}, failed-with-alert "
          f"{counts[Verdict.FAILED_WITH_ALERT]}{f' ({by_alert})' if by_alert else ''}, not-delivered "
          f"{counts[Verdict.NOT_DELIVERED]}, hung {counts[Verdict.HUNG]}, "
          f"crashed {counts[Verdict.CRASHED]}")
    print(f"faults that struck before their run ended: {struck['power']} of {drawn['power']} power cycles, "
          f"{struck['hub']} of {drawn['hub']} CH restarts; longest run {longest:.0f} s of bench time "
          f"(bound {BOUND_S:.0f} s)")
    for result in listed:
        print(f"  {result.verdict} seed {result.plan.seed} ({result.plan.describe()}): {result.detail}\n"
              f"    reproduce: {_reproduce(result.plan.seed)}")
    return 1 if counts[Verdict.HUNG] or counts[Verdict.CRASHED] else 0


if __name__ == "__main__":
    sys.exit(main())
