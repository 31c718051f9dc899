"""Users' inboxes: persisted, numbered per user, and awaitable by scripts and tests.

Delivery writes to the inventory (inside the caller's transaction, so an alert and its inbox
entries land together) and then wakes whoever waits. A wait reads the database, never a
copy, so what a script sees is what the report will read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hanbench.dcc.errors import InboxTimeout
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.records import InboxMessage
from hanbench.gbcs.entity import EntityId

Predicate = Callable[[InboxMessage], bool]
_SHOWN = 10


@dataclass(frozen=True)
class Match:
    """A readable predicate: alert ``code`` (``0x8F72``, ``N60``) about ``device``, received at or after ``since``."""

    code: str | None = None
    device: EntityId | str | None = None
    since: datetime | None = None

    def __call__(self, message: InboxMessage) -> bool:
        alert = message.alert
        return ((self.code is None or alert.code == self.code)
                and (self.device is None or alert.device == EntityId.parse(self.device))
                and (self.since is None or alert.received_at >= self.since))

    def __str__(self) -> str:
        parts = [f"alert {self.code or '(any code)'}"]
        if self.device is not None:
            parts.append(f"about {EntityId.parse(self.device)}")
        if self.since is not None:
            parts.append(f"received at or after {self.since.isoformat()}")
        return " ".join(parts)


def _describe(predicate: Predicate) -> str:
    if isinstance(predicate, Match):
        return str(predicate)
    return getattr(predicate, "__doc__", None) or getattr(predicate, "__name__", None) or repr(predicate)


def _summary(message: InboxMessage) -> str:
    alert = message.alert
    return f"#{message.seq} {alert.code} about {alert.device or '-'}"


class Inboxes:
    """Every user's inbox over one inventory; the DCC delivers, scripts wait."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._waiters: set[asyncio.Future[None]] = set()

    def deliver(self, user: EntityId, alert_id: int) -> InboxMessage:
        """Record the alert in ``user``'s inbox; call :meth:`wake` once the transaction is done."""
        return self.inventory.deliver(user, alert_id)

    def wake(self) -> None:
        """Let every waiter look again (call on the event loop's thread)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def last_seq(self, user: EntityId | str) -> int:
        """The number of ``user``'s latest message (0 for an empty inbox): a mark for ``after``."""
        messages = self.inventory.inbox(user)
        return messages[-1].seq if messages else 0

    def of(self, user: EntityId | str) -> "Inbox":
        return Inbox(self, self.inventory.user(user).entity_id)

    async def changed(self) -> None:
        """Return after the next :meth:`wake`."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


class Inbox:
    """One user's inbox."""

    def __init__(self, inboxes: Inboxes, user: EntityId) -> None:
        self._inboxes = inboxes
        self.user = user

    def messages(self, *, after: int = 0) -> list[InboxMessage]:
        """Messages numbered above ``after``, in order."""
        return self._inboxes.inventory.inbox(self.user, after=after)

    async def wait_for(self, predicate: Predicate, timeout: float, *, after: int = 0) -> InboxMessage:
        """The first message numbered above ``after`` that satisfies ``predicate``, waiting up
        to ``timeout`` seconds of loop time for it to arrive.

        Raises :class:`InboxTimeout` naming what was waited for and what arrived instead.
        """
        try:
            async with asyncio.timeout(timeout):
                cursor = after
                while True:
                    for message in self.messages(after=cursor):
                        if predicate(message):
                            return message
                        cursor = message.seq
                    await self._inboxes.changed()
        except TimeoutError:
            seen = self.messages(after=after)
            shown = ", ".join(_summary(m) for m in seen[-_SHOWN:]) or "nothing"
            more = f" (last {_SHOWN} of {len(seen)})" if len(seen) > _SHOWN else ""
            raise InboxTimeout(
                f"{self.user}'s inbox got no {_describe(predicate)} within {timeout:g} s; "
                f"it received{more}: {shown}"
            ) from None
