"""A board backend whose state is a handful of fields: what the pty tests put behind the twin."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hanbench.gbcs.cs06 import PendingActivation
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import EntityId
from hanbench.hardware.protocol import (
    PROTOCOL_VERSION,
    Alert,
    AlertEvent,
    BoardRefused,
    BoardState,
    Event,
    EventSink,
    HeldImage,
    Identity,
    Network,
)

HASH = bytes(range(32))


@dataclass
class MemoryBackend:
    """A device whose state is a handful of fields a test sets directly."""

    identity: Identity = field(default_factory=lambda: Identity(
        role=DeviceType.ESME, eui64=EntityId.parse("00-0D-6F-00-0A-90-69-E8"), manufacturer="Acme Meters",
        model="E1", hardware_version=0x0102, firmware_version=0x00010002, held_image=None,
        protocol=PROTOCOL_VERSION))
    clock: datetime = datetime(2030, 1, 1, tzinfo=UTC)
    held: HeldImage | None = field(default_factory=lambda: HeldImage(0x00010003, HASH))
    pending: PendingActivation | None = None
    network: Network | None = field(default_factory=lambda: Network(pan_id=0x1A2B, channel=15, nwk=0x4F01))
    alerts: list[Alert] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    emit: EventSink | None = None

    def identify(self) -> Identity:
        return replace(self.identity, held_image=self.held)

    def state(self) -> BoardState:
        return BoardState(firmware_version=self.identity.firmware_version, held_image=self.held,
                          pending_activation=self.pending, clock=self.clock, joined=self.network is not None,
                          network=self.network, last_alerts=tuple(self.alerts))

    def reset(self) -> None:
        self.restarts.append("reset")

    def factory_reset(self) -> None:
        self.held = self.network = None
        self.restarts.append("factory_reset")

    def restore_factory_image(self) -> None:
        self.held = self.pending = None
        self.restarts.append("restore_factory_image")

    def set_clock(self, clock: datetime) -> None:
        if clock.year < 2000:
            raise BoardRefused("invalid_argument", "the RTC cannot hold dates before 2000")
        self.clock = clock

    def attach(self, emit: EventSink) -> None:
        self.emit = emit

    def raise_event(self, event: Event) -> None:
        if isinstance(event, AlertEvent):
            self.alerts.append(event.alert)
        assert self.emit is not None
        self.emit(event)
