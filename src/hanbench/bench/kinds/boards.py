"""What the twin and lab kinds share: the CH on a stick, devices reached through their boards.

On the hardware code path the bench learns a device's firmware state only from its board
(``hardware.md``, the board control protocol). :class:`BoardDevice` is the
:class:`~hanbench.bench.premises.DeviceUnderTest` of such a device: it checks on connect that
the board on the port is the device the bench file names, then keeps the latest state the
board reported (a ``state`` answer, then every ``state`` event), so that reading
``device.state`` never waits on a serial port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import zigpy.application

from hanbench.bench.config import BenchConfig, DeviceConfig
from hanbench.bench.kinds.emu import hub_timing
from hanbench.bench.kinds.emu_events import StreamObserver
from hanbench.bench.premises import AssemblyContext, DeviceState
from hanbench.errors import BadInput
from hanbench.hardware.control import BoardControl
from hanbench.hardware.protocol import BoardState, Identity, StateEvent
from hanbench.hub.comms_hub import CommsHub
from hanbench.radio.stick import StickSettings


class WrongBoard(BadInput):
    """The board on a device's port says it is another device (role or EUI-64)."""


def check_identity(entry: DeviceConfig, identity: Identity, port: str) -> None:
    """Refuse a board that is not the device ``entry`` describes."""
    if identity.role is not entry.type or identity.eui64 != entry.id:
        raise WrongBoard(
            f"board for {entry.name!r} on {port} is a {identity.role.value} {identity.eui64}, but the bench file "
            f"says {entry.type.value} {entry.id}: check the board's port match")


class BoardDevice:
    """A device under test whose state comes from its board's control port."""

    def __init__(self, config: DeviceConfig, control: BoardControl, state: BoardState) -> None:
        self.config = config
        self.control = control
        self._latest = state

    @property
    def state(self) -> DeviceState:
        """The board's last report (the protocol carries no hash of the running image)."""
        latest = self._latest
        held, pending = latest.held_image, latest.pending_activation
        return DeviceState(
            running_version=latest.firmware_version, running_hash=None,
            held_version=None if held is None else held.version, held_hash=None if held is None else held.hash,
            pending_activation_at=None if pending is None else pending.at)

    async def refresh(self) -> BoardState:
        """Ask the board now (after a reset, for instance) and keep its answer."""
        self._latest = await self.control.state()
        return self._latest

    async def follow(self) -> None:
        """Keep every state the board announces, until its port closes."""
        async for event in self.control.events():
            if isinstance(event, StateEvent):
                self._latest = event.state


@contextlib.asynccontextmanager
async def board_device(entry: DeviceConfig, control: BoardControl) -> AsyncIterator[BoardDevice]:
    """``entry``'s device on ``control`` (opened, identity checked, state followed), closed on exit."""
    async with control:
        check_identity(entry, await control.identify(), control.device or str(control.match))
        device = BoardDevice(entry, control, await control.state())
        follower = asyncio.get_running_loop().create_task(device.follow(), name=f"board-state-{entry.name}")
        try:
            yield device
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)


class BoardPremises:
    """A premises whose CH runs on a stick and whose devices answer on board ports."""

    def __init__(self, hub: CommsHub, devices: Mapping[str, BoardDevice]) -> None:
        self._hub = hub
        self._devices = devices

    @property
    def hub(self) -> CommsHub:
        return self._hub

    @property
    def comms_hub(self) -> CommsHub:
        return self._hub

    @property
    def devices(self) -> Mapping[str, BoardDevice]:
        return self._devices

    @property
    def controls(self) -> None:
        return None


def stick_settings(config: BenchConfig, path: str) -> StickSettings:
    """The CH's radio of ``config`` on the port ``path``, its state in the session folder."""
    assert config.radio is not None, "load_bench requires [radio] on twin and lab benches"
    return StickSettings(radio=config.radio.type.value, path=path,
                         state_dir=config.sessions / config.name / "radio",
                         baudrate=config.radio.baudrate, flow_control=config.radio.flow_control.value)


def hub_on(app: zigpy.application.ControllerApplication, context: AssemblyContext) -> CommsHub:
    """The CH on a started application, reporting to the bench's event stream."""
    config = context.config
    observer = StreamObserver(context.events, context.clock, block_size=config.timing.block_size_max,
                              queue_expiry_s=config.timing.queue_expiry_s)
    hub = CommsHub(app, entity_id=config.hub.id, keystore=context.keystore, clock=context.clock,
                   timing=hub_timing(config), observer=observer)
    hub.start()
    return hub
