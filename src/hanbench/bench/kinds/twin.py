"""The ``twin`` kind: the hardware code path with emulated hardware, in real time.

What runs is what runs on a lab bench: the CH on unmodified bellows through
:mod:`hanbench.radio.stick` (a serial port, ASH, EZSP), and each device's state read through
:class:`~hanbench.hardware.control.BoardControl` over a pseudo-terminal. Only the far ends are
emulated: the coordinator stick is an :class:`~hanbench.twin.ezsp_twin.EzspTwin` on the
virtual air, and each dev board an :class:`~hanbench.twin.board.EmulatedBoard` fronting an
emulated device (:class:`~hanbench.twin.device_board.DeviceBoard`) on the same air.

Layout in the session folder ``<sessions>/<name>/``: ``radio/`` is the CH's radio state
(zigpy's database with the network backup), as on a lab bench; ``twin/ncp/`` is the twin
stick's NVRAM and ``twin/boards/`` holds the boards' stable pty links. A ``[radio] port`` or
a device's ``board`` in the bench file is honoured (a ``path`` match to a pty or
``socket://`` the caller serves); without one, the twin's own port is used.

Real time: pty I/O and bellows' ASH timers cannot follow a virtual clock, so every timing
knob of a twin bench file should be short (see ``bench/twin.toml``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from hanbench.bench.bench_config import DeviceConfig
from hanbench.bench.events import EventStream
from hanbench.bench.kinds.boards import BoardDevice, BoardPremises, board_device, join_security, stick_settings, \
    stick_watch
from hanbench.bench.kinds.emu import FIRST_DEVICE_NWK, device_settings, hub_on, pace, virtual_air
from hanbench.bench.premises import AssemblyContext
from hanbench.clock import BenchClock
from hanbench.devices import GsmeTiming, build_device
from hanbench.hardware.control import BoardControl
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.protocol import Network
from hanbench.hub.comms_hub import CommsHub, hub_endpoints
from hanbench.radio.air import VirtualAir
from hanbench.radio.interview import wait_interviewed
from hanbench.radio.stick import open_stick
from hanbench.twin.board import EmulatedBoard
from hanbench.twin.device_board import DeviceBoard
from hanbench.twin.ezsp_twin import EzspTwin

VIRTUAL_TIME = False


@contextlib.asynccontextmanager
async def assemble(context: AssemblyContext) -> AsyncIterator[BoardPremises]:
    """The twin premises of ``context.config``; see the module docstring."""
    config = context.config
    assert config.radio is not None
    folder = config.sessions / config.name / "twin"
    (folder / "boards").mkdir(parents=True, exist_ok=True)
    air = virtual_air(config)
    async with contextlib.AsyncExitStack() as stack:
        twin = await stack.enter_async_context(EzspTwin(air, state_dir=folder / "ncp"))
        port = PortMatch(path=twin.port) if config.radio.port is None else config.radio.port
        app = await stack.enter_async_context(open_stick(stick_settings(config, port.find()), hub_endpoints()))
        await stack.enter_async_context(stick_watch(app, context, port))
        stack.callback(context.watch_air(air, pan_id=app.state.network_info.pan_id))
        hub = hub_on(app, context)
        stack.push_async_callback(hub.close)
        security = join_security(config)
        network = app.state.network_info
        devices: dict[str, BoardDevice] = {}
        boards: dict[str, EmulatedBoard] = {}
        for index, entry in enumerate(config.devices):
            backend = await _emulated_device(stack, context, entry, air, FIRST_DEVICE_NWK + index)
            board = boards[entry.name] = await stack.enter_async_context(
                EmulatedBoard(backend, folder / "boards", name=entry.name))
            hub.register(entry.id, entry.type)
            await security.permit(app, backend.device.node.ieee)
            await backend.device.start()
            await wait_interviewed(app, backend.device.node.ieee)
            await backend.device.ready()
            backend.joined(Network(pan_id=network.pan_id, channel=network.channel, nwk=backend.device.node.nwk))
            control = BoardControl(entry.board or str(board.path), name=entry.name,
                                   reset_timeout=config.timing.board_reset_timeout_s)
            devices[entry.name] = await stack.enter_async_context(board_device(entry, control, context.events))
        yield await stack.enter_async_context(TwinPremises(hub, devices, context.events, twin, boards))


class TwinPremises(BoardPremises):
    """A twin's premises, with the emulated hardware's fault controls for the twin's own tests.

    ``stick`` pulls, hangs or resets the coordinator stick; ``boards`` (by device name) make a
    board vanish, go silent or print garbage. Conformance tests never touch them: they run on
    a lab as they are.
    """

    def __init__(self, hub: CommsHub, devices: Mapping[str, BoardDevice], events: EventStream, stick: EzspTwin,
                 boards: Mapping[str, EmulatedBoard]) -> None:
        super().__init__(hub, devices, events)
        self.stick = stick
        self.boards = boards


async def _emulated_device(stack: contextlib.AsyncExitStack, context: AssemblyContext, entry: DeviceConfig,
                           air: VirtualAir, nwk: int) -> DeviceBoard:
    """``entry`` emulated on the air with a clock of its own (a board's clock can be set)."""
    clock = BenchClock(context.config.start, loop=context.clock.loop, origin=context.clock.origin)
    device = build_device(
        entry.type, air, device_settings(context.config, entry, nwk),
        clock, context.keystore, gsme_timing=GsmeTiming(wake_interval_s=context.config.timing.gsme_wake_interval_s))
    stack.push_async_callback(device.close)
    pace(air, context.config, entry, device.node)
    return DeviceBoard(device, clock)
