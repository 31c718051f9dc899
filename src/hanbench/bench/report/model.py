"""The validation report as one typed record: what was validated, on which bench, and what was found.

One record, three renderings (:mod:`~hanbench.bench.report.json_form`,
:mod:`~hanbench.bench.report.junit`, :mod:`~hanbench.bench.report.html`), so the JSON, the JUnit
XML and the page can never disagree. The record holds values a reader needs and nothing of the
run's live objects: entity IDs in DUIS form, times as UTC date-times, numbers as numbers. It
is built from a session record (:mod:`~hanbench.bench.report.build`), so a past session's
report can be rebuilt at any time.

What it holds: the bench (name, kind, policy), the session, the device and the image when one
image was validated against one device (``hanbench validate``; a ``hanbench run`` session has
neither), the static checks (:class:`~hanbench.gbcs.image_checks.CheckResult`), every test with
its clause, outcome, duration and evidence (each transfer's block timeline: offset over bench
time; the alerts seen), evidence no test claims, and the firmware each device ran and activated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator

from hanbench.bench.record import TestOutcome
from hanbench.gbcs.emulated_firmware import read_emulated_firmware
from hanbench.gbcs.errors import ImageFormatError
from hanbench.gbcs.image import UpgradeImage
from hanbench.gbcs.image_checks import CheckOutcome, CheckResult

#: Test outcomes that make a report fail.
FAILING_TESTS = frozenset({TestOutcome.FAILED, TestOutcome.ERROR})


@dataclasses.dataclass(frozen=True)
class BenchFacts:
    """The bench a report is about."""

    name: str
    kind: str
    policy: str


@dataclasses.dataclass(frozen=True)
class SessionFacts:
    """The session of the bench's session record the report was built from."""

    id: int
    outcome: str
    started_wall: dt.datetime
    ended_wall: dt.datetime | None
    hanbench_version: str
    zigpy_version: str | None
    bellows_version: str | None


@dataclasses.dataclass(frozen=True)
class DeviceFacts:
    """The device an image was validated against, as the bench file describes it."""

    name: str
    type: str
    id: str
    hardware_version: int
    firmware_version: int
    responsible_supplier: str


@dataclasses.dataclass(frozen=True)
class HeaderFacts:
    """The OTA header fields a CH and a device act on."""

    manufacturer_code: int
    image_type: int
    file_version: int
    stack_version: int
    header_string: str
    hw_min: int | None
    hw_max: int | None
    upgrade_file_destination: str | None


@dataclasses.dataclass(frozen=True)
class SignedFirmwareFacts:
    """What an emulated Manufacturer Image says about itself, under the Supplier's signature."""

    device_type: str
    firmware_version: int
    hw_min: int
    hw_max: int


@dataclasses.dataclass(frozen=True)
class ImageFacts:
    """The image under test: its file name, size, hash, form, header and signed facts."""

    name: str
    size: int
    manufacturer_image_hash: str
    signed: bool
    header: HeaderFacts
    firmware: SignedFirmwareFacts | None

    @classmethod
    def of(cls, image: UpgradeImage, name: str) -> ImageFacts:
        """The facts of ``image`` (as the device reads it), filed under ``name``.

        Signed firmware facts that do not read are left out here: the checks say why.
        """
        h = image.header
        try:
            facts = read_emulated_firmware(image.manufacturer_image)
        except ImageFormatError:
            facts = None
        destination = h.upgrade_file_destination
        return cls(
            name=name, size=h.total_image_size, manufacturer_image_hash=image.manufacturer_image_hash.hex(),
            signed=image.is_signed,
            header=HeaderFacts(h.manufacturer_code, h.image_type, h.file_version, h.stack_version, h.text,
                               h.hw_min, h.hw_max, None if destination is None else destination.duis),
            firmware=None if facts is None else SignedFirmwareFacts(facts.device_type.value, facts.firmware_version,
                                                                    facts.hw_min, facts.hw_max),
        )


@dataclasses.dataclass(frozen=True)
class TimelinePoint:
    """Bytes the CH had sent (``offset``) ``at_s`` seconds of bench time after the transfer started."""

    at_s: float
    offset: int


@dataclasses.dataclass(frozen=True)
class Transfer:
    """One image transfer over the OTA cluster, and how far it got when.

    ``result`` is the CCS08 result the CH reported (``success``, ``image_discarded``, ...),
    None for a transfer the session never saw finish.
    """

    device: str
    device_name: str | None
    file_version: int
    size: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    result: str | None
    reason: str
    retries: int
    timeline: tuple[TimelinePoint, ...]

    @property
    def offset(self) -> int:
        """The last offset the timeline reached."""
        return self.timeline[-1].offset if self.timeline else 0

    @property
    def who(self) -> str:
        return f"{self.device_name} ({self.device})" if self.device_name else self.device

    def describe(self) -> str:
        """The transfer in plain words."""
        sent = f"{self.offset} of {self.size} bytes"
        if self.result is None:
            ending = f"never finished: the CH had sent {sent}"
        else:
            took = "" if self.finished_at is None else f" after {_seconds(self.finished_at - self.started_at)}"
            why = f" ({self.reason})" if self.reason else ""
            ending = f"ended {self.result}{why}{took}, {sent} sent"
        retries = f", {self.retries} retries" if self.retries else ""
        return f"transfer of file version 0x{self.file_version:08X} to {self.who}: {ending}{retries}"


@dataclasses.dataclass(frozen=True)
class AlertSeen:
    """An alert: ``raised`` by a device, or ``delivered`` by the DCC to a user's inbox.

    ``code`` is a GBCS alert code in hex (``0x8F72``) or a DCC alert's name (``N60``).
    """

    at: dt.datetime
    code: str
    how: str
    device: str
    device_name: str | None
    user: str | None
    user_name: str | None

    def describe(self) -> str:
        """The alert in plain words."""
        device = f"{self.device_name} ({self.device})" if self.device_name else self.device
        if self.user is None:
            return f"{self.at:%Y-%m-%d %H:%M:%S} alert {self.code} raised by {device}"
        user = f"{self.user_name} ({self.user})" if self.user_name else self.user
        return f"{self.at:%Y-%m-%d %H:%M:%S} alert {self.code} from {device} delivered to {user}"


@dataclasses.dataclass(frozen=True)
class CommandGivenUp:
    """A command the CH gave up on: neither its first send to the awake device nor any of the
    ``attempts`` sends again over ``over_s`` seconds was acknowledged, ``reason`` the last failure (its SR ended
    ``not_delivered``)."""

    at: dt.datetime
    device: str
    device_name: str | None
    request_id: str | None
    attempts: int
    over_s: float
    reason: str

    def describe(self) -> str:
        """The give-up in plain words."""
        device = f"{self.device_name} ({self.device})" if self.device_name else self.device
        return (f"{self.at:%Y-%m-%d %H:%M:%S} gave up on command {self.request_id} to {device} after "
                f"sending it again {self.attempts} times over {self.over_s:.0f} s: {self.reason}")


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the bench saw while a test ran: its transfers, its alerts and the commands the CH
    gave up on, in order."""

    transfers: tuple[Transfer, ...] = ()
    alerts: tuple[AlertSeen, ...] = ()
    undelivered: tuple[CommandGivenUp, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.transfers or self.alerts or self.undelivered)

    def lines(self) -> list[str]:
        """The evidence in plain words, one line each."""
        return ([t.describe() for t in self.transfers] + [a.describe() for a in self.alerts]
                + [u.describe() for u in self.undelivered])


@dataclasses.dataclass(frozen=True)
class TestReport:
    """One test: its name (pytest node ID), the clause it checks, how it ended and what it saw.

    ``message`` is the failure or skip reason, if any.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    name: str
    clause: str
    outcome: TestOutcome
    duration_s: float
    message: str | None
    evidence: Evidence = Evidence()

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING_TESTS


@dataclasses.dataclass(frozen=True)
class DeviceFirmware:
    """The firmware a device started each premises with, and every version activated on it."""

    device: str
    type: str
    running: int
    activated: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class CampaignCourse:
    """A CH firmware campaign of the session over bench time: after each CH's update, how many
    had been activated and how many had failed (seconds from the campaign's first notice), and
    when each stage was announced."""

    name: str
    points: tuple[tuple[float, int, int], ...]
    stages: tuple[tuple[float, str], ...]

    @property
    def activated(self) -> int:
        return self.points[-1][1] if self.points else 0

    @property
    def failed(self) -> int:
        return self.points[-1][2] if self.points else 0


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """The whole report; see the module docstring."""

    bench: BenchFacts
    session: SessionFacts
    device: DeviceFacts | None
    image: ImageFacts | None
    checks: tuple[CheckResult, ...]
    tests: tuple[TestReport, ...]
    other_evidence: Evidence
    firmware: tuple[DeviceFirmware, ...]
    campaigns: tuple[CampaignCourse, ...] = ()

    @property
    def passed(self) -> bool:
        """No check failed and no test failed or errored."""
        return not any(c.failed for c in self.checks) and not any(t.failed for t in self.tests)

    @property
    def outcome(self) -> str:
        return "passed" if self.passed else "failed"

    def check_counts(self) -> Counter[str]:
        return Counter(c.outcome.value for c in self.checks)

    def test_counts(self) -> Counter[str]:
        return Counter(t.outcome.value for t in self.tests)

    def rows(self) -> Iterator[tuple[str, str, str]]:
        """Every check and test as (clause, outcome, name), for the clause matrix."""
        for check in self.checks:
            yield check.clause, _CHECK_AS_TEST[check.outcome].value, check.title
        for test in self.tests:
            yield test.clause, test.outcome.value, test.name


#: How a static check counts beside tests in the clause matrix.
_CHECK_AS_TEST = {CheckOutcome.PASS: TestOutcome.PASSED, CheckOutcome.FAIL: TestOutcome.FAILED,
                  CheckOutcome.NOT_APPLICABLE: TestOutcome.SKIPPED}


def _seconds(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
