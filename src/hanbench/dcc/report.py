"""The portfolio firmware report (MP207 business requirement 4).

A Supplier sees the devices it is responsible for; an RSA sees only the devices of the
suppliers that appointed it (requirement 2). Per device: running version, pending image
(hash, since when, by whom), latest alert, update state, and whether someone must act. Over
the portfolio: counts by inventory status and by update state, the failed updates needing
action, and compliance - the share of operating (commissioned or suspended) devices whose
running version is N or N-1, where N is the given target for the device type or else the
newest version any device of that firmware line in the inventory runs, and N-1 is the newest
version below N that any device of that line runs. A firmware line is a device type, or for
an Alt HAN bridge its bridge type: each has its own firmware package (MP170), so a B1 runs
no version of a B3's firmware. A device's line shows its PPMID variant (PPMID, B1 to B4), so
a Supplier sees which bridges it has on the SMI under MP170's option, and no others.

The report reads only the inventory, the same records the DCC wrote during the run.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hanbench.dcc.inventory import Inventory
from hanbench.dcc.records import AlertRecord, Device, PendingImage, User, format_firmware_version
from hanbench.errors import BadInput
from hanbench.gbcs.device_types import DeviceType, PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import DeviceStatus, Role

OPERATING = frozenset({DeviceStatus.COMMISSIONED, DeviceStatus.SUSPENDED})


class NoPortfolio(BadInput):
    """The user is neither a supplier nor an RSA, so has no device portfolio."""


@dataclass(frozen=True)
class DeviceLine:
    """One device as the report shows it."""

    device: Device
    last_alert: AlertRecord | None
    compliant: bool | None  # None: not operating, so outside compliance


Line = tuple[DeviceType, PpmidVariant | None]
"""A firmware line: a device type, and for an Alt HAN bridge its bridge type."""


def line_of(device: Device) -> Line:
    return (device.type, device.ppmid_variant if device.type is DeviceType.ALT_HAN else None)


def line_name(line: Line) -> str:
    """``esme``, ``alt_han B3``."""
    return line[0].value if line[1] is None else f"{line[0].value} {line[1].value}"


@dataclass(frozen=True)
class Compliance:
    """Compliance of one firmware line against version N (and N-1)."""

    device_type: DeviceType
    variant: PpmidVariant | None
    target: int
    previous: int | None
    devices: int
    compliant: int

    @property
    def share(self) -> float:
        return self.compliant / self.devices if self.devices else 1.0


@dataclass(frozen=True)
class PortfolioReport:
    user: User
    suppliers: tuple[EntityId, ...]
    lines: tuple[DeviceLine, ...]
    compliance: tuple[Compliance, ...]

    @property
    def by_status(self) -> dict[str, int]:
        return dict(sorted(Counter(line.device.status.value for line in self.lines).items()))

    @property
    def by_update_state(self) -> dict[str, int]:
        return dict(sorted(Counter(line.device.update_state.value for line in self.lines).items()))

    @property
    def needing_action(self) -> tuple[DeviceLine, ...]:
        return tuple(line for line in self.lines if line.device.needs_action)

    @property
    def compliant_share(self) -> float:
        devices = sum(c.devices for c in self.compliance)
        return sum(c.compliant for c in self.compliance) / devices if devices else 1.0


def portfolio(inventory: Inventory, user_id: EntityId | str,
              targets: Mapping[DeviceType, int] | None = None) -> PortfolioReport:
    """The portfolio ``user_id`` may see, with compliance against ``targets`` (per device type)."""
    user = inventory.user(user_id)
    suppliers: set[EntityId] = set()
    if any(role.is_supplier for role in user.roles):
        suppliers.add(user.entity_id)
    if Role.RSA in user.roles:
        suppliers.update(inventory.appointing_suppliers(user.entity_id))
    if not suppliers and Role.RSA not in user.roles:
        roles = ", ".join(sorted(r.value for r in user.roles))
        raise NoPortfolio(f"{user.entity_id} ({user.name}) is {roles}: only suppliers and RSAs have a portfolio")
    everything = inventory.devices()
    mine = [d for d in everything if d.responsible_supplier in suppliers]
    versions = _targets(everything, targets or {})
    lines = tuple(DeviceLine(d, inventory.last_alert(d.entity_id), _compliant(d, versions)) for d in mine)
    compliance = []
    for key, (target, previous) in sorted(versions.items(), key=lambda item: line_name(item[0])):
        counted = [line for line in lines if line_of(line.device) == key and line.compliant is not None]
        if counted:
            compliance.append(Compliance(key[0], key[1], target, previous, len(counted),
                                         sum(1 for line in counted if line.compliant)))
    return PortfolioReport(user, tuple(sorted(suppliers)), lines, tuple(compliance))


def _targets(devices: list[Device], given: Mapping[DeviceType, int]) -> dict[Line, tuple[int, int | None]]:
    seen: dict[Line, set[int]] = {}
    for d in devices:
        if d.firmware_version is not None:
            seen.setdefault(line_of(d), set()).add(d.firmware_version)
    result = {}
    for key in set(seen) | {(dtype, None) for dtype in given if dtype is not DeviceType.ALT_HAN}:
        versions = seen.get(key, set())
        target = given.get(key[0], max(versions, default=0))
        below = [v for v in versions if v < target]
        result[key] = (target, max(below) if below else None)
    return result


def _compliant(device: Device, versions: Mapping[Line, tuple[int, int | None]]) -> bool | None:
    if device.status not in OPERATING or line_of(device) not in versions:
        return None
    target, previous = versions[line_of(device)]
    return device.firmware_version is not None and device.firmware_version in (target, previous)


# ---- rendering --------------------------------------------------------------------------------

COLUMNS = ("device", "type", "ppmid_variant", "supplier", "status", "running", "pending_hash", "pending_version", "pending_since",
           "distributed_by", "update_state", "needs_action", "detail", "last_alert", "last_alert_at", "compliant")


def _pending(p: PendingImage | None) -> tuple[str, str, str, str]:
    if p is None:
        return ("", "", "", "")
    return (p.hash.hex(), format_firmware_version(p.file_version), p.since.isoformat(), p.distributed_by.duis)


def _row(line: DeviceLine) -> dict[str, Any]:
    d = line.device
    detail = d.update_detail
    if d.activation_response_missing:
        detail = "; ".join(x for x in (detail, "SR 11.3 response missing") if x)
    pending_hash, pending_version, since, by = _pending(d.pending)
    return {
        "device": d.entity_id.duis, "type": d.type.value,
        "ppmid_variant": "" if d.ppmid_variant is None else d.ppmid_variant.value,
        "supplier": d.responsible_supplier.duis if d.responsible_supplier else "",
        "status": d.status.value, "running": format_firmware_version(d.firmware_version),
        "pending_hash": pending_hash, "pending_version": pending_version, "pending_since": since,
        "distributed_by": by, "update_state": d.update_state.value, "needs_action": d.needs_action,
        "detail": detail, "last_alert": line.last_alert.code if line.last_alert else "",
        "last_alert_at": line.last_alert.received_at.isoformat() if line.last_alert else "",
        "compliant": "" if line.compliant is None else line.compliant,
    }


def to_json(report: PortfolioReport) -> str:
    return json.dumps({
        "user": report.user.entity_id.duis, "name": report.user.name,
        "suppliers": [s.duis for s in report.suppliers],
        "devices": [_row(line) for line in report.lines],
        "counts_by_status": report.by_status, "counts_by_update_state": report.by_update_state,
        "needs_action": [line.device.entity_id.duis for line in report.needing_action],
        "compliance": [{"type": c.device_type.value, "ppmid_variant": None if c.variant is None else c.variant.value,
                        "target": format_firmware_version(c.target),
                        "previous": format_firmware_version(c.previous), "devices": c.devices,
                        "compliant": c.compliant, "share": round(c.share, 4)} for c in report.compliance],
        "compliant_share": round(report.compliant_share, 4),
    }, indent=2)


def to_csv(report: PortfolioReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line in report.lines:
        writer.writerow(_row(line))
    return out.getvalue()


_TABLE = ("device", "type", "ppmid_variant", "status", "running", "pending_version", "distributed_by", "update_state", "last_alert")


def to_table(report: PortfolioReport) -> str:
    rows = [{k: str(v) for k, v in _row(line).items()} for line in report.lines]
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in _TABLE}
    text = [f"Portfolio of {report.user.name} ({report.user.entity_id}); suppliers: "
            + ", ".join(s.duis for s in report.suppliers),
            "  ".join(c.ljust(widths[c]) for c in _TABLE)]
    text += ["  ".join(r[c].ljust(widths[c]) for c in _TABLE) for r in rows]
    text.append("by status: " + (", ".join(f"{k} {v}" for k, v in report.by_status.items()) or "no devices"))
    text.append("by update state: " + (", ".join(f"{k} {v}" for k, v in report.by_update_state.items()) or "-"))
    for c in report.compliance:
        text.append(f"compliance {line_name((c.device_type, c.variant))}: {c.compliant}/{c.devices} on "
                    f"{format_firmware_version(c.target)} or {format_firmware_version(c.previous)} ({c.share:.0%})")
    text.append(f"needing action: {len(report.needing_action)}")
    text += [f"  {r['device']} {r['type']}: {r['detail']}" for r in
             (_row(line) for line in report.needing_action)]
    return "\n".join(text) + "\n"


RENDERERS = {"table": to_table, "csv": to_csv, "json": to_json}

