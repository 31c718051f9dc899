"""DCC Users as a script drives them: firmware Service Requests and their inbox.

A :class:`BenchUser` is one user of the bench file acting through the bench's DCC. Each call
is one DUIS Service Request (SR 11.1 to 11.4); results are the DCC's typed records (per
target: accepted, or refused with the rule that refused it, and what came of it), and every
request also lands on the event stream. :meth:`BenchUser.wait_alert` reads the user's inbox
the way ``expect`` reads a console: it returns the oldest matching alert of this session
that no earlier wait returned, waiting (in virtual time on an emu bench) for one to arrive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hanbench.bench.session_events import publish_request
from hanbench.bench.waits import bench_wait
from hanbench.dcc.alert_routing import code_text
from hanbench.dcc.automation import AutomationOutcome, SupplierAutomation
from hanbench.dcc.bulk import BulkRequests, Pacer, SetResult, Throttle
from hanbench.dcc.inbox import Match
from hanbench.dcc.records import InboxMessage
from hanbench.dcc.service_requests import (
    ActivateFirmware,
    ReadFirmwareVersion,
    Request,
    RequestResult,
    RestrictAccessForChangeOfTenancy,
    Submit,
    TargetResult,
    UpdateFirmware,
    UpdateInventory,
    UpdatePpmidFirmware,
)
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import Role

if TYPE_CHECKING:
    from hanbench.bench.site import DeviceRef, Site

ImageSource = bytes | Path | str
_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class UserAlert:
    """One alert in a user's inbox: ``code`` as DUIS spells it (``0x8F72``, ``N60``).

    ``calculated_hash`` is the Manufacturer Image Hash a receipt alert (0x8F72 / 0x8F1C)
    carries: the hash to put in SR 11.3.
    """

    seq: int
    code: str
    device: EntityId | None
    calculated_hash: bytes | None
    firmware_version: int | None
    received_at: dt.datetime
    detail: str

    @classmethod
    def of(cls, message: InboxMessage) -> UserAlert:
        alert = message.alert
        return cls(message.seq, alert.code, alert.device, alert.hash, alert.firmware_version, alert.received_at,
                   alert.detail)


@dataclasses.dataclass(frozen=True)
class _Unreturned(Match):
    """A :class:`Match` that also skips messages an earlier wait returned."""

    returned: frozenset[int] = frozenset()

    def __call__(self, message: InboxMessage) -> bool:
        return message.seq not in self.returned and super().__call__(message)


class BenchUser:
    """A DCC User of a bench or an estate; get one from :meth:`Bench.user` (or ``bench.supplier``...)."""

    def __init__(self, bench: Site, user_id: EntityId, name: str, roles: frozenset[Role], inbox_mark: int) -> None:
        self._bench = bench
        self.id = user_id
        self.name = name
        self.roles = roles
        self._inbox_mark = inbox_mark
        self._returned: set[int] = set()

    def __repr__(self) -> str:
        return f"BenchUser({self.id}, {self.name!r}, roles={sorted(self.roles)})"

    # -- Service Requests ---------------------------------------------------------------------

    async def update_firmware(self, image: ImageSource, devices: Sequence[DeviceRef]) -> RequestResult:
        """SR 11.1 Update Firmware: distribute ``image`` (bytes, or a file) to ``devices``.

        Returns once the CH has stored the image for the accepted devices; the transfer
        itself shows up later as events and alerts.
        """
        return await self._submit(UpdateFirmware(self._bench.read_image(image), self._bench.ids(devices)))

    async def update_ppmid_firmware(self, image: ImageSource, devices: Sequence[DeviceRef]) -> RequestResult:
        """SR 11.4 Update PPMID Firmware: the PPMID activates the image itself and reports with CS09."""
        return await self._submit(UpdatePpmidFirmware(self._bench.read_image(image), self._bench.ids(devices)))

    async def read_firmware_version(self, device: DeviceRef) -> TargetResult:
        """SR 11.2 Read Firmware Version."""
        return await self._submit_one(ReadFirmwareVersion(self._bench.id_of(device)))

    async def activate_firmware(self, device: DeviceRef, firmware_hash: bytes, *, at: dt.datetime | None = None,
                                cancel: bool = False) -> TargetResult:
        """SR 11.3 Activate Firmware: now, at ``at`` (future-dated), or ``cancel`` a pending one.

        Returns when the device has answered (for a sleepy GSME, after its next wake).
        """
        return await self._submit_one(ActivateFirmware(self._bench.id_of(device), firmware_hash, at, cancel))

    async def update_inventory(self, device: DeviceRef, ppmid_variant: PpmidVariant | str) -> TargetResult:
        """SR 8.4 Update Inventory: correct ``device``'s PPMID variant in the DCC's inventory after
        commissioning (MP170: a PPMID that is an Alt HAN bridge, a bridge recorded as another type).
        Only the records change; the device is what it is."""
        variant = ppmid_variant if isinstance(ppmid_variant, PpmidVariant) else PpmidVariant.parse(ppmid_variant)
        return await self._submit_one(UpdateInventory(self._bench.id_of(device), variant))

    async def restrict_access_for_change_of_tenancy(self, meter: DeviceRef) -> TargetResult:
        """SR 3.2 Restrict Access For Change Of Tenancy on ``meter`` (its ESME or GSME): a new
        occupant moves in, and the meter's CH tells the premises' IHDs and PPMIDs, which clear the
        previous occupant's data (SECMP0056). ``occupants_notified`` once every display took it,
        ``not_delivered`` otherwise; ``notices`` says which did."""
        return await self._submit_one(RestrictAccessForChangeOfTenancy(self._bench.id_of(meter)))

    async def automate(self, devices: Sequence[DeviceRef], *, at: dt.datetime | None = None) -> list[AutomationOutcome]:
        """Run this supplier's activation automation over ``devices`` after a distribution.

        What a Supplier's systems do (seed 000: they "rely on receipt and in 40% of cases,
        non-receipt, of the firmware download Alert, in order to auto-trigger an activation"),
        for each device's pending image, whoever distributed it:

        * the receipt alert 0x8F72 arrives within the bench's ``timing.receipt_alert_wait_s``
          of the distribution with the pending image's hash: SR 11.3 with that hash, now or at
          ``at``;
        * 0x8F1C, or 0x8F72 with another hash: nothing is sent, the device needs action;
        * no receipt alert in time: SR 11.2, then SR 11.3 only if the CH reported the image
          delivered (CCS08 success, or the DCC's N60); otherwise the device needs action.

        Returns once every device is settled, one
        :class:`~hanbench.dcc.automation.AutomationOutcome` per device in order (``action``
        says what was done, ``detail`` why). Its SRs are this user's, on the event stream like
        any other request; run it as a task to distribute or drop alerts meanwhile.
        """
        return await self._automate(devices, at, self._submit)

    async def _automate(self, devices: Sequence[DeviceRef], at: dt.datetime | None,
                        submit: Submit) -> list[AutomationOutcome]:
        automation = SupplierAutomation(
            self._bench.dcc, self.id, receipt_wait=dt.timedelta(seconds=self._bench.config.timing.receipt_alert_wait_s),
            execution=at, submit=submit, after=self._inbox_mark)
        return await self._unless_lost(automation.follow(self._bench.ids(devices)))

    def paced(self, *, concurrency: int = 50, rate_per_s: float | None = None, batch: int = 50) -> PacedUser:
        """This user's requests over device sets, at most ``concurrency`` in flight and ``rate_per_s``
        started per second, ``batch`` devices per SR 11.1 / 11.4 (:mod:`hanbench.dcc.bulk`)."""
        return PacedUser(self, Throttle(concurrency, rate_per_s, batch))

    async def _submit_one(self, request: ReadFirmwareVersion | ActivateFirmware | UpdateInventory
                          | RestrictAccessForChangeOfTenancy) -> TargetResult:
        return (await self._submit(request)).target(request.device)

    async def _submit(self, request: Request) -> RequestResult:
        submitted_at = self._bench.now()
        result = await self._unless_lost(self._bench.dcc.submit(self.id, request))
        publish_request(self._bench.events, result, request.targets, submitted_at)
        return result

    async def _unless_lost(self, awaitable: Awaitable[_T]) -> _T:
        """Every wait of a user ends as soon as the bench loses a part it needs (a stick pulled for good)."""
        return await self._bench.events.unless_lost(awaitable, since=self._bench.opened_seq)

    # -- the inbox ---------------------------------------------------------------------------

    def alerts(self) -> list[UserAlert]:
        """Every alert delivered to this user since the bench opened, oldest first."""
        return [UserAlert.of(m) for m in self._bench.dcc.inbox(self.id).messages(after=self._inbox_mark)]

    async def wait_alert(self, code: int | str | None = None, *, device: DeviceRef | None = None,
                         timeout: float | None = None) -> UserAlert:
        """The oldest alert of this session with ``code`` about ``device`` that no earlier wait
        returned, waiting up to ``timeout`` bench-clock seconds for it.

        By default it waits as long as the bench's ``timing.receipt_alert_wait_s``: free in
        virtual time on emu, and short on a twin, whose bench clock is real time, so that an
        alert that is not coming fails the wait in seconds.

        Raises :class:`~hanbench.dcc.errors.InboxTimeout` saying what was awaited and listing
        what arrived instead, or :class:`~hanbench.bench.events.BenchAborted` at once if the
        bench loses its stick for good meanwhile.
        """
        if timeout is None:
            timeout = self._bench.config.timing.receipt_alert_wait_s
        if timeout < 0:
            raise BadInput(f"a timeout cannot be negative, got {timeout}")
        wanted = _Unreturned(code=None if code is None else _code(code),
                             device=None if device is None else self._bench.id_of(device),
                             returned=frozenset(self._returned))
        awaited = "any alert" if wanted.code is None else f"alert {wanted.code}"
        with bench_wait(f"{awaited} for user {self.id} (timing.receipt_alert_wait_s unless the test gave a timeout)",
                        timeout):
            message = await self._unless_lost(self._bench.dcc.inbox(self.id).wait_for(wanted, timeout,
                                                                                      after=self._inbox_mark))
        self._returned.add(message.seq)
        return UserAlert.of(message)


def _code(code: int | str) -> str:
    """An alert code as the inventory spells it: ``0x8F72`` from 0x8F72 or "0x8f72"; ``N60`` as is."""
    if isinstance(code, int):
        return code_text(code)
    text = code.strip()
    if text.lower().startswith("0x"):
        try:
            return code_text(int(text, 16))
        except ValueError:
            raise BadInput(f"alert code {code!r} is not a hexadecimal number") from None
    return text.upper()


class PacedUser:
    """A user acting on device sets through one throttle: get one from :meth:`BenchUser.paced`.

    Every request it sends, and every SR its automation sends, waits for its turn under the
    same concurrency cap and rate; each is an ordinary request of the user, on the event
    stream like any other.
    """

    def __init__(self, user: BenchUser, throttle: Throttle) -> None:
        self.user = user
        self._bench = user._bench
        self.requests = BulkRequests(self._bench.dcc.inventory, user._submit, throttle)

    @property
    def pacer(self) -> Pacer:
        """The throttle at work (how many requests it started, the most in flight at once)."""
        return self.requests.pacer

    async def update_firmware(self, image: ImageSource, devices: Sequence[DeviceRef]) -> SetResult:
        """SR 11.1 of ``image`` to ``devices``, one per ``batch`` of them."""
        return await self.user._unless_lost(
            self.requests.update_firmware(self._bench.read_image(image), self._bench.ids(devices)))

    async def update_ppmid_firmware(self, image: ImageSource, devices: Sequence[DeviceRef]) -> SetResult:
        """SR 11.4 of ``image`` to ``devices``, one per ``batch`` of them."""
        return await self.user._unless_lost(
            self.requests.update_ppmid_firmware(self._bench.read_image(image), self._bench.ids(devices)))

    async def read_firmware_version(self, devices: Sequence[DeviceRef]) -> SetResult:
        """SR 11.2 to each of ``devices``."""
        return await self.user._unless_lost(self.requests.read_firmware_version(self._bench.ids(devices)))

    async def activate_firmware(self, devices: Sequence[DeviceRef], *, at: dt.datetime | None = None) -> SetResult:
        """SR 11.3 to each of ``devices`` for its pending image, now or at ``at``."""
        return await self.user._unless_lost(self.requests.activate_firmware(self._bench.ids(devices), execution=at))

    async def automate(self, devices: Sequence[DeviceRef], *, at: dt.datetime | None = None) -> list[AutomationOutcome]:
        """:meth:`BenchUser.automate` over ``devices``, its SRs through this throttle."""
        return await self.user._automate(devices, at, self.requests.submit)
