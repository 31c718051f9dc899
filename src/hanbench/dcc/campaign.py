"""A SECMP0024 campaign: the DCC rolls new firmware out to its Comms Hubs, pilot group first.

SECMP0024's business requirements, as :class:`Campaign` runs them (seed 003):

1. **Notify.** Every relevant User (each CH's responsible suppliers: the CH's own and those of
   the devices it serves, so on a dual-fuel premises its Import and its Gas Supplier) is told that an update is available, with the
   deployment window and the DCC's deployment date, and which of its CHs it covers.
2. **Pilot.** At the window's start the DCC updates a pilot group (its size a count or a
   share, chosen ``first`` in inventory order, ``random`` from the plan's seed, or named) and
   holds it against the :class:`HaltCriteria`: the share of pilot CHs whose update failed,
   and the alerts the DCC received from the pilot premises while it ran.
3. **Supplier trigger.** A responsible supplier may have its own CHs updated earlier than
   the DCC's date, within the window (:meth:`Campaign.trigger`); an early update waits for the
   pilot to pass, as mass deployment does.
4. **Status updates.** Each stage (notified, pilot started, pilot passed or halted, resumed,
   early trigger, mass deployment started, completed, abandoned) is a :class:`Notice` to the
   relevant users of the CHs it concerns, kept in :attr:`Campaign.notices` and told to the
   :meth:`Campaign.on_notice` listeners (the bench puts them on its event stream, so the
   session record keeps them).
5. **Halt, investigate, decide.** When the pilot breaks a criterion the campaign halts with
   the reason; the plan's ``investigate`` callback (the DCC's investigation) returns a
   :class:`Decision` (proceed or abandon, and the finding), which is recorded and announced.

The exceptions TABASC asked about are answered by reading the inventory *now* at every
step, not once at the start: after a change of supplier the new supplier receives the
following notices and may trigger the CH, the old one may not; on a premises with two
responsible suppliers both are told and either may trigger, and a CH triggered twice is
updated once; a party holding two User IDs is told once per ID, for the CHs each ID is
responsible for; and a supplier's own meter deployment in the window does not conflict,
because a CH switches only when it serves no HAN transfer (:mod:`hanbench.hub.own_firmware`).

Time is the DCC's clock on the running loop, so a campaign of weeks runs in virtual time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from hanbench.dcc.bulk import Pacer, Throttle
from hanbench.dcc.ch_firmware import ChFirmware, ChUpdate
from hanbench.dcc.dcc import Dcc
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.listeners import Listeners


class Stage(enum.StrEnum):
    """What a campaign notice announces."""

    NOTIFIED = "notified"
    PILOT_STARTED = "pilot_started"
    PILOT_PASSED = "pilot_passed"
    HALTED = "halted"
    RESUMED = "resumed"
    EARLY_TRIGGER = "early_trigger"
    MASS_STARTED = "mass_started"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class CampaignRefused(BadInput):
    """A request the campaign does not take (a trigger outside the window, for another's CH...)."""


@dataclasses.dataclass(frozen=True)
class HaltCriteria:
    """When the pilot halts the campaign: more than ``max_failure_rate`` of its CHs failed, or
    more than ``max_alerts`` alerts (of ``alert_codes``; empty: any) came from its premises."""

    max_failure_rate: float = 0.0
    max_alerts: int | None = None
    alert_codes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise BadInput(f"a failure rate is a share between 0 and 1, got {self.max_failure_rate}")
        if self.max_alerts is not None and self.max_alerts < 0:
            raise BadInput(f"an alert limit is 0 or more, got {self.max_alerts}")


@dataclasses.dataclass(frozen=True)
class PilotSelection:
    """The pilot group: ``size`` CHs (a count, or a share of the campaign's when below 1),
    ``first`` in inventory order or ``random`` (from ``seed``), or exactly ``named``."""

    size: float = 0.01
    how: str = "random"
    seed: int = 0
    named: tuple[EntityId, ...] = ()

    def __post_init__(self) -> None:
        if self.how not in ("first", "random", "named"):
            raise BadInput(f"a pilot is chosen first, random or named, not {self.how!r}")
        if self.how == "named" and not self.named:
            raise BadInput("a named pilot names at least one CH")
        if self.how != "named" and not self.size > 0:
            raise BadInput(f"a pilot has at least one CH, got size {self.size}")

    def choose(self, chs: Sequence[EntityId]) -> tuple[EntityId, ...]:
        if self.how == "named":
            unknown = set(self.named) - set(chs)
            if unknown:
                raise BadInput(f"pilot CHs not in the campaign: {', '.join(sorted(map(str, unknown)))}")
            return self.named
        count = int(self.size) if self.size >= 1 else max(1, round(self.size * len(chs)))
        count = min(count, len(chs))
        if self.how == "first":
            return tuple(chs[:count])
        return tuple(sorted(random.Random(self.seed).sample(list(chs), count), key=list(chs).index))


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the DCC's investigation of a halt concluded."""

    proceed: bool
    finding: str


@dataclasses.dataclass(frozen=True)
class HaltReport:
    """Why the pilot halted the campaign, for the investigation."""

    reasons: tuple[str, ...]
    pilot: tuple[ChUpdate, ...]
    alerts: int


Investigate = Callable[[HaltReport], Awaitable[Decision]]


async def abandon_on_halt(report: HaltReport) -> Decision:
    """The default investigation: a halted campaign is abandoned."""
    return Decision(False, "abandoned on halt: " + "; ".join(report.reasons))


@dataclasses.dataclass(frozen=True)
class CampaignPlan:
    """A campaign: ``image`` to ``chs`` (None: every CH in the inventory) in the window
    [``window_start``, ``window_end``), mass deployment from the DCC's ``deployment`` date."""

    name: str
    image: UpgradeImage
    window_start: datetime
    window_end: datetime
    deployment: datetime
    pilot: PilotSelection = PilotSelection()
    halt: HaltCriteria = HaltCriteria()
    throttle: Throttle = Throttle(concurrency=100)
    chs: tuple[EntityId, ...] | None = None
    investigate: Investigate = abandon_on_halt

    def __post_init__(self) -> None:
        if not self.window_start <= self.deployment < self.window_end:
            raise BadInput(f"the deployment date {self.deployment.isoformat()} is not within the window "
                           f"{self.window_start.isoformat()} .. {self.window_end.isoformat()}")


@dataclasses.dataclass(frozen=True)
class Notice:
    """A status update of campaign ``campaign`` to ``user`` about ``chs``."""

    campaign: str
    user: EntityId
    stage: Stage
    at: datetime
    text: str
    chs: tuple[EntityId, ...]


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a campaign stands: its CHs by state, its stage and its latest notice."""

    campaign: str
    stage: Stage | None
    chs: int
    pilot: int
    started: int
    activated: int
    failed: int
    last_notice: str

    @property
    def waiting(self) -> int:
        """CHs no stage has started yet."""
        return self.chs - self.started

    @property
    def in_progress(self) -> int:
        return self.started - self.activated - self.failed


class Campaign:
    """One campaign of the DCC; see the module docstring. :meth:`run` takes it to its end."""

    def __init__(self, dcc: Dcc, plan: CampaignPlan) -> None:
        self.dcc = dcc
        self.plan = plan
        self.chs = plan.chs if plan.chs is not None else tuple(
            d.entity_id for d in dcc.inventory.devices() if d.type is DeviceType.CH)
        if not self.chs:
            raise BadInput(f"campaign {plan.name!r} has no CH to update")
        self.pilot = plan.pilot.choose(self.chs)
        #: Each CH's update once it ran, and every notice sent, oldest first.
        self.updates: dict[EntityId, ChUpdate] = {}
        self.notices: list[Notice] = []
        #: Why the campaign halted and what the investigation found, when it did.
        self.halt: HaltReport | None = None
        self.decision: Decision | None = None
        self.stage: Stage | None = None
        self._firmware = ChFirmware(dcc)
        self._pacer = Pacer(plan.throttle)
        self._started: dict[EntityId, asyncio.Task[ChUpdate]] = {}
        self._pilot_passed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._listeners: Listeners[Callable[[Notice], None]] = Listeners()
        self._update_listeners: Listeners[Callable[[ChUpdate], None]] = Listeners()
        self._triggers: set[asyncio.Task[None]] = set()
        self._notified = False

    def on_notice(self, listener: Callable[[Notice], None]) -> Callable[[], None]:
        """Call ``listener`` with every notice as it is sent; returns a remover."""
        return self._listeners.add(listener)

    def on_update(self, listener: Callable[[ChUpdate], None]) -> Callable[[], None]:
        """Call ``listener`` with each CH's update as it ends; returns a remover."""
        return self._update_listeners.add(listener)

    # -- who is concerned ------------------------------------------------------------------------

    def responsible(self, ch: EntityId) -> frozenset[EntityId]:
        """The CH's responsible suppliers in the inventory now: the CH's own, and those of the
        devices it serves (on a dual-fuel premises, its Import and its Gas Supplier)."""
        return self._responsibility().get(ch, frozenset())

    def _responsibility(self) -> dict[EntityId, frozenset[EntityId]]:
        """Every CH's responsible suppliers, from one reading of the inventory."""
        found: dict[EntityId, set[EntityId]] = {}
        for device in self.dcc.inventory.devices():
            ch = device.entity_id if device.type is DeviceType.CH else device.ch
            if ch is not None and device.responsible_supplier is not None:
                found.setdefault(ch, set()).add(device.responsible_supplier)
        return {ch: frozenset(users) for ch, users in found.items()}

    def _announce(self, stage: Stage, text: str, chs: Iterable[EntityId]) -> None:
        self.stage = stage
        responsible = self._responsibility()
        by_user: dict[EntityId, list[EntityId]] = {}
        for ch in chs:
            for user in responsible.get(ch, ()):
                by_user.setdefault(user, []).append(ch)
        now = self.dcc.clock()
        for user in sorted(by_user, key=str):
            notice = Notice(self.plan.name, user, stage, now, text, tuple(by_user[user]))
            self.notices.append(notice)
            self._listeners(notice)

    def progress(self) -> Progress:
        """Where the campaign stands now."""
        activated = sum(1 for u in self.updates.values() if u.succeeded)
        return Progress(self.plan.name, self.stage, len(self.chs), len(self.pilot), len(self._started), activated,
                        len(self.updates) - activated, self.notices[-1].text if self.notices else "")

    def notices_to(self, user: EntityId) -> list[Notice]:
        return [n for n in self.notices if n.user == user]

    # -- the run ---------------------------------------------------------------------------------

    def notify(self) -> None:
        """Requirement 1: tell every relevant user, once (:meth:`run` does it if no one did)."""
        if self._notified:
            return
        self._notified = True
        plan = self.plan
        self._announce(Stage.NOTIFIED, f"CH firmware {plan.image.header.file_version:08X} is available: window "
                       f"{plan.window_start.isoformat()} .. {plan.window_end.isoformat()}, the DCC deploys from "
                       f"{plan.deployment.isoformat()}", self.chs)

    async def run(self) -> Stage:
        """Notify, pilot, evaluate, (halt and decide,) deploy; the stage it ended in."""
        plan = self.plan
        self.notify()
        try:
            await self._sleep_until(plan.window_start)
            if not await self._run_pilot():
                return Stage.ABANDONED
            await self._sleep_until(plan.deployment)
            rest = [ch for ch in self.chs if ch not in self._started]
            self._announce(Stage.MASS_STARTED, f"mass deployment to {len(rest)} CHs", rest)
            await asyncio.gather(*(self._update(ch) for ch in rest))
            await asyncio.gather(*self._started.values())
            failed = [ch for ch, u in self.updates.items() if not u.succeeded]
            self._announce(Stage.COMPLETED, f"{len(self.updates) - len(failed)} of {len(self.chs)} CHs updated"
                           + (f"; failed: {', '.join(map(str, failed))}" if failed else ""), self.chs)
            return Stage.COMPLETED
        finally:
            for task in self._triggers:
                task.cancel()
            await asyncio.gather(*self._triggers, return_exceptions=True)

    async def _run_pilot(self) -> bool:
        """The pilot group, evaluated; False when the campaign is abandoned."""
        began = self.dcc.clock()
        self._announce(Stage.PILOT_STARTED, f"pilot of {len(self.pilot)} CHs", self.pilot)
        pilot = await asyncio.gather(*(self._update(ch) for ch in self.pilot))
        reasons, alerts = self._evaluate(pilot, began)
        if not reasons:
            self._announce(Stage.PILOT_PASSED, f"pilot passed: {len(pilot)} CHs updated, {alerts} alerts", self.chs)
            self._pilot_passed.set_result(True)
            return True
        self.halt = HaltReport(tuple(reasons), tuple(pilot), alerts)
        self._announce(Stage.HALTED, "halted: " + "; ".join(reasons), self.chs)
        self.decision = await self.plan.investigate(self.halt)
        if not self.decision.proceed:
            self._announce(Stage.ABANDONED, f"abandoned: {self.decision.finding}", self.chs)
            self._pilot_passed.set_result(False)
            return False
        self._announce(Stage.RESUMED, f"resumed: {self.decision.finding}", self.chs)
        self._pilot_passed.set_result(True)
        return True

    def _evaluate(self, pilot: Sequence[ChUpdate], since: datetime) -> tuple[list[str], int]:
        """The criteria the pilot broke, and how many alerts its premises raised meanwhile."""
        halt, reasons = self.plan.halt, []
        failed = [u for u in pilot if not u.succeeded]
        rate = len(failed) / len(pilot)
        if rate > halt.max_failure_rate:
            reasons.append(f"{len(failed)} of {len(pilot)} pilot CHs failed ({rate:.0%} > "
                           f"{halt.max_failure_rate:.0%}): " + "; ".join(f"{u.ch}: {u.detail}" for u in failed))
        premises = set(self.pilot) | {d.entity_id for d in self.dcc.inventory.devices() if d.ch in set(self.pilot)}
        alerts = sum(1 for a in self.dcc.inventory.alerts() if a.received_at >= since and a.device in premises
                     and (not halt.alert_codes or a.code in halt.alert_codes))
        if halt.max_alerts is not None and alerts > halt.max_alerts:
            reasons.append(f"{alerts} alerts from the pilot premises (more than {halt.max_alerts})")
        return reasons, alerts

    def _update(self, ch: EntityId) -> asyncio.Task[ChUpdate]:
        """``ch``'s update, started once however many stages or suppliers ask for it."""
        if ch not in self._started:
            self._started[ch] = asyncio.ensure_future(self._pacer.run(lambda: self._update_now(ch)))
        return self._started[ch]

    async def _update_now(self, ch: EntityId) -> ChUpdate:
        update = await self._firmware.update(ch, self.plan.image)
        self.updates[ch] = update
        self._update_listeners(update)
        return update

    # -- requirement 3: a supplier's earlier date ------------------------------------------------

    def trigger(self, supplier: EntityId, chs: Sequence[EntityId], at: datetime) -> None:
        """``supplier`` has its CHs ``chs`` updated at ``at``, earlier than the DCC's date and
        within the window (after the pilot passed, if it runs later). Refused
        (:class:`CampaignRefused`) before the users were notified, for a CH ``supplier`` is not responsible for now, a CH not in
        the campaign, or a date outside [window start, deployment date)."""
        plan = self.plan
        if not self._notified:
            raise CampaignRefused(f"campaign {plan.name!r} has not been announced to its users yet")
        if not plan.window_start <= at < plan.deployment:
            raise CampaignRefused(f"{supplier} may trigger from the window's start "
                                  f"{plan.window_start.isoformat()} until the DCC's date "
                                  f"{plan.deployment.isoformat()}, not at {at.isoformat()}")
        responsible = self._responsibility()
        for ch in chs:
            if ch not in self.chs:
                raise CampaignRefused(f"{ch} is not in campaign {plan.name!r}")
            if supplier not in responsible.get(ch, ()):
                raise CampaignRefused(f"{supplier} is not a responsible supplier of {ch}")
        if self._pilot_passed.done() and not self._pilot_passed.result():
            raise CampaignRefused(f"campaign {plan.name!r} was abandoned")
        task = asyncio.ensure_future(self._early(supplier, tuple(chs), at))
        self._triggers.add(task)
        task.add_done_callback(self._triggers.discard)

    async def _early(self, supplier: EntityId, chs: tuple[EntityId, ...], at: datetime) -> None:
        await self._sleep_until(at)
        if not await self._pilot_passed:
            return
        responsible = self._responsibility()
        wanted = [ch for ch in chs if supplier in responsible.get(ch, ())]  # a change of supplier since
        fresh = [ch for ch in wanted if ch not in self._started]
        self._announce(Stage.EARLY_TRIGGER, f"{supplier} triggered {len(wanted)} CHs early"
                       + (f" ({len(wanted) - len(fresh)} already under way)" if len(fresh) < len(wanted) else ""),
                       wanted)
        await asyncio.gather(*(self._update(ch) for ch in fresh))

    async def _sleep_until(self, when: datetime) -> None:
        wait = (when - self.dcc.clock()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
