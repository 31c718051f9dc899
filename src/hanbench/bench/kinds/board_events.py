"""How a board-backed device feeds the event stream: its board's reports become bench events.

On emu the bench hears the device's own firmware events (:mod:`.emu_events`). On the
hardware path the only witness of what a device decided is its board's control port
(``hardware.md``): a ``state`` event whenever the state changes and an ``alert`` event for
every GBCS alert. This module turns a pair of successive board states, and a board's alert,
into the same typed events, so a test waiting for ``ActivationImmediate`` or reading
``ReceiptAlertRaised`` does so the same way on every kind.
"""

from __future__ import annotations

from hanbench.bench.events import (
    ActivationCancelled,
    ActivationFired,
    ActivationImmediate,
    ActivationScheduled,
    DeviceEvent,
    ReceiptAlertRaised,
)
from hanbench.gbcs.alerts import RECEIPT_CODES, FirmwareReceiptAlert, decode_alert
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.frame import decode_message
from hanbench.hardware.protocol import Alert, BoardState

def state_changes(device: EntityId, before: BoardState, after: BoardState) -> list[DeviceEvent]:
    """The activation steps that lead from ``before`` to ``after``.

    A new running image is an activation: *fired* when a pending one is gone with it (the
    execution date-time came), *immediate* otherwise (CS06 without a date-time, a PPMID or
    IHD activating by itself). A pending activation that goes without one was cancelled; a
    new one was scheduled.
    """
    changes: list[DeviceEvent] = []
    ran_before = (before.firmware_version, before.running_hash)
    if (after.firmware_version, after.running_hash) != ran_before:
        fired = before.pending_activation is not None and after.pending_activation is None
        kind = ActivationFired if fired else ActivationImmediate
        changes.append(kind(device=device, file_version=after.firmware_version))
    elif before.pending_activation is not None and after.pending_activation is None:
        changes.append(ActivationCancelled(device=device, file_version=_held_version(before),
                                           reason="the board reports no pending activation any more"))
    if after.pending_activation is not None and after.pending_activation != before.pending_activation:
        changes.append(ActivationScheduled(device=device, file_version=_held_version(after),
                                           execute_at=after.pending_activation.execution))
    return changes


def receipt_alert(device: EntityId, alert: Alert) -> ReceiptAlertRaised | None:
    """``alert`` as a :class:`ReceiptAlertRaised` with the hash it carries, if it is a receipt alert.

    Raises :class:`~hanbench.gbcs.errors.MessageFormatError` when a receipt alert's payload is not
    the GBCS alert it claims to be.
    """
    if alert.alert_code not in RECEIPT_CODES:
        return None
    decoded = decode_alert(decode_message(alert.payload))
    if not isinstance(decoded, FirmwareReceiptAlert):
        raise MessageFormatError(f"alert 0x{alert.alert_code:04X} from {device} carries a "
                        f"{type(decoded).__name__}, not a firmware receipt")
    return ReceiptAlertRaised(device=device, alert_code=alert.alert_code, image_hash=decoded.calculated_hash)


def _held_version(state: BoardState) -> int:
    return 0 if state.held_image is None else state.held_image.version
