"""What the twin and lab kinds share: the CH on a stick, devices reached through their boards.

On the hardware code path the bench learns a device's firmware state only from its board
(``hardware.md``, the board control protocol). :class:`BoardDevice` is the
:class:`~hanbench.bench.premises.DeviceUnderTest` of such a device: it checks on connect that
the board on the port is the device the bench file names, keeps the latest state the board
reported (a ``state`` answer, then every ``state`` event), so that reading ``device.state``
never waits on a serial port, and publishes what the reports show the device did
(:mod:`.board_events`). A board keeps its firmware from one premises to the next, so a board
left by an earlier test in another state than the bench file's start (another running
version, a held image, a pending activation) is brought back with the control protocol's
``restore_factory_image`` before the premises is handed out; one that cannot be is stopped
with what to do, rather than failing the tests that assume the start. :class:`BoardPremises` hands the DCC a CH whose alerts and responses
wait for the boards to have reported (:mod:`.settled_hub`), so that state is current by the
time a script acts on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

import zigpy.application

from hanbench.bench.bench_config import BenchConfig, DeviceConfig
from hanbench.bench.events import EventStream, InfrastructureFaultRaised, InfrastructureRestored
from hanbench.bench.kinds.board_events import receipt_alert, state_changes
from hanbench.bench.kinds.settled_hub import SettledHub
from hanbench.bench.kinds.stick_watch import StickWatch
from hanbench.bench.premises import AssemblyContext, DeviceState
from hanbench.errors import BadInput, HanbenchError, InfrastructureFault
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.occupant_data import DisplayedData
from hanbench.hardware.control import BoardControl, PortVanished
from hanbench.hardware.ports import PortMatch
from hanbench.hardware.protocol import AlertEvent, BoardRefused, BoardState, Event, Identity, StateEvent
from hanbench.hub.comms_hub import CommsHub
from hanbench.radio.addresses import eui64_of
from hanbench.radio.join_security import JoinSecurity
from hanbench.radio.stick import StickSettings

log = logging.getLogger(__name__)


class WrongBoard(BadInput):
    """The board on a device's port says it is another device (role or EUI-64)."""


def check_identity(entry: DeviceConfig, identity: Identity, port: str) -> None:
    """Refuse a board that is not the device ``entry`` describes."""
    if identity.role is not entry.type or identity.eui64 != entry.id:
        raise WrongBoard(
            f"board for {entry.name!r} on {port} is a {identity.role.value} {identity.eui64}, but the bench file "
            f"says {entry.type.value} {entry.id}: check the board's port match")


class BoardNotAtStart(InfrastructureFault):
    """A board is not in the bench file's start state and cannot be brought back to it."""


class BoardDevice:
    """A device under test whose state comes from its board's control port."""

    def __init__(self, config: DeviceConfig, control: BoardControl, events: EventStream) -> None:
        self.config = config
        self.control = control
        self._events = events
        self._latest: BoardState | None = None
        self._reports = 0  # state events heard: an answer older than one of them is not taken
        self._unlisten = control.listen(self._heard)

    @property
    def state(self) -> DeviceState:
        """The board's last report."""
        latest = self._latest
        assert latest is not None, "board_device() reads the state before handing the device out"
        held, pending = latest.held_image, latest.pending_activation
        return DeviceState(
            running_version=latest.firmware_version, running_hash=latest.running_hash,
            held_version=None if held is None else held.version, held_hash=None if held is None else held.hash,
            pending_activation_at=None if pending is None else pending.execution)

    @property
    def display(self) -> DisplayedData:
        """What the board's IHD or PPMID shows, from its last report (control protocol 1.3)."""
        latest = self._latest
        assert latest is not None, "board_device() reads the state before handing the device out"
        if latest.display is None:
            raise BadInput(f"board {self.config.name} reports no display: a {self.config.type.value} shows no "
                           "occupant data, or its test build predates control protocol 1.3")
        return latest.display

    @property
    def component(self) -> str:
        """How infrastructure events name this device's board."""
        return f"board {self.config.name}"

    async def settle(self) -> BoardState:
        """Ask the board now; once it answers, every state it announced before is known here.

        A control port that vanished is waited for (``BoardControl.reset_timeout``) and
        reopened, as a board reset by hand or a USB hub hiccup must not fail a test; the
        outage is on the event stream as an infrastructure fault and its end.
        """
        try:
            return await self._ask()
        except PortVanished as exc:
            self._events.publish(InfrastructureFaultRaised(component=self.component, message=str(exc)))
        check_identity(self.config, await self.control.reconnect(), self.control.device or str(self.control.match))
        self._events.publish(InfrastructureRestored(component=self.component,
                                                    message=f"the board answers again on {self.control.device}"))
        return await self._ask()

    async def bring_to_start(self) -> None:
        """Bring a board an earlier premises left elsewhere back to the bench file's start."""
        if (away := self._away_from_start()) is None:
            return
        log.info("%s: %s; restoring its factory image", self.component, away)
        try:
            await self.control.restore_factory_image()
        except BoardRefused as exc:
            raise BoardNotAtStart(f"{self.component}: {away}, and it cannot restore its factory image "
                                  f"({exc}): flash firmware version {self.config.firmware_version} "
                                  f"or set the device's firmware_version in the bench file") from None
        await self.settle()
        if (away := self._away_from_start()) is not None:
            raise BoardNotAtStart(f"{self.component}: after restoring its factory image {away}: flash firmware "
                                  f"version {self.config.firmware_version} or set the device's firmware_version "
                                  f"in the bench file")

    def _away_from_start(self) -> str | None:
        """How the board's last report differs from the bench file's start, or None."""
        state = self.state
        if state.running_version != self.config.firmware_version:
            return (f"it runs firmware version {state.running_version}, the bench file starts it at "
                    f"{self.config.firmware_version}")
        if state.held_version is not None:
            return f"it holds an image of version {state.held_version}"
        if state.pending_activation_at is not None:
            return f"it has an activation pending for {state.pending_activation_at.isoformat()}"
        return None

    async def _ask(self) -> BoardState:
        reports = self._reports
        answer = await self.control.state()
        if self._reports == reports:  # no announcement crossed the request: the answer is the latest
            self._take(answer)
        return answer

    def close(self) -> None:
        self._unlisten()

    def _heard(self, event: Event) -> None:
        if isinstance(event, StateEvent):
            self._reports += 1
            self._take(event.state)
        elif isinstance(event, AlertEvent):
            try:
                receipt = receipt_alert(self.config.id, event.alert)
            except GbcsError as exc:
                log.warning("board %r reported an undecodable receipt alert: %s", self.config.name, exc)
                return
            if receipt is not None:
                self._events.publish(receipt)

    def _take(self, state: BoardState) -> None:
        previous, self._latest = self._latest, state
        if previous is not None:
            for change in state_changes(self.config.id, previous, state):
                self._events.publish(change)


@contextlib.asynccontextmanager
async def board_device(entry: DeviceConfig, control: BoardControl, events: EventStream) -> AsyncIterator[BoardDevice]:
    """``entry``'s device on ``control`` (opened, identity checked, state followed), closed on exit."""
    async with control:
        check_identity(entry, await control.identify(), control.device or str(control.match))
        device = BoardDevice(entry, control, events)
        try:
            await device.settle()
            await device.bring_to_start()
            yield device
        finally:
            device.close()


class BoardPremises:
    """A premises whose CH runs on a stick and whose devices answer on board ports.

    An async context manager: while open, the DCC's view of the CH (:attr:`hub`) waits for
    the boards after every frame.
    """

    def __init__(self, hub: CommsHub, devices: Mapping[str, BoardDevice], events: EventStream) -> None:
        self._hub = hub
        self._devices = devices
        self._events = events
        self._settled = SettledHub(hub, self.settle)

    async def __aenter__(self) -> BoardPremises:
        await self._settled.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._settled.__aexit__(*exc_info)

    @property
    def hub(self) -> SettledHub:
        return self._settled

    @property
    def comms_hub(self) -> CommsHub:
        return self._hub

    @property
    def devices(self) -> Mapping[str, BoardDevice]:
        return self._devices

    @property
    def controls(self) -> None:
        return None

    async def settle(self) -> None:
        """Bring every device's state up to date; a board that cannot answer is reported, not raised.

        An alert must still reach the DCC when a board is away: the state of that device may
        then lag, and the fault on the stream says why.
        """
        devices = list(self._devices.values())
        results = await asyncio.gather(*(d.settle() for d in devices), return_exceptions=True)
        for device, result in zip(devices, results, strict=True):
            if isinstance(result, HanbenchError):  # a vanished or broken control port: the bench's fault
                self._events.publish(InfrastructureFaultRaised(component=device.component, message=str(result)))
            elif isinstance(result, BaseException):
                raise result


def stick_settings(config: BenchConfig, path: str) -> StickSettings:
    """The CH's radio of ``config`` on the port ``path``, its state in the session folder."""
    assert config.radio is not None, "load_bench requires [radio] on twin and lab benches"
    return StickSettings(radio=config.radio.type.value, path=path,
                         state_dir=config.sessions / config.name / "radio",
                         baudrate=config.radio.baudrate, flow_control=config.radio.flow_control.value)


def join_security(config: BenchConfig) -> JoinSecurity:
    """The join key of every device of ``config`` that has its own (``install_code``, ``link_key``).

    Both kinds on a stick open the network through this one :class:`JoinSecurity`, so a
    device joins with the same key on a twin as on a lab bench.
    """
    return JoinSecurity.from_codes(
        install_codes={eui64_of(d.id): d.install_code for d in config.devices if d.install_code is not None},
        link_keys={eui64_of(d.id): d.link_key for d in config.devices if d.link_key is not None})


def stick_watch(app: zigpy.application.ControllerApplication, context: AssemblyContext, port: PortMatch) -> StickWatch:
    """The watch over the CH's stick on ``port``, with the bench file's probe and reconnect timing."""
    radio = context.config.radio
    assert radio is not None, "load_bench requires [radio] on twin and lab benches"
    return StickWatch(app, port, context.events, probe_interval_s=radio.probe_interval_s,
                      probe_timeout_s=radio.probe_timeout_s, reconnect_timeout_s=radio.reconnect_timeout_s)
