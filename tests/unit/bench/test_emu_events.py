"""The CH's steps and an emulated device's firmware events, as the typed events of the stream.

Each record goes in as the CH or the device tells it; what comes out of the stream is
compared field by field, so a step published as the wrong event (a refused read as a
refused activation, a future-dated activation as an immediate one) fails here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench_helpers import BASE, START, Clock, recording

from hanbench.bench import events as ev
from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.kinds.emu_events import firmware_listener, hub_listener
from hanbench.clock import BenchClock
from hanbench.devices import firmware as fw
from hanbench.gbcs.alerts import FirmwareReceiptAlert, GenericAlert, ReceiptForm, TransferResult
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import ActivationResult, PendingActivation
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.image import parse_image
from hanbench.gbcs.image_types import NEXT_FILE_VERSION, profile_for
from hanbench.hub import hub_events
from hanbench.hub.image_store import ImageStore, StoredImage
from hanbench.hub.transfer import Transfer
from hanbench.hub.tunnel import Delivery

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
ESME = EntityId.parse("00-DB-12-34-56-78-91-00")
GSME = EntityId.parse("00-DB-12-34-56-78-91-01")
HASH = bytes(range(32))
OLD, NEW = fw.Firmware(1), fw.Firmware(2, HASH)


def published(stream: ev.EventStream) -> list[dict[str, Any]]:
    """What the stream carries, without the stamps it adds."""
    return [{k: v for k, v in e.to_dict().items() if k not in ("at", "seq")} for e in stream.history]


def expected(*events: ev.Event) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_dict().items() if k not in ("at", "seq")} for e in events]


# -- an emulated device's firmware ---------------------------------------------------------------


@pytest.fixture
def device() -> tuple[ev.EventStream, fw.FirmwareState]:
    """An ESME holding version 2 (hash HASH), its firmware heard by the stream."""
    stream = ev.EventStream(lambda: NOW)
    state = fw.FirmwareState(ESME, OLD, lambda: NOW)
    state.hold(NEW)
    state.subscribe(firmware_listener(stream, state))
    return stream, state


@pytest.mark.parametrize(("trigger", "event"), [
    (fw.ActivationTrigger.CS06, ev.ActivationImmediate),
    (fw.ActivationTrigger.FUTURE_DATED_CS06, ev.ActivationFired),
    (fw.ActivationTrigger.SELF_ACTIVATION, ev.ActivationImmediate),
    (fw.ActivationTrigger.CH_UPGRADE_COMMAND, ev.ActivationImmediate),
])
def test_an_activation_is_fired_only_at_a_future_dated_cs06s_time(device, trigger, event) -> None:
    stream, state = device
    assert state.activate(HASH, trigger) is ActivationResult.SUCCESS
    assert published(stream) == expected(event(device=ESME, file_version=2))


def test_a_future_dated_activation_is_scheduled_then_cancelled_for_the_held_version(device) -> None:
    stream, state = device
    pending = PendingActivation(NOW + dt.timedelta(days=1), 1001, HASH)
    state.emit(lambda d, at: fw.FutureDatedAccepted(d, at, pending))
    state.emit(lambda d, at: fw.FutureDatedCancelled(d, at, pending))
    assert published(stream) == expected(
        ev.ActivationScheduled(device=ESME, file_version=2, execute_at=NOW + dt.timedelta(days=1)),
        ev.ActivationCancelled(device=ESME, file_version=2, reason="cancelled by CS06"))


def test_an_authentic_cs06_that_cannot_be_carried_out_is_a_refused_activation(device) -> None:
    stream, state = device
    state.emit(lambda d, at: fw.ActivationFailed(d, at, ActivationResult.HASH_MISMATCH, 1002))
    assert published(stream) == expected(ev.ActivationRefused(device=ESME, file_version=2, reason="hash_mismatch"))


@pytest.mark.parametrize(("command", "check", "event"), [
    (MessageCode.CS06_ACTIVATE_FIRMWARE, fw.CommandCheck.MAC,
     ev.ActivationRefused(device=ESME, file_version=2, reason="mac: not MAC'd")),
    (MessageCode.CS06_ACTIVATE_FIRMWARE, fw.CommandCheck.SIGNATURE,
     ev.ActivationRefused(device=ESME, file_version=2, reason="signature: not MAC'd")),
    (MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION, fw.CommandCheck.MAC,
     ev.CommandRefused(device=ESME, command="ECS52 Read ESME/Comms Hub Firmware Version", request_id="7",
                       reason="mac: not MAC'd")),
    (0x1234, fw.CommandCheck.UNSUPPORTED,
     ev.CommandRefused(device=ESME, command="0x1234", request_id="7", reason="unsupported: not MAC'd")),
    (None, fw.CommandCheck.MALFORMED,
     ev.CommandRefused(device=ESME, command="undecodable", request_id="7", reason="malformed: not MAC'd")),
])
def test_a_dropped_command_is_published_as_what_it_was_and_the_check_it_failed(device, command, check, event) -> None:
    stream, state = device
    state.emit(lambda d, at: fw.CommandDropped(d, at, 7, "not MAC'd", command, check))
    assert published(stream) == expected(event)


def test_a_receipt_alert_carries_its_hash_and_other_alerts_and_image_checks_publish_nothing(device) -> None:
    stream, state = device
    receipt = FirmwareReceiptAlert(AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL, NOW, HASH, ReceiptForm.DLMS)
    state.emit(lambda d, at: fw.AlertRaised(d, at, receipt, b"signed"))
    state.emit(lambda d, at: fw.AlertRaised(d, at, GenericAlert(AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE, NOW),
                                            b"signed"))
    state.refuse("not for this device", HASH)
    assert published(stream) == expected(ev.ReceiptAlertRaised(device=ESME, alert_code=0x8F72, image_hash=HASH))


# -- the CH ----------------------------------------------------------------------------------------


@pytest.fixture
def stored() -> StoredImage:
    data = (ROOT / "firmware_images" / profile_for("esme").file_name(NEXT_FILE_VERSION)).read_bytes()
    image = ImageStore().put(parse_image(data), [ESME, GSME]).stored
    assert image is not None
    return image


def hub_stream() -> tuple[ev.EventStream, hub_events.HubListener]:
    """A stream hearing the CH, on a bench clock that reads NOW (virtual time stands still)."""
    stream = ev.EventStream(lambda: NOW)
    return stream, hub_listener(stream, BenchClock(NOW), block_size=50, queue_expiry_s=3600)


@pytest.mark.looptime
async def test_the_chs_image_and_transfer_steps(stored: StoredImage) -> None:
    stream, publish = hub_stream()
    transfer = Transfer(ESME, stored, started_at=0.0)
    transfer.record_block(0, stored.size, 5.0)
    progress = transfer.progress_due(10.0)
    assert progress is not None
    for event in (hub_events.Stored(stored), hub_events.Notified(ESME, True), hub_events.Notified(GSME, False),
                  transfer.started(), progress,
                  transfer.outcome(TransferResult.SUCCESS, "the device took the image", 9.0)):
        publish(event)
    assert published(stream) == expected(
        ev.ImageStored(device_type="esme", manufacturer_code=stored.key.manufacturer_code,
                       image_type=stored.key.image_type, file_version=NEXT_FILE_VERSION, size=stored.size,
                       slot=stored.sequence),
        ev.ImageNotifySent(device=ESME, file_version=NEXT_FILE_VERSION, method="image_notify"),
        ev.TransferStarted(device=ESME, file_version=NEXT_FILE_VERSION, size=stored.size, block_size=50),
        ev.BlockProgress(device=ESME, file_version=NEXT_FILE_VERSION, offset=stored.size, size=stored.size, blocks=1),
        ev.TransferFinished(device=ESME, file_version=NEXT_FILE_VERSION, result=TransferResult.SUCCESS,
                            reason="the device took the image", blocks=1, bytes_sent=stored.size),
    )


@pytest.mark.looptime
async def test_an_interrupted_transfer_and_a_device_the_ch_gave_up_on(stored: StoredImage) -> None:
    stream, publish = hub_stream()
    transfer = Transfer(ESME, stored, started_at=0.0)
    transfer.record_block(0, 50, 1.0)
    publish(transfer.interrupted("no request from the device for 30 s", 31.0))
    publish(transfer.outcome(TransferResult.FILE_TRANSFER_FAILURE, "the device did not come back", 99.0))
    assert published(stream) == expected(
        ev.TransferInterrupted(device=ESME, file_version=NEXT_FILE_VERSION, offset=50, size=stored.size,
                               reason="no request from the device for 30 s"),
        ev.TransferFinished(device=ESME, file_version=NEXT_FILE_VERSION, result=TransferResult.FILE_TRANSFER_FAILURE,
                            reason="the device did not come back", blocks=1, bytes_sent=50),
    )


@pytest.mark.looptime
async def test_the_chs_command_steps_sent_unconfirmed_queued_and_uncollected() -> None:
    stream, publish = hub_stream()
    publish(hub_events.Tunnelled(ESME, 11, Delivery.SENT))
    publish(hub_events.Tunnelled(ESME, 13, Delivery.UNCONFIRMED))
    publish(hub_events.Tunnelled(GSME, 12, Delivery.QUEUED))
    publish(hub_events.Uncollected(GSME, 12))
    assert published(stream) == expected(
        ev.CommandSent(device=ESME, command="GBCS", request_id="11"),
        ev.CommandUnconfirmed(device=ESME, command="GBCS", request_id="13"),
        ev.CommandQueued(device=GSME, command="GBCS", request_id="12", expires_at=NOW + dt.timedelta(hours=1)),
        ev.CommandExpired(device=GSME, command="GBCS", request_id="12"),
    )


def _resent_then_given_up(publish: hub_events.HubListener) -> None:
    """The CH tried the command under counter 13 again at once (a new tunnel), then after 10 s,
    and gave up after the last of them went unacknowledged."""
    publish(hub_events.Resending(ESME, 13, 1, 2, 0.0))
    publish(hub_events.Resending(ESME, 13, 2, 2, 10.0))
    publish(hub_events.Undelivered(ESME, 13, 2, 10.5, "no APS acknowledgement"))


@pytest.mark.looptime
async def test_the_chs_resends_and_its_give_up_on_a_command() -> None:
    stream, publish = hub_stream()
    _resent_then_given_up(publish)
    assert published(stream) == expected(
        ev.CommandResending(device=ESME, command="GBCS", request_id="13", attempt=1, attempts=2, after_s=0.0),
        ev.CommandResending(device=ESME, command="GBCS", request_id="13", attempt=2, attempts=2, after_s=10.0),
        ev.CommandUndelivered(device=ESME, command="GBCS", request_id="13", attempts=2, over_s=10.5,
                              reason="no APS acknowledgement"),
    )


@pytest.mark.looptime
async def test_the_session_record_carries_the_chs_resends_and_its_give_up(
        load_text: Callable[[str], BenchConfig]) -> None:
    config = load_text(BASE)
    clock = Clock(START)
    with recording(config, clock) as (record, stream, session):
        _resent_then_given_up(hub_listener(stream, BenchClock(START), block_size=50, queue_expiry_s=3600))
        recorded = record.events(session.id)
    assert [(e.kind, dict(e.data)) for e in recorded] == [
        ("command_resending", {"device": ESME.duis, "command": "GBCS", "request_id": "13", "attempt": 1,
                               "attempts": 2, "after_s": 0.0}),
        ("command_resending", {"device": ESME.duis, "command": "GBCS", "request_id": "13", "attempt": 2,
                               "attempts": 2, "after_s": 10.0}),
        ("command_undelivered", {"device": ESME.duis, "command": "GBCS", "request_id": "13", "attempts": 2,
                                 "over_s": 10.5, "reason": "no APS acknowledgement"}),
    ]
