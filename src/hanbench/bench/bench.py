"""The bench a lab engineer drives: ``async with open_bench("bench/emu.toml") as bench: ...``.

:func:`open_bench` loads the bench file, reconciles the DCC's inventory in the session
database with it, has the bench's kind assemble the premises (on ``emu``: the virtual air,
the CH's coordinator, the CH, every device joined and interviewed), starts the DCC on top,
and records the session. Leaving the block shuts everything down with no task left and
closes the session record as ``passed``, ``failed`` (an assertion or a failed check left the
block) or ``aborted`` (anything else did).

Everything a script touches is the same for every kind; only :attr:`Bench.emulator` is
emu-only, and says so when asked elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

from hanbench.bench.bench_config import BenchConfig, BenchKind, DeviceConfig, NotOnBench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.session_events import PremisesClosed, PremisesOpened, delivery_publisher
from hanbench.bench.events import EventStream
from hanbench.bench.kinds import kind_strategy
from hanbench.bench.lock import BenchLock
from hanbench.bench.premises import AssemblyContext, DeviceState, DeviceUnderTest, EmulatorControls, Kind, \
    NotOnEmulator, Premises
from hanbench.bench.record import Session, SessionOutcome, SessionRecord
from hanbench.bench.readiness import check_emulated, check_keys, check_one_premises
from hanbench.bench.seeding import reconcile_inventory
from hanbench.bench.users import BenchUser, ImageSource
from hanbench.clock import BenchClock, is_virtual
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_port import HubPort
from hanbench.dcc.inventory import Inventory
from hanbench.errors import BadInput, CheckFailed
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import profile_for
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.roles import SUPPLIER_ROLES, Role
from hanbench.radio.capture import AirCapture
from hanbench.radio.pcap import capture_target


class BenchDevice:
    """A HAN device of the bench: its bench-file entry and its live firmware state."""

    def __init__(self, device: DeviceUnderTest) -> None:
        self._device = device
        self.config: DeviceConfig = device.config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def id(self) -> EntityId:
        return self.config.id

    @property
    def type(self) -> DeviceType:
        return self.config.type

    @property
    def state(self) -> DeviceState:
        """What the device runs and holds now, as the device reports it."""
        return self._device.state

    def __repr__(self) -> str:
        return f"BenchDevice({self.name!r}, {self.type.value}, {self.id})"


DeviceRef = BenchDevice | EntityId | str
"""A device as scripts name it: the object, its entity ID, or its bench-file name."""


class VirtualTimeRequired(BadInput):
    """An emu bench was opened on an ordinary event loop."""


class Bench:
    """An open bench. Build it with :func:`open_bench`."""

    def __init__(self, config: BenchConfig, clock: BenchClock, events: EventStream, dcc: Dcc, premises: Premises,
                 session: Session) -> None:
        self.config = config
        self.clock = clock
        self.events = events
        self.dcc = dcc
        self.session = session
        self._premises = premises
        #: The stream's ``seq`` when this premises was ready: ``events.wait_for(..., since=bench.opened_seq)``
        #: then sees this premises' events only, even on a stream shared across benches.
        self.opened_seq = events.last_seq
        self._devices = {name: BenchDevice(device) for name, device in premises.devices.items()}
        # Inboxes outlive sessions: only messages after these marks are this session's.
        self._users = {u.id: BenchUser(self, u.id, u.name, u.roles, dcc.inboxes.last_seq(u.id))
                       for u in config.users}

    @property
    def kind(self) -> BenchKind:
        return self.config.kind

    @property
    def name(self) -> str:
        return self.config.name

    def now(self) -> dt.datetime:
        """The bench clock (UTC): virtual on an emu bench."""
        return self.clock.now()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of bench time pass (at once in virtual time, for real elsewhere)."""
        if seconds < 0:
            raise BadInput(f"time only moves forward; cannot advance by {seconds} s")
        await asyncio.sleep(seconds)

    async def sleep_until(self, when: dt.datetime) -> None:
        """Return when the bench clock reads ``when`` (at once if that has passed)."""
        await self.clock.sleep_until(when)

    # -- devices ------------------------------------------------------------------------------

    @property
    def devices(self) -> tuple[BenchDevice, ...]:
        """Every HAN device, in bench-file order."""
        return tuple(self._devices.values())

    def device(self, handle: DeviceRef) -> BenchDevice:
        """A device by name, by type (when only one has it) or by entity ID."""
        if isinstance(handle, BenchDevice):
            return handle
        return self._devices[self.config.device(handle).name]

    def has_device(self, device_type: DeviceType | str) -> bool:
        return bool(self.config.devices_of(device_type))

    def id_of(self, device: DeviceRef) -> EntityId:
        return self.device(device).id

    def ids(self, devices: Sequence[DeviceRef]) -> tuple[EntityId, ...]:
        """Entity IDs of a device list (a single device is refused: SRs take lists)."""
        if isinstance(devices, (str, BenchDevice, EntityId)):
            raise BadInput("the device list must be a list of devices, not a single one: write [device]")
        return tuple(self.id_of(d) for d in devices)

    @property
    def hub(self) -> HubPort:
        """The CH as the DCC talks to it (distribute an image, send a command), past the DCC.

        The direct hub path, on every kind: it is how a conformance test puts in front of a
        device what the DCC would refuse to send (an image signed by someone else, a CS06
        signed with the wrong key or replayed), to check that the device refuses it too.
        """
        return self._premises.hub

    @property
    def comms_hub(self) -> object:
        """The kind's CH object (``CommsHub`` on emu), for tests that look inside the hub."""
        return self._premises.comms_hub

    # -- users ------------------------------------------------------------------------------

    def user(self, user_id: EntityId | str) -> BenchUser:
        """A user by entity ID or by name."""
        for user in self._users.values():
            if user.name == user_id:
                return user
        return self._users[self.config.user(user_id).id]

    @property
    def users(self) -> tuple[BenchUser, ...]:
        return tuple(self._users.values())

    @property
    def supplier(self) -> BenchUser:
        """The responsible supplier of the premises' devices (there must be exactly one)."""
        found = {d.responsible_supplier for d in self.config.devices}
        if len(found) != 1:
            names = ", ".join(sorted(str(s) for s in found)) or "none"
            raise NotOnBench(f"bench {self.name!r} has no single supplier (its devices' suppliers: {names}); "
                             "use bench.supplier_of(device)")
        return self._users[found.pop()]

    def supplier_of(self, device: DeviceRef) -> BenchUser:
        """The responsible supplier of ``device``: who signs its images and CS06."""
        return self._users[self.device(device).config.responsible_supplier]

    def rsa_of(self, supplier: BenchUser) -> BenchUser:
        """The RSA ``supplier`` appointed (MP207)."""
        rsas = self.config.rsas_of(supplier.id)
        if not rsas:
            raise NotOnBench(f"{supplier.name} ({supplier.id}) has appointed no RSA on bench {self.name!r}")
        return self._users[rsas[0].id]

    def user_with(self, role: Role | str, *, besides: Sequence[BenchUser] = ()) -> BenchUser:
        """The first user (in bench-file order) holding ``role``, other than those in ``besides``."""
        wanted = Role.parse(role) if isinstance(role, str) else role
        skip = {u.id for u in besides}
        for user in self._users.values():
            if wanted in user.roles and user.id not in skip:
                return user
        raise NotOnBench(f"bench {self.name!r} has no{' other' if skip else ''} user with role {wanted}")

    def other_supplier(self, supplier: BenchUser) -> BenchUser:
        """A supplier that is not ``supplier`` (for "signed by someone else" cases)."""
        for user in self._users.values():
            if user.roles & SUPPLIER_ROLES and user.id != supplier.id:
                return user
        raise NotOnBench(f"bench {self.name!r} has no supplier besides {supplier.name}")

    def change_supplier(self, device: DeviceRef, supplier: BenchUser) -> None:
        """Change of supplier in the DCC's inventory: ``supplier`` becomes ``device``'s responsible supplier.

        From now on the DCC authorises Service Requests and routes alerts for the device by
        the new supplier, so the old supplier, and every RSA it appointed, lose the device.
        Only the DCC's records change: the device keeps its trust anchors (the bench does not
        model the certificate replacement a real change of supplier goes with) and
        :meth:`supplier_of` still names the bench file's supplier, who signs its images. The
        next session starts from the bench file again.
        """
        self.dcc.inventory.change_supplier(self.id_of(device), supplier.id)

    # -- images -----------------------------------------------------------------------------

    def image(self, device: DeviceRef, file_version: int) -> bytes:
        """The sample image of ``file_version`` for ``device``'s type, from the bench's images folder."""
        name = profile_for(self.device(device).type).file_name(file_version)
        return self.read_image(self.config.images / name)

    def read_image(self, image: ImageSource) -> bytes:
        """Image bytes from bytes, a path, or a file name in the bench's images folder."""
        if isinstance(image, bytes):
            return image
        path = Path(image)
        if not path.is_absolute() and not path.exists() and (self.config.images / path).exists():
            path = self.config.images / path
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read image {path}: {exc.strerror}") from None

    # -- emulator ----------------------------------------------------------------------------

    @property
    def emulator(self) -> EmulatorControls:
        """Fault injection and stimuli (link loss, waking a GSME): emu only."""
        controls = self._premises.controls
        if controls is None:
            raise NotOnEmulator(f"emulator controls need an emu bench (virtual time, fault injection); "
                                f"active bench {self.config.file} is {self.kind}")
        return controls


class CaptureUnavailable(BadInput):
    """A capture was asked of a bench whose air is real radio, which hanbench cannot see."""


def capture_path(config: BenchConfig, path: Path | str) -> Path:
    """``path`` made absolute, if a capture of ``config``'s air can be written there.

    Only emu and twin benches have a virtual air (a bench file gives ``[air]`` to those
    alone); a lab bench's frames never pass through hanbench.
    """
    if config.air is None:
        raise CaptureUnavailable(f"{config.file} is a {config.kind} bench, whose air is real radio: capture the "
                                 "real air with a sniffer; hanbench cannot see it")
    return capture_target(path)


def open_capture(config: BenchConfig, path: Path | str) -> AirCapture:
    """A pcap capture of ``config``'s virtual air into ``path`` (see :mod:`hanbench.radio.capture`)."""
    return AirCapture(capture_path(config, path))


@contextlib.asynccontextmanager
async def open_bench(bench_file: Path | str | BenchConfig, *, events: EventStream | None = None,
                     session: Session | None = None,
                     capture: Path | str | AirCapture | None = None) -> AsyncIterator[Bench]:
    """Open the bench of ``bench_file`` (a path or a loaded config) for one session.

    ``events`` and ``session`` let a caller that runs many benches (the pytest plugin) keep
    one event stream and one session record across them (and hold the bench's lock); by
    default the bench has its own stream, takes the lock, and records its own session in
    ``config.database_path``.

    ``capture`` writes every frame of the virtual air to a pcap file: a path (the file
    appears there when the bench closes, however the session ended), or an
    :class:`~hanbench.radio.capture.AirCapture` the caller shares across benches and closes.
    """
    config = bench_file if isinstance(bench_file, BenchConfig) else load_bench(bench_file)
    check_one_premises(config)
    check_emulated(config)
    check_keys(config)
    kind = kind_strategy(config.kind)
    loop = asyncio.get_running_loop()
    if kind.VIRTUAL_TIME and not is_virtual(loop):
        raise VirtualTimeRequired(
            f"{config.file} is an {config.kind} bench, which runs in virtual time: run the script with "
            "hanbench.run_virtual(main()), or the test with the hanbench pytest plugin")
    with _own_capture(config, capture) as air_capture:
        clock = BenchClock(config.start, loop=loop)
        stream = events if events is not None else EventStream(clock.now)
        if session is not None:
            async with _assembled(config, kind, clock, stream, session, air_capture) as bench:
                yield bench
            return
        with BenchLock(config.database_path), SessionRecord(config.database_path) as record, \
                record.start(config, clock.now) as own:
            # The session's own exit marks it aborted if assembly fails before the block runs.
            own.attach(stream)
            try:
                async with _assembled(config, kind, clock, stream, own, air_capture) as bench:
                    yield bench
            except BaseException as exc:
                own.finish(_outcome_of(exc), f"{type(exc).__name__}: {exc}")
                raise
            own.finish(SessionOutcome.PASSED)


def _own_capture(config: BenchConfig, capture: Path | str | AirCapture | None
                 ) -> contextlib.AbstractContextManager[AirCapture | None]:
    """The capture to use: opened here (and closed on leaving) for a path, else as given."""
    if capture is None or isinstance(capture, AirCapture):
        return contextlib.nullcontext(capture)
    return open_capture(config, capture)


@contextlib.asynccontextmanager
async def _assembled(config: BenchConfig, kind: Kind, clock: BenchClock, stream: EventStream,
                     session: Session, capture: AirCapture | None) -> AsyncIterator[Bench]:
    """The premises and the DCC over it, torn down in reverse order of building."""
    async with contextlib.AsyncExitStack() as stack:
        inventory = stack.enter_context(Inventory(config.database_path))
        reconcile_inventory(inventory, config)
        keystore = KeyStore(config.keystore)
        began = time.perf_counter()  # wall time, for the summary only; the bench runs on the clock
        premises = await stack.enter_async_context(
            kind.assemble(AssemblyContext(config, clock, stream, keystore, capture)))
        stream.publish(PremisesOpened(bench=config.name, assembly_wall_s=time.perf_counter() - began))
        stack.callback(lambda: stream.publish(PremisesClosed(
            bench=config.name, elapsed_s=(clock.now() - config.start).total_seconds())))
        dcc = Dcc(inventory, keystore, premises.hub, config.policy, clock.now,
                  response_wait=timedelta(seconds=config.timing.response_wait_s))
        dcc.on_delivery(delivery_publisher(stream))
        stack.push_async_callback(dcc.aclose)
        yield Bench(config, clock, stream, dcc, premises, session)


def _outcome_of(exc: BaseException) -> SessionOutcome:
    """A failed check or assertion fails the session; anything else aborted it."""
    return SessionOutcome.FAILED if isinstance(exc, (AssertionError, CheckFailed)) else SessionOutcome.ABORTED
