"""The Comms Hub: the CH's parts composed on one zigpy application, behind the DCC's HubPort.

:class:`CommsHub` is what the DCC talks to (:class:`~hanbench.dcc.hub_port.HubPort`) and
what HAN devices meet on the air. It owns:

* the image store and the OTA server (:mod:`hanbench.hub.image_store`,
  :mod:`hanbench.hub.ota_server`): :meth:`CommsHub.distribute` stores an image, then tells
  each awake target with Image Notify and sets "New OTA Firmware" on each sleepy target's
  mirror (the GSME reads it at its next wake);
* the GBCS message path (:mod:`hanbench.hub.tunnel`, :mod:`hanbench.hub.sleepy_queue`,
  :mod:`hanbench.hub.mirror`): :meth:`CommsHub.send_command` tunnels a command to an awake
  device, or queues it for a sleepy one, and returns the device's response, matched by the
  command's originator counter, however late it comes (how long to wait is the DCC's
  business, not the CH's); a queued command that expires raises 0x819D and fails the wait
  with :class:`~hanbench.hub.errors.CommandNotRetrieved`;
* the CH's own alerts: CCS08 for every transfer outcome (0x8F8A success, 0x8F89 failure with
  the CCS08 response code), signed with the CH's DS key (critical), and 0x819D, MAC'd with the
  CH's KA key for the DCC (non-critical: :mod:`hanbench.gbcs.protection`). They are addressed to
  the DCC (:data:`~hanbench.gbcs.entity.DCC_ENTITY`), as the RTDS CCS08 vector is: the CH
  does not know users, and the DCC routes them on (to the device's Supplier, and the RSA
  under MP207). Device alerts are forwarded as they came, byte for byte, with what the CH
  read of them (:class:`~hanbench.hub.forwarded.ForwardedAlert`).

Every step is told to the :meth:`CommsHub.on_event` listeners as a typed record
(:mod:`hanbench.hub.hub_events`), and every alert to the :meth:`CommsHub.on_alert` ones.

**IHD activation.** An IHD speaks no GBCS, and SECMP0007 option 1 has the CH manage its
activation (seed 003). When a transfer to a device registered as an IHD succeeds, the CH
sends it an unsolicited Upgrade End Response whose upgrade time is ``ihd_activation_delay_s``
after its current time (default 0: now); see :mod:`hanbench.devices.ihd`.

**The CH's own firmware** (:mod:`hanbench.hub.own_firmware`) comes from the DCC, not over the
HAN: :meth:`CommsHub.distribute_own` checks and holds it, :meth:`CommsHub.activate_own`
switches to it once no HAN transfer is in progress, and answers what it runs then.

**Change of tenancy or supplier** (SECMP0056): :meth:`CommsHub.publish_occupancy_change`
tells every IHD and PPMID in the device log, with the Device Management cluster's Publish
commands (:mod:`hanbench.hub.occupancy_notice`), and answers which of them took it.

The CH knows its devices the way a real CH does, from its device log: :meth:`CommsHub.register`
names each device's type (GSME is the only sleepy type, as in Silicon Labs' CHF).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field

import zigpy.exceptions
import zigpy.zdo.types as zdo_t
from zigpy.application import ControllerApplication

from hanbench.clock import BenchClock
from hanbench.errors import BadInput
from hanbench.gbcs.alerts import Alert, FirmwareTransferAlert, GsmeCommandNotRetrievedAlert, alert_message
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.errors import MessageFormatError
from hanbench.gbcs.frame import Cra, GbcsMessage, decode_message, encode_message
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_types import INITIAL_FILE_VERSION, RTDS_HW_MIN
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.protection import ReplyProtector
from hanbench.hub.errors import CommandNotDelivered, CommandNotRetrieved
from hanbench.hub.forwarded import AlertListener, ForwardedAlert
from hanbench.hub.image_store import SEED_RULES, ImageRules, ImageStore
from hanbench.hub.mirror import MirrorServer, mirror_endpoint_descriptors
from hanbench.hub.occupancy_notice import DISPLAY_TYPES, NoticeReceipt, OccupancyChange, OccupancyNotifier
from hanbench.hub.own_firmware import OwnActivation, OwnFirmware
from hanbench.hub.ota_server import OtaServer, OtaServerConfig
from hanbench.hub.sleepy_queue import QueuedMessage, SleepyQueue
from hanbench.hub import hub_events
from hanbench.hub.hub_events import HubListener
from hanbench.hub.transfer import TransferEvent, TransferOutcome
from hanbench.hub.tunnel import Delivery, TunnelServer, TunnelServerConfig
from hanbench.listeners import Listeners
from hanbench.radio.endpoints import comms_hub_endpoint
from hanbench.radio.se_clusters import NotificationFlags, TransferDataStatus
from hanbench.radio.tunnel_errors import NoTunnel, TransferDataRefused
from hanbench.timing import HUB_COMMAND_RETRIES, HUB_COMMAND_RETRY_S, QUEUE_EXPIRY_S

LOGGER = logging.getLogger(__name__)

SLEEPY_TYPES = frozenset({DeviceType.GSME})


def _tunnel_lost(exc: NoTunnel | TransferDataRefused) -> bool:
    """Whether a send failed because the device's tunnel went while it was under way (the device
    lost it in a power cycle and refuses NO_SUCH_TUNNEL, or asked for a new one mid-transfer):
    the device will have a tunnel again, so the command is sent again like an unacknowledged one."""
    return isinstance(exc, NoTunnel) or exc.status is TransferDataStatus.NO_SUCH_TUNNEL


def hub_endpoints() -> list[zdo_t.SimpleDescriptor]:
    """The coordinator endpoints a CH needs: its ESI endpoint and the GSME mirror endpoints."""
    return [comms_hub_endpoint(), *mirror_endpoint_descriptors()]


@dataclass(frozen=True)
class CommsHubTiming:
    """The CH's knobs: OTA server, image rules and slots, sleepy-queue expiry, the IHD's upgrade time.

    ``image_rules`` and ``slots`` size the image store (:mod:`hanbench.hub.image_store`;
    ``slots`` only for rules that take a number, ``None`` for their default).
    ``ihd_activation_delay_s`` is the upgrade time the CH gives an IHD after a good transfer.
    ``tunnel`` is its tunnel server's: transfer size and General Block Transfer.
    ``command_retry_s`` and ``command_retries``: a command an awake device did not acknowledge
    is sent again after ``command_retry_s``, doubling, ``command_retries`` times, then given up
    (defaults and why: :mod:`hanbench.timing`).
    """

    ota: OtaServerConfig = field(default_factory=OtaServerConfig)
    image_rules: ImageRules = SEED_RULES
    slots: int | None = None
    queue_expiry_s: float = QUEUE_EXPIRY_S
    ihd_activation_delay_s: int = 0
    tunnel: TunnelServerConfig = field(default_factory=TunnelServerConfig)
    command_retry_s: float = HUB_COMMAND_RETRY_S
    command_retries: int = HUB_COMMAND_RETRIES

    def __post_init__(self) -> None:
        if self.command_retry_s <= 0:
            raise BadInput(f"the CH's command retry interval must be > 0 s, got {self.command_retry_s}")
        if self.command_retries < 0:
            raise BadInput(f"the CH's command retries must be >= 0, got {self.command_retries}")


class CommsHub:
    """The CH on ``app``; see the module docstring. Call :meth:`start` before use."""

    def __init__(
        self,
        app: ControllerApplication,
        *,
        entity_id: EntityId,
        keystore: KeyStore,
        clock: BenchClock,
        timing: CommsHubTiming | None = None,
        alert_target: EntityId = DCC_ENTITY,
        firmware_version: int = INITIAL_FILE_VERSION,
        hardware_version: int = RTDS_HW_MIN,
    ) -> None:
        self.app = app
        self.entity_id = entity_id
        self.clock = clock
        self.timing = timing if timing is not None else CommsHubTiming()
        self.alert_target = alert_target
        self._key = keystore.private_key(entity_id, Usage.DS)
        self._protector = ReplyProtector(keystore.private_key(entity_id, Usage.KA))
        self._target_agreement_key = keystore.public_key(alert_target, Usage.KA)
        self.store = ImageStore(self.timing.image_rules, self.timing.slots)
        self.ota = OtaServer(self.store, clock, self.timing.ota)
        self.ota.on_transfer(self._on_transfer)
        self.mirrors = MirrorServer()
        self.queue = SleepyQueue(expiry_s=self.timing.queue_expiry_s)
        self.tunnels = TunnelServer(self.mirrors, self.queue, self.timing.tunnel)
        self.tunnels.on_message(self._on_device_message)
        self.tunnels.on_opened(self._send_unconfirmed)
        self.queue.on_expired(self._on_expired)
        self.occupancy = OccupancyNotifier(app, clock)
        #: The CH's device log: every HAN device it serves, by type.
        self.devices: dict[EntityId, DeviceType] = {}
        #: Every alert the CH raised itself, decoded, oldest first.
        self.alerts: list[Alert] = []
        self._alert_listeners: Listeners[AlertListener] = Listeners()
        self._listeners: Listeners[HubListener] = Listeners()
        self._awaiting: dict[tuple[EntityId, int], asyncio.Future[GbcsMessage]] = {}
        #: Commands sent to an awake device whose acknowledgement never came, still awaited.
        self._unconfirmed: dict[tuple[EntityId, int], GbcsMessage] = {}
        #: The task sending each unconfirmed command again (one per command).
        self._resending: dict[tuple[EntityId, int], asyncio.Task[None]] = {}
        self._alert_counter = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle_waiters: list[asyncio.Future[None]] = []
        #: What the CH runs itself, and the image the DCC gave it (signed by the DCC).
        self.firmware = OwnFirmware(firmware_version, hardware_version, keystore.public_key(DCC_ENTITY, Usage.DS),
                                    busy=lambda: bool(self.ota.transfers), transfers_idle=self._transfers_idle,
                                    clock=clock.now)

    # -- life cycle ----------------------------------------------------------------------------

    def on_event(self, listener: HubListener) -> Callable[[], None]:
        """Call ``listener`` with every step the CH takes (:mod:`hanbench.hub.hub_events`), in
        order; returns a remover."""
        return self._listeners.add(listener)

    def start(self) -> None:
        """Start serving OTA and the GSME mirrors on the application."""
        self.ota.install(self.app)
        self.mirrors.install(self.app)
        self.tunnels.install(self.app)

    async def close(self) -> None:
        self.tunnels.uninstall()
        self.mirrors.uninstall()
        self.ota.uninstall()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def power_off(self) -> None:
        """The CH goes down and loses what it holds in RAM: the transfers under way are
        interrupted (no CCS08: each device resumes from its own offset when the CH is back),
        its waits for devices stop until :meth:`power_on`, an IHD's upgrade command on its way
        is lost. What a CH keeps over a restart stays (docs/architecture.md, "Where every
        request ends"): its image store with the devices each image still waits for, its
        device log, the GSME mirrors and their flags, the commands queued for a sleepy device
        (their expiry runs on), and the tunnels, which in GBCS the CH opens itself.

        The DCC's waits for responses are the DCC's, not the CH's: a response that comes in
        after the restart still completes its command."""
        self.ota.power_off()
        for task in list(self._tasks):
            task.cancel()

    async def power_on(self) -> None:
        """The CH is back: the commands whose delivery it never saw confirmed are sent again;
        every device an image still waits for is waited for afresh, and an awake one is told
        with Image Notify again (a device whose download ran out of retries while the CH was
        away resumes it from its own offset; a GSME reads its flag)."""
        self.ota.power_on()
        self._send_unconfirmed()
        for stored in self.store.images:
            for device in sorted(stored.pending):
                if not self.tunnels.is_sleepy(device):
                    await self._notify(device)

    def register(self, device: EntityId, kind: DeviceType) -> None:
        """Add ``device`` to the CH's device log; a sleepy device gets a mirror.

        The tunnel server keeps the answer to "is it sleepy" (:meth:`TunnelServer.is_sleepy`),
        so distribution and the message path cannot disagree about a device.
        """
        self.devices[device] = kind
        self.tunnels.register_sleepy(device, kind in SLEEPY_TYPES)
        if kind in SLEEPY_TYPES:
            self.mirrors.create(device)

    # -- HubPort: distribution ------------------------------------------------------------------

    async def distribute(self, image: UpgradeImage, targets: Sequence[EntityId]) -> tuple[EntityId, ...]:
        """Store ``image`` for ``targets``, then tell them: Image Notify, or the GSME mirror flag.

        Discards (of this image or of images it overwrote, or of this image for a target the
        device log names as another type) come back as CCS08 result 1. Returns the targets it
        stored the image for: those the device log does not name as another type, or none
        when the image rules discarded this image itself. Raises :class:`BadInput` for an image
        the CH does not store.
        """
        stored = self.ota.offer(image, targets, device_log=self.devices)
        if stored is None:
            return ()
        self._listeners(hub_events.Stored(stored))
        kept = tuple(d for d in targets if d in stored.targets)
        for device in kept:
            if self.tunnels.is_sleepy(device):
                self._update_ota_flag(device)
                self._listeners(hub_events.Flagged(device))
            else:
                await self._notify(device)
        return kept

    async def _notify(self, device: EntityId) -> None:
        try:
            await self.ota.notify(device)
        except (BadInput, zigpy.exceptions.DeliveryError) as exc:
            LOGGER.info("Image Notify to %s not delivered: %s", device, exc)
            self._listeners(hub_events.Notified(device, False))
            return
        self._listeners(hub_events.Notified(device, True))

    def _update_ota_flag(self, device: EntityId) -> None:
        """Keep a sleepy device's "New OTA Firmware" flag equal to "an image waits for it"."""
        mirror = self.mirrors.get(device)
        if mirror is None:
            return
        if self.ota.image_waiting(device) is not None:
            mirror.set(NotificationFlags.NEW_OTA_FIRMWARE)
        else:
            mirror.clear(NotificationFlags.NEW_OTA_FIRMWARE)

    # -- HubPort: the CH's own firmware ---------------------------------------------------------

    async def distribute_own(self, ch: EntityId, image: UpgradeImage) -> None:
        """Hold ``image`` as the CH's next firmware (:class:`OwnImageRefused` if it is not taken);
        no HAN image or transfer is touched."""
        self._check_own(ch)
        self.firmware.receive(image)

    async def activate_own(self, ch: EntityId, image_hash: bytes) -> OwnActivation:
        """Switch to the held image of ``image_hash`` once no HAN transfer is in progress."""
        self._check_own(ch)
        return await self.firmware.activate(image_hash)

    def _check_own(self, ch: EntityId) -> None:
        if ch != self.entity_id:
            raise BadInput(f"this CH is {self.entity_id}, not {ch}")

    def _transfers_idle(self) -> asyncio.Future[None]:
        """Done when the last HAN transfer in progress has ended."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle_waiters.append(waiter)
        return waiter

    # -- HubPort: commands ---------------------------------------------------------------------

    async def send_command(self, command: GbcsMessage) -> GbcsMessage:
        """Tunnel ``command`` to its target and return the response, matched by originator counter.

        An awake device gets it now; a sleepy one at its next GET. The wait has no bound of
        its own (the DCC decides how long to wait): it ends with the response, or with
        :class:`CommandNotRetrieved` when the queued command expires (the CH has raised
        0x819D). A device that refused the command (a CS06 failing authentication) answers
        with an alert, not a response.

        A frame to an awake device whose acknowledgement never came back (zigpy, or GBT for a
        command in blocks, gave up after its retries) may still have arrived, and the device
        then answers when it can: the wait goes on (:attr:`Delivery.UNCONFIRMED`). The CH
        sends such a command again after ``command_retry_s``, doubling, up to
        ``command_retries`` times (:meth:`_resend`), and at once when the device opens a new
        tunnel (it was off, or lost its tunnel: it cannot have answered from the old one) or
        the CH itself comes back from a restart, each of which starts the count afresh; a
        device that did have it refuses the copy as a replay (its counter is not above the
        last), so nothing runs twice. A command whose tunnel went while it was being sent (the
        device refused it NO_SUCH_TUNNEL after a power cycle, or asked for a new tunnel
        mid-transfer) cannot have arrived, and the device will have a tunnel again: it is sent
        again the same way. When the last try is not acknowledged either, the wait
        ends with :class:`CommandNotDelivered` naming the device, the tries and the last
        failure (an awake device opens no new tunnel by itself, so waiting on would be
        silent). A command the CH cannot hand over at all (no tunnel open, the device not on
        the network or refusing the transfer) ends the wait at once with
        :class:`CommandNotDelivered`. Raises :class:`BadInput` when a command under the same
        counter already waits for the same device.
        """
        target, counter = command.target, command.originator_counter
        key = (target, counter)
        if key in self._awaiting:
            raise BadInput(f"a command under counter {counter} is already waiting for {target}'s response")
        future: asyncio.Future[GbcsMessage] = asyncio.get_running_loop().create_future()
        self._awaiting[key] = future
        had_tunnel = self.tunnels.tunnel_of(target) is not None
        try:
            try:
                delivery = await self.tunnels.send(target, command)
            except (zigpy.exceptions.DeliveryError, TimeoutError, NoTunnel, TransferDataRefused) as exc:
                if isinstance(exc, (NoTunnel, TransferDataRefused)) and not (had_tunnel and _tunnel_lost(exc)):
                    raise CommandNotDelivered(target, str(exc)) from None
                LOGGER.info("command %d to %s unacknowledged, waiting for its response anyway: %s", counter, target, exc)
                delivery = Delivery.UNCONFIRMED
                self._unconfirmed[key] = command
                self._start_resending(key, command, at_once=False)
            self._listeners(hub_events.Tunnelled(target, counter, delivery))
            return await future
        finally:
            self._awaiting.pop(key, None)
            self._unconfirmed.pop(key, None)
            resending = self._resending.pop(key, None)
            if resending is not None:  # else it would go on under the key, a later command's too
                resending.cancel()

    def _send_unconfirmed(self, device: EntityId | None = None) -> None:
        """Send again, now, the unconfirmed commands still awaited (for ``device``, or for every device)."""
        for key, command in list(self._unconfirmed.items()):
            if device is None or key[0] == device:
                self._start_resending(key, command, at_once=True)

    def _start_resending(self, key: tuple[EntityId, int], command: GbcsMessage, *, at_once: bool) -> None:
        """(Re)start the one task that sends ``command`` again, its count of tries afresh."""
        previous = self._resending.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._resending[key] = self._spawn(self._resend(key, command, at_once=at_once))

    async def _resend(self, key: tuple[EntityId, int], command: GbcsMessage, *, at_once: bool) -> None:
        """Send ``command`` again until acknowledged: now if ``at_once``, then after
        ``command_retry_s`` doubling, ``command_retries`` times; then fail the DCC's wait."""
        target, counter = key
        loop = asyncio.get_running_loop()
        began = loop.time()
        delay = self.timing.command_retry_s
        tries = self.timing.command_retries + (1 if at_once else 0)
        failure = "no acknowledgement"
        for attempt in range(1, tries + 1):
            waited = 0.0
            if attempt > 1 or not at_once:
                waited = delay
                await asyncio.sleep(delay)
                delay *= 2
            if key not in self._unconfirmed:
                return  # its response came, or the DCC stopped waiting
            self._listeners(hub_events.Resending(target, counter, attempt, tries, waited))
            try:
                delivery = await self.tunnels.send(target, command)
            except (zigpy.exceptions.DeliveryError, TimeoutError, NoTunnel, TransferDataRefused) as exc:
                LOGGER.info("command %d to %s still unacknowledged (try %d of %d): %s",
                            counter, target, attempt, tries, exc)
                failure = str(exc) or type(exc).__name__
                continue
            if self._unconfirmed.pop(key, None) is not None:
                self._listeners(hub_events.Tunnelled(target, counter, delivery))
            return
        self._unconfirmed.pop(key, None)
        over_s = loop.time() - began
        self._listeners(hub_events.Undelivered(target, counter, tries, over_s, failure))
        future = self._awaiting.get(key)
        if future is not None and not future.done():
            future.set_exception(CommandNotDelivered(
                target, f"command {counter} not acknowledged, sent again {tries} times over "
                        f"{over_s:.0f} s; last: {failure}"))

    def _on_device_message(self, device: EntityId, data: bytes) -> None:
        """A message from a device, read here once: a response completes its command, an alert goes up."""
        try:
            msg = decode_message(data)
        except MessageFormatError as exc:
            LOGGER.warning("undecodable message from %s forwarded as is: %s", device, exc)
            self._forward(ForwardedAlert(data, None, str(exc)))
            return
        if msg.cra is Cra.ALERT:
            self._forward(ForwardedAlert(data, msg))
            return
        future = self._awaiting.get((device, msg.originator_counter))
        if msg.cra is Cra.RESPONSE and future is not None and not future.done():
            future.set_result(msg)
        else:
            LOGGER.info("unexpected %s from %s under counter %d dropped",
                        msg.cra.name.lower(), device, msg.originator_counter)

    def _on_expired(self, queued: QueuedMessage) -> None:
        """A queued command expired: raise 0x819D and fail the DCC's wait."""
        self._listeners(hub_events.Uncollected(queued.device, queued.counter))
        self._raise(GsmeCommandNotRetrievedAlert(self.clock.now(), queued.device, queued.counter))
        future = self._awaiting.get((queued.device, queued.counter))
        if future is not None and not future.done():
            future.set_exception(CommandNotRetrieved(queued.device, f"uncollected after {self.queue.expiry_s:g} s; "
                                                                    "the CH raised 0x819D"))

    # -- HubPort: change of tenancy or supplier ------------------------------------------------

    async def publish_occupancy_change(self, device: EntityId, change: OccupancyChange) -> tuple[NoticeReceipt, ...]:
        """Tell every IHD and PPMID in the device log of ``change`` at the premises of ``device``
        (this CH's); one receipt per display, in device-log order."""
        if device != self.entity_id and device not in self.devices:
            raise BadInput(f"{device} is not in the device log of CH {self.entity_id}")
        displays = [d for d, kind in self.devices.items() if kind in DISPLAY_TYPES]
        return await self.occupancy.publish(change, displays)

    # -- transfers (from the OTA server) -----------------------------------------------------

    def _on_transfer(self, event: TransferEvent) -> None:
        """Pass each transfer record on; an outcome then becomes a CCS08 (and activates an IHD)."""
        self._listeners(event)
        if isinstance(event, TransferOutcome):
            self._transfer_finished(event)
            if not self.ota.transfers:
                waiters, self._idle_waiters = self._idle_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def _transfer_finished(self, outcome: TransferOutcome) -> None:
        self._update_ota_flag(outcome.device)
        version = outcome.image.file_version.to_bytes(4, "big")
        self._raise(FirmwareTransferAlert(self.clock.now(), outcome.device, version, outcome.result))
        if outcome.result == outcome.result.SUCCESS and self.devices.get(outcome.device) is DeviceType.IHD:
            self._spawn(self._upgrade_ihd(outcome))

    async def _upgrade_ihd(self, outcome: TransferOutcome) -> None:
        """Tell an IHD to switch to the image it just took (SECMP0007: the CH activates it)."""
        try:
            delivered = await self.ota.send_upgrade_command(
                outcome.device, outcome.image, self.timing.ihd_activation_delay_s
            )
        except BadInput:
            LOGGER.warning("IHD %s left the network before its upgrade command", outcome.device)
            return
        if not delivered:
            LOGGER.warning("upgrade command to IHD %s not delivered", outcome.device)

    # -- alerts ------------------------------------------------------------------------------------

    def on_alert(self, listener: AlertListener) -> Callable[[], None]:
        """Call ``listener`` with every alert the CH forwards or raises; returns a remover."""
        return self._alert_listeners.add(listener)

    def _raise(self, alert: Alert) -> None:
        counter, self._alert_counter = self._alert_counter, self._alert_counter + 1
        message = self._protector.seal(alert_message(self.entity_id, self.alert_target, counter, alert, self._key),
                                       self._target_agreement_key)
        self.alerts.append(alert)
        self._forward(ForwardedAlert(encode_message(message), message))

    def _forward(self, alert: ForwardedAlert) -> None:
        self._alert_listeners(alert)

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
