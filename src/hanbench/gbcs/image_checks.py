"""Static checks of a GBCS OTA Upgrade Image against one device, before anything goes on the air.

A manufacturer (or a supplier) holding an image and a device asks first: would the CH offer
this image to that device, and would the device keep it? Every question here is answered
from the image bytes and a few facts about the device and its CH, so it is pure: no files,
no keys read, no bench. The bench layer supplies the facts as a :class:`ValidationTarget`
(the device's type, entity ID, hardware and running version, its responsible Supplier and
that Supplier's public key, the CH's size limit); :func:`validate_image` returns one typed
:class:`CheckResult` per check, in :data:`CHECKS` order: pass, fail or not applicable, each
with the clause it applies and a reason a person can act on.

The checks, and where each rule is written:

* ``ota_header``: the header fields a CH and a device read (ZCL OTA 11.4.2, GBCS 11.2.3): the
  Zigbee PRO stack version, and an upgrade file destination, when there is one, naming this
  device. The parser has already refused a wrong magic, header version, field control or length.
* ``image_identity``: manufacturer code and image type of the device's type (the bench's
  image profiles, :mod:`hanbench.gbcs.image_types`): a CH serves an image only to a Query Next
  Image with these.
* ``hardware_version``: the device's hardware version within the header's range (a CH answers
  a mismatch with CCS08 response code 2); a header without a range suits every hardware version.
* ``file_version``: above the version the device runs; a CH offers only a strictly newer one.
* ``image_size``: within the CH's limit, when the bench names one (``[hub] max_image_size``).
  GBCS and DUIS set no maximum the bench knows of, so without one the check does not apply.
* ``signature``: the Supplier's ECDSA signature over the Manufacturer Image (GBCS 11.2.2,
  SR 11.1), made by the device's responsible Supplier; a PPMID image travels unsigned
  (SR 11.4), and one with a signature trailer is refused, since a PPMID reads everything
  after the header as the Manufacturer Image and would hash the trailer with it.
* ``manufacturer_image_hash``: SHA-256 of the Manufacturer Image (GBCS 11.2.4), what CS06 must
  name, compared with the hash the caller expects (a CPL or FIR entry) when one is given.
* ``firmware_facts_device`` and ``firmware_facts_header``: when the Manufacturer Image is the
  bench's emulated firmware (:mod:`hanbench.gbcs.emulated_firmware`), the facts it carries under
  the Supplier's signature against the device (its type, its hardware version) and against the
  unsigned OTA header (type, file version, hardware range): a header relabelled after signing
  fails here. A real manufacturer's image is opaque and these do not apply.

The image is read the way the device reads it: the unsigned form for a PPMID, otherwise the
signed form when the trailer has its shape. Bytes that are no OTA image at all (a bad magic,
a size that disagrees with the file) are not a failed check but bad input: :func:`validate_image`
raises :class:`~hanbench.gbcs.errors.ImageFormatError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.emulated_firmware import EmulatedFirmware, hardware_range, read_emulated_firmware
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.errors import GbcsError, ImageFormatError
from hanbench.gbcs.image import UpgradeImage, parse_image
from hanbench.gbcs.image_types import ImageProfile, device_type_of, profile_for
from hanbench.gbcs.ota_header import ZIGBEE_PRO_STACK

HASH_LENGTH = 32


class CheckOutcome(enum.StrEnum):
    """What one check found."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class SupplierKey:
    """The device's responsible Supplier: who must have signed its images, and with which key."""

    entity: EntityId
    name: str
    public_key: ec.EllipticCurvePublicKey

    def __str__(self) -> str:
        return f"{self.name} ({self.entity})"


@dataclass(frozen=True)
class ValidationTarget:
    """The bench facts the checks need about the device and its CH.

    ``running_version``: the file version the device runs now. ``max_image_size``: the CH's
    limit on an image's size in bytes, or None when the bench names none. ``variant``: an Alt
    HAN bridge's type, whose firmware package it takes.
    """

    device_type: DeviceType
    entity: EntityId
    hardware_version: int
    running_version: int
    supplier: SupplierKey
    max_image_size: int | None = None
    variant: PpmidVariant | None = None

    @property
    def profile(self) -> ImageProfile:
        """The image identity a device of this type asks for (BadInput for a type with none)."""
        return profile_for(self.device_type, self.variant)

    def __str__(self) -> str:
        return f"{self.device_type.value} {self.entity}"


@dataclass(frozen=True)
class CheckResult:
    """One check: which (``check`` id and ``title``), under which ``clause``, and what it found."""

    check: str
    title: str
    clause: str
    outcome: CheckOutcome
    reason: str

    @property
    def failed(self) -> bool:
        return self.outcome is CheckOutcome.FAIL


@dataclass(frozen=True)
class ImageValidation:
    """The image as the device reads it, the signed firmware facts it carries, and every check."""

    image: UpgradeImage
    firmware: EmulatedFirmware | None
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """Whether no check failed (a check that does not apply does not fail)."""
        return not any(c.failed for c in self.checks)


@dataclass(frozen=True)
class _Subject:
    """What every check looks at: the image, the target, the signed facts (or why they are unreadable)."""

    image: UpgradeImage
    looks_signed: bool
    target: ValidationTarget
    firmware: EmulatedFirmware | None
    firmware_error: str | None
    expected_hash: bytes | None


_Verdict = tuple[CheckOutcome, str]
PASS, FAIL, NOT_APPLICABLE = CheckOutcome.PASS, CheckOutcome.FAIL, CheckOutcome.NOT_APPLICABLE


@dataclass(frozen=True)
class Check:
    """One static check: its id, title and clause, and the rule that decides it."""

    id: str
    title: str
    clause: str
    rule: Callable[[_Subject], _Verdict]

    def run(self, subject: _Subject) -> CheckResult:
        outcome, reason = self.rule(subject)
        return CheckResult(self.id, self.title, self.clause, outcome, reason)


def _hex(value: int, digits: int) -> str:
    return f"0x{value:0{digits}X}"


def _ota_header(s: _Subject) -> _Verdict:
    header = s.image.header
    problems = []
    if header.stack_version != ZIGBEE_PRO_STACK:
        problems.append(f"Zigbee stack version is {_hex(header.stack_version, 4)}, GB HAN devices run "
                        f"Zigbee PRO ({_hex(ZIGBEE_PRO_STACK, 4)})")
    destination = header.upgrade_file_destination
    if destination is not None and destination != s.target.entity:
        problems.append(f"upgrade file destination {destination} makes it a file for that device only, "
                        f"not for {s.target.entity}")
    if problems:
        return FAIL, "; ".join(problems)
    for_whom = "this device only" if destination is not None else "any device of its type"
    return PASS, (f"field control {_hex(int(header.field_control), 4)}, header length {header.header_length}, "
                  f"Zigbee PRO stack, for {for_whom}, header string {header.text!r}")


def _image_identity(s: _Subject) -> _Verdict:
    header, profile = s.image.header, s.target.profile
    wanted = f"manufacturer code {_hex(profile.manufacturer_code, 4)}, image type {_hex(profile.image_type, 4)}"
    if header.is_for(profile.manufacturer_code, profile.image_type):
        return PASS, f"{wanted}, as {profile.device_type.name} devices ask for"
    other = device_type_of(header)
    meant = f" (an image for {other.name})" if other is not None else ""
    return FAIL, (f"the header says manufacturer code {_hex(header.manufacturer_code, 4)}, image type "
                  f"{_hex(header.image_type, 4)}{meant}; {profile.device_type.name} devices ask for {wanted}, "
                  "so the CH never offers this one")


def _hardware_version(s: _Subject) -> _Verdict:
    header, hw = s.image.header, s.target.hardware_version
    if header.hw_min is None:
        return PASS, f"the header carries no hardware range, so the CH and the device take it at {_hex(hw, 4)}"
    if header.accepts_hardware_version(hw):
        return PASS, f"{_hex(hw, 4)} is within the header's {hardware_range(header.hw_min, header.hw_max)}"
    return FAIL, (f"the device's hardware version {_hex(hw, 4)} is outside the header's "
                  f"{hardware_range(header.hw_min, header.hw_max)}: the CH answers Hardware Version Mismatch "
                  "(CCS08 response code 2)")


def _file_version(s: _Subject) -> _Verdict:
    offered, running = s.image.header.file_version, s.target.running_version
    if s.image.header.is_newer_than(running):
        return PASS, f"{_hex(offered, 8)} is above the running {_hex(running, 8)}"
    return FAIL, (f"file version {_hex(offered, 8)} is not above the {_hex(running, 8)} the device runs: "
                  "the CH answers its Query Next Image with NO_IMAGE_AVAILABLE")


def _image_size(s: _Subject) -> _Verdict:
    size, limit = s.image.header.total_image_size, s.target.max_image_size
    if limit is None:
        return NOT_APPLICABLE, (f"{size} bytes; the bench names no CH limit ([hub] max_image_size) and "
                                "GBCS sets none")
    if size <= limit:
        return PASS, f"{size} bytes, within the CH's {limit}"
    return FAIL, f"{size} bytes is over the CH's limit of {limit} bytes"


def _signature(s: _Subject) -> _Verdict:
    image, target = s.image, s.target
    if not target.profile.signed:
        if s.looks_signed:
            return FAIL, (f"the image ends in a Force Replace/signature trailer, but {target.device_type.name} "
                          "images travel unsigned (SR 11.4): the device reads everything after the header as the "
                          "Manufacturer Image and would hash the trailer with it")
        return PASS, f"unsigned, as SR 11.4 has it for {target.device_type.name} images"
    if not image.is_signed:
        return FAIL, (f"no Force Replace/signature trailer (or a damaged one): {target.device_type.name} "
                      f"images must be signed by the device's Supplier, {target.supplier} (SR 11.1); only PPMID images "
                      "travel unsigned (SR 11.4)")
    if image.verify(target.supplier.public_key):
        return PASS, f"signed over the Manufacturer Image by the device's Supplier, {target.supplier}"
    return FAIL, (f"the signature does not verify with the key of the device's Supplier, {target.supplier}: "
                  "the device refuses the image (0x8F1C)")


def _manufacturer_image_hash(s: _Subject) -> _Verdict:
    digest = s.image.manufacturer_image_hash
    if s.expected_hash is None:
        return NOT_APPLICABLE, f"{digest.hex()} (CS06 must name it); no expected hash was given to compare"
    if digest == s.expected_hash:
        return PASS, f"{digest.hex()}, the hash expected"
    return FAIL, (f"the Manufacturer Image hashes to {digest.hex()}, not the {s.expected_hash.hex()} expected: "
                  "a CS06 naming the expected hash would not activate it")


def _facts_or_reason(s: _Subject) -> EmulatedFirmware | _Verdict:
    if s.firmware_error is not None:
        return FAIL, s.firmware_error
    if s.firmware is None:
        return NOT_APPLICABLE, "a manufacturer's opaque image carries no firmware facts the bench can read"
    return s.firmware


def _firmware_facts_device(s: _Subject) -> _Verdict:
    facts = _facts_or_reason(s)
    if not isinstance(facts, EmulatedFirmware):
        return facts
    target = s.target
    if problems := facts.misfits(target.device_type, target.hardware_version):
        return FAIL, "; ".join(problems)
    return PASS, (f"signed firmware for {facts.device_type.name} on {hardware_range(facts.hw_min, facts.hw_max)}, "
                  f"which includes {_hex(target.hardware_version, 4)}")


def _firmware_facts_header(s: _Subject) -> _Verdict:
    facts = _facts_or_reason(s)
    if not isinstance(facts, EmulatedFirmware):
        return facts
    if problems := facts.relabelled(s.image.header):
        return FAIL, "the unsigned OTA header disagrees with the signed content (relabelled?): " + "; ".join(problems)
    return PASS, (f"the header's type, file version {_hex(facts.firmware_version, 8)} and hardware range match "
                  "the signed firmware")


CHECKS: tuple[Check, ...] = (
    Check("ota_header", "OTA header fields", "ZCL OTA 11.4.2, GBCS 11.2.3", _ota_header),
    Check("image_identity", "Manufacturer code and image type", "GBCS 11.2.3", _image_identity),
    Check("hardware_version", "Hardware version range", "ZCL OTA 11.4.2, CCS08", _hardware_version),
    Check("file_version", "File version newer than the running one", "ZCL OTA Query Next Image", _file_version),
    Check("image_size", "Size within the CH's limit", "CH image store", _image_size),
    Check("signature", "Supplier signature", "GBCS 11.2.2, SR 11.1 / SR 11.4", _signature),
    Check("manufacturer_image_hash", "Manufacturer Image hash", "GBCS 11.2.4", _manufacturer_image_hash),
    Check("firmware_facts_device", "Signed firmware facts against the device", "GBCS 11.2.2",
          _firmware_facts_device),
    Check("firmware_facts_header", "Signed firmware facts against the OTA header", "GBCS 11.2.3",
          _firmware_facts_header),
)


def read_as_device(data: bytes, profile: ImageProfile) -> tuple[UpgradeImage, bool]:
    """The image as a device of ``profile`` reads it, and whether its bytes end in a signature trailer.

    A PPMID reads the unsigned form; every other type the signed form where the trailer has
    its shape, so an unsigned image for a signed type becomes a failed signature check rather
    than unreadable bytes. Raises :class:`ImageFormatError` for bytes that are no OTA image.
    """
    as_found = parse_image(data, signed=None)
    if profile.signed:
        return as_found, as_found.is_signed
    return parse_image(data, signed=False), as_found.is_signed


def validate_image(data: bytes, target: ValidationTarget, *, expected_hash: bytes | None = None) -> ImageValidation:
    """Every check of :data:`CHECKS` on ``data`` for ``target``.

    ``expected_hash``: the Manufacturer Image hash the caller expects (32 bytes), if any.
    Raises :class:`ImageFormatError` when ``data`` is no OTA Upgrade Image.
    """
    if expected_hash is not None and len(expected_hash) != HASH_LENGTH:
        raise GbcsError(f"an expected Manufacturer Image hash is {HASH_LENGTH} bytes (SHA-256), got {len(expected_hash)}")
    image, looks_signed = read_as_device(bytes(data), target.profile)
    firmware, firmware_error = None, None
    try:
        firmware = read_emulated_firmware(image.manufacturer_image)
    except ImageFormatError as exc:
        firmware_error = f"the Manufacturer Image claims to be emulated firmware and is not: {exc}"
    subject = _Subject(image, looks_signed, target, firmware, firmware_error, expected_hash)
    return ImageValidation(image, firmware, tuple(check.run(subject) for check in CHECKS))
