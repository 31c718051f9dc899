"""Supplier automation: what a Supplier's systems do after a firmware distribution.

Seed 000: "Supplier's systems rely on receipt and in 40% of cases, non-receipt, of the
firmware download Alert, in order to auto-trigger an activation". So, per device with a
pending image:

* the receipt alert 0x8F72 arrives within ``receipt_wait`` of the distribution and the hash
  the device calculated is the pending image's: activate (SR 11.3) with that hash;
* 0x8F1C, or a different hash: do not activate; the device needs action;
* no receipt alert in time: read the version (SR 11.2). Already running the pending version:
  nothing to do. Otherwise activate only if the CH said it delivered the image (CCS08
  0x8F8A or N60 for the device since the distribution) - the image is held; else report
  the device as needing action.

It works for images an RSA distributed as well: the Supplier still receives every alert.

Over a portfolio (thousands of devices followed at once) the inbox is read once per
delivery for all of them, by :class:`_InboxIndex`, and each device waits on its own
messages: a wait per device re-reading the inbox on every delivery would cost devices times
deliveries.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from hanbench.dcc.alert_routing import DccAlert, code_text
from hanbench.dcc.dcc import Dcc
from hanbench.dcc.inbox import Inboxes, InboxMessage
from hanbench.dcc.records import PendingImage
from hanbench.dcc.service_requests import ActivateFirmware, Outcome, ReadFirmwareVersion, Submit, TargetResult
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.entity import EntityId

RECEIPT_CODES = frozenset({code_text(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL),
                           code_text(AlertCode.FIRMWARE_VERIFICATION_FAILED)})
DELIVERED_CODES = frozenset({code_text(AlertCode.FIRMWARE_TRANSFER_SUCCESS), code_text(DccAlert.FIRMWARE_DELIVERED)})


class Branch(enum.StrEnum):
    """Which branch of the automation decided."""

    RECEIPT_ALERT = "receipt_alert"
    NO_RECEIPT_ALERT = "no_receipt_alert"


class Action(enum.StrEnum):
    ACTIVATION_SENT = "activation_sent"   # SR 11.3 submitted; ``activation`` says how it went
    ALREADY_RUNNING = "already_running"   # SR 11.2 shows the pending version running
    NEEDS_ACTION = "needs_action"         # a person has to look; ``detail`` says why


@dataclass(frozen=True)
class AutomationOutcome:
    """What the automation did for one device, and why."""

    device: EntityId
    branch: Branch
    action: Action
    detail: str
    activation: TargetResult | None = None


class SupplierAutomation:
    """The automation of ``supplier``, acting through ``dcc`` on the supplier's own inbox.

    Its SR 11.2 and 11.3 go through ``submit`` when given (so a caller can record them like
    the supplier's other requests), else straight to ``dcc.submit`` as the supplier. It reads
    only inbox messages numbered above ``after``: an inbox outlives bench sessions, and each
    session's clock starts again from the bench file's start, so a date-time alone cannot
    tell this session's alerts from an earlier one's.
    """

    def __init__(self, dcc: Dcc, supplier: EntityId | str, *, receipt_wait: timedelta,
                 execution: datetime | None = None, submit: Submit | None = None, after: int = 0) -> None:
        self.dcc = dcc
        self.supplier = dcc.inventory.user(supplier).entity_id
        self.receipt_wait = receipt_wait
        self.execution = execution
        self.after = after
        self._submit: Submit = submit if submit is not None else partial(dcc.submit, self.supplier)

    async def follow(self, devices: Iterable[EntityId | str]) -> list[AutomationOutcome]:
        """Take every device's pending image to activation (or to a person), concurrently."""
        followed = [EntityId.parse(d) for d in devices]
        index = _InboxIndex(self.dcc.inboxes, self.supplier, self.after, set(followed))
        reader = asyncio.ensure_future(index.read())
        try:
            return list(await asyncio.gather(*(self._follow(device, index) for device in followed)))
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _follow(self, device: EntityId, index: _InboxIndex) -> AutomationOutcome:
        pending = self.dcc.inventory.device(device).pending
        if pending is None:
            return AutomationOutcome(device, Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION, "no pending image to activate")
        remaining = (pending.since + self.receipt_wait - self.dcc.clock()).total_seconds()
        try:
            receipt = await index.wait_for(device, lambda m: _about(m, device, pending, RECEIPT_CODES),
                                           max(remaining, 0.0))
        except TimeoutError:
            return await self._without_receipt(device, pending, index)
        if receipt.alert.code != code_text(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL):
            return AutomationOutcome(device, Branch.RECEIPT_ALERT, Action.NEEDS_ACTION,
                                     f"the device rejected the image ({receipt.alert.code})")
        if receipt.alert.hash != pending.hash:
            return AutomationOutcome(device, Branch.RECEIPT_ALERT, Action.NEEDS_ACTION,
                                     f"the device calculated hash {(receipt.alert.hash or b'').hex()}, "
                                     f"not the distributed image's {pending.hash.hex()}")
        return await self._activate(device, pending, Branch.RECEIPT_ALERT, "receipt alert hash matches")

    async def _without_receipt(self, device: EntityId, pending: PendingImage, index: _InboxIndex) -> AutomationOutcome:
        read = (await self._submit(ReadFirmwareVersion(device))).target(device)
        waited = f"no receipt alert within {self.receipt_wait}"
        if read.outcome is not Outcome.VERSION_READ:
            return AutomationOutcome(device, Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION,
                                     f"{waited}, and SR 11.2 failed: {read.message}")
        if read.firmware_version == pending.file_version:
            return AutomationOutcome(device, Branch.NO_RECEIPT_ALERT, Action.ALREADY_RUNNING,
                                     f"{waited}; already running {pending.file_version:08X}")
        index.refresh()
        if not any(_about(m, device, pending, DELIVERED_CODES) for m in index.about(device)):
            return AutomationOutcome(device, Branch.NO_RECEIPT_ALERT, Action.NEEDS_ACTION,
                                     f"{waited}; running {read.firmware_version or 0:08X} and nothing says the "
                                     "image reached the device")
        return await self._activate(device, pending, Branch.NO_RECEIPT_ALERT,
                                    f"{waited}; the CH reported the image delivered")

    async def _activate(self, device: EntityId, pending: PendingImage, branch: Branch, why: str) -> AutomationOutcome:
        result = (await self._submit(ActivateFirmware(device, pending.hash, self.execution))).target(device)
        if not result.accepted:
            return AutomationOutcome(device, branch, Action.NEEDS_ACTION, f"{why}, but SR 11.3 was refused: "
                                     f"{result.message}", result)
        return AutomationOutcome(device, branch, Action.ACTIVATION_SENT, why, result)


class _InboxIndex:
    """The supplier's inbox, read once per delivery for every device followed: each message
    about one of ``devices``, kept by device, and the waits for them woken by device."""

    def __init__(self, inboxes: Inboxes, user: EntityId, after: int, devices: set[EntityId]) -> None:
        self._inboxes = inboxes
        self._inbox = inboxes.of(user)
        self._cursor = after
        self._devices = devices
        self._messages: dict[EntityId, list[InboxMessage]] = {}
        self._waiters: dict[EntityId, list[asyncio.Future[None]]] = {}

    async def read(self) -> None:
        """Keep the index current: read what arrives, after every delivery, until cancelled."""
        while True:
            self.refresh()
            await self._inboxes.changed()

    def refresh(self) -> None:
        """Take in the messages that arrived since the last reading; wake their devices' waits."""
        for message in self._inbox.messages(after=self._cursor):
            self._cursor = message.seq
            device = message.alert.device
            if device in self._devices:
                self._messages.setdefault(device, []).append(message)
                for waiter in self._waiters.pop(device, ()):
                    if not waiter.done():
                        waiter.set_result(None)

    def about(self, device: EntityId) -> list[InboxMessage]:
        """The messages about ``device`` read so far, oldest first."""
        return list(self._messages.get(device, ()))

    async def wait_for(self, device: EntityId, accept: Callable[[InboxMessage], bool], timeout: float) -> InboxMessage:
        """The first message about ``device`` ``accept`` takes, within ``timeout`` s of loop time
        (:class:`TimeoutError` after)."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                messages = self._messages.get(device, [])
                for message in messages[seen:]:
                    if accept(message):
                        return message
                seen = len(messages)
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.setdefault(device, []).append(waiter)
                await waiter


def _about(message: InboxMessage, device: EntityId, pending: PendingImage, codes: frozenset[str]) -> bool:
    alert = message.alert
    return alert.device == device and alert.code in codes and alert.received_at >= pending.since
