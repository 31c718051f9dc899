"""Events the bench layer itself publishes: premises opened and closed, and the DCC's part.

:class:`PremisesOpened` / :class:`PremisesClosed` frame each premises in the stream (a
pytest run assembles one per test), with what assembly cost in wall-clock time and how much
bench time the premises lived: the session summary adds these up.

The DCC writes what it decides into its inventory and keeps no observers; the bench turns
that into events in two places:

* :func:`publish_request` after a user's request returns: one ``request_submitted`` stamped
  when the request was made, then one ``request_authorised`` or ``request_refused`` per
  target, all under the DCC's SR log ID;
* :class:`AlertDeliveries`, a :class:`~hanbench.dcc.hub_port.HubPort` wrapper the DCC is
  given instead of the hub itself: after the DCC has taken each alert the CH forwards, it
  reads the inboxes for what was delivered and publishes one event per delivery.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import ClassVar

from hanbench.bench.events import AlertDelivered, Event, EventStream, RequestAuthorised, RequestRefused, \
    RequestSubmitted
from hanbench.dcc.hub_port import AlertSink, HubPort
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.service_requests import RequestResult
from hanbench.gbcs.entity import EntityId


@dataclasses.dataclass(frozen=True, kw_only=True)
class PremisesOpened(Event):
    """A premises of bench ``bench`` was assembled, in ``assembly_wall_s`` wall-clock seconds."""

    kind: ClassVar[str] = "premises_opened"
    bench: str
    assembly_wall_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class PremisesClosed(Event):
    """The premises is shut down after ``elapsed_s`` seconds on the bench clock."""

    kind: ClassVar[str] = "premises_closed"
    bench: str
    elapsed_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class DccAlertDelivered(Event):
    """The DCC put one of its own alerts (N60 / N61, named by text) in ``user``'s inbox."""

    kind: ClassVar[str] = "dcc_alert_delivered"
    alert_code: str
    device: EntityId
    user: EntityId


def publish_request(events: EventStream, result: RequestResult, devices: Sequence[EntityId],
                    submitted_at: dt.datetime) -> None:
    """The events of one Service Request, after the DCC has answered it."""
    request_id, sr = str(result.request_id), result.service_request.value
    events.publish(RequestSubmitted(at=submitted_at, request_id=request_id, service_request=sr,
                                    user=result.user, devices=tuple(devices)))
    accepted = result.accepted
    if accepted:
        events.publish(RequestAuthorised(request_id=request_id, service_request=sr, user=result.user,
                                         devices=accepted))
    for target in result.targets:
        if target.refusal is not None:
            events.publish(RequestRefused(request_id=request_id, service_request=sr, user=result.user,
                                          devices=(target.device,), rule=target.refusal.value,
                                          reason=target.message))


class AlertDeliveries:
    """A :class:`HubPort` that tells the stream which alerts the DCC delivered to whom."""

    def __init__(self, hub: HubPort, inventory: Inventory, users: Sequence[EntityId], events: EventStream) -> None:
        self._hub = hub
        self._inventory = inventory
        self._events = events
        # Inboxes outlive sessions: only deliveries after this point are this session's.
        self._seen = {user: _last_seq(inventory, user) for user in users}

    async def distribute(self, image: bytes, targets: Sequence[EntityId]) -> None:
        await self._hub.distribute(image, targets)

    async def send_command(self, target: EntityId, message: bytes) -> bytes:
        return await self._hub.send_command(target, message)

    def on_alert(self, sink: AlertSink) -> None:
        def take(data: bytes) -> None:
            sink(data)
            self._publish_deliveries()

        self._hub.on_alert(take)

    def inbox_mark(self, user: EntityId) -> int:
        """The last inbox sequence number of ``user`` before this session."""
        return self._seen.get(user, 0)

    def _publish_deliveries(self) -> None:
        for user, seen in self._seen.items():
            for message in self._inventory.inbox(user, after=seen):
                self._seen[user] = message.seq
                alert = message.alert
                if alert.device is None:  # an undecodable alert: recorded, about nobody
                    continue
                if alert.code.startswith("0x"):
                    self._events.publish(AlertDelivered(alert_code=int(alert.code, 16), device=alert.device,
                                                        user=user))
                else:
                    self._events.publish(DccAlertDelivered(alert_code=alert.code, device=alert.device, user=user))


def _last_seq(inventory: Inventory, user: EntityId) -> int:
    messages = inventory.inbox(user)
    return messages[-1].seq if messages else 0
