"""How many first-party hops one firmware update takes, counted from the running code.

Runs one update on an emu bench through the scripting API, as ``docs/architecture.md``
follows it: SR 11.1 of the sample image to the ESME, the receipt alert 0x8F72 in the
supplier's inbox, SR 11.3 with its hash (immediate activation), and the alerts that come
back meanwhile (CCS08, N60). While it runs, a profiler notes every call from one function
of the update path into a function of another module:

* the update path is ``dcc/``, ``hub/``, ``devices/`` and the bench modules a script drives
  it through (``bench/users.py``, ``bench/bench.py``, ``bench/session_events.py``,
  ``bench/kinds/``); a call into the event stream (publishing an event, a wait that ends if
  the bench loses a part) or into a GBCS entry point that reads an image, a message or an
  alert is a hop too, but what happens beyond it is not (each reading of the same bytes
  shows as a hop of its own);
* reading a property is not a hop (it looks a value up; it does not hand the update on);
* a call made through :class:`hanbench.listeners.Listeners` counts from the function that
  called the listeners, so a listener is a hop like a direct call;
* each distinct caller -> callee pair counts once, however often it runs (per block, per
  alert), so the figure is the length of the path, not of the traffic;
* a hop is *back and forth* when the two modules call each other both ways.

It also counts how often the same bytes are read: every call into a GBCS reading entry point
during the update, by who made it (the devices' readings are their own: a device reads what
reaches it over the air; the bench side should read each image and message once).

The figure depends only on the code, not on time or the machine; the run takes a few
seconds. Run it from a checkout to measure that checkout::

    .venv/bin/python benchmarks/update_path_hops.py            # totals
    .venv/bin/python benchmarks/update_path_hops.py --list     # and every hop
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "hanbench"
PATH_LAYERS = ("dcc", "hub", "devices")
PATH_BENCH = ("bench/users.py", "bench/bench.py", "bench/session_events.py", "bench/kinds/")
SINKS = {("bench/events.py", "publish"), ("bench/events.py", "unless_lost")}
READINGS = {
    ("gbcs/image.py", "parse_image"), ("gbcs/ota_header.py", "parse_header"), ("gbcs/frame.py", "decode_message"),
    ("gbcs/alerts.py", "decode_alert"), ("gbcs/signed_command.py", "read"),
    ("gbcs/signed_command.py", "read_response"), ("gbcs/signed_command.py", "accept"),
}
TRANSPARENT = {"listeners.py"}

Hop = tuple[str, str, str, str]  # caller module, caller function, callee module, callee function


def _module(frame: FrameType) -> str | None:
    """The frame's module, relative to the package, if it is first-party."""
    path = Path(frame.f_code.co_filename)
    try:
        return path.resolve().relative_to(PACKAGE).as_posix()
    except ValueError:
        return None


def _on_path(module: str, function: str, *, callee: bool) -> bool:
    if module.split("/")[0] in PATH_LAYERS or module.startswith(PATH_BENCH):
        return True
    return callee and ((module, function) in READINGS or (module, function) in SINKS)


def _is_property(frame: FrameType) -> bool:
    """Whether the frame runs a property getter or setter (of a class of its module)."""
    owner_name, _, name = frame.f_code.co_qualname.rpartition(".")
    module = sys.modules.get(frame.f_globals.get("__name__", ""))
    owner = getattr(module, owner_name, None) if owner_name and "." not in owner_name else None
    return isinstance(vars(owner).get(name) if isinstance(owner, type) else None, property)


@contextmanager
def traced() -> Iterator[tuple[set[Hop], Counter[Hop]]]:
    """Collect the hops made while the block runs, and count the calls into GBCS readings."""
    hops: set[Hop] = set()
    readings: Counter[Hop] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame)
        if callee is None or not _on_path(callee, frame.f_code.co_name, callee=True) or _is_property(frame):
            return
        caller_frame = frame.f_back
        while caller_frame is not None and _module(caller_frame) in TRANSPARENT:
            caller_frame = caller_frame.f_back
        caller = None if caller_frame is None else _module(caller_frame)
        if caller is None or caller == callee or not _on_path(caller, caller_frame.f_code.co_name, callee=False):
            return
        hop = (caller, caller_frame.f_code.co_qualname, callee, frame.f_code.co_qualname)
        hops.add(hop)
        if (callee, frame.f_code.co_name) in READINGS:
            readings[hop] += 1

    sys.setprofile(profile)
    try:
        yield hops, readings
    finally:
        sys.setprofile(None)


def bench_file(folder: Path) -> Path:
    """This checkout's bench/emu.toml, its paths made absolute and its sessions in ``folder``."""
    text = (ROOT / "bench" / "emu.toml").read_text()
    text = text.replace('"../fixtures/keys"', f'"{ROOT / "fixtures" / "keys"}"')
    text = text.replace('"../firmware_images"', f'"{ROOT / "firmware_images"}"')
    text = re.sub(r'^sessions = "[^"]*"', f'sessions = "{folder / "sessions"}"', text, flags=re.M)
    path = folder / "bench.toml"
    path.write_text(text)
    return path


async def one_update(path: Path) -> tuple[set[Hop], Counter[Hop]]:
    from hanbench import open_bench

    async with open_bench(path) as bench:
        esme = bench.device("esme")
        supplier = bench.supplier_of(esme)
        with traced() as (hops, readings):
            await supplier.update_firmware(bench.image(esme, 2), [esme])
            alert = await supplier.wait_alert(0x8F72, device=esme)
            await supplier.wait_alert("N60", device=esme)
            result = await supplier.activate_firmware(esme, alert.calculated_hash)
        assert result.firmware_version == 2, result
    return hops, readings


def back_and_forth(hops: set[Hop]) -> set[Hop]:
    pairs = {(caller, callee) for caller, _, callee, _ in hops}
    return {hop for hop in hops if (hop[2], hop[0]) in pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every hop, back-and-forth ones marked")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from hanbench import run_virtual

    folder = Path(tempfile.mkdtemp(prefix="hanbench-hops-"))
    try:
        hops, readings = run_virtual(one_update(bench_file(folder)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    both_ways = back_and_forth(hops)
    if args.list:
        for hop in sorted(hops):
            mark = "<>" if hop in both_ways else "  "
            print(f"{mark} {hop[0]}:{hop[1]} -> {hop[2]}:{hop[3]}")
    if args.list:
        print("readings of GBCS bytes (calls during the update):")
        for (caller, function, callee, reading), count in sorted(readings.items()):
            print(f"  {count:3d}  {caller}:{function} -> {reading}")
    bench_side = sum(count for hop, count in readings.items() if not hop[0].startswith("devices/"))
    device_side = sum(readings.values()) - bench_side
    modules = {m for hop in hops for m in (hop[0], hop[2])}
    print(f"first-party hops of one update: {len(hops)}, of which back and forth: {len(both_ways)} "
          f"({len(modules)} modules; checkout {ROOT})")
    print(f"readings of GBCS bytes during the update: {bench_side} on the bench side (DCC, CH), "
          f"{device_side} by the devices")
    return 0


if __name__ == "__main__":
    sys.exit(main())
