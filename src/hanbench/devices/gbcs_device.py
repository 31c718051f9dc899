"""The GBCS firmware behaviour every emulated meter-class HAN device shares.

One :class:`GbcsDevice` is the part of a device's firmware that speaks GBCS about firmware:

* **Distribution (SR 11.1, GBCS 11.2.6).** A downloaded OTA Upgrade Image is checked
  (Supplier signature against the device's trust anchor for its Supplier, then the facts its
  signed Manufacturer Image states: for this device type and hardware, and an OTA header
  that agrees with them); a good one becomes the held image and the device raises 0x8F72
  with the hash it calculated, a bad one is dropped and it raises 0x8F1C. The Zigbee Upgrade
  End status follows the verdict. What the device runs after activating an image is the
  version its signed content states, never the unsigned header's
  (:func:`~hanbench.devices.firmware.check_image`).
* **Command authentication (GBCS 6.2.4, 11.5), in GBCS's order.** Every command must carry
  the Access Control Broker's MAC, checked first with the device's KA key and the ACB's KA
  certificate (:mod:`hanbench.gbcs.protection`); then a critical command (CS06) must be
  signed by the device's Supplier; then its originator counter must be above the last one
  accepted; only then is its content acted on (the hash, or the date-time of a future-dated
  CS06). A command that fails any of these gets no response: the device drops it and raises
  0x8F3D Trusted Source Authentication Failure (a malformed one, or one it does not run,
  0x8F1E), so nothing happens and the sender learns why
  (:class:`~hanbench.devices.firmware.CommandCheck` names the check on the event).
* **Activation (SR 11.3, CS06).** An authentic command is answered: outcome 0 with the new
  version, 1 (no image held) or 2 (hash mismatch, the old version keeps running). A
  future-dated command is answered NULL, recorded, and acted on when the device clock (the
  bench clock) reaches its date-time, with alert 0x8F66 / 0x8F67; 99991231235959Z cancels it.
* **SR 11.2** reads of the running version (ECS52, GCS38 or CS08 by device type), so the
  DCC's fallback when a receipt alert is lost has something to read.

What the device sends is protected as GBCS has it: critical messages (the CS06 response, the
receipt, future-dated and critical generic alerts) signed with its DS key; non-critical ones
(read responses, non-critical alerts) MAC'd with its KA key for their target, under an
invocation counter of its own. Alerts go to the device's Supplier; generic alerts in the
device's form (GBZ for a GSME, DLMS otherwise). :meth:`GbcsDevice.handle_message` returns the
response; every alert goes into the device's outbox (:class:`~hanbench.devices.outbox.Outbox`),
an object the device holds, which sends it at once through the tunnel or at the next wake of a
sleepy GSME. Nothing in :class:`GbcsDevice` touches the air or asks the operating system for
the time.

The shell every device type is built from (node, OTA client, tunnel, outbox) is
:mod:`hanbench.devices.han_device`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.clock import BenchClock
from hanbench.gbcs import firmware_version as fv
from hanbench.gbcs.alerts import Alert, AlertForm, FirmwareReceiptAlert, GenericAlert, ReceiptForm, alert_message
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import (
    CS06,
    Accepted,
    ActivateFirmware,
    ActivateFirmwareResponse,
    ExecutionOutcome,
    FutureDatedActivationAlert,
    activate_firmware_response,
    future_dated_activation_alert,
)
from hanbench.gbcs.device_types import DeviceType
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.errors import CounterReplayed, GbcsError, KeyStoreError, MacInvalid, SignatureInvalid
from hanbench.gbcs.frame import Cra, GbcsMessage, decode_message, encode_message
from hanbench.gbcs.image_types import ImageProfile, profile_for
from hanbench.gbcs.keystore import KeyStore, Usage, public_key_of
from hanbench.gbcs.protection import ReplyProtector, verify_mac
from hanbench.gbcs.security_credentials import (
    CS02B,
    CredentialsOutcome,
    ReplacementOutcome,
    StatusCode,
    key_id,
    replacing_party,
    update_credentials_response,
)
from hanbench.gbcs.signed_command import SignedCommand
from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.devices.firmware import (
    ActivationFailed,
    ActivationTrigger,
    AlertRaised,
    CommandCheck,
    CommandDropped,
    FirmwareState,
    FutureDatedAccepted,
    FutureDatedCancelled,
    ImageVerdict,
    PendingActivation,
    check_image,
)

LOGGER = logging.getLogger(__name__)
_P = TypeVar("_P")


class AlertOutbox(Protocol):
    """Where the device puts each alert it signs, for the CH (:class:`~hanbench.devices.outbox.Outbox`)."""

    def put_alert(self, code: int, message: bytes) -> None: ...


@dataclass(frozen=True)
class DeviceKeys:
    """What a device holds to authenticate and protect GBCS messages.

    Its own DS key (signs critical messages) and KA key (MACs), its trust anchor for its
    Supplier's signatures (the Supplier's DS key: images and CS06), and the KA keys of the
    remote parties it knows (the Access Control Broker, whose MAC every command carries, and
    its Supplier, to whom it MACs responses and alerts), as a real device holds their
    certificates; and its trust anchor for the Transitional Change of Supplier party, which
    alone may replace the Supplier's (CS02b, :mod:`hanbench.gbcs.security_credentials`). The
    bench's DCC plays that party with its own DS key, as it plays the ACB.
    """

    signing_key: ec.EllipticCurvePrivateKey
    supplier_key: ec.EllipticCurvePublicKey
    agreement_key: ec.EllipticCurvePrivateKey
    acb: EntityId
    remote_parties: Mapping[EntityId, ec.EllipticCurvePublicKey]
    transcos_key: ec.EllipticCurvePublicKey | None = None

    @classmethod
    def from_keystore(cls, keystore: KeyStore, device: EntityId, supplier: EntityId,
                      acb: EntityId = DCC_ENTITY) -> DeviceKeys:
        """The device's keys from the bench key store (:class:`~hanbench.gbcs.errors.KeyMissing`
        naming the file when one is not there)."""
        parties = {party: keystore.public_key(party, Usage.KA) for party in (acb, supplier)}
        return cls(keystore.private_key(device, Usage.DS), keystore.public_key(supplier, Usage.DS),
                   keystore.private_key(device, Usage.KA), acb, MappingProxyType(parties),
                   keystore.public_key(acb, Usage.DS))

    def for_supplier(self, old: EntityId, new: EntityId, signing: ec.EllipticCurvePublicKey,
                     agreement: ec.EllipticCurvePublicKey) -> DeviceKeys:
        """These keys with ``new``'s certificates in the Supplier cells instead of ``old``'s."""
        parties = {party: key for party, key in self.remote_parties.items() if party != old}
        parties[new] = agreement
        return dataclasses.replace(self, supplier_key=signing, remote_parties=MappingProxyType(parties))

    def agreement_key_of(self, command: GbcsMessage) -> ec.EllipticCurvePublicKey | None:
        """The KA key of ``command``'s originator, to MAC the response with: a remote party the
        device knows, or the one whose KA certificate the command carries; None for neither."""
        known = self.remote_parties.get(command.originator)
        if known is not None:
            return known
        extra = command.supplementary
        if extra is not None and extra.remote_party == command.originator and extra.certificate is not None:
            try:
                return public_key_of(extra.certificate)
            except KeyStoreError:
                return None
        return None


def _read_version_response(request: object, version: bytes) -> fv.FirmwareVersionResponse:
    """The SR 11.2 answer in the form of the request: ECS52, GCS38 or CS08."""
    if isinstance(request, fv.GsmeFirmwareVersionRequest):
        return fv.GsmeFirmwareVersionResponse(version, sequence_number=request.sequence_number)
    if isinstance(request, fv.EsmeFirmwareVersionRequest):
        return fv.EsmeFirmwareVersionResponse(version)
    return fv.PpmidFirmwareVersionResponse(version)


def _cell_keys(usage: Usage, before: DeviceKeys, after: DeviceKeys, old: EntityId,
               new: EntityId) -> tuple[ec.EllipticCurvePublicKey, ec.EllipticCurvePublicKey]:
    """The key a Supplier cell of ``usage`` held before a change of supplier and holds after."""
    if usage is Usage.DS:
        return before.supplier_key, after.supplier_key
    return before.remote_parties[old], after.remote_parties[new]


_READ_CODES: dict[DeviceType, MessageCode] = {
    DeviceType.ESME: MessageCode.ECS52_READ_ESME_CH_FIRMWARE_VERSION,
    DeviceType.GSME: MessageCode.GCS38_READ_GSME_FIRMWARE_VERSION,
    DeviceType.HCALCS: MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION,
    DeviceType.PPMID: MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION,
    DeviceType.ALT_HAN: MessageCode.CS08_READ_PPMID_HCALCS_FIRMWARE_VERSION,  # a PPMID variant (MP170)
}


class GbcsDevice:
    """The GBCS firmware logic of one device; see the module docstring.

    ``receipt_form`` is the receipt alert's encoding (DLMS for ESME and HCALCS, GBZ for
    GSME); ``None`` for a device that raises none (PPMID). ``alert_form`` is its generic
    alerts' (GBZ for a GSME). ``alert_counter`` is where the device's own originator counter
    for alerts starts. ``profile`` is the image identity it takes (by default its device
    type's; an Alt HAN bridge's is its bridge type's).
    """

    def __init__(
        self,
        *,
        entity_id: EntityId,
        device_type: DeviceType,
        supplier: EntityId,
        keys: DeviceKeys,
        clock: BenchClock,
        firmware: FirmwareState,
        hardware_version: int,
        outbox: AlertOutbox,
        receipt_form: ReceiptForm | None = ReceiptForm.DLMS,
        alert_form: AlertForm = AlertForm.DLMS,
        alert_counter: int = 1,
        defects: Defects = NO_DEFECTS,
        profile: ImageProfile | None = None,
    ) -> None:
        self.entity_id = entity_id
        self.device_type = device_type
        self.supplier = supplier
        self.keys = keys
        self.clock = clock
        self.hardware_version = hardware_version
        self.profile: ImageProfile = profile if profile is not None else profile_for(device_type)
        self.receipt_form = receipt_form
        self.alert_form = alert_form
        self.firmware = firmware
        #: Originator counter of the last CS06 that passed authentication (after a change of
        #: supplier: the new Supplier's floor).
        self.last_counter: int | None = None
        #: Originator counter of the last CS02b the TransCoS party sent that was accepted.
        self.transcos_counter: int | None = None
        #: The accepted future-dated activation waiting for its date-time.
        self.pending: PendingActivation | None = None
        #: Every alert the device raised, decoded, oldest first.
        self.alerts: list[Alert] = []
        self.outbox = outbox
        self._alert_counter = alert_counter
        self._protector = ReplyProtector(keys.agreement_key)
        self._scheduled: asyncio.Task[None] | None = None
        #: A cancelled activation a device with :attr:`Defect.RESTORES_CANCELLED_ACTIVATION` still
        #: holds in non-volatile memory, back as pending at its next power-up.
        self._stale: PendingActivation | None = None
        self.defects = defects

    # -- distribution ---------------------------------------------------------------------

    def check(self, data: bytes) -> ImageVerdict:
        """This device's verdict on ``data``, without acting on it."""
        return check_image(data, self.profile, self.hardware_version, self.keys.supplier_key, self.defects)

    def receive_image(self, data: bytes) -> bool:
        """A complete download: keep or drop it and raise the receipt alert; True if kept."""
        verdict = self.check(data)
        if verdict.firmware is not None:
            self.firmware.hold(verdict.firmware)
        else:
            self.firmware.refuse(verdict.reason, verdict.image_hash)
        if self.receipt_form is not None:
            code = (AlertCode.FIRMWARE_VERIFICATION_SUCCESSFUL if verdict.accepted
                    else AlertCode.FIRMWARE_VERIFICATION_FAILED)
            self.raise_alert(FirmwareReceiptAlert(code, self.clock.now(), verdict.image_hash, self.receipt_form))
        return verdict.accepted

    # -- alerts ---------------------------------------------------------------------------------

    def raise_alert(self, alert: Alert) -> bytes:
        """Send ``alert`` to the Supplier under the next alert counter (signed if critical, MAC'd
        if not), record it and put it in the outbox."""
        counter = self._next_alert_counter()
        if isinstance(alert, FutureDatedActivationAlert):
            msg = future_dated_activation_alert(self.entity_id, self.supplier, counter, alert, self.keys.signing_key)
        else:
            msg = alert_message(self.entity_id, self.supplier, counter, alert, self.keys.signing_key)
        data = self._sealed(msg, self.keys.remote_parties[self.supplier])
        self.alerts.append(alert)
        self.firmware.emit(lambda d, at: AlertRaised(d, at, alert, data))
        self.outbox.put_alert(alert.alert_code, data)
        return data

    def _next_alert_counter(self) -> int:
        counter = self._alert_counter
        self._alert_counter += 1
        return counter

    def _sealed(self, msg: GbcsMessage, recipient_key: ec.EllipticCurvePublicKey) -> bytes:
        """``msg`` as the device sends it: MAC'd for the holder of ``recipient_key`` where GBCS
        wants a MAC (not critical); a critical one is signed already."""
        return encode_message(self._protector.seal(msg, recipient_key))

    def _refuse(self, check: CommandCheck, command: MessageCode | int | None, counter: int, reason: str) -> None:
        """Drop ``command`` unanswered (``None``: a message that could not even be read) and
        raise the alert for the ``check`` it failed."""
        LOGGER.info("%s refused command %d (%s): %s", self.entity_id, counter, check.value, reason)
        self.firmware.emit(lambda d, at: CommandDropped(d, at, counter, reason, command, check))
        self.raise_alert(GenericAlert(check.alert_code, self.clock.now(), form=self.alert_form))

    # -- commands -------------------------------------------------------------------------------

    def handle_message(self, data: bytes) -> bytes | None:
        """A GBCS message from the tunnel; the response bytes, or ``None`` for none.

        A command addressed to another device fails Command Authenticity and Integrity
        Verification, GBCS's first CS06 step (gbcs-domain 1.4, step 1), at its MAC check: the
        ACB's MAC is keyed for the recipient and binds its entity ID (gbcs-domain 9: ECDH with
        the recipient's KA key, and the KDF's OtherInfo names the recipient's system title), so
        no device can verify a command made for another. It is dropped unanswered with alert
        0x8F3D, as any command that fails authentication. Anything that is not a command is
        ignored.
        """
        try:
            msg = decode_message(data)
        except GbcsError as exc:
            LOGGER.info("%s dropped an undecodable tunnel message: %s", self.entity_id, exc)
            self._refuse(CommandCheck.MALFORMED, None, 0, f"undecodable message: {exc}")
            return None
        if msg.cra is not Cra.COMMAND:
            return None
        try:
            verify_mac(msg, self.keys.agreement_key, self.keys.remote_parties[self.keys.acb])
        except MacInvalid as exc:
            if not self.defects.has(Defect.SKIPS_MAC_CHECK):
                self._refuse(CommandCheck.MAC, msg.message_code, msg.originator_counter,
                             f"not MAC'd by the Access Control Broker {self.keys.acb}: {exc}")
                return None
        if msg.message_code == MessageCode.CS06_ACTIVATE_FIRMWARE:
            response = self._activate_firmware(msg)
            if response is None:
                return None
            return encode_message(activate_firmware_response(msg, response, self.keys.signing_key,
                                                             date_time=self.clock.now()))
        if msg.message_code == MessageCode.CS02B_UPDATE_SECURITY_CREDENTIALS_SUPPLIER_BY_TRANSCOS:
            outcome = self._update_credentials(msg)
            if outcome is None:
                return None
            return encode_message(update_credentials_response(msg, outcome, self.keys.signing_key,
                                                              date_time=self.clock.now()))
        if msg.message_code == _READ_CODES.get(self.device_type):
            return self._read_version(msg)
        self._refuse(CommandCheck.UNSUPPORTED, msg.message_code, msg.originator_counter,
                     f"message code {msg.message_code!s} is not a command this {self.device_type.value} runs")
        return None

    def _read_version(self, msg: GbcsMessage) -> bytes | None:
        recipient_key = self.keys.agreement_key_of(msg)
        if recipient_key is None:
            self._refuse(CommandCheck.REMOTE_PARTY, msg.message_code, msg.originator_counter,
                         f"{msg.originator} is no remote party this device knows, and the command carries no "
                         "KA certificate for it, so its response could not be MAC'd")
            return None
        try:
            request = fv.decode_firmware_version(msg)
        except GbcsError as exc:
            self._refuse(CommandCheck.MALFORMED, msg.message_code, msg.originator_counter, str(exc))
            return None
        answer = _read_version_response(request, self.firmware.running.version_octets)
        return self._sealed(fv.firmware_version_response(msg, answer, date_time=self.clock.now()), recipient_key)

    def _activate_firmware(self, msg: GbcsMessage) -> ActivateFirmwareResponse | None:
        """CS06 after its MAC, GBCS steps in order; ``None`` when the command is refused unanswered."""
        counter = msg.originator_counter
        floor = None if self.last_counter is None or self.defects.has(Defect.SKIPS_COUNTER_CHECK) else self.last_counter
        command = self._accepted(CS06, msg, self.supplier, self.keys.supplier_key, floor,
                                 f"this device's Supplier {self.supplier}")
        if command is None:
            return None
        self.last_counter = counter
        if command.is_cancellation:
            self._cancel_pending()
            return Accepted()
        if command.is_future_dated:
            if self.defects.has(Defect.CHECKS_HASH_BEFORE_DATE_TIME):
                refused = self.firmware.refusal(command.manufacturer_image_hash)
                if refused is not None:
                    return ExecutionOutcome(refused, self.firmware.running.version_octets)
            self._schedule(command)
            return Accepted()
        return self._activate_now(command.manufacturer_image_hash, counter, ActivationTrigger.CS06)

    def _accepted(self, command: SignedCommand[_P, Any], msg: GbcsMessage, sender: EntityId,
                  key: ec.EllipticCurvePublicKey | None, floor: int | None, who: str) -> _P | None:
        """A signed command's payload once its signature, payload and counter pass, in that order
        (:meth:`SignedCommand.accept`); ``None`` when one fails and the command is refused."""
        try:
            return command.accept(msg, sender, key, floor, who=who)
        except SignatureInvalid as exc:
            self._refuse(CommandCheck.SIGNATURE, msg.message_code, msg.originator_counter, str(exc))
        except GbcsError as exc:
            self._refuse(CommandCheck.MALFORMED, msg.message_code, msg.originator_counter,
                         f"malformed {command.name}: {exc}")
        except CounterReplayed as exc:
            self._refuse(CommandCheck.COUNTER, msg.message_code, msg.originator_counter, str(exc))
        return None

    def _update_credentials(self, msg: GbcsMessage) -> CredentialsOutcome | None:
        """CS02b on a change of supplier, after its MAC: the TransCoS party's signature and
        counter, then the Supplier cells replaced and the new Supplier's counter floor set;
        ``None`` when the command is refused unanswered.

        What stays: an image held from the old Supplier stays held (it was checked when it
        arrived; GBCS activates a held image on a CS06 from the device's Supplier whose hash
        matches, so the new Supplier may activate it and the old one no longer can). What goes:
        a future-dated activation the old Supplier signed and the device has not yet run, whose
        authority ended with the old Supplier's trust anchor (the bench's reading: nothing in
        the device may act later on a signature it no longer trusts).
        """
        counter = msg.originator_counter
        command = self._accepted(CS02B, msg, self.keys.acb, self.keys.transcos_key, self.transcos_counter,
                                 "the Transitional Change of Supplier party")
        if command is None:
            return None
        new, signing, agreement = replacing_party(command)
        self.transcos_counter = counter
        old_keys, old = self.keys, self.supplier
        self.keys = self.keys.for_supplier(old, new, signing, agreement)
        self.supplier = new
        self.last_counter = command.new_floor_counter
        if self.pending is not None:
            self._cancel_pending(by="change of supplier")
        LOGGER.info("%s trusts %s now, not %s (CS02b counter %d)", self.entity_id, new, old, counter)
        outcomes = []
        for replacement in command.replacements:
            before, after = _cell_keys(replacement.cell.usage, old_keys, self.keys, old, new)
            outcomes.append(ReplacementOutcome(replacement.cell, StatusCode.SUCCESS, old.raw, key_id(before),
                                               new.raw, key_id(after)))
        return CredentialsOutcome(counter, command.mode, command.new_floor_counter, tuple(outcomes))

    def _activate_now(self, image_hash: bytes, counter: int, trigger: ActivationTrigger) -> ExecutionOutcome:
        result = self.firmware.activate(image_hash, trigger)
        if result is not result.SUCCESS:
            self.firmware.emit(lambda d, at: ActivationFailed(d, at, result, counter))
        return ExecutionOutcome(result, self.firmware.running.version_octets)

    # -- future-dated activation -------------------------------------------------------------

    def _schedule(self, command: ActivateFirmware) -> None:
        """Record a future-dated activation, replacing any earlier one, and arm its timer."""
        assert command.execution_datetime is not None
        self._cancel_pending(announce=False)
        self._stale = None
        pending = PendingActivation(command.execution_datetime, command.originator_counter,
                                    command.manufacturer_image_hash)
        self.pending = pending
        self.firmware.emit(lambda d, at: FutureDatedAccepted(d, at, pending))
        self._arm(pending)

    def _arm(self, pending: PendingActivation) -> None:
        self._scheduled = asyncio.get_running_loop().create_task(
            self._fire_at(pending), name=f"activation-{self.entity_id}-{pending.counter}")

    async def _fire_at(self, pending: PendingActivation) -> None:
        await self.clock.sleep_until(pending.execution)
        self.pending = None
        self._scheduled = None
        outcome = self._activate_now(pending.image_hash, pending.counter, ActivationTrigger.FUTURE_DATED_CS06)
        self.raise_alert(FutureDatedActivationAlert(pending.execution, pending.counter, outcome))

    def _cancel_pending(self, *, announce: bool = True, by: str = "CS06") -> None:
        self.close()
        cancelled, self.pending = self.pending, None
        if cancelled is not None and announce:
            self.firmware.emit(lambda d, at: FutureDatedCancelled(d, at, cancelled, by))
            if self.defects.has(Defect.RESTORES_CANCELLED_ACTIVATION):
                self._stale = cancelled  # still in non-volatile memory

    def close(self) -> None:
        """Stop the timer of a future-dated activation (the device is switched off); the
        activation itself stays pending, as a device keeps it in non-volatile memory."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None

    def resume(self) -> None:
        """Power is back: the pending future-dated activation is armed again, so it fires at
        its date-time, or at once if that passed while the device was off; once either way,
        since it stops being pending before it activates. A device with
        :attr:`Defect.FORGETS_FUTURE_DATED_ACTIVATION` kept it in RAM, and has lost it; one with
        :attr:`Defect.RESTORES_CANCELLED_ACTIVATION` finds a cancelled one back."""
        if self.defects.has(Defect.FORGETS_FUTURE_DATED_ACTIVATION):
            self.pending = None
        if self._stale is not None:
            self.pending, self._stale = self._stale, None
        if self.pending is not None and self._scheduled is None:
            self._arm(self.pending)
