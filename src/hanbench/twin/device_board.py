"""An emulated HAN device behind the board control protocol: the backend of an `EmulatedBoard`.

On a lab bench a dev board's test build tells the bench, over its control UART, what the
device decided: the image it holds, a pending activation, the alerts it raised. On the twin
bench the device is emulated on the virtual air and :class:`DeviceBoard` reports the same
from its typed state and its firmware events, so `BoardControl` reads a real pty with the
very code it uses on a lab board.

What a board's firmware owns and the emulation maps onto:

* identity and state come from the device's settings, its :class:`FirmwareState`, its
  GBCS pending activation and, for an IHD or PPMID, what it shows (``display``, a state
  event each time a notice changes it); ``joined``/``network`` from :meth:`DeviceBoard.joined`, which the
  bench calls once the CH has interviewed the device (an emulated node knows its short
  address, not the PAN it joined);
* the clock is the device's own :class:`BenchClock`: ``set_clock`` moves it for this device
  only (an activation timer already running keeps the loop time it was set for);
* ``reset`` keeps everything (an emulated device has no volatile state that a restart
  would lose and the bench could observe); ``factory_reset`` forgets the held image and a
  pending activation, as erasing a board's persistent state does, and keeps the running
  firmware; ``restore_factory_image`` forgets the same and runs the firmware the device was
  built with again, as a dev board booting its factory slot does.
"""

from __future__ import annotations

import collections
from datetime import datetime

from hanbench.clock import BenchClock
from hanbench.devices.firmware import (
    Activated,
    AlertRaised,
    FirmwareEvent,
    FutureDatedAccepted,
    FutureDatedCancelled,
    ImageHeld,
)
from hanbench.devices.han_device import GbcsHanDevice, HanDevice
from hanbench.devices.occupant_display import OccupantDisplay
from hanbench.gbcs.cs06 import PendingActivation
from hanbench.hardware.protocol import (
    PROTOCOL_VERSION,
    Alert,
    AlertEvent,
    BoardState,
    EventSink,
    HeldImage,
    Identity,
    Network,
    StateEvent,
)

#: Alerts a board keeps for ``state`` (the protocol asks for at least 8).
ALERTS_KEPT = 8
MANUFACTURER = "hanbench"


class DeviceBoard:
    """`hardware.protocol.BoardBackend` for an emulated device; ``clock`` must be the device's own."""

    def __init__(self, device: HanDevice, clock: BenchClock) -> None:
        self.device = device
        self.clock = clock
        self._network: Network | None = None
        self._alerts: collections.deque[Alert] = collections.deque(maxlen=ALERTS_KEPT)
        self._emit: EventSink | None = None
        device.firmware.subscribe(self._firmware_event)
        self._display = getattr(device, "display", None)
        if isinstance(self._display, OccupantDisplay):
            self._display.on_change(lambda _shown: self._state_changed())

    # -- BoardBackend -----------------------------------------------------------------------

    def identify(self) -> Identity:
        firmware = self.device.firmware
        return Identity(role=self.device.kind, eui64=self.device.entity_id, manufacturer=MANUFACTURER,
                        model=f"emulated {self.device.kind.value}",
                        hardware_version=self.device.settings.hardware_version,
                        firmware_version=firmware.running.file_version, held_image=self._held(),
                        protocol=PROTOCOL_VERSION)

    def state(self) -> BoardState:
        return BoardState(
            firmware_version=self.device.firmware.running.file_version, held_image=self._held(),
            pending_activation=self._gbcs_pending(),
            clock=self.clock.now(), joined=self._network is not None, network=self._network,
            last_alerts=tuple(self._alerts), running_hash=self.device.firmware.running.image_hash,
            display=self._display.shown if isinstance(self._display, OccupantDisplay) else None)

    def reset(self) -> None:
        """Nothing the bench can observe is volatile on an emulated device."""

    def factory_reset(self) -> None:
        self._forget_pending()
        self.device.firmware.held = None
        self._alerts.clear()
        self._state_changed()

    def restore_factory_image(self) -> None:
        self._forget_pending()
        self.device.boot_factory_image()
        self._alerts.clear()
        self._state_changed()

    def _forget_pending(self) -> None:
        if isinstance(self.device, GbcsHanDevice):
            self.device.gbcs.close()
            self.device.gbcs.pending = None

    def set_clock(self, clock: datetime) -> None:
        self.clock.epoch, self.clock.origin = clock, self.clock.loop.time()
        self._state_changed()

    def attach(self, emit: EventSink) -> None:
        self._emit = emit

    # -- the bench's side -------------------------------------------------------------------

    def joined(self, network: Network) -> None:
        """The CH has let the device in and interviewed it, on ``network``."""
        self._network = network
        self._state_changed()

    # -- internals --------------------------------------------------------------------------

    def _held(self) -> HeldImage | None:
        held = self.device.firmware.held
        if held is None or held.image_hash is None:
            return None
        return HeldImage(held.file_version, held.image_hash)

    def _gbcs_pending(self) -> PendingActivation | None:
        return self.device.gbcs.pending if isinstance(self.device, GbcsHanDevice) else None

    def _firmware_event(self, event: FirmwareEvent) -> None:
        if isinstance(event, AlertRaised):
            alert = Alert(alert_code=int(event.alert.alert_code), message_code=int(event.alert.message_code),
                          payload=event.message)
            self._alerts.append(alert)
            if self._emit is not None:
                self._emit(AlertEvent(alert))
        elif isinstance(event, (ImageHeld, Activated, FutureDatedAccepted, FutureDatedCancelled)):
            self._state_changed()

    def _state_changed(self) -> None:
        if self._emit is not None:
            self._emit(StateEvent(self.state()))
