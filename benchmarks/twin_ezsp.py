"""Figures for the EZSP twin: start-up time on pty vs socket://, unicast round trips
per second through bellows + twin + virtual air, and how long bellows takes to notice
a pulled stick and a hung NCP (bellows defaults, nothing patched).

    .venv/bin/python benchmarks/twin_ezsp.py [--round-trips 300]

Real time, so figures vary with the machine; they are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

from bellows.zigbee.application import ControllerApplication
from zigpy.profiles import zha
from zigpy.zcl.clusters.general import Basic

from hanbench.devices.node import EmulatedNode
from hanbench.radio.air import VirtualAir
from hanbench.twin.ezsp_twin import EzspTwin, Transport, bellows_app_config

TRANSPORTS: tuple[Transport, ...] = ("pty", "socket")


def small_device(air: VirtualAir) -> EmulatedNode:
    """A mains-powered node serving Basic only, on the Home Automation profile that plain bellows
    interviews without the bench's Smart Energy fix: the round trips measure the link, not a device."""
    return EmulatedNode(air, "00:0d:6f:00:0b:c0:ff:ee", 0x1234, profile_id=zha.PROFILE_ID,
                        device_type=zha.DeviceType.ON_OFF_OUTPUT, manufacturer="hanbench", model="benchmark node",
                        server_clusters=[Basic.cluster_id], client_clusters=[])


async def new_app(twin: EzspTwin) -> tuple[ControllerApplication, float]:
    started = time.monotonic()
    app = await ControllerApplication.new(bellows_app_config(twin.port), auto_form=True)
    return app, time.monotonic() - started


async def startup_times(transport: Transport, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with EzspTwin(state_dir=Path(folder), transport=transport) as twin:
            app, formed = await new_app(twin)
            await app.shutdown()
            resumed = []
            for _ in range(runs):
                app, elapsed = await new_app(twin)
                resumed.append(elapsed)
                await app.shutdown()
    print(f"{transport:6}  new() forming {formed:.3f} s; resuming median {statistics.median(resumed):.3f} s"
          f" (min {min(resumed):.3f}, max {max(resumed):.3f}, n={runs})")


async def round_trips(transport: Transport, count: int) -> None:
    air = VirtualAir()
    with tempfile.TemporaryDirectory() as folder:
        async with EzspTwin(air, state_dir=Path(folder), transport=transport) as twin:
            app, _ = await new_app(twin)
            node = small_device(air)
            try:
                await app.permit(60)
                await node.join()
                while (device := app.devices.get(node.ieee)) is None or not device.is_initialized:
                    await asyncio.sleep(0.01)
                basic = device.endpoints[1].basic
                # zigpy drops a frame identical to one seen in the last 10 s whatever its
                # TSN, so after 256 requests identical replies would be lost: vary them
                # with a period (3) that does not divide the TSN period (256)
                queries = (["model"], ["manufacturer"], ["model", "manufacturer"])
                started = time.monotonic()
                for index in range(count):
                    await basic.read_attributes(queries[index % 3], allow_cache=False)
                elapsed = time.monotonic() - started
            finally:
                await app.shutdown()
                await node.close()
    print(f"{transport:6}  {count / elapsed:.0f} ZCL read round trips/s "
          f"({1000 * elapsed / count:.2f} ms each, n={count}); ASH retransmissions "
          f"{twin.link_stats.retransmissions}")


class Watcher:
    def __init__(self) -> None:
        self.lost = asyncio.Event()
        self.reports: list[BaseException | None] = []

    def connection_lost(self, exc: BaseException | None) -> None:
        self.reports.append(exc)
        self.lost.set()


async def fault_detection(transport: Transport) -> None:
    for fault in ("pulled", "frozen"):
        with tempfile.TemporaryDirectory() as folder:
            async with EzspTwin(state_dir=Path(folder), transport=transport) as twin:
                app, _ = await new_app(twin)
                watcher = Watcher()
                app.add_listener(watcher)
                started = time.monotonic()
                if fault == "pulled":
                    twin.close_port()
                else:
                    twin.freeze()
                    # The next command is what finds out (the watchdog is off on the bench)
                    asyncio.get_running_loop().create_task(app._ezsp.nop()).add_done_callback(
                        lambda task: task.exception())
                await asyncio.wait_for(watcher.lost.wait(), 30)
                elapsed = time.monotonic() - started
                await app.shutdown()
        print(f"{transport:6}  {fault} stick noticed after {elapsed:.3f} s: {watcher.reports!r}")


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    for transport in TRANSPORTS:
        await startup_times(transport, args.runs)
    for transport in TRANSPORTS:
        await round_trips(transport, args.round_trips)
    for transport in TRANSPORTS:
        await fault_detection(transport)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="resumed start-ups per transport")
    parser.add_argument("--round-trips", type=int, default=300, help="ZCL reads per transport")
    asyncio.run(main(parser.parse_args()))
