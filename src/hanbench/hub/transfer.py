"""One image transfer from the CH to one device: its running state and the records it reports.

The CH's OTA server (:mod:`hanbench.hub.ota_server`) keeps a :class:`Transfer` per device
while it serves an image. The transfer owns what runs on its behalf, its stall timer and the
page being streamed to it, so ending it stops both at once (as zigpy's OTA manager keeps one
timer per transfer). The server tells its transfer listeners once when a transfer starts, a
few times as it progresses, when it is interrupted (:class:`TransferInterrupted`: the device
went quiet, or the CH restarted; the image still waits for the device, which may come back
and resume), and exactly once when the CH is done with the device for that image, with the
CCS08 response code (:class:`~hanbench.gbcs.alerts.TransferResult`, re-exported here).
Outcomes that are not transfers in the Zigbee sense but still need a CCS08 (an image
discarded before a device fetched it, a hardware version mismatch or an image that is not
newer found at Query Next Image, a device that never fetched its image) are reported the
same way, as a finished outcome with zero blocks, so the CH composition has one stream to
turn into CCS08 alerts and bench events.

All times are event-loop times (virtual in emulation), never the wall clock.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from zigpy.zcl import foundation

from hanbench.gbcs.alerts import TransferResult
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import UpgradeImage
from hanbench.hub.image_store import ImageKey, StoredImage

__all__ = [
    "Transfer",
    "TransferEvent",
    "TransferInterrupted",
    "TransferListener",
    "TransferOutcome",
    "TransferProgress",
    "TransferRecorder",
    "TransferResult",
    "TransferStarted",
    "unstarted_outcome",
]


@dataclass(frozen=True)
class TransferStarted:
    """A device accepted an image at Query Next Image (or resumed one without asking)."""

    device: EntityId
    image: ImageKey
    size: int
    at: float


@dataclass(frozen=True)
class TransferProgress:
    """How far a device has got: the highest offset it has been sent, of ``size`` bytes."""

    device: EntityId
    image: ImageKey
    offset: int
    size: int
    blocks: int
    at: float

    @property
    def percent(self) -> float:
        return 100.0 * self.offset / self.size if self.size else 100.0


@dataclass(frozen=True)
class TransferInterrupted:
    """A transfer stopped short of its end (``offset`` of ``size`` bytes sent) for ``reason``;
    the image still waits for the device. No CCS08: the device may come back and resume."""

    device: EntityId
    image: ImageKey
    offset: int
    size: int
    reason: str
    at: float


@dataclass(frozen=True)
class TransferOutcome:
    """How one transfer ended; ``result`` is the CCS08 response code.

    ``device_status`` is the status the device gave in Upgrade End (``None`` if it never sent
    one): SUCCESS with result 0, or the device's refusal (INVALID_IMAGE after a failed
    signature check, ABORT, REQUIRE_MORE_IMAGE) with result 3. ``retries`` counts block
    requests for data already sent (a lost response re-requested), ``waits`` the
    WAIT_FOR_DATA answers.
    """

    device: EntityId
    image: ImageKey
    image_sha256: bytes
    result: TransferResult
    reason: str
    blocks: int = 0
    bytes_sent: int = 0
    retries: int = 0
    waits: int = 0
    started_at: float | None = None
    finished_at: float = 0.0
    device_status: foundation.Status | None = None
    upgrade_time: int | None = None

    @property
    def duration(self) -> float:
        """Loop-time seconds from start to finish (0 for an outcome that never started)."""
        return 0.0 if self.started_at is None else self.finished_at - self.started_at


TransferEvent = TransferStarted | TransferProgress | TransferInterrupted | TransferOutcome
TransferListener = Callable[[TransferEvent], None]
"""Who hears about transfers: the CH composition (CCS08 alerts, bench events), tests."""


@dataclass
class TransferRecorder:
    """A transfer listener that keeps everything, by kind, for tests, benchmarks and logs."""

    started: list[TransferStarted] = field(default_factory=list)
    progress: list[TransferProgress] = field(default_factory=list)
    interrupted: list[TransferInterrupted] = field(default_factory=list)
    finished: list[TransferOutcome] = field(default_factory=list)

    def __call__(self, event: TransferEvent) -> None:
        match event:
            case TransferStarted():
                self.started.append(event)
            case TransferProgress():
                self.progress.append(event)
            case TransferInterrupted():
                self.interrupted.append(event)
            case TransferOutcome():
                self.finished.append(event)


@dataclass
class Transfer:
    """The running state of one device's download of one stored image."""

    device: EntityId
    stored: StoredImage
    started_at: float
    blocks: int = 0
    bytes_sent: int = 0
    retries: int = 0
    waits: int = 0
    #: End of the furthest block sent; a request below it is a retry.
    high_water: int = 0
    last_block_at: float | None = None
    #: When the last request served with a block arrived: the minimum block period counts from
    #: it, as the client counts it from its own request (ZCL OTA: the least time between two
    #: Image Block Requests), not from when the answer got through the air.
    last_served_request_at: float | None = None
    reported_percent: float = 0.0
    _stall_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _stall_when: float = field(default=0.0, repr=False)
    _stall_deadline: float = field(default=0.0, repr=False)
    _stall_timeout: float = field(default=0.0, repr=False)
    _stalled: Callable[[Transfer, float], None] | None = field(default=None, repr=False)
    _page: asyncio.Task[None] | None = field(default=None, repr=False)

    def arm_stall_timer(self, timeout: float, stalled: Callable[[Transfer, float], None]) -> None:
        """Call ``stalled(self, timeout)`` after ``timeout`` seconds, unless armed again (or
        stopped) first: each request from the device re-arms it.

        Re-arming only moves the deadline: the one loop timer, when it fires before the
        deadline, sets itself again for it. So a transfer costs a timer per stall period, not a
        cancelled timer per block.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._stall_deadline, self._stall_timeout, self._stalled = deadline, timeout, stalled
        if self._stall_timer is not None:
            if self._stall_when <= deadline:
                return
            self._stall_timer.cancel()
        self._set_stall_timer(loop, deadline)

    def _set_stall_timer(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._stall_when = when
        self._stall_timer = loop.call_at(when, self._stall_due, when)

    def _stall_due(self, when: float) -> None:
        self._stall_timer = None
        if self._stall_deadline > when:  # re-armed since the timer was set
            self._set_stall_timer(asyncio.get_running_loop(), self._stall_deadline)
            return
        assert self._stalled is not None
        self._stalled(self, self._stall_timeout)

    def stream_page(self, page: asyncio.Task[None]) -> None:
        """``page`` now streams blocks to the device; a page still running gives way to it."""
        if self._page is not None:
            self._page.cancel()
        self._page = page

    def stop(self) -> None:
        """The transfer ended: no stall timer, and no page streaming (unless the page itself
        is what ended it, which then finishes on its own)."""
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self._page is not None and self._page is not asyncio.current_task():
            self._page.cancel()
        self._page = None

    def started(self) -> TransferStarted:
        return TransferStarted(self.device, self.stored.key, self.stored.size, self.started_at)

    def record_block(self, offset: int, length: int, now: float) -> None:
        """Count one block sent at ``offset``."""
        if offset < self.high_water:
            self.retries += 1
        self.blocks += 1
        self.bytes_sent += length
        self.high_water = max(self.high_water, offset + length)
        self.last_block_at = now

    def progress_due(self, step_percent: float) -> TransferProgress | None:
        """A progress record if the transfer has moved ``step_percent`` since the last one.

        Throttled by progress, not by time, so the number of reports does not depend on how
        fast the (virtual or real) clock runs: at most ``100 / step_percent`` plus the last.
        """
        percent = 100.0 * self.high_water / self.stored.size
        if percent < 100.0 and percent - self.reported_percent < step_percent:
            return None
        if percent <= self.reported_percent:
            return None
        self.reported_percent = percent
        assert self.last_block_at is not None
        return TransferProgress(self.device, self.stored.key, self.high_water, self.stored.size, self.blocks,
                                self.last_block_at)

    def interrupted(self, reason: str, now: float) -> TransferInterrupted:
        return TransferInterrupted(self.device, self.stored.key, self.high_water, self.stored.size, reason, now)

    def outcome(
        self,
        result: TransferResult,
        reason: str,
        now: float,
        *,
        device_status: foundation.Status | None = None,
        upgrade_time: int | None = None,
    ) -> TransferOutcome:
        return TransferOutcome(
            device=self.device,
            image=self.stored.key,
            image_sha256=self.stored.sha256,
            result=result,
            reason=reason,
            blocks=self.blocks,
            bytes_sent=self.bytes_sent,
            retries=self.retries,
            waits=self.waits,
            started_at=self.started_at,
            finished_at=now,
            device_status=device_status,
            upgrade_time=upgrade_time,
        )


def unstarted_outcome(
    device: EntityId, image: StoredImage | UpgradeImage, result: TransferResult, reason: str, now: float
) -> TransferOutcome:
    """The outcome for a device that never got a transfer going (discard, hardware mismatch,
    an image that is not newer, a device that never asked for it), of an image the store
    holds or one it never took."""
    if isinstance(image, StoredImage):
        key, digest = image.key, image.sha256
    else:
        key, digest = ImageKey.of(image.header), hashlib.sha256(image.to_bytes()).digest()
    return TransferOutcome(device=device, image=key, image_sha256=digest, result=result, reason=reason,
                           finished_at=now)
