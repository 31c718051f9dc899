"""The DCC: takes users' Service Requests, authorises them, talks to the CH, and routes alerts.

* SR 11.1 / 11.4: the image is read once, here; authorised per device against that reading;
  the accepted devices get the read image through one :meth:`HubPort.distribute`; each
  becomes the device's pending image (hash, file version, since when, by whom).
* Every command goes out MAC'd by the DCC's Access Control Broker
  (:class:`~hanbench.dcc.access_control_broker.AccessControlBroker`, its invocation counter kept
  in the inventory); every response and alert is refused unless it is authentic as GBCS has it:
  a valid MAC where GBCS MACs it (a read's response, a non-critical alert), a valid signature
  where GBCS signs it (the CS06 response, critical alerts). A response that is not is
  ``bad_response`` in the SR log; such an alert is recorded and delivered with the reason, and
  not acted on.
* SR 11.3: a CS06 signed with the supplier's DS key under a fresh originator counter (kept
  in the inventory, so counters keep increasing across runs); the response updates the
  inventory. When no response arrives within ``response_wait`` the device is flagged (as
  the real DSP leaves such a device suspended, gbcs-domain.md 1.7); a late response, or a
  later SR 11.2, clears the flag. A CS06 with an execution date-time is answered without
  an outcome (GBCS CS06 step 2, gbcs-domain.md 1.4) and carried out at that date-time,
  whose outcome comes in alert 0x8F66 / 0x8F67 naming the CS06's originator counter. When
  the date-time has already passed the device carries it out at once, so the DCC does not
  report it scheduled: it waits (within ``response_wait``) for that alert and reports its
  outcome, activated or failed.
* SR 3.2 (Restrict Access For Change Of Tenancy) and every change of supplier: the meter's CH
  tells the premises' IHDs and PPMIDs (SECMP0056, :mod:`hanbench.hub.occupancy_notice`); SR
  3.2 is ``occupants_notified`` once every one of them took it, ``not_delivered`` (naming
  which did not) otherwise.
* SR 11.2: the GBCS read-firmware-version use case for the device type (ECS52, GCS38, CS08);
  no response within ``response_wait`` is ``not_delivered``.

``response_wait`` is the one bound on waiting for a device: the CH waits for a response as
long as it is asked to, and ends a wait early only when its sleepy queue gives the command
up (:class:`~hanbench.hub.errors.CommandNotRetrieved`, with alert 0x819D).
* Alerts from the CH are decoded, recorded, applied to the inventory, and delivered to the
  users :mod:`hanbench.dcc.alert_routing` names; CCS08 about an ESME/GSME also raises N60/N61.
  Every delivery is announced to the :meth:`Dcc.on_delivery` listeners once it is committed.

The DCC keeps no clock of its own: every timestamp comes from the ``clock`` it is given
(the bench's virtual-time clock), every wait from the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.serialization import Encoding

from hanbench.dcc import alert_routing
from hanbench.dcc.access_control_broker import AccessControlBroker
from hanbench.dcc.alert_routing import DELIVERY_ALERT_DEVICE_TYPES, AlertDelivery, DccAlert, code_text
from hanbench.dcc.authorisation import Authoriser, Decision, read_request_image
from hanbench.dcc.hub_port import (
    CommandNotDelivered, CommandNotRetrieved, ForwardedAlert, HubPort, NoticeReceipt, OccupancyChange,
)
from hanbench.dcc.inbox import Inbox, Inboxes
from hanbench.dcc.inventory import Inventory
from hanbench.dcc.records import AlertOrigin, Device, PendingImage, TargetDecision, UpdateState, User, \
    firmware_version_from_bytes
from hanbench.dcc.service_requests import (
    ActivateFirmware,
    Outcome,
    ReadFirmwareVersion,
    Request,
    RequestResult,
    RestrictAccessForChangeOfTenancy,
    TargetResult,
    UpdateFirmware,
    UpdateInventory,
    UpdatePpmidFirmware,
)
from hanbench.errors import CheckFailed, HanbenchError
from hanbench.gbcs import alerts, cs06, firmware_version
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.codes import is_critical
from hanbench.gbcs.errors import KeyStoreError, MacInvalid, MessageFormatError
from hanbench.gbcs.frame import Cra, GbcsMessage, verify_message
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.gbcs.roles import NO_SUPPLIER_TRUST_ANCHOR, Policy
from hanbench.gbcs.security_credentials import (
    CredentialsOutcome,
    ReplacementMode,
    UpdateSecurityCredentials,
    read_update_credentials_response,
    supplier_cells,
    update_credentials_command,
)
from hanbench.listeners import Listeners
from hanbench.timing import RESPONSE_WAIT_S

LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DeliveryListener = Callable[[AlertDelivery], None]

_READ_REQUESTS: dict[DeviceType, Callable[[], firmware_version.FirmwareVersionRequest]] = {
    DeviceType.ESME: firmware_version.EsmeFirmwareVersionRequest,
    DeviceType.CH: firmware_version.EsmeFirmwareVersionRequest,
    DeviceType.GSME: firmware_version.GsmeFirmwareVersionRequest,
    DeviceType.PPMID: firmware_version.PpmidFirmwareVersionRequest,
    DeviceType.ALT_HAN: firmware_version.PpmidFirmwareVersionRequest,  # a PPMID variant (MP170)
    DeviceType.HCALCS: firmware_version.PpmidFirmwareVersionRequest,
}
"""The GBCS use case behind SR 11.2 per device type: ECS52, GCS38, CS08."""


class BadResponse(CheckFailed):
    """A device response the DCC cannot accept (wrong sender, counter, use case or signature):
    the device failed a check, which the SR log records as ``bad_response``."""


@dataclass(frozen=True)
class _AlertFacts:
    """What one decoded alert means for the inventory: its subject, and its effect."""

    origin: AlertOrigin
    device: EntityId
    code: alerts.AlertCode | int
    hash: bytes | None = None
    firmware_version: int | None = None
    detail: str = ""


class Dcc:
    """The DCC side of the bench."""

    def __init__(
        self,
        inventory: Inventory,
        keystore: KeyStore,
        hub: HubPort,
        policy: Policy | str,
        clock: Clock,
        *,
        response_wait: timedelta = timedelta(seconds=RESPONSE_WAIT_S),
        entity_id: EntityId = DCC_ENTITY,
    ) -> None:
        self.inventory = inventory
        self.keystore = keystore
        self.hub = hub
        self.policy = Policy.parse(policy)
        self.clock = clock
        self.response_wait = response_wait
        self.entity_id = entity_id
        self.acb = AccessControlBroker(keystore, inventory, entity_id)
        self.authoriser = Authoriser(inventory, keystore, self.policy)
        self.inboxes = Inboxes(inventory)
        self._late: set[asyncio.Task[GbcsMessage]] = set()
        #: Outcome alerts (0x8F66 / 0x8F67) awaited for a CS06 dated in the past, by device and counter.
        self._outcome_alerts: dict[tuple[EntityId, int], asyncio.Future[cs06.FutureDatedActivationAlert]] = {}
        self._delivery_listeners: Listeners[DeliveryListener] = Listeners()
        hub.on_alert(self.receive_alert)

    def on_delivery(self, listener: DeliveryListener) -> Callable[[], None]:
        """Call ``listener`` with every alert put in a user's inbox, after it is committed; returns a remover."""
        return self._delivery_listeners.add(listener)

    def inbox(self, user: EntityId | str) -> Inbox:
        """``user``'s inbox (:class:`~hanbench.dcc.errors.UnknownUser` if not a user)."""
        return self.inboxes.of(user)

    async def aclose(self) -> None:
        """Stop waiting for late activation responses."""
        for task in list(self._late):
            task.cancel()
        await asyncio.gather(*self._late, return_exceptions=True)

    # ---- Service Requests ------------------------------------------------------------------

    async def submit(self, user_id: EntityId | str, request: Request) -> RequestResult:
        """Authorise ``request`` from ``user_id`` per target, log it, and carry out what was accepted.

        Refused targets get nothing sent. An unknown user is bad input
        (:class:`~hanbench.dcc.errors.UnknownUser`), not a refusal.
        """
        user = self.inventory.user(user_id)
        sr = request.service_request
        image = read_request_image(sr, request.image if isinstance(request, (UpdateFirmware, UpdatePpmidFirmware))
                                   else None)
        decisions = self.authoriser.decide(user, sr, request.targets, image)
        request_id = self.inventory.log_request(
            self.clock(), user.entity_id, sr.value, _describe(request),
            [TargetDecision(d.device, d.accepted, d.refusal, d.message, "" if d.accepted else Outcome.REFUSED.value)
             for d in decisions])
        results = {d.device: TargetResult(d.device, d.refusal, d.message, Outcome.REFUSED)
                   for d in decisions if not d.accepted}
        accepted = [d for d in decisions if d.accepted]
        if accepted:
            if isinstance(request, (UpdateFirmware, UpdatePpmidFirmware)):
                assert isinstance(image, UpgradeImage), "authorisation accepts only well-formed images"
                done = await self._distribute(user, image, accepted, request_id)
            elif isinstance(request, ReadFirmwareVersion):
                done = [await self._read_version(user, accepted[0], request_id)]
            elif isinstance(request, UpdateInventory):
                done = [self._update_inventory(request, request_id)]
            elif isinstance(request, RestrictAccessForChangeOfTenancy):
                done = [await self._change_tenancy(accepted[0], request_id)]
            else:
                done = [await self._activate(user, request, accepted[0], request_id)]
            results.update((r.device, r) for r in done)
        return RequestResult(request_id, sr, user.entity_id, tuple(results[t] for t in request.targets))

    def _finish(self, request_id: int, result: TargetResult) -> TargetResult:
        self.inventory.set_outcome(request_id, result.device, result.outcome.value)
        return result

    async def _distribute(self, user: User, image: UpgradeImage, accepted: Sequence[Decision],
                          request_id: int) -> list[TargetResult]:
        devices = [d.device for d in accepted]
        try:
            stored = await self.hub.distribute(image, devices)
        except HanbenchError as exc:
            with self.inventory.transaction():
                for d in accepted:
                    self._finish(request_id, TargetResult(d.device, None, f"{d.message}; the CH did not store it: {exc}",
                                                          Outcome.NOT_STORED))
            raise
        kept = set(stored)
        pending = PendingImage(image.manufacturer_image_hash, image.header.file_version, self.clock(),
                               user.entity_id)
        results = []
        with self.inventory.transaction():
            for d in accepted:
                if d.device not in kept:
                    results.append(self._finish(request_id, TargetResult(
                        d.device, None, f"{d.message}; the CH's image rules discarded it at once (CCS08 image "
                        "discarded)", Outcome.NOT_STORED)))
                    continue
                self.inventory.record_distribution(d.device, pending)
                results.append(self._finish(request_id, TargetResult(d.device, None, d.message, Outcome.DISTRIBUTED)))
        return results

    def _update_inventory(self, request: UpdateInventory, request_id: int) -> TargetResult:
        with self.inventory.transaction():
            device = self.inventory.set_ppmid_variant(request.device, request.ppmid_variant)
            return self._finish(request_id, TargetResult(
                device.entity_id, None, f"PPMID variant now {request.ppmid_variant} ({device.type.value})",
                Outcome.INVENTORY_UPDATED))

    async def _change_tenancy(self, decision: Decision, request_id: int) -> TargetResult:
        try:
            receipts = await self.tell_occupants(decision.device, OccupancyChange.tenancy())
        except HanbenchError as exc:
            return self._finish(request_id, TargetResult(
                decision.device, None, f"{decision.message}; the CH could not tell the displays: {exc}",
                Outcome.NOT_DELIVERED))
        missed = [r for r in receipts if not r.delivered]
        told = "; ".join(f"{r.device} {r.detail}" for r in receipts) or "no IHD or PPMID at the premises"
        return self._finish(request_id, TargetResult(
            decision.device, None, f"{decision.message}; {told}",
            Outcome.NOT_DELIVERED if missed else Outcome.OCCUPANTS_NOTIFIED, notices=tuple(receipts)))

    async def tell_occupants(self, device: EntityId, change: OccupancyChange) -> tuple[NoticeReceipt, ...]:
        """Have ``device``'s CH tell the premises' IHDs and PPMIDs of ``change`` (SECMP0056): one
        receipt per display (the CH's errors, e.g. ``device`` on no CH, pass through)."""
        receipts = tuple(await self.hub.publish_occupancy_change(device, change))
        for receipt in receipts:
            LOGGER.info("change of %s: %s %s", change.change, receipt.device, receipt.detail)
        return receipts

    async def _read_version(self, user: User, decision: Decision, request_id: int) -> TargetResult:
        device = self.inventory.device(decision.device)
        counter = self.inventory.next_originator_counter(user.entity_id)
        command = self._protected(request_id, firmware_version.firmware_version_request(
            user.entity_id, device.entity_id, counter, _READ_REQUESTS[device.type]()))
        try:
            async with asyncio.timeout(self.response_wait.total_seconds()):
                response = await self.hub.send_command(command)
            record = firmware_version.decode_firmware_version(self._check_response(command, response))
            if not isinstance(record, firmware_version.FirmwareVersionResponse) or not record.succeeded \
                    or record.firmware_version is None:
                raise BadResponse(f"{device.entity_id} could not read its firmware version: {record}")
            version = firmware_version_from_bytes(record.firmware_version)
        except TimeoutError:
            return self._finish(request_id, TargetResult(device.entity_id, None,
                                                         f"no response within {self.response_wait}",
                                                         Outcome.NOT_DELIVERED))
        except (CommandNotRetrieved, CommandNotDelivered) as exc:
            return self._finish(request_id, TargetResult(device.entity_id, None, str(exc), Outcome.NOT_DELIVERED))
        except (MessageFormatError, BadResponse) as exc:
            return self._finish(request_id, TargetResult(device.entity_id, None, str(exc), Outcome.BAD_RESPONSE))
        with self.inventory.transaction():
            self.inventory.record_firmware_version(device.entity_id, version)
            return self._finish(request_id, TargetResult(device.entity_id, None, f"running {version:08X}",
                                                         Outcome.VERSION_READ, version))

    async def _activate(self, user: User, request: ActivateFirmware, decision: Decision,
                        request_id: int) -> TargetResult:
        counter = self.inventory.next_originator_counter(user.entity_id)
        execution = cs06.CANCELLATION_DATETIME if request.cancel else request.execution
        command = self._protected(request_id, cs06.activate_firmware_command(
            user.entity_id, request.device, cs06.ActivateFirmware(request.firmware_hash, counter, execution),
            self.keystore.private_key(user.entity_id, Usage.DS)))
        at_once = execution is not None and not request.cancel and execution <= self.clock()
        key = (request.device, counter)
        outcome_alert: asyncio.Future[cs06.FutureDatedActivationAlert] = asyncio.get_running_loop().create_future()
        if at_once:  # registered before sending: the alert may come in right behind the response
            self._outcome_alerts[key] = outcome_alert
        try:
            wait = self.response_wait.total_seconds()
            began = asyncio.get_running_loop().time()
            task = asyncio.ensure_future(self.hub.send_command(command))
            done, _ = await asyncio.wait({task}, timeout=wait)
            if task not in done:
                return self._response_missing(command, request.cancel, task, request_id, at_once)
            result = self._settle_activation(command, request.cancel, task, request_id, at_once=at_once)
            if not at_once or result.outcome is not Outcome.ACTIVATION_SCHEDULED:
                return result
            left = wait - (asyncio.get_running_loop().time() - began)
            return await self._executed_at_once(request.device, execution, outcome_alert, left, request_id)
        finally:
            self._outcome_alerts.pop(key, None)
            outcome_alert.cancel()

    async def _executed_at_once(self, device: EntityId, execution: datetime, outcome_alert:
                                asyncio.Future[cs06.FutureDatedActivationAlert], wait_s: float,
                                request_id: int) -> TargetResult:
        """A CS06 dated ``execution``, already past when sent: the outcome its alert reports."""
        passed = f"its execution date-time {execution.isoformat()} had passed, so the device acted at once"
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                alert = await outcome_alert
        except TimeoutError:
            self.inventory.set_activation_response_missing(device, True)
            return self._finish(request_id, TargetResult(
                device, None, f"{passed}, but no 0x8F66 / 0x8F67 came within {self.response_wait}; the device is "
                "flagged until an SR 11.2 says what it runs", Outcome.RESPONSE_MISSING))
        outcome = alert.outcome
        version = firmware_version_from_bytes(outcome.firmware_version)
        if outcome.succeeded:
            return self._finish(request_id, TargetResult(device, None, f"{passed}: running {version:08X} "
                                                         f"({code_text(alert.alert_code)})", Outcome.ACTIVATED, version))
        return self._finish(request_id, TargetResult(device, None, f"{passed}: activation failed, "
                                                     f"{outcome.code.name} ({code_text(alert.alert_code)})",
                                                     Outcome.ACTIVATION_FAILED, version))

    def _response_missing(self, command: GbcsMessage, cancel: bool, task: asyncio.Task[GbcsMessage],
                          request_id: int, at_once: bool) -> TargetResult:
        self.inventory.set_activation_response_missing(command.target, True)
        self._late.add(task)
        task.add_done_callback(lambda t: self._late_activation(command, cancel, t, request_id, at_once))
        return self._finish(request_id, TargetResult(
            command.target, None,
            f"no response within {self.response_wait}; the device is flagged until a response "
            "or an SR 11.2 arrives", Outcome.RESPONSE_MISSING))

    def _late_activation(self, command: GbcsMessage, cancel: bool, task: asyncio.Task[GbcsMessage],
                         request_id: int, at_once: bool) -> None:
        self._late.discard(task)
        if task.cancelled():
            return
        try:
            self._settle_activation(command, cancel, task, request_id, at_once=at_once)
        except HanbenchError as exc:  # the bench failed, not the device: say so in the SR log
            self.inventory.set_outcome(request_id, command.target, f"late response lost: {exc}")

    def _settle_activation(self, command: GbcsMessage, cancel: bool, task: asyncio.Future[GbcsMessage],
                           request_id: int, *, at_once: bool = False) -> TargetResult:
        """The response's outcome, recorded. ``at_once``: a CS06 dated in the past, whose NULL
        response says nothing yet (its outcome alert does): only the missing-response flag
        is cleared, and the result is left for the caller to finish."""
        device = command.target
        try:
            response = cs06.read_activate_firmware_response(self._check_response(command, task.result()))
            version = None if isinstance(response, cs06.Accepted) else \
                firmware_version_from_bytes(response.firmware_version)
        except (CommandNotRetrieved, CommandNotDelivered) as exc:
            return self._fail_activation(request_id, device, str(exc), Outcome.NOT_DELIVERED)
        except (MessageFormatError, BadResponse) as exc:
            return self._fail_activation(request_id, device, str(exc), Outcome.BAD_RESPONSE)
        with self.inventory.transaction():
            self.inventory.set_activation_response_missing(device, False)
            if at_once and isinstance(response, cs06.Accepted):
                return TargetResult(device, None, "accepted; the outcome comes in its alert", Outcome.ACTIVATION_SCHEDULED)
            if isinstance(response, cs06.Accepted) or version is None:
                return self._finish(request_id, self._accepted_activation(device, cancel))
            if response.succeeded:
                self.inventory.record_activation(device, version, "activated by CS06")
                return self._finish(request_id, TargetResult(device, None, f"running {version:08X}",
                                                             Outcome.ACTIVATED, version))
            self.inventory.record_firmware_version(device, version)
            return self._fail_activation(request_id, device, f"activation failed: {response.code.name}",
                                         Outcome.ACTIVATION_FAILED, version)

    def _accepted_activation(self, device: EntityId, cancel: bool) -> TargetResult:
        if cancel:
            state = UpdateState.DISTRIBUTED if self.inventory.device(device).pending else UpdateState.NONE
            self.inventory.set_update_state(device, state, "future-dated activation cancelled")
            return TargetResult(device, None, "cancellation accepted", Outcome.ACTIVATION_CANCELLED)
        self.inventory.set_update_state(device, UpdateState.ACTIVATION_SCHEDULED, "future-dated CS06 accepted")
        return TargetResult(device, None, "future-dated activation accepted", Outcome.ACTIVATION_SCHEDULED)

    def _fail_activation(self, request_id: int, device: EntityId, detail: str, outcome: Outcome,
                         version: int | None = None) -> TargetResult:
        with self.inventory.transaction():
            self.inventory.set_update_state(device, UpdateState.FAILED, f"SR 11.3: {detail}")
            return self._finish(request_id, TargetResult(device, None, detail, outcome, version))

    def _protected(self, request_id: int, command: GbcsMessage) -> GbcsMessage:
        """``command`` MAC'd by the ACB. A key the key store lacks is a bench set-up error: the
        target's SR log entry says so (``not_delivered``) before it is raised."""
        try:
            return self.acb.protect(command)
        except KeyStoreError as exc:
            self._finish(request_id, TargetResult(command.target, None, f"the DCC cannot MAC the command: {exc}",
                                                  Outcome.NOT_DELIVERED))
            raise

    def _check_response(self, command: GbcsMessage, response: GbcsMessage) -> GbcsMessage:
        """``response``, refused unless it comes from the target, answers ``command``, and is
        authentic (:meth:`_inauthentic`)."""
        if response.cra is not Cra.RESPONSE or response.originator != command.target \
                or response.originator_counter != command.originator_counter:
            raise BadResponse(f"{command.target} answered with a {response.cra.name.lower()} from "
                              f"{response.originator} under counter {response.originator_counter}, not the "
                              f"response to counter {command.originator_counter}")
        if (problem := self._inauthentic(response)) is not None:
            raise BadResponse(problem)
        return response

    def _inauthentic(self, msg: GbcsMessage) -> str | None:
        """Why ``msg`` (a response or alert) is not authentic, or None when it is: its MAC where
        GBCS MACs it (the ACB checks), its signature where GBCS signs it."""
        try:
            self.acb.check(msg)
        except (MacInvalid, KeyStoreError) as exc:
            return str(exc)
        if is_critical(msg.message_code) and not self._signature_verifies(msg):
            return (f"the signature of the {msg.cra.name.lower()} from {msg.originator} does not verify with its "
                    "certificate")
        return None

    def _signature_verifies(self, msg: GbcsMessage) -> bool:
        """Whether ``msg`` verifies with its originator's DS certificate.

        A device with no DS certificate in the key store is taken on trust: the DCC's own
        inventory of device certificates is not modelled beyond the bench key store.
        """
        if not self.keystore.has_certificate(msg.originator, Usage.DS):
            return True
        return verify_message(msg, self.keystore.public_key(msg.originator, Usage.DS))

    # ---- change of supplier ------------------------------------------------------------------

    async def change_supplier(self, device: EntityId | str, supplier: EntityId | str) -> CredentialsOutcome | None:
        """Change of supplier: ``supplier`` becomes ``device``'s responsible supplier in the
        inventory, and on the device itself, by CS02b Update Security Credentials
        (supplierByTransCoS): the DCC, as the Transitional Change of Supplier party, signs the
        replacement of the Supplier's DS and KA trust anchors with ``supplier``'s certificates
        under its own originator counter, sets the floor of ``supplier``'s counter, and the ACB
        MACs it. Returns the device's outcome; :class:`BadResponse` when the device's answer is
        not an authentic success, :class:`CommandNotDelivered` (and the CH's other errors) or
        ``TimeoutError`` after ``response_wait`` when none comes. The inventory has changed
        either way: from now on the DCC authorises and routes for ``supplier``. A device that
        holds no Supplier trust anchor (:data:`~hanbench.gbcs.roles.NO_SUPPLIER_TRUST_ANCHOR`)
        changes in the inventory only, and the answer is ``None``.

        The DCC plays the TransCoS party with its own DS key, and takes that party's counter
        from the same never-repeating sequence as the ACB's invocation counters
        (:meth:`Inventory.next_invocation_counter`), so neither repeats.

        First of all the CH tells the premises' IHDs and PPMIDs (SECMP0056: PublishChangeOfSupplier,
        :meth:`tell_occupants`), which clear the previous occupant's and supplier's data; a display
        that does not take it is logged, and changes nothing here.
        """
        target = EntityId.parse(device)
        new = EntityId.parse(supplier)
        record = self.inventory.change_supplier(target, new)
        await self._tell_of_new_supplier(target, new)
        if record.type in NO_SUPPLIER_TRUST_ANCHOR:
            return None
        floor = self.inventory.next_originator_counter(new)
        command = UpdateSecurityCredentials(
            ReplacementMode.SUPPLIER_BY_TRANSCOS, self.inventory.next_invocation_counter(self.acb.entity_id),
            supplier_cells(self.keystore.certificate(new, Usage.DS).public_bytes(Encoding.DER),
                           self.keystore.certificate(new, Usage.KA).public_bytes(Encoding.DER)), floor)
        message = self.acb.protect(update_credentials_command(
            self.acb.entity_id, target, command, self.keystore.private_key(self.acb.entity_id, Usage.DS)))
        async with asyncio.timeout(self.response_wait.total_seconds()):
            response = await self.hub.send_command(message)
        outcome = read_update_credentials_response(self._check_response(message, response))
        if not outcome.succeeded:
            raise BadResponse(f"{target} did not take {new}'s certificates: {outcome}")
        return outcome

    async def _tell_of_new_supplier(self, device: EntityId, supplier: EntityId) -> None:
        try:
            receipts = await self.tell_occupants(device, OccupancyChange.supplier(self.inventory.user(supplier).name))
        except HanbenchError as exc:
            LOGGER.warning("change of supplier of %s not told to its premises' displays: %s", device, exc)
            return
        for receipt in receipts:
            if not receipt.delivered:
                LOGGER.warning("change of supplier of %s: %s %s", device, receipt.device, receipt.detail)

    # ---- alerts ------------------------------------------------------------------------------

    def receive_alert(self, forwarded: ForwardedAlert) -> None:
        """The CH forwards an alert: record it, apply it, deliver it. Never raises into the CH."""
        now = self.clock()
        msg = forwarded.message
        try:
            if msg is None:
                raise MessageFormatError(forwarded.error)
            alert = alerts.decode_alert(msg)
        except MessageFormatError as exc:
            self.inventory.add_alert(received_at=now, origin=AlertOrigin.CH, code="undecodable", device=None,
                                     sender=None, detail=str(exc), raw=forwarded.raw)
            return
        facts = _facts(msg, alert)
        problem = self._inauthentic(msg)
        trusted = problem is None
        delivered: list[AlertDelivery] = []
        with self.inventory.transaction():
            device = self.inventory.find_device(facts.device)
            detail = facts.detail if trusted else f"{facts.detail}; not authentic, not acted on: {problem}"
            delivered += self._record_and_route(now, facts.origin, facts.code, device, facts.device, msg.originator,
                                                facts.hash, facts.firmware_version, detail, forwarded.raw)
            if device is not None and trusted:
                delivered += self._apply(alert, facts, device, now)
        for delivery in delivered:
            self._delivery_listeners(delivery)
        self.inboxes.wake()

    def _record_and_route(self, now: datetime, origin: AlertOrigin, code: alerts.AlertCode | int | DccAlert,
                          device: Device | None, subject: EntityId, sender: EntityId, hash: bytes | None,
                          version: int | None, detail: str, raw: bytes | None) -> list[AlertDelivery]:
        text = code_text(code)
        to = alert_routing.recipients(text, device, self.policy)
        record = self.inventory.add_alert(received_at=now, origin=origin, code=text, device=subject, sender=sender,
                                          hash=hash, firmware_version=version, detail=detail, raw=raw)
        delivered = []
        for user in to:
            if self.inventory.find_user(user) is not None:
                self.inboxes.deliver(user, record.id)
                delivered.append(AlertDelivery(user, subject, code))
        return delivered

    def _apply(self, alert: alerts.Alert, facts: _AlertFacts, device: Device, now: datetime) -> list[AlertDelivery]:
        """What an alert tells the DCC about the device's update; the deliveries of any alert it raises."""
        inv, did = self.inventory, device.entity_id
        if isinstance(alert, alerts.FirmwareReceiptAlert):
            if not alert.succeeded:
                inv.set_update_state(did, UpdateState.FAILED, "0x8F1C Firmware Verification Failed")
            elif device.pending is not None and device.pending.hash != alert.calculated_hash:
                inv.set_update_state(did, UpdateState.FAILED,
                                     f"0x8F72 hash {alert.calculated_hash.hex()} is not the pending image's "
                                     f"{device.pending.hash.hex()}")
            elif device.pending is not None:
                inv.set_update_state(did, UpdateState.RECEIVED, "0x8F72 Firmware Verification Successful")
        elif isinstance(alert, alerts.FirmwareTransferAlert):
            succeeded = alert.result is alerts.TransferResult.SUCCESS
            if not succeeded:
                inv.set_update_state(did, UpdateState.FAILED, f"CCS08 {alert.result.name}")
            elif device.update_state is UpdateState.DISTRIBUTED:
                inv.set_update_state(did, UpdateState.TRANSFERRED, "CCS08 transfer success")
            if device.type in DELIVERY_ALERT_DEVICE_TYPES:
                dcc_alert = DccAlert.FIRMWARE_DELIVERED if succeeded else DccAlert.FIRMWARE_DELIVERY_FAILED
                return self._record_and_route(now, AlertOrigin.DCC, dcc_alert, device, did, self.entity_id, None,
                                              None, f"raised from CCS08 {alert.result.name}", None)
        elif isinstance(alert, alerts.PpmidActivationAlert):
            self._apply_activation(device, facts, alert.outcome is alerts.PpmidActivationOutcome.SUCCESS)
        elif isinstance(alert, cs06.FutureDatedActivationAlert):
            self._apply_activation(device, facts, alert.outcome.succeeded)
            awaited = self._outcome_alerts.get((device.entity_id, alert.originator_counter))
            if awaited is not None and not awaited.done():
                awaited.set_result(alert)
        return []

    def _apply_activation(self, device: Device, facts: _AlertFacts, succeeded: bool) -> None:
        version = facts.firmware_version
        code = code_text(facts.code)
        if succeeded and version is not None:
            self.inventory.record_activation(device.entity_id, version, f"{code} activated")
            return
        if version is not None:
            self.inventory.record_firmware_version(device.entity_id, version)
        self.inventory.set_update_state(device.entity_id, UpdateState.FAILED,
                                        f"{code} activation failed: {facts.detail}")


def _facts(msg: GbcsMessage, alert: alerts.Alert) -> _AlertFacts:
    """The subject, code and payload facts of a decoded alert message."""
    code = alert.alert_code
    if isinstance(alert, alerts.FirmwareReceiptAlert):
        return _AlertFacts(AlertOrigin.DEVICE, msg.originator, code, hash=alert.calculated_hash)
    if isinstance(alert, alerts.FirmwareTransferAlert):
        return _AlertFacts(AlertOrigin.CH, alert.device, code, firmware_version=_version(alert.firmware_version),
                           detail=alert.result.name)
    if isinstance(alert, alerts.PpmidActivationAlert):
        return _AlertFacts(AlertOrigin.DEVICE, msg.originator, code, firmware_version=_version(alert.firmware_version),
                           detail=alert.outcome.name)
    if isinstance(alert, cs06.FutureDatedActivationAlert):
        return _AlertFacts(AlertOrigin.DEVICE, msg.originator, code,
                           firmware_version=_version(alert.outcome.firmware_version),
                           detail=f"counter {alert.originator_counter}: {alert.outcome.code.name}")
    if isinstance(alert, alerts.GsmeCommandNotRetrievedAlert):
        return _AlertFacts(AlertOrigin.CH, alert.gsme, code, detail=f"command counter {alert.command_counter} expired")
    return _AlertFacts(AlertOrigin.DEVICE, msg.originator, code)


def _version(raw: bytes) -> int | None:
    """A version carried in an alert, or None when it is not a 1-4 byte version (kept in the raw alert)."""
    return int.from_bytes(raw, "big") if 1 <= len(raw) <= 4 else None


def _describe(request: Request) -> str:
    if isinstance(request, (UpdateFirmware, UpdatePpmidFirmware)):
        return f"image of {len(request.image)} bytes to {len(request.devices)} device(s)"
    if isinstance(request, ActivateFirmware):
        when = "cancel" if request.cancel else (request.execution.isoformat() if request.execution else "now")
        return f"hash {request.firmware_hash.hex()} {when}"
    if isinstance(request, UpdateInventory):
        return f"PPMID variant {request.ppmid_variant}"
    if isinstance(request, RestrictAccessForChangeOfTenancy):
        return "change of tenancy"
    return ""
