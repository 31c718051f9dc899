"""Events the bench layer itself publishes: premises opened and closed, and the DCC's part.

:class:`PremisesOpened` / :class:`PremisesClosed` frame each premises in the stream (a
pytest run assembles one per test), with what assembly cost in wall-clock time and how much
bench time the premises lived: the session summary adds these up.

The DCC's part reaches the stream in two ways:

* :func:`publish_request` after a user's request returns: one ``request_submitted`` stamped
  when the request was made, then one ``request_authorised`` or ``request_refused`` per
  target, all under the DCC's SR log ID;
* :func:`delivery_publisher`, a listener on the DCC's deliveries
  (:meth:`~hanbench.dcc.dcc.Dcc.on_delivery`): one event per alert put in a user's inbox;
* :class:`CampaignNoticeSent`, one per status update a CH firmware campaign sends a user
  (:mod:`hanbench.dcc.campaign`), and :class:`ChFirmwareUpdated`, one per CH it updated, so
  the session record keeps the campaign's course (the report draws it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import ClassVar

from hanbench.bench.events import AlertDelivered, Event, EventStream, RequestAuthorised, RequestRefused, \
    RequestSubmitted
from hanbench.dcc.alert_routing import AlertDelivery, DccAlert
from hanbench.dcc.campaign import Campaign, Notice
from hanbench.dcc.ch_firmware import ChUpdate
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


def delivery_publisher(events: EventStream) -> Callable[[AlertDelivery], None]:
    """A DCC delivery listener that publishes each delivery: a GBCS alert by its code, a DCC alert by name."""

    def publish(delivery: AlertDelivery) -> None:
        if isinstance(delivery.code, DccAlert):
            events.publish(DccAlertDelivered(alert_code=delivery.code.value, device=delivery.device,
                                             user=delivery.user))
        else:
            events.publish(AlertDelivered(alert_code=int(delivery.code), device=delivery.device, user=delivery.user))

    return publish


@dataclasses.dataclass(frozen=True, kw_only=True)
class CampaignNoticeSent(Event):
    """Campaign ``campaign`` told ``user`` it reached ``stage`` (``text``), about ``chs`` of its CHs."""

    kind: ClassVar[str] = "campaign_notice"
    campaign: str
    stage: str
    user: EntityId
    chs: int
    text: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChFirmwareUpdated(Event):
    """Campaign ``campaign`` updated CH ``ch``: ``outcome`` (``activated``...), what it runs now."""

    kind: ClassVar[str] = "ch_firmware_updated"
    campaign: str
    ch: EntityId
    outcome: str
    running_version: int | None
    detail: str


def publish_campaign(campaign: Campaign, stream: EventStream) -> None:
    """Put each of ``campaign``'s notices and CH updates on ``stream``."""
    name = campaign.plan.name

    def notice(n: Notice) -> None:
        stream.publish(CampaignNoticeSent(campaign=n.campaign, stage=n.stage.value, user=n.user, chs=len(n.chs),
                                          text=n.text))

    def update(u: ChUpdate) -> None:
        stream.publish(ChFirmwareUpdated(campaign=name, ch=u.ch, outcome=u.outcome.value,
                                         running_version=u.running_version, detail=u.detail))

    campaign.on_notice(notice)
    campaign.on_update(update)
