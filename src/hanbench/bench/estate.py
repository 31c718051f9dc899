"""An estate: many premises on one event loop, in virtual time, under one DCC and one inventory.

``async with open_estate("bench/estate.toml") as estate: ...`` draws the premises from the
bench file (:mod:`hanbench.bench.estate_plan`), reconciles the one inventory with all of
them, then builds each premises as the emu kind builds a bench of one (its own virtual air,
CH and HAN devices, joined and interviewed: :func:`hanbench.bench.kinds.emu.assemble`),
``assembly_concurrency`` at a time, and puts the DCC over all their CHs
(:class:`~hanbench.dcc.hub_router.HubRouter`). Every CH and device signs with keys derived
from the seed (:mod:`hanbench.gbcs.derived_keys`); the users' keys come from the key store.

The DCC's own work over the estate: :meth:`Estate.ch_image` builds a CH firmware image (signed
by the DCC), :meth:`Estate.campaign` starts a SECMP0024 campaign over the CHs
(:mod:`hanbench.dcc.campaign`) whose notices go on the event stream.

A script acts on device sets: :meth:`Estate.devices` selects them (by type, template,
supplier, premises, or any test of the device), and a user's :meth:`BenchUser.paced` sends
SR 11.1 / 11.2 / 11.3 / 11.4 and runs its automation over a set with a supplier's throttle.
Everything else is what a bench of one premises offers (:class:`~hanbench.bench.site.Site`):
the clock, the users, the event stream and the session record.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path

from hanbench.bench.bench_config import BenchConfig, NotOnBench
from hanbench.bench.bench_file import load_bench
from hanbench.bench.estate_plan import EstatePlan, PremisesPlan, plan_estate
from hanbench.bench.events import EventStream
from hanbench.bench.kinds import emu
from hanbench.bench.premises import AssemblyContext, EmulatorControls
from hanbench.bench.readiness import check_emulated, check_keys
from hanbench.bench.record import Session
from hanbench.bench.seeding import reconcile_inventory
from hanbench.bench.session_events import publish_campaign
from hanbench.bench.site import BenchDevice, DeviceRef, Site, announced, running_loop_for, session_for, start_dcc
from hanbench.bench.users import BenchUser
from hanbench.clock import BenchClock
from hanbench.dcc.campaign import Campaign, CampaignPlan
from hanbench.dcc.ch_firmware import ch_image
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.hub_router import HubRouter
from hanbench.dcc.inventory import Inventory
from hanbench.errors import BadInput
from hanbench.gbcs.derived_keys import DerivedKeyStore
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.hub.comms_hub import CommsHub


class EstateDevice(BenchDevice):
    """A HAN device of an estate: a bench device that knows its premises."""

    def __init__(self, device: emu.EmulatedDevice, premises: str, template: str) -> None:
        super().__init__(device)
        self.premises = premises
        self.template = template

    def __repr__(self) -> str:
        return f"EstateDevice({self.name!r}, {self.type.value}, {self.id}, {self.template})"


class EstatePremises:
    """One premises of an open estate: its plan, its CH, its devices and its emulator controls."""

    def __init__(self, plan: PremisesPlan, built: emu.EmuPremises) -> None:
        self.plan = plan
        self._built = built
        self.devices = tuple(EstateDevice(built.devices[d.name], plan.name, plan.template) for d in plan.devices)

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def template(self) -> str:
        return self.plan.template

    @property
    def hub(self) -> CommsHub:
        """The premises' CH."""
        return self._built.hub

    @property
    def emulator(self) -> EmulatorControls:
        """Link loss, waking the GSME, dropping alerts: on this premises."""
        return self._built.controls

    def __repr__(self) -> str:
        return f"EstatePremises({self.name!r}, {self.template}, ch={self.plan.hub.id})"


class DeviceSet(tuple[EstateDevice, ...]):
    """Devices of an estate, in estate order: what a user's paced requests take."""

    @property
    def ids(self) -> tuple[EntityId, ...]:
        return tuple(device.id for device in self)

    def where(self, test: Callable[[EstateDevice], bool]) -> DeviceSet:
        """The devices of this set that pass ``test``."""
        return DeviceSet(device for device in self if test(device))


class Estate(Site):
    """An open estate. Build it with :func:`open_estate`."""

    def __init__(self, config: BenchConfig, clock: BenchClock, events: EventStream, dcc: Dcc, session: Session,
                 plan: EstatePlan, premises: Sequence[EstatePremises]) -> None:
        super().__init__(config, clock, events, dcc, session)
        self.plan = plan
        self.premises = tuple(premises)
        self._by_name = {device.name: device for p in self.premises for device in p.devices}
        self._by_id = {device.id: device for device in self._by_name.values()}
        self._premises_of = {device.id: p for p in self.premises for device in p.devices}
        self._premises_of.update({p.plan.hub.id: p for p in self.premises})

    def device(self, handle: DeviceRef) -> BenchDevice:
        """A device by object, name (``p0042-esme``) or entity ID."""
        if isinstance(handle, EstateDevice):
            return handle
        if isinstance(handle, str) and handle in self._by_name:
            return self._by_name[handle]
        try:
            wanted: EntityId | None = handle.id if isinstance(handle, BenchDevice) else EntityId.parse(handle)
        except BadInput:
            wanted = None
        if wanted in self._by_id:
            return self._by_id[wanted]
        raise NotOnBench(f"estate {self.name!r} has no device {str(handle)!r}")

    def premises_of(self, device: DeviceRef | EntityId) -> EstatePremises:
        """The premises a device (or a CH, by its entity ID) belongs to."""
        wanted = device if isinstance(device, EntityId) else self.id_of(device)
        try:
            return self._premises_of[wanted]
        except KeyError:
            raise NotOnBench(f"estate {self.name!r} has no device or CH {wanted}") from None

    def devices(self, type: DeviceType | str | None = None, *, template: str | None = None,
                supplier: BenchUser | None = None, premises: Iterable[EstatePremises] | None = None) -> DeviceSet:
        """The estate's devices of ``type``, of premises of ``template``, whose responsible supplier is
        ``supplier`` (in the DCC's inventory now, after any change of supplier), of ``premises``."""
        wanted = None if type is None else DeviceType.parse(type)
        pool = self.premises if premises is None else tuple(premises)
        found = (d for p in pool for d in p.devices
                 if (wanted is None or d.type is wanted) and (template is None or d.template == template))
        if supplier is not None:
            owned = {d.entity_id for d in self.dcc.inventory.devices() if d.responsible_supplier == supplier.id}
            found = (d for d in found if d.id in owned)
        return DeviceSet(found)

    # -- the CHs' own firmware -----------------------------------------------------------------

    @property
    def chs(self) -> tuple[EntityId, ...]:
        """Every premises' CH, in estate order."""
        return tuple(p.plan.hub.id for p in self.premises)

    def ch_image(self, file_version: int, payload: bytes = b"hanbench CH firmware") -> UpgradeImage:
        """An image of CH firmware at ``file_version``, signed by the DCC."""
        return ch_image(self.dcc.keystore, file_version, payload, signer=self.dcc.entity_id)

    def campaign(self, plan: CampaignPlan) -> Campaign:
        """A SECMP0024 campaign of the DCC over this estate's CHs; run it with ``await campaign.run()``.
        Its notices and CH updates go on the event stream (``campaign_notice``, ``ch_firmware_updated``)
        and so into the session record."""
        campaign = Campaign(self.dcc, plan)
        publish_campaign(campaign, self.events)
        return campaign


@contextlib.asynccontextmanager
async def open_estate(bench_file: Path | str | BenchConfig, *, events: EventStream | None = None,
                      session: Session | None = None) -> AsyncIterator[Estate]:
    """Open the estate of ``bench_file`` for one session (see the module docstring); ``events``
    and ``session`` as for :func:`~hanbench.bench.bench.open_bench`."""
    config = bench_file if isinstance(bench_file, BenchConfig) else load_bench(bench_file)
    plan = plan_estate(config)
    check_emulated(config)
    check_keys(config)
    loop = running_loop_for(config, emu.VIRTUAL_TIME)
    clock = BenchClock(config.start, loop=loop)
    stream = events if events is not None else EventStream(clock.now)
    with session_for(config, clock, stream, session) as recording:
        async with _assembled(config, plan, clock, stream, recording) as estate:
            yield estate


@contextlib.asynccontextmanager
async def _assembled(config: BenchConfig, plan: EstatePlan, clock: BenchClock, stream: EventStream,
                     session: Session) -> AsyncIterator[Estate]:
    """Every premises and the DCC over their CHs, torn down in reverse order of building."""
    async with contextlib.AsyncExitStack() as stack:
        inventory = stack.enter_context(Inventory(config.database_path))
        reconcile_inventory(inventory, config, plan.premises)
        entities = [p.hub.id for p in plan] + [d.id for d in plan.devices()]
        keystore = DerivedKeyStore(config.keystore, entities, seed=config.seed)
        settle = stack.enter_context(collected_for_the_estate(len(plan)))
        with announced(stack, config, clock, stream):
            premises = await _build(stack, config, plan, clock, stream, keystore, settle)
        router = HubRouter()
        for built in premises:
            router.add(built.plan.hub.id, built.hub, (d.id for d in built.plan.devices))
        dcc = start_dcc(stack, config, inventory, keystore, router, clock, stream)
        settle()
        yield Estate(config, clock, stream, dcc, session, plan, premises)


#: Allocations between two collections of the collector's youngest generation, per premises of
#: an open estate (CPython's default threshold, 700, is ten premises' worth; never below it).
YOUNG_ALLOCATIONS_PER_PREMISES = 70


@contextlib.contextmanager
def collected_for_the_estate(premises: int) -> Iterator[Callable[[], None]]:
    """The garbage collector tuned to an estate of ``premises`` premises while it is built and
    runs; yields ``settle``, to call whenever a part of the estate is built.

    What the estate built lives as long as the estate, yet every full collection would walk
    all of it: with a hundred premises that was half the wall time of an update (the
    collections grow with the premises and so does their number, so the cost grows with the
    square of the estate; ``benchmarks/estate.py``). Frozen (``settle``), it is never
    scanned. The build itself freezes what it built after each step: otherwise the
    collections during the build walk every premises built before, and from 100 to 600
    premises the collector's share of building grew from a tenth to a fifth.

    What the run allocates (frames, timers, futures of each transfer) lives for a stretch of
    bench time, and every premises allocates at the same pace, so with CPython's fixed young
    threshold a young collection spans ever less bench time as the estate grows: ever more of
    what it finds is still alive, survives into the older generations and makes their
    collections bigger and more frequent (from 100 to 300 premises the collector's time grew
    7.6 times). A young threshold in proportion to the premises keeps the bench time between
    young collections, and so what survives them per premises, the same at every size.

    Both are the process's, so both are put back when the estate closes, however it closes
    (``tests/unit/bench/test_estate_open.py``): the thresholds as they were, and everything
    frozen unfrozen, else what the estate built would never be collected again. The collector
    has one frozen generation and cannot give back only what the estate froze: objects a
    caller froze before opening the estate (or an estate still open around this one) are
    unfrozen too, into the oldest generation, where full collections walk them again. That
    costs time, never memory, and a caller who wants them frozen freezes again.
    """
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_ALLOCATIONS_PER_PREMISES * premises), middle, old)
    try:
        yield gc.freeze
    finally:
        gc.set_threshold(young, middle, old)
        gc.unfreeze()


async def _build(stack: contextlib.AsyncExitStack, config: BenchConfig, plan: EstatePlan, clock: BenchClock,
                 stream: EventStream, keystore: DerivedKeyStore, settle: Callable[[], None]) -> list[EstatePremises]:
    """Each premises as the emu kind builds one, ``assembly_concurrency`` at a time, ``settle``
    called after each such step; a failure stops the others and ``stack`` takes down what was
    built."""
    assert plan.config is config.estate
    built: dict[int, EstatePremises] = {}

    async def one(premises: PremisesPlan) -> None:
        context = AssemblyContext(premises.bench_config(config), clock, stream, keystore)
        built[premises.index] = EstatePremises(premises, await stack.enter_async_context(emu.assemble(context)))

    step = plan.config.assembly_concurrency
    for start in range(0, len(plan), step):
        async with asyncio.TaskGroup() as group:
            for premises in plan.premises[start:start + step]:
                group.create_task(one(premises))
        settle()
    return [built[index] for index in sorted(built)]
