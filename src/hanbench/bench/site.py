"""What a bench of one premises and an estate of many share: the clock, the stream, the DCC, the users.

A script talks to either through the same calls: the bench clock (:meth:`Site.now`,
:meth:`Site.advance`), the users (:meth:`Site.user`, who act through the one DCC), images
(:meth:`Site.read_image`, :meth:`Site.image`) and devices named by object, entity ID or
name. :class:`~hanbench.bench.bench.Bench` adds the one premises (its CH, its emulator
controls); :class:`~hanbench.bench.estate.Estate` the many, and sets of their devices.
The session record and its outcome are the same for both (:func:`recorded_session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from hanbench.bench.bench_config import BenchConfig, BenchKind, DeviceConfig, NotOnBench
from hanbench.bench.events import EventStream
from hanbench.bench.lock import BenchLock
from hanbench.bench.premises import DeviceState, DeviceUnderTest, ShowsOccupantData
from hanbench.bench.record import Session, SessionOutcome, SessionRecord
from hanbench.bench.session_events import PremisesClosed, PremisesOpened, delivery_publisher
from hanbench.bench.users import BenchUser, ImageSource
from hanbench.clock import BenchClock, is_virtual
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_port import HubPort
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.service_requests import TargetResult
from hanbench.gbcs.keystore import KeyStore
from hanbench.gbcs.security_credentials import CredentialsOutcome
from hanbench.errors import BadInput, CheckFailed
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image_types import profile_for
from hanbench.gbcs.occupant_data import DisplayedData
from hanbench.gbcs.roles import SUPPLIER_ROLES, Role


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

    @property
    def display(self) -> DisplayedData:
        """What an IHD or PPMID shows of the occupant now (SECMP0056): read off the emulated
        device, or from its board's last ``state`` (control protocol 1.3). :class:`BadInput`
        for a device that shows none, or one whose kind cannot tell."""
        if not isinstance(self._device, ShowsOccupantData):
            raise BadInput(f"this bench cannot read what {self.name} shows")
        return self._device.display

    def __repr__(self) -> str:
        return f"BenchDevice({self.name!r}, {self.type.value}, {self.id})"


DeviceRef = BenchDevice | EntityId | str
"""A device as scripts name it: the object, its entity ID, or its bench-file name."""


class Site:
    """The clock, the event stream, the DCC and the users of an open bench or estate."""

    def __init__(self, config: BenchConfig, clock: BenchClock, events: EventStream, dcc: Dcc,
                 session: Session) -> None:
        self.config = config
        self.clock = clock
        self.events = events
        self.dcc = dcc
        self.session = session
        #: The stream's ``seq`` when this site was ready: ``events.wait_for(..., since=site.opened_seq)``
        #: then sees this site's events only, even on a stream shared across benches.
        self.opened_seq = events.last_seq
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

    def device(self, handle: DeviceRef) -> BenchDevice:
        """A device by its object, its name or its entity ID."""
        raise NotImplementedError

    def id_of(self, device: DeviceRef) -> EntityId:
        return self.device(device).id

    def ids(self, devices: Sequence[DeviceRef]) -> tuple[EntityId, ...]:
        """Entity IDs of a device list (a single device is refused: SRs take lists)."""
        if isinstance(devices, (str, BenchDevice, EntityId)):
            raise BadInput("the device list must be a list of devices, not a single one: write [device]")
        return tuple(self.id_of(d) for d in devices)

    async def change_supplier(self, device: DeviceRef, supplier: BenchUser) -> CredentialsOutcome | None:
        """Change of supplier: ``supplier`` becomes ``device``'s responsible supplier, in the DCC's
        inventory and on the device (:meth:`hanbench.dcc.dcc.Dcc.change_supplier`: CS02b Update
        Security Credentials from the DCC as Transitional Change of Supplier party).

        From now on the DCC authorises Service Requests and routes alerts for the device by
        the new supplier, so the old supplier, and every RSA it appointed, lose the device; and
        the device verifies images and CS06 with the new supplier's key, so only the new
        supplier can activate (``None`` for a device without a Supplier trust anchor: an IHD).
        :meth:`supplier_of` still names the bench file's supplier, who
        signs the sample images. The next session starts from the bench file again.
        """
        return await self.dcc.change_supplier(self.id_of(device), supplier.id)

    async def change_tenancy(self, meter: DeviceRef, supplier: BenchUser) -> TargetResult:
        """Change of tenancy: ``supplier`` (the meter's) sends SR 3.2 Restrict Access For Change Of
        Tenancy for ``meter``, and the CH tells the premises' IHDs and PPMIDs, which clear the
        previous occupant's data (SECMP0056; :meth:`BenchUser.restrict_access_for_change_of_tenancy`).
        A user who may not send it gets the refusal in the result, as for any SR."""
        return await supplier.restrict_access_for_change_of_tenancy(meter)

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

    # -- images -----------------------------------------------------------------------------

    def image(self, device: DeviceRef, file_version: int) -> bytes:
        """The sample image of ``file_version`` for ``device``'s type (an Alt HAN bridge's: its bridge
        type's), from the bench's images folder."""
        config = self.device(device).config
        name = profile_for(config.type, config.ppmid_variant).file_name(file_version)
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


class VirtualTimeRequired(BadInput):
    """An emu bench was opened on an ordinary event loop."""


def running_loop_for(config: BenchConfig, virtual_time: bool) -> asyncio.AbstractEventLoop:
    """The running loop, refused (:class:`VirtualTimeRequired`) when ``config``'s kind needs
    virtual time and the loop keeps real time."""
    loop = asyncio.get_running_loop()
    if virtual_time and not is_virtual(loop):
        raise VirtualTimeRequired(
            f"{config.file} is an {config.kind} bench, which runs in virtual time: run the script with "
            "hanbench.run_virtual(main()), or the test with the hanbench pytest plugin")
    return loop


@contextlib.contextmanager
def announced(stack: contextlib.AsyncExitStack, config: BenchConfig, clock: BenchClock,
              stream: EventStream) -> Iterator[None]:
    """Around the assembly of the premises: ``premises_opened`` with its wall time once built,
    and ``premises_closed`` with the bench time it lived when ``stack`` unwinds."""
    began = time.perf_counter()  # wall time, for the summary only; the bench runs on the clock
    yield
    stream.publish(PremisesOpened(bench=config.name, assembly_wall_s=time.perf_counter() - began))
    stack.callback(lambda: stream.publish(PremisesClosed(
        bench=config.name, elapsed_s=(clock.now() - config.start).total_seconds())))


def start_dcc(stack: contextlib.AsyncExitStack, config: BenchConfig, inventory: Inventory, keystore: KeyStore,
              hub: HubPort, clock: BenchClock, stream: EventStream) -> Dcc:
    """The DCC over ``hub``, its deliveries on ``stream``, closed when ``stack`` unwinds."""
    dcc = Dcc(inventory, keystore, hub, config.policy, clock.now,
              response_wait=dt.timedelta(seconds=config.timing.response_wait_s))
    dcc.on_delivery(delivery_publisher(stream))
    stack.push_async_callback(dcc.aclose)
    return dcc


@contextlib.contextmanager
def recorded_session(config: BenchConfig, clock: BenchClock, stream: EventStream) -> Iterator[Session]:
    """The bench's lock and a session of its own in ``config.database_path``, recording ``stream``.

    The session ends ``passed`` when the block does, ``failed`` when a failed check or an
    assertion leaves it, ``aborted`` for anything else (assembly failing included).
    """
    with BenchLock(config.database_path), SessionRecord(config.database_path) as record, \
            record.start(config, clock.now) as own:
        own.attach(stream)
        try:
            yield own
        except BaseException as exc:
            own.finish(_outcome_of(exc), f"{type(exc).__name__}: {exc}")
            raise
        own.finish(SessionOutcome.PASSED)


@contextlib.contextmanager
def session_for(config: BenchConfig, clock: BenchClock, stream: EventStream,
                session: Session | None) -> Iterator[Session]:
    """``session`` when a caller that runs many benches keeps one (the pytest plugin), else a
    :func:`recorded_session` of the bench's own."""
    if session is not None:
        yield session
        return
    with recorded_session(config, clock, stream) as own:
        yield own


def _outcome_of(exc: BaseException) -> SessionOutcome:
    """A failed check or assertion fails the session; anything else aborted it."""
    return SessionOutcome.FAILED if isinstance(exc, (AssertionError, CheckFailed)) else SessionOutcome.ABORTED
