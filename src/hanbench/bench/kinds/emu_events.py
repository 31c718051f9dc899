"""How a premises feeds the event stream: the CH's steps and the emulated devices' firmware.

The CH tells its :meth:`~hanbench.hub.comms_hub.CommsHub.on_event` listeners
(:mod:`hanbench.hub.hub_events`), on every kind; each emulated device its
:class:`~hanbench.devices.firmware.FirmwareState` listeners. Both become the typed events of
:mod:`hanbench.bench.events` here, in one place, so every reader of the stream (progress,
the session record, tests) sees the same steps whichever side took them.
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
    CommandRefused,
    CommandResending,
    CommandSent,
    CommandUndelivered,
    CommandUnconfirmed,
    EventStream,
    ImageFlagged,
    ImageNotifySent,
    ImageStored,
    ReceiptAlertRaised,
    TransferFinished,
    TransferInterrupted,
    TransferStarted,
)
from hanbench.clock import BenchClock
from hanbench.devices import firmware as fw
from hanbench.gbcs.alerts import FirmwareReceiptAlert
from hanbench.gbcs.codes import MessageCode
from hanbench.gbcs.entity import EntityId
from hanbench.hub import hub_events, transfer
from hanbench.hub.tunnel import Delivery


def hub_listener(events: EventStream, clock: BenchClock, *, block_size: int,
                 queue_expiry_s: float) -> hub_events.HubListener:
    """A listener on the CH that publishes each of its steps as a bench event."""
    queue_expiry = dt.timedelta(seconds=queue_expiry_s)
    versions: dict[EntityId, int] = {}  # the file version offered to each device, for Image Notify

    def publish(event: hub_events.HubEvent) -> None:
        match event:
            case hub_events.Stored(image=stored):
                header = stored.image.header
                versions.update(dict.fromkeys(stored.targets, header.file_version))
                events.publish(ImageStored(
                    device_type=stored.device_type.value, manufacturer_code=header.manufacturer_code,
                    image_type=header.image_type, file_version=header.file_version, size=stored.size,
                    slot=stored.sequence))
            case hub_events.Flagged(device=device):
                events.publish(ImageFlagged(device=device, file_version=versions.get(device, 0)))
            case hub_events.Notified(device=device, delivered=True):
                events.publish(ImageNotifySent(device=device, file_version=versions.get(device, 0),
                                               method="image_notify"))
            case transfer.TransferStarted():
                events.publish(TransferStarted(device=event.device, file_version=event.image.file_version,
                                               size=event.size, block_size=block_size))
            case transfer.TransferProgress():
                events.publish(BlockProgress(device=event.device, file_version=event.image.file_version,
                                             offset=event.offset, size=event.size, blocks=event.blocks))
            case transfer.TransferInterrupted():
                events.publish(TransferInterrupted(device=event.device, file_version=event.image.file_version,
                                                   offset=event.offset, size=event.size, reason=event.reason))
            case transfer.TransferOutcome():
                events.publish(TransferFinished(
                    device=event.device, file_version=event.image.file_version, result=event.result,
                    reason=event.reason, blocks=event.blocks, bytes_sent=event.bytes_sent, retries=event.retries))
            case hub_events.Tunnelled(device=device, counter=counter, delivery=Delivery.QUEUED):
                events.publish(CommandQueued(device=device, command="GBCS", request_id=str(counter),
                                             expires_at=clock.now() + queue_expiry))
            case hub_events.Tunnelled(device=device, counter=counter, delivery=Delivery.UNCONFIRMED):
                events.publish(CommandUnconfirmed(device=device, command="GBCS", request_id=str(counter)))
            case hub_events.Tunnelled(device=device, counter=counter):
                events.publish(CommandSent(device=device, command="GBCS", request_id=str(counter)))
            case hub_events.Uncollected(device=device, counter=counter):
                events.publish(CommandExpired(device=device, command="GBCS", request_id=str(counter)))
            case hub_events.Resending(device=device, counter=counter):
                events.publish(CommandResending(device=device, command="GBCS", request_id=str(counter),
                                                attempt=event.attempt, attempts=event.attempts,
                                                after_s=round(event.after_s, 3)))
            case hub_events.Undelivered(device=device, counter=counter):
                events.publish(CommandUndelivered(device=device, command="GBCS", request_id=str(counter),
                                                  attempts=event.attempts, over_s=round(event.over_s, 3),
                                                  reason=event.reason))

    return publish


def firmware_listener(events: EventStream, state: fw.FirmwareState) -> fw.FirmwareListener:
    """A listener on ``state`` that publishes what the device did."""

    def held_version() -> int:
        return 0 if state.held is None else state.held.file_version

    def publish(event: fw.FirmwareEvent) -> None:
        device = event.device
        match event:
            case fw.Activated(firmware=firmware, trigger=fw.ActivationTrigger.FUTURE_DATED_CS06):
                events.publish(ActivationFired(device=device, file_version=firmware.file_version))
            case fw.Activated(firmware=firmware):
                events.publish(ActivationImmediate(device=device, file_version=firmware.file_version))
            case fw.FutureDatedAccepted(pending=pending):
                events.publish(ActivationScheduled(device=device, file_version=held_version(),
                                                   execute_at=pending.execution))
            case fw.FutureDatedCancelled(by=by):
                events.publish(ActivationCancelled(device=device, file_version=held_version(),
                                                   reason=f"cancelled by {by}"))
            case fw.ActivationFailed(result=result):
                events.publish(ActivationRefused(device=device, file_version=held_version(),
                                                 reason=result.name.lower()))
            case fw.CommandDropped(command=MessageCode.CS06_ACTIVATE_FIRMWARE):
                events.publish(ActivationRefused(device=device, file_version=held_version(), reason=_why(event)))
            case fw.CommandDropped(command=command, counter=counter):
                events.publish(CommandRefused(device=device, command=_command_name(command),
                                              request_id=str(counter), reason=_why(event)))
            case fw.AlertRaised(alert=FirmwareReceiptAlert() as alert):
                events.publish(ReceiptAlertRaised(device=device, alert_code=int(alert.alert_code),
                                                  image_hash=alert.calculated_hash))

    return publish


def _why(dropped: fw.CommandDropped) -> str:
    """A dropped command's reason on the stream: the check it failed (``mac``, ``signature``,
    ``counter``...), then how."""
    return f"{dropped.check.value}: {dropped.reason}"


def _command_name(command: MessageCode | int | None) -> str:
    """How a dropped command is named on the stream: its use case, its bare code, or ``undecodable``."""
    if isinstance(command, MessageCode):
        return command.gbcs_name
    return "undecodable" if command is None else f"0x{command:04X}"
