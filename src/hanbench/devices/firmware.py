"""What firmware an emulated HAN device runs and holds, and what it will take.

GBCS splits an update in two (gbcs-domain §1.3): an image is *distributed* (the device
checks it and keeps it as its *held* image) and later *activated* (the held image becomes
the *running* image). This module keeps that state, typed, so tests and the bench read the
same facts the device acts on, and says whether a received OTA Upgrade Image is one this
device may keep at all. It knows nothing of the air or of GBCS messages: the device types
and :mod:`hanbench.devices.gbcs_device` drive it.

Every change is told to the listeners as a :class:`FirmwareEvent`, the one stream the bench
turns into events and a dev-board twin can expose.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.devices.defects import NO_DEFECTS, Defect, Defects
from hanbench.gbcs.alerts import Alert
from hanbench.gbcs.codes import AlertCode, MessageCode
from hanbench.gbcs.cs06 import ActivationResult, PendingActivation
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.emulated_firmware import read_emulated_firmware
from hanbench.gbcs.errors import GbcsError, ImageFormatError
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.image_types import ImageProfile
from hanbench.listeners import Listeners

VERSION_OCTETS = 4


@dataclass(frozen=True)
class Firmware:
    """One firmware image as a device knows it: its file version and Manufacturer Image Hash.

    ``image_hash`` is ``None`` for the firmware a device was started with from a version
    number alone (nothing was hashed); every image a device received has one.
    """

    file_version: int
    image_hash: bytes | None = None

    @property
    def version_octets(self) -> bytes:
        """The version as GBCS messages carry it (CS06 outcome, CS09, SR 11.2): 4 bytes, big-endian."""
        return self.file_version.to_bytes(VERSION_OCTETS, "big")

    def __str__(self) -> str:
        digest = "" if self.image_hash is None else f" ({self.image_hash.hex()[:16]}...)"
        return f"{self.file_version:08X}{digest}"


# --- events --------------------------------------------------------------------------------


class ActivationTrigger(enum.Enum):
    """What made a device run its held image."""

    CS06 = "CS06"  # a CS06 without an execution date-time: at once
    FUTURE_DATED_CS06 = "future-dated CS06"  # a future-dated CS06, at its execution date-time
    SELF_ACTIVATION = "SR 11.4 self-activation"  # a PPMID activating what it just received
    CH_UPGRADE_COMMAND = "CH upgrade command"  # an IHD, told by the CH (SECMP0007)
    BRIDGE_UPGRADE_COMMAND = "orchestrating bridge's upgrade command"  # an Alt HAN bridge behind another (MP170)


@dataclass(frozen=True)
class FirmwareEvent:
    """Something changed on ``device``; subclasses say what."""

    device: EntityId
    at: datetime


@dataclass(frozen=True)
class ImageHeld(FirmwareEvent):
    """A received image passed the device's checks and is now its held image."""

    firmware: Firmware


@dataclass(frozen=True)
class ImageRefused(FirmwareEvent):
    """A received image failed the device's checks; ``image_hash`` is the hash it calculated."""

    reason: str
    image_hash: bytes


@dataclass(frozen=True)
class Activated(FirmwareEvent):
    """The device now runs ``firmware`` (``previous`` before), because of ``trigger``."""

    firmware: Firmware
    previous: Firmware
    trigger: ActivationTrigger


@dataclass(frozen=True)
class ActivationFailed(FirmwareEvent):
    """An authentic activation could not be carried out; the running firmware is unchanged."""

    result: ActivationResult
    counter: int | None


@dataclass(frozen=True)
class FutureDatedAccepted(FirmwareEvent):
    """The device accepted a future-dated CS06: ``pending`` runs at its execution date-time."""

    pending: PendingActivation


@dataclass(frozen=True)
class FutureDatedCancelled(FirmwareEvent):
    """The accepted future-dated activation was dropped: by a cancelling CS06
    (99991231235959Z), or by a change of supplier that took its signer's trust away."""

    cancelled: PendingActivation
    by: str = "CS06"


class CommandCheck(enum.Enum):
    """The check a dropped command failed, in the order a GBCS device makes them (GBCS 6.2.4,
    and 11.5 for CS06: the MAC, then the signature, then the counter), and the alert it raises."""

    MALFORMED = "malformed"            # no GBCS message, or a payload that does not read
    MAC = "mac"                        # the Access Control Broker's MAC is missing or does not verify
    REMOTE_PARTY = "remote_party"      # from a remote party the device holds no key for
    SIGNATURE = "signature"            # a critical command not signed by the device's Supplier
    COUNTER = "counter"                # originator counter not above the last one accepted
    UNSUPPORTED = "unsupported"        # a command this device does not run

    @property
    def alert_code(self) -> AlertCode:
        """0x8F1E for content or format, 0x8F3D for everything that authenticates the command."""
        if self in (CommandCheck.MALFORMED, CommandCheck.UNSUPPORTED):
            return AlertCode.COMMAND_INTEGRITY_CHECK_FAILED
        return AlertCode.TRUSTED_SOURCE_AUTHENTICATION_FAILURE


@dataclass(frozen=True)
class CommandDropped(FirmwareEvent):
    """A command failed authentication or was malformed: dropped unanswered, nothing done.

    ``command`` is its message code (CS06, an SR 11.2 read...), or ``None`` for bytes that
    were no GBCS message at all; ``check`` is the check it failed, ``reason`` says how.
    """

    counter: int
    reason: str
    command: MessageCode | int | None
    check: CommandCheck


@dataclass(frozen=True)
class AlertRaised(FirmwareEvent):
    """The device sent an alert: the decoded record and the signed bytes it put on the tunnel."""

    alert: Alert
    message: bytes


FirmwareListener = Callable[[FirmwareEvent], None]


class FirmwareState:
    """The running and held images of one device, and the transitions between them.

    Only :meth:`activate` moves the held image into the running slot, and it does so only
    for the hash it is given: the gate CS06 (and PPMID/IHD self-activation) pass through.
    """

    def __init__(self, device: EntityId, running: Firmware, now: Callable[[], datetime]) -> None:
        self.device = device
        self.running = running
        self.held: Firmware | None = None
        self._now = now
        self._listeners: Listeners[FirmwareListener] = Listeners()

    def subscribe(self, listener: FirmwareListener) -> Callable[[], None]:
        """Call ``listener`` with every event of this device; returns an unsubscriber."""
        return self._listeners.add(listener)

    def emit(self, make: Callable[[EntityId, datetime], FirmwareEvent]) -> FirmwareEvent:
        """Tell every listener; ``make(device, now)`` builds the event."""
        event = make(self.device, self._now())
        self._listeners(event)
        return event

    def hold(self, firmware: Firmware) -> None:
        """Keep ``firmware`` as the held image (a newer distribution replaces an older one)."""
        self.held = firmware
        self.emit(lambda d, at: ImageHeld(d, at, firmware))

    def refuse(self, reason: str, image_hash: bytes) -> None:
        """Record a refused image; the held image, if any, is kept."""
        self.emit(lambda d, at: ImageRefused(d, at, reason, image_hash))

    def refusal(self, image_hash: bytes) -> ActivationResult | None:
        """Why the held image could not run as ``image_hash`` (GBCS CS06 steps 3-4), ``None`` if it can."""
        if self.held is None:
            return ActivationResult.NO_IMAGE_HELD
        if self.held.image_hash != image_hash:
            return ActivationResult.HASH_MISMATCH
        return None

    def activate(self, image_hash: bytes, trigger: ActivationTrigger) -> ActivationResult:
        """Run the held image if its hash is ``image_hash`` (GBCS CS06 steps 3-4)."""
        refused = self.refusal(image_hash)
        if refused is not None:
            return refused
        assert self.held is not None
        previous, self.running, self.held = self.running, self.held, None
        self.emit(lambda d, at: Activated(d, at, self.running, previous, trigger))
        return ActivationResult.SUCCESS


# --- which images a device keeps ----------------------------------------------------------


@dataclass(frozen=True)
class ImageVerdict:
    """A device's verdict on one downloaded OTA Upgrade Image.

    ``image_hash`` is the Manufacturer Image Hash the device calculated (the receipt alert
    carries it either way); for bytes that do not even parse it is SHA-256 of everything
    received, since there is no Manufacturer Image to hash. ``firmware`` is what a kept image
    becomes on the device: the version its signed content states, and its hash.
    """

    image: UpgradeImage | None
    image_hash: bytes
    reason: str = ""
    firmware: Firmware | None = None

    @property
    def accepted(self) -> bool:
        return self.firmware is not None


def check_image(
    data: bytes,
    profile: ImageProfile,
    hardware_version: int,
    supplier_key: ec.EllipticCurvePublicKey | None,
    defects: Defects = NO_DEFECTS,
) -> ImageVerdict:
    """Whether a device of ``profile`` and ``hardware_version`` may keep ``data``, and what it runs then.

    GBCS signs the Manufacturer Image alone (GBCS 11.2.2-11.2.4), so a device trusts nothing
    else of an image. In order: a signed profile's image must carry its Supplier's signature
    (``supplier_key``, the device's trust anchor for its Supplier); the Manufacturer Image must
    be the bench's emulated firmware (:mod:`hanbench.gbcs.emulated_firmware`: a real
    manufacturer's image is not firmware this emulated device can run) for this device type and
    hardware version; and the unsigned OTA header must agree with it, so a header relabelled on
    the way (another file version, another device's manufacturer code and image type) is
    refused rather than believed. The version the device runs after activating the image is
    the signed one. The CH checks the header's hardware range too, but a device never relies on
    the hub for its own safety. ``defects`` skip what a known-bad device skips (the signature,
    or the header against the signed facts, running the header's version instead).
    """
    try:
        image = parse_image(data, signed=profile.signed)
    except GbcsError as exc:
        return ImageVerdict(None, hashlib.sha256(data).digest(), f"not a well-formed image: {exc}")
    digest = image.manufacturer_image_hash
    skip_signature = defects.has(Defect.ACCEPTS_BAD_SIGNATURE)
    if profile.signed and not skip_signature and (supplier_key is None or not image.verify(supplier_key)):
        return ImageVerdict(image, digest, "the image is not signed by this device's Supplier")
    try:
        facts = read_emulated_firmware(image.manufacturer_image)
    except ImageFormatError as exc:
        return ImageVerdict(image, digest, f"the Manufacturer Image claims to be emulated firmware and is not: {exc}")
    if facts is None:
        return ImageVerdict(image, digest, "the Manufacturer Image is not hanbench emulated firmware, the only "
                                           "firmware this emulated device runs")
    if defects.has(Defect.VERSION_FROM_OTA_HEADER):  # the header believed: no comparison, its version run
        problems = facts.misfits(profile.device_type, hardware_version)
        version = image.header.file_version
    else:
        problems = facts.misfits(profile.device_type, hardware_version) + facts.relabelled(image.header)
        version = facts.firmware_version
    if problems:
        return ImageVerdict(image, digest, "; ".join(problems))
    return ImageVerdict(image, digest, firmware=Firmware(version, digest))
