"""A lab's hardware, emulated and standing on its own: what a ``lab`` bench is tested against in CI.

The ``twin`` bench builds its emulated hardware itself and walks each device through its
join. A ``lab`` bench cannot: it finds a stick and boards by their port matches and waits
for test builds that join by themselves. :class:`LabRig` is that hardware outside any bench:
an :class:`~hanbench.twin.ezsp_twin.EzspTwin` on a pty (the stick) and one
:class:`~hanbench.twin.board.EmulatedBoard` per device (its control port, a stable symlink),
all on one virtual air. Each device behaves as a test build after power-on: it scans until
the network permits joining, joins, reports ``joined`` on its board, and asks the CH for its
tunnel until the CH, having interviewed it, grants one. A bench file whose ``[radio] port``
and ``board`` matches are the rig's paths (:attr:`LabRig.stick_path`,
:meth:`LabRig.board_path`) is then a lab bench like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import zigpy.exceptions

from hanbench.clock import BenchClock
from hanbench.devices import DeviceSettings, GsmeTiming, build_device
from hanbench.errors import HanbenchError
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.keystore import KeyStore
from hanbench.hardware.protocol import Network
from hanbench.radio.air import VirtualAir
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.device_board import DeviceBoard
from hanbench.twin.ezsp_twin import EzspTwin

log = logging.getLogger(__name__)

#: How often a device that has not joined looks for an open network (a test build's scan period).
SCAN_S = 0.1
#: Pause before a device asks for its tunnel again (the CH had not interviewed it yet).
TUNNEL_RETRY_S = 0.5


@dataclasses.dataclass(frozen=True)
class RigDevice:
    """One device of the rig: the board's name (its symlink) and what the device is."""

    name: str
    kind: DeviceType
    settings: DeviceSettings


class LabRig:
    """A stick and boards on ptys in ``directory``, devices joining by themselves; an async context manager.

    ``start`` sets every device's clock, ``keystore`` holds their keys, ``gsme_timing`` a
    GSME's wake cycle.
    """

    def __init__(self, devices: Sequence[RigDevice], directory: Path, *, start: dt.datetime, keystore: KeyStore,
                 gsme_timing: GsmeTiming | None = None) -> None:
        self.air = VirtualAir()
        self.stick = EzspTwin(self.air, state_dir=directory / "ncp")
        self._devices = devices
        self._directory = directory / "boards"
        self._start = start
        self._keystore = keystore
        self._gsme_timing = gsme_timing
        self.boards: dict[str, EmulatedBoard] = {}
        self._stack = contextlib.AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stick_path(self) -> str:
        """The stick's port, for ``[radio] port = { path = ... }``."""
        return self.stick.port

    def board_path(self, name: str) -> Path:
        """Device ``name``'s control port, for its ``board = { path = ... }``."""
        return self.boards[name].path

    async def __aenter__(self) -> LabRig:
        self._directory.mkdir(parents=True, exist_ok=True)
        try:
            await self._stack.enter_async_context(self.stick)
            for spec in self._devices:
                backend = await self._power_on(spec)
                self.boards[spec.name] = await self._stack.enter_async_context(
                    EmulatedBoard(backend, self._directory, name=spec.name))
                self._tasks.append(asyncio.get_running_loop().create_task(
                    self._test_build(backend), name=f"rig-join-{spec.name}"))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.aclose()

    async def _power_on(self, spec: RigDevice) -> DeviceBoard:
        clock = BenchClock(self._start)
        device = build_device(spec.kind, self.air, spec.settings, clock, self._keystore, gsme_timing=self._gsme_timing)
        self._stack.push_async_callback(device.close)
        return DeviceBoard(device, clock)

    async def _test_build(self, backend: DeviceBoard) -> None:
        """What a test build does after power-on: join once the network is open, then get a tunnel."""
        device = backend.device
        while not self.air.joining_permitted:
            await asyncio.sleep(SCAN_S)
        await device.start()
        network = self.stick.store.nvram.network
        assert network is not None, "a network permits joining only once it is formed"
        backend.joined(Network(pan_id=network.pan_id, channel=network.channel, nwk=device.node.nwk))
        while True:
            try:
                await device.ready()
                return
            except (zigpy.exceptions.DeliveryError, TimeoutError, HanbenchError) as exc:
                log.info("%s: no tunnel yet (%s), asking again", device.entity_id, exc)
                await asyncio.sleep(TUNNEL_RETRY_S)
