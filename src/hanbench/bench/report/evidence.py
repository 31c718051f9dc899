"""A test's evidence, read from the events a session recorded: its transfers, its alerts and
the commands the CH gave up on.

The session record keeps events as data (kind and JSON fields), so a report can be built for
any past session; this turns them into the report's :class:`~hanbench.bench.report.model.Transfer`
and :class:`~hanbench.bench.report.model.AlertSeen`. Event kinds are taken from the event
classes themselves, so the vocabulary is spelled in one place (:mod:`hanbench.bench.events`).

A transfer's timeline is the offsets the CH reported over bench time: 0 when it started, each
progress report (the CH throttles them to every few percent), and the whole image when the
device took it (``success``). A transfer that ends without starting (an image discarded, a
hardware mismatch found at Query Next Image) has an empty timeline and its result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from hanbench.bench.events import AlertDelivered, BlockProgress, CommandUndelivered, ReceiptAlertRaised, \
    TransferFinished, TransferStarted
from hanbench.bench.record import RecordedEvent
from hanbench.bench.report.json_form import ReportUnreadable
from hanbench.bench.report.model import AlertSeen, CommandGivenUp, Evidence, TimelinePoint, Transfer
from hanbench.bench.session_events import DccAlertDelivered

#: The CCS08 result of a transfer the device took whole.
SUCCESS = "success"


@dataclasses.dataclass
class _Open:
    """A transfer seen starting and not yet finished."""

    device: str
    file_version: int
    size: int
    started_at: dt.datetime
    timeline: list[TimelinePoint]

    def point(self, at: dt.datetime, offset: int) -> None:
        self.timeline.append(TimelinePoint(round((at - self.started_at).total_seconds(), 3), offset))


class _Reader:
    """Folds one test's events, in order, into its evidence."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = names
        self._open: dict[str, _Open] = {}
        self.transfers: list[Transfer] = []
        self.alerts: list[AlertSeen] = []
        self.undelivered: list[CommandGivenUp] = []

    def read(self, event: RecordedEvent) -> None:
        data = event.data
        if event.kind == TransferStarted.kind:
            self._close(data["device"], None)
            self._open[data["device"]] = _Open(data["device"], int(data["file_version"]), int(data["size"]),
                                               event.at, [TimelinePoint(0.0, 0)])
        elif event.kind == BlockProgress.kind and data["device"] in self._open:
            self._open[data["device"]].point(event.at, int(data["offset"]))
        elif event.kind == TransferFinished.kind:
            self._finish(event, data)
        elif event.kind == ReceiptAlertRaised.kind:
            self.alerts.append(self._alert(event, "raised", None))
        elif event.kind in (AlertDelivered.kind, DccAlertDelivered.kind):
            self.alerts.append(self._alert(event, "delivered", data["user"]))
        elif event.kind == CommandUndelivered.kind:
            self.undelivered.append(CommandGivenUp(
                at=event.at, device=data["device"], device_name=self._names.get(data["device"]),
                request_id=data["request_id"], attempts=int(data["attempts"]), over_s=float(data["over_s"]),
                reason=str(data["reason"])))

    def _finish(self, event: RecordedEvent, data: Mapping[str, Any]) -> None:
        device, result = data["device"], str(data["result"])
        opened = self._open.pop(device, None)
        if opened is None:  # ended before it started: no block was ever sent
            opened = _Open(device, int(data["file_version"]), 0, event.at, [])
        elif result == SUCCESS:
            opened.point(event.at, opened.size)
        self._keep(opened, event.at, result, str(data.get("reason", "")), int(data.get("retries", 0)))

    def _close(self, device: str, at: dt.datetime | None) -> None:
        """A transfer the session never saw finish (a new one started, or the events ran out)."""
        opened = self._open.pop(device, None)
        if opened is not None:
            self._keep(opened, at, None, "", 0)

    def _keep(self, opened: _Open, finished_at: dt.datetime | None, result: str | None, reason: str,
              retries: int) -> None:
        self.transfers.append(Transfer(
            device=opened.device, device_name=self._names.get(opened.device), file_version=opened.file_version,
            size=opened.size, started_at=opened.started_at, finished_at=finished_at, result=result, reason=reason,
            retries=retries, timeline=tuple(opened.timeline)))

    def _alert(self, event: RecordedEvent, how: str, user: str | None) -> AlertSeen:
        code = event.data["alert_code"]
        device = event.data["device"]
        return AlertSeen(at=event.at, code=f"0x{code:04X}" if isinstance(code, int) else str(code), how=how,
                         device=device, device_name=self._names.get(device), user=user,
                         user_name=None if user is None else self._names.get(user))

    def evidence(self) -> Evidence:
        for device in list(self._open):
            self._close(device, None)
        return Evidence(tuple(sorted(self.transfers, key=lambda t: t.started_at)), tuple(self.alerts),
                        tuple(self.undelivered))


def evidence_of(events: Iterable[RecordedEvent], names: Mapping[str, str]) -> Evidence:
    """The transfers and alerts among ``events`` (one test's, in ``seq`` order).

    ``names`` maps entity IDs (DUIS form) to the bench's names for them (devices, users, the CH).
    """
    reader = _Reader(names)
    for event in events:
        try:
            reader.read(event)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportUnreadable(f"event #{event.seq} ({event.kind}) of session {event.session_id} is not as "
                                   f"this version of hanbench records it: {type(exc).__name__} {exc}") from None
    return reader.evidence()
