"""``hanbench validate``'s work: one image against one device of a bench, recorded as a session.

Stages, in order; bad input stops the run before anything is recorded:

1. The static checks (:mod:`hanbench.gbcs.image_checks`), with the facts the bench file and its
   key store hold about the device: its type, entity ID, hardware and running version, its
   responsible Supplier and that Supplier's DS public key, and the CH's image size limit.
2. The device conformance suite (:mod:`hanbench.suites.device`) against that device, with the
   image as its new firmware, when every check passed: ``hanbench validate`` runs it through
   pytest (:mod:`hanbench.cli.validate`), handing it :func:`validation_record`, which the run
   records into its own session first; its tests (each with its clause) and their events
   follow in that session, so :func:`~hanbench.bench.report.build.build_report` puts them in
   the report beside the checks.
3. The session is finished (passed when nothing failed) and its report built from the session
   record (:func:`report_of`), the same way ``hanbench sessions show --html`` rebuilds it later.

A validation of the static checks alone (:func:`validate`: a check failed, or the suite was
not asked for) takes no bench lock: it opens no premises and touches none of the DCC state the
lock protects. The suite's run takes it, as ``hanbench run`` does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from hanbench.bench.bench_config import BenchConfig, DeviceConfig
from hanbench.bench.record import SessionOutcome, SessionRecord
from hanbench.bench.report.build import build_report
from hanbench.bench.report.json_form import validation_to_json
from hanbench.bench.report.model import DeviceFacts, ImageFacts, ValidationReport
from hanbench.errors import BadInput
from hanbench.gbcs.image_checks import ImageValidation, SupplierKey, ValidationTarget, validate_image
from hanbench.gbcs.keystore import KeyStore, Usage
from hanbench.image_files import read_bytes


@dataclasses.dataclass(frozen=True)
class Validation:
    """A finished validation: the session it was recorded as, the checks, and the report."""

    session_id: int
    checks: ImageValidation
    report: ValidationReport


def validation_target(config: BenchConfig, device: DeviceConfig) -> ValidationTarget:
    """What the checks need to know about ``device`` and its CH, from the bench file and key store."""
    supplier = config.supplier_of(device)
    key = KeyStore(config.keystore).public_key(supplier.id, Usage.DS)
    return ValidationTarget(
        device_type=device.type, entity=device.id, hardware_version=device.hardware_version,
        running_version=device.firmware_version, supplier=SupplierKey(supplier.id, supplier.name, key),
        max_image_size=config.hub.max_image_size, variant=device.ppmid_variant,
    )


def device_facts(device: DeviceConfig) -> DeviceFacts:
    """The report's facts about ``device``."""
    return DeviceFacts(device.name, device.type.value, device.id.duis, device.hardware_version,
                       device.firmware_version, device.responsible_supplier.duis)


def check_image_file(config: BenchConfig, device: DeviceConfig, image: Path,
                     expected_hash: bytes | None = None) -> ImageValidation:
    """Stage 1: the static checks of the image file at ``image`` for ``device``.

    :class:`BadInput` (naming the file) when it cannot be read or is no OTA Upgrade Image.
    """
    target = validation_target(config, device)
    data = read_bytes(image, "image")
    try:
        return validate_image(data, target, expected_hash=expected_hash)
    except BadInput as exc:
        raise type(exc)(f"{image}: {exc}") from None


def validation_record(device: DeviceConfig, checks: ImageValidation, image: Path) -> dict[str, Any]:
    """What a session records of a validation before any test: the device, the image, the checks."""
    return validation_to_json(device_facts(device), ImageFacts.of(checks.image, image.name), checks.checks)


def report_of(config: BenchConfig, session_id: int) -> ValidationReport:
    """The report of session ``session_id`` of ``config``'s bench, from its session record."""
    with SessionRecord(config.database_path) as record:
        return build_report(record, session_id, config)


def validate(config: BenchConfig, device_handle: str, image: Path, *,
             expected_hash: bytes | None = None) -> Validation:
    """Validate the image at ``image`` against the device ``device_handle`` of ``config``'s bench
    with the static checks alone (stage 1), recorded as a session of its own."""
    device = config.device(device_handle)
    checks = check_image_file(config, device, image, expected_hash)
    return record_checks(config, device, checks, image)


def record_checks(config: BenchConfig, device: DeviceConfig, checks: ImageValidation, image: Path) -> Validation:
    """Record the static checks of ``image`` as a session of their own, finished by their outcome."""
    with SessionRecord(config.database_path) as record:
        with record.start(config, lambda: config.start) as session:
            session.record_validation(validation_record(device, checks, image))
            failed = [c.title for c in checks.checks if c.failed]
            session.finish(SessionOutcome.FAILED if failed else SessionOutcome.PASSED,
                           f"static checks failed: {', '.join(failed)}" if failed else None)
        return Validation(session.id, checks, build_report(record, session.id, config))
