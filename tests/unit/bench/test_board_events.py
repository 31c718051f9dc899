"""A board's reports as bench events: activation steps from successive states, receipts from alerts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.bench.events import (
    ActivationCancelled,
    ActivationFired,
    ActivationImmediate,
    ActivationScheduled,
    ReceiptAlertRaised,
)
from hanbench.bench.kinds.board_events import receipt_alert, state_changes
from hanbench.gbcs.alerts import FirmwareReceiptAlert, GenericAlert, alert_message
from hanbench.gbcs.codes import AlertCode
from hanbench.gbcs.cs06 import PendingActivation
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.frame import encode_message
from hanbench.hardware.protocol import Alert, BoardState, HeldImage

DEVICE = EntityId.parse("00-DB-12-34-56-78-91-00")
CH = EntityId.parse("00-DB-12-34-56-78-91-02")
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
NEW_HASH = bytes(range(32))
IDLE = BoardState(firmware_version=1, held_image=None, pending_activation=None, clock=NOW, joined=True, network=None)
HOLDING = dataclasses.replace(IDLE, held_image=HeldImage(2, NEW_HASH))
PENDING = dataclasses.replace(HOLDING, pending_activation=PendingActivation(NOW + dt.timedelta(hours=1), None, NEW_HASH))
RUNNING_NEW = dataclasses.replace(IDLE, firmware_version=2, running_hash=NEW_HASH)


def kinds(before: BoardState, after: BoardState) -> list[tuple[type, int]]:
    return [(type(e), e.file_version) for e in state_changes(DEVICE, before, after)]


def test_a_new_running_image_without_a_pending_activation_is_immediate() -> None:
    assert kinds(HOLDING, RUNNING_NEW) == [(ActivationImmediate, 2)]


def test_a_new_running_image_that_ends_a_pending_activation_fired() -> None:
    assert kinds(PENDING, RUNNING_NEW) == [(ActivationFired, 2)]


def test_a_pending_activation_appearing_is_scheduled_and_going_alone_is_cancelled() -> None:
    [scheduled] = state_changes(DEVICE, HOLDING, PENDING)
    assert isinstance(scheduled, ActivationScheduled) and scheduled.execute_at == NOW + dt.timedelta(hours=1)
    assert kinds(PENDING, HOLDING) == [(ActivationCancelled, 2)]


def test_holding_an_image_or_a_clock_tick_is_no_activation_step() -> None:
    assert kinds(IDLE, HOLDING) == []
    assert kinds(HOLDING, dataclasses.replace(HOLDING, clock=NOW + dt.timedelta(seconds=5))) == []


def signed(alert: FirmwareReceiptAlert | GenericAlert) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return encode_message(alert_message(DEVICE, CH, 7, alert, key))


def test_a_receipt_alert_carries_the_hash_the_device_calculated() -> None:
    payload = signed(FirmwareReceiptAlert(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, NOW, NEW_HASH))
    event = receipt_alert(DEVICE, Alert(0x8F72, 0x00CD, payload))
    assert isinstance(event, ReceiptAlertRaised)
    assert (event.device, event.alert_code, event.image_hash) == (DEVICE, 0x8F72, NEW_HASH)


def test_other_alerts_are_no_receipt_and_a_receipt_code_on_another_alert_is_refused() -> None:
    other = signed(GenericAlert(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, NOW))
    assert receipt_alert(DEVICE, Alert(0x8F66, 0x0083, b"")) is None
    with pytest.raises(MessageFormatError):
        receipt_alert(DEVICE, Alert(0x8F72, 0x0083, other))
