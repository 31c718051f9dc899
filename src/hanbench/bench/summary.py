"""What a session did, read back from the session record, for the end of ``hanbench run``.

Everything comes from the record (the session row, its events and its test outcomes), never
from objects of the run, so the same summary can be printed for any past session. The bench
file supplies only what the record does not hold: the devices' starting versions.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.record import RecordedEvent, SessionInfo, SessionRecord, TestOutcome
from hanbench.dcc.records import format_firmware_version
from hanbench.gbcs.entity import EntityId

#: Event kinds after which a device runs a new version (``file_version`` in their data).
ACTIVATION_KINDS = ("activation_immediate", "activation_fired")
_DELIVERY_KINDS = ("alert_delivered", "dcc_alert_delivered")


@dataclasses.dataclass(frozen=True)
class DeviceVersions:
    """One device: the version it starts each premises with, and every version activated on it."""

    name: str
    type: str
    before: int
    activated: tuple[int, ...]
    activations: int


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """A session as the end of a run reports it."""

    session: SessionInfo
    database: Path
    tests: Mapping[str, int]
    devices: tuple[DeviceVersions, ...]
    alerts: Mapping[str, Mapping[str, int]]  # user label -> alert code -> count
    premises: int
    virtual_s: float
    assembly_wall_s: float

    @property
    def wall_s(self) -> float | None:
        info = self.session
        return None if info.ended_wall is None else (info.ended_wall - info.started_wall).total_seconds()

    def lines(self) -> list[str]:
        """The summary as plain text lines."""
        info = self.session
        counts = ", ".join(f"{self.tests.get(o, 0)} {o}" for o in (TestOutcome.PASSED, TestOutcome.FAILED,
                                                                  TestOutcome.ERROR, TestOutcome.SKIPPED))
        extra = ", ".join(f"{n} {o}" for o, n in sorted(self.tests.items())
                          if o not in (TestOutcome.PASSED, TestOutcome.FAILED, TestOutcome.ERROR, TestOutcome.SKIPPED))
        out = [
            f"hanbench session {info.id}: bench {info.bench_name} (kind {info.bench_kind}, policy {info.policy}) "
            f"-> {info.outcome}",
            f"  tests: {counts}" + (f", {extra}" if extra else ""),
            "  firmware per device (start -> activated):",
        ]
        for d in self.devices:
            activated = ", ".join(format_firmware_version(v) for v in d.activated) or "nothing activated"
            times = f" ({d.activations} activation{'s' if d.activations != 1 else ''})" if d.activations else ""
            out.append(f"    {d.name:<8} {d.type:<6} {format_firmware_version(d.before)} -> {activated}{times}")
        out.append("  alerts delivered per user:")
        if not self.alerts:
            out.append("    none")
        for user, codes in self.alerts.items():
            out.append(f"    {user}: " + ", ".join(f"{code} x{n}" for code, n in sorted(codes.items())))
        timing = info.knobs.get("timing", {})
        out.append("  timing: " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in timing.items()))
        air = info.knobs.get("air")
        if air:
            out.append("  air: " + ", ".join(f"{k}={v}" for k, v in air.items()) + f", seed={info.knobs.get('seed')}")
        wall = "running" if self.wall_s is None else f"{self.wall_s:.2f} s"
        mean = self.assembly_wall_s / self.premises if self.premises else 0.0
        out.append(f"  time: wall {wall}; bench clock {self.virtual_s:,.0f} s over {self.premises} premises "
                   f"(assembly {mean * 1000:.0f} ms each)")
        out.append(f"  session database: {self.database}")
        return out


def summarise(record: SessionRecord, session_id: int, config: BenchConfig) -> RunSummary:
    """The summary of session ``session_id`` of ``record``."""
    info = record.session(session_id)
    events = record.events(session_id)
    tests = Counter(t.outcome.value for t in record.tests(session_id))
    opened = [e for e in events if e.kind == "premises_opened"]
    closed = [e for e in events if e.kind == "premises_closed"]
    return RunSummary(
        session=info,
        database=record.path,
        tests=dict(tests),
        devices=_device_versions(config, events),
        alerts=_alerts_per_user(config, events),
        premises=len(opened),
        virtual_s=sum(float(e.data["elapsed_s"]) for e in closed),
        assembly_wall_s=sum(float(e.data["assembly_wall_s"]) for e in opened),
    )


def _device_versions(config: BenchConfig, events: Sequence[RecordedEvent]) -> tuple[DeviceVersions, ...]:
    activated: dict[str, list[int]] = defaultdict(list)
    for event in events:
        if event.kind in ACTIVATION_KINDS:
            activated[EntityId.parse(event.data["device"]).duis].append(int(event.data["file_version"]))
    return tuple(
        DeviceVersions(d.name, d.type.value, d.firmware_version, tuple(sorted(set(activated[d.id.duis]))),
                       len(activated[d.id.duis]))
        for d in config.devices)


def _alerts_per_user(config: BenchConfig, events: Sequence[RecordedEvent]) -> dict[str, dict[str, int]]:
    names = {u.id.duis: f"{u.name} ({u.id})" for u in config.users}
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if event.kind in _DELIVERY_KINDS:
            user = EntityId.parse(event.data["user"]).duis
            found[names.get(user, user)][_code(event.data["alert_code"])] += 1
    return {user: dict(codes) for user, codes in found.items()}


def _code(value: Any) -> str:
    return f"0x{value:04X}" if isinstance(value, int) else str(value)
