"""How an emulated premises feeds the event stream: the CH's observer and the devices' firmware.

The CH reports through a :class:`~hanbench.hub.comms_hub.HubObserver`; each emulated device
through its :class:`~hanbench.devices.firmware.FirmwareState` listeners. Both become the typed
events of :mod:`hanbench.bench.events` here, in one place, so every reader of the stream
(progress, the session record, tests) sees the same steps whichever side took them.
"""

from __future__ import annotations

import datetime as dt

from hanbench.bench.events import (
    ActivationCancelled,
    ActivationFired,
    ActivationImmediate,
    ActivationRefused,
    ActivationScheduled,
    BlockProgress,
    CommandExpired,
    CommandQueued,
    CommandSent,
    EventStream,
    ImageNotifySent,
    ImageStored,
    ReceiptAlertRaised,
    TransferFinished,
    TransferStarted,
)
from hanbench.clock import BenchClock
from hanbench.devices import firmware as fw
from hanbench.gbcs.alerts import FirmwareReceiptAlert
from hanbench.gbcs.entity import EntityId
from hanbench.hub import transfer
from hanbench.hub.comms_hub import HubObserver
from hanbench.hub.image_store import StoredImage

#: ``Activated.how`` of an activation that ran at a future-dated CS06's execution time.
FUTURE_DATED = "future-dated CS06"


class StreamObserver(HubObserver):
    """The CH's observer: every hub step as a bench event."""

    def __init__(self, events: EventStream, clock: BenchClock, *, block_size: int, queue_expiry_s: float) -> None:
        self._events = events
        self._clock = clock
        self._block_size = block_size
        self._queue_expiry = dt.timedelta(seconds=queue_expiry_s)
        self._versions: dict[EntityId, int] = {}

    def image_stored(self, stored: StoredImage) -> None:
        header = stored.image.header
        for device in stored.targets:
            self._versions[device] = header.file_version
        self._events.publish(ImageStored(
            device_type=stored.device_type.value, manufacturer_code=header.manufacturer_code,
            image_type=header.image_type, file_version=header.file_version, size=stored.size,
            slot=stored.sequence))

    def notify_sent(self, device: EntityId, delivered: bool) -> None:
        if delivered:
            self._events.publish(ImageNotifySent(device=device, file_version=self._versions.get(device, 0),
                                                 method="image_notify"))

    def transfer_started(self, started: transfer.TransferStarted) -> None:
        self._events.publish(TransferStarted(device=started.device, file_version=started.image.file_version,
                                             size=started.size, block_size=self._block_size))

    def transfer_progress(self, progress: transfer.TransferProgress) -> None:
        self._events.publish(BlockProgress(device=progress.device, file_version=progress.image.file_version,
                                           offset=progress.offset, size=progress.size, blocks=progress.blocks))

    def transfer_finished(self, outcome: transfer.TransferOutcome) -> None:
        self._events.publish(TransferFinished(
            device=outcome.device, file_version=outcome.image.file_version, result=outcome.result,
            reason=outcome.reason, blocks=outcome.blocks, bytes_sent=outcome.bytes_sent, retries=outcome.retries))

    def command_sent(self, device: EntityId, counter: int) -> None:
        self._events.publish(CommandSent(device=device, command="GBCS", request_id=str(counter)))

    def command_queued(self, device: EntityId, counter: int) -> None:
        self._events.publish(CommandQueued(device=device, command="GBCS", request_id=str(counter),
                                           expires_at=self._clock.now() + self._queue_expiry))

    def command_expired(self, device: EntityId, counter: int) -> None:
        self._events.publish(CommandExpired(device=device, command="GBCS", request_id=str(counter)))


def firmware_listener(events: EventStream, state: fw.FirmwareState) -> fw.FirmwareListener:
    """A listener on ``state`` that publishes what the device did."""

    def held_version() -> int:
        return 0 if state.held is None else state.held.file_version

    def publish(event: fw.FirmwareEvent) -> None:
        device = event.device
        match event:
            case fw.Activated(firmware=firmware, how=how):
                cls = ActivationFired if how == FUTURE_DATED else ActivationImmediate
                events.publish(cls(device=device, file_version=firmware.file_version))
            case fw.ActivationScheduled(pending=pending):
                events.publish(ActivationScheduled(device=device, file_version=held_version(), execute_at=pending.execution))
            case fw.ActivationCancelled():
                events.publish(ActivationCancelled(device=device, file_version=held_version(), reason="cancelled by CS06"))
            case fw.ActivationFailed(result=result):
                events.publish(ActivationRefused(device=device, file_version=held_version(), reason=result.name.lower()))
            case fw.CommandRefused(reason=reason):
                events.publish(ActivationRefused(device=device, file_version=held_version(), reason=reason))
            case fw.AlertRaised(alert=FirmwareReceiptAlert() as alert):
                events.publish(ReceiptAlertRaised(device=device, alert_code=int(alert.alert_code),
                                                  image_hash=alert.calculated_hash))

    return publish
