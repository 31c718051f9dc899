"""The DCC's Smart Metering Inventory in SQLite: users, RSA appointments, devices, the SR log,
alerts, inboxes, CS06 originator counters and the Access Control Broker's invocation counters.

One database per bench run, so a report written after the run reads exactly what the DCC
decided during it. The schema lives in ``schema.sql`` beside this module and is versioned
with ``PRAGMA user_version``; a database of an older version is brought up to date when it
is opened (:data:`MIGRATIONS`, each step in one transaction), so counters that must never
repeat survive an upgrade of hanbench. Every write runs in a transaction (nested writes use
savepoints), so a failure never leaves half a device or half a routed alert behind. The
file may be shared with the bench's session record, whose tables have other names.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hanbench.dcc.database import connect
from hanbench.dcc.errors import InventoryError, PpmidVariantMismatch, UnknownDevice, UnknownUser
from hanbench.dcc.records import (
    MAX_FIRMWARE_VERSION,
    AlertOrigin,
    AlertRecord,
    Device,
    InboxMessage,
    LoggedRequest,
    PendingImage,
    TargetDecision,
    UpdateState,
    User,
)
from hanbench.gbcs.device_types import PPMID_FAMILY, DeviceType, PpmidVariant
from hanbench.gbcs.entity import EntityId
from hanbench.gbcs.roles import DeviceStatus, RefusalRule, Role

SCHEMA_VERSION = 4
_VARIANT_RULE = "ppmid_variant_fits_type"
"""The name of the devices table's CHECK that a PPMID variant fits the device type (``schema.sql``)."""


def _schema() -> str:
    return resources.files("hanbench.dcc").joinpath("schema.sql").read_text("utf-8")


def _schema_section(name: str) -> str:
    """The statements ``schema.sql`` keeps between ``-- begin: NAME`` and ``-- end: NAME``, so that a
    migration adds them exactly as a new database gets them."""
    text = _schema()
    start, end = text.index(f"-- begin: {name}\n"), text.index(f"-- end: {name}\n")
    return text[start:end]


MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE invocation_counters (
            entity_id    TEXT PRIMARY KEY,
            last_counter INTEGER NOT NULL CHECK (last_counter BETWEEN 1 AND 4294967295)
        );
        PRAGMA user_version = 2;
    """,
    2: """
        UPDATE devices SET ppmid_variant = 'PPMID' WHERE type = 'ppmid';
        UPDATE devices SET ppmid_variant = upper(ppmid_variant) WHERE type = 'alt_han';
        PRAGMA user_version = 3;
    """,
    3: """
        DROP INDEX devices_by_import_supplier;
        DROP INDEX devices_by_gas_supplier;
        ALTER TABLE devices RENAME TO devices_v3;
    """ + _schema_section("devices") + """
        INSERT INTO devices SELECT * FROM devices_v3;
        DROP TABLE devices_v3;
        PRAGMA user_version = 4;
    """,
}
"""How a database of each older schema version becomes the next one: the changes ``schema.sql``
made at that version (version 2: the invocation counters; version 3: every PPMID labelled with
its PPMID variant, the one-off uplift SECAS proposed for MP170 (seed 002); version 4: the
devices table rebuilt with the variant rule as its CHECK constraint ``ppmid_variant_fits_type``,
in place of the two triggers version 3 kept it with, which go with the old table). SQLite
cannot add a constraint to a table, so version 4 copies the devices into a new one; a row that
breaks the rule makes the step fail and leaves the database at version 3."""

MAX_INVOCATION_COUNTER = 0xFFFFFFFF

Id = EntityId | str


def _eid(value: Id) -> str:
    return EntityId.parse(value).duis


def _opt_eid(value: Id | None) -> str | None:
    return None if value is None else _eid(value)


def _parse_opt_eid(text: str | None) -> EntityId | None:
    return None if text is None else EntityId.parse(text)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InventoryError(f"date-time {moment} has no time zone; the bench keeps aware date-times")
    return moment.isoformat()


def _variant_for(device_type: DeviceType, given: PpmidVariant | str | None) -> PpmidVariant | None:
    """The PPMID variant a new device of ``device_type`` is recorded with: ``given``, or for a
    PPMID given none, PPMID. Whether it fits the type is the database's to say (see
    :meth:`Inventory.add_device`)."""
    if given is None:
        return PpmidVariant.PPMID if device_type is DeviceType.PPMID else None
    return PpmidVariant.parse(given) if isinstance(given, str) else given


@contextmanager
def _variant_refusal(device: str, device_type: DeviceType, variant: PpmidVariant | None) -> Iterator[None]:
    """Name the device and the variant the database's variant rule refused."""
    try:
        yield
    except PpmidVariantMismatch:
        has = "no PPMID variant" if variant is None else f"PPMID variant {variant}"
        raise PpmidVariantMismatch(
            f"{device} cannot be a {device_type.value} with {has}: a PPMID's variant is PPMID, an Alt HAN "
            f"bridge's its type (B1 to B4), and no other device has one ({_VARIANT_RULE})") from None


def _check_version(version: int | None) -> int | None:
    if version is not None and not (isinstance(version, int) and 0 <= version <= MAX_FIRMWARE_VERSION):
        raise InventoryError(f"firmware version {version!r} is not an unsigned 32-bit number")
    return version


class Inventory:
    """The inventory database at ``path`` (``":memory:"`` for a throwaway one)."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = connect(self.path)
            self._db.row_factory = sqlite3.Row
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            ours = self._db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'devices'"
                                    ).fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InventoryError(f"cannot open inventory database {self.path}: {exc}") from None
        self._depth = 0
        if version == 0 and not ours:
            self._db.executescript(_schema())
            return
        while version in MIGRATIONS:
            self._migrate(version)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            self._db.close()
            raise InventoryError(
                f"{self.path} has inventory schema version {version}; this hanbench reads version {SCHEMA_VERSION}"
            )

    def _migrate(self, version: int) -> None:
        """Bring the database from ``version`` to the next, all or nothing."""
        try:
            self._db.executescript(f"BEGIN; {MIGRATIONS[version]} COMMIT;")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._db.close()
            raise InventoryError(f"cannot bring inventory {self.path} from schema version {version} to "
                                 f"{version + 1}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Inventory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen, or none do; nests (inner blocks are savepoints)."""
        name = f"sp{self._depth}"
        self._db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self._depth -= 1
            self._db.execute(f"RELEASE {name}")

    def _write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            if _VARIANT_RULE in str(exc):
                raise PpmidVariantMismatch(f"inventory refused the change: {exc}") from None
            raise InventoryError(f"inventory refused the change: {exc}") from None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, params).fetchall()

    # ---- users and appointments ------------------------------------------------------------

    def add_user(self, entity_id: Id, name: str, roles: Iterable[Role | str]) -> User:
        """Register a DCC User with its User Roles."""
        uid = _eid(entity_id)
        parsed = frozenset(Role.parse(r) if isinstance(r, str) else r for r in roles)
        if not parsed:
            raise InventoryError(f"user {uid} needs at least one role")
        if self.find_user(uid) is not None:
            raise InventoryError(f"user {uid} is already registered")
        with self.transaction():
            self._write("INSERT INTO users (entity_id, name) VALUES (?, ?)", (uid, name))
            for role in sorted(parsed):
                self._write("INSERT INTO user_roles (user_id, role) VALUES (?, ?)", (uid, role.value))
        return self.user(uid)

    def set_roles(self, entity_id: Id, roles: Iterable[Role]) -> User:
        """Replace a user's User Roles (its requests and alerts so far stay as they were)."""
        uid = _eid(self.user(entity_id).entity_id)
        parsed = frozenset(roles)
        if not parsed:
            raise InventoryError(f"user {uid} needs at least one role")
        with self.transaction():
            self._write("DELETE FROM user_roles WHERE user_id = ?", (uid,))
            for role in sorted(parsed):
                self._write("INSERT INTO user_roles (user_id, role) VALUES (?, ?)", (uid, role.value))
        return self.user(uid)

    def find_user(self, entity_id: Id) -> User | None:
        uid = _eid(entity_id)
        row = self._db.execute("SELECT name FROM users WHERE entity_id = ?", (uid,)).fetchone()
        if row is None:
            return None
        roles = frozenset(Role(r["role"]) for r in self._rows("SELECT role FROM user_roles WHERE user_id = ?", (uid,)))
        return User(EntityId.parse(uid), row["name"], roles)

    def user(self, entity_id: Id) -> User:
        """The user, or :class:`UnknownUser`."""
        found = self.find_user(entity_id)
        if found is None:
            raise UnknownUser(f"{_eid(entity_id)} is not a user of this bench")
        return found

    def users(self) -> list[User]:
        return [self.user(r["entity_id"]) for r in self._rows("SELECT entity_id FROM users ORDER BY entity_id")]

    def appoint(self, supplier: Id, rsa: Id) -> None:
        """Record that ``supplier`` appointed ``rsa`` as its Registered Supplier Agent."""
        s, r = self.user(supplier), self.user(rsa)
        if not any(role.is_supplier for role in s.roles):
            raise InventoryError(f"{s.entity_id} ({s.name}) is not an Energy Supplier and cannot appoint an RSA")
        if Role.RSA not in r.roles:
            raise InventoryError(f"{r.entity_id} ({r.name}) does not hold the RSA role")
        if self.is_appointed(rsa, by=supplier):
            raise InventoryError(f"{r.entity_id} is already appointed by {s.entity_id}")
        with self.transaction():
            self._write("INSERT INTO appointments (supplier_id, rsa_id) VALUES (?, ?)",
                        (s.entity_id.duis, r.entity_id.duis))

    def is_appointed(self, rsa: Id, *, by: Id | None) -> bool:
        """Whether ``rsa`` is appointed by supplier ``by`` (False when ``by`` is None)."""
        if by is None:
            return False
        row = self._db.execute("SELECT 1 FROM appointments WHERE supplier_id = ? AND rsa_id = ?",
                               (_eid(by), _eid(rsa))).fetchone()
        return row is not None

    def appointing_suppliers(self, rsa: Id) -> list[EntityId]:
        """The suppliers that appointed ``rsa``."""
        rows = self._rows("SELECT supplier_id FROM appointments WHERE rsa_id = ? ORDER BY supplier_id", (_eid(rsa),))
        return [EntityId.parse(r["supplier_id"]) for r in rows]

    # ---- devices ---------------------------------------------------------------------------

    def add_device(
        self,
        entity_id: Id,
        type: DeviceType | str,
        *,
        ch: Id | None = None,
        status: DeviceStatus | str = DeviceStatus.COMMISSIONED,
        import_supplier: Id | None = None,
        export_supplier: Id | None = None,
        gas_supplier: Id | None = None,
        firmware_version: int | None = None,
        ppmid_variant: PpmidVariant | str | None = None,
    ) -> Device:
        """Add a device to the inventory; every supplier named must hold that supplier role.

        A PPMID's variant is PPMID unless given; an Alt HAN bridge (a PPMID variant, MP170) must
        name its type, B1 to B4; no other type has one. That rule is the database's (the CHECK
        ``ppmid_variant_fits_type`` in ``schema.sql``), not restated here: the inventory is the
        record, so the rule must hold for a write straight into the file too, and a second copy
        in Python could only drift from it. Its refusal comes back as
        :class:`PpmidVariantMismatch`.
        """
        did = _eid(entity_id)
        dtype = DeviceType.parse(type) if isinstance(type, str) else type
        dstatus = DeviceStatus.parse(status) if isinstance(status, str) else status
        if self.find_device(did) is not None:
            raise InventoryError(f"device {did} is already in the inventory")
        if ch is not None:
            hub = self.device(ch)
            if hub.type is not DeviceType.CH:
                raise InventoryError(f"{hub.entity_id} is a {hub.type.value}, not a Comms Hub, so {did} cannot hang off it")
        variant = _variant_for(dtype, ppmid_variant)
        suppliers = {Role.IMPORT_SUPPLIER: import_supplier, Role.EXPORT_SUPPLIER: export_supplier,
                     Role.GAS_SUPPLIER: gas_supplier}
        for role, supplier in suppliers.items():
            if supplier is not None:
                self._require_role(supplier, role)
        with self.transaction(), _variant_refusal(did, dtype, variant):
            self._write(
                """INSERT INTO devices (entity_id, type, ch_id, status, import_supplier, export_supplier,
                   gas_supplier, firmware_version, ppmid_variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (did, dtype.value, _opt_eid(ch), dstatus.value, _opt_eid(import_supplier),
                 _opt_eid(export_supplier), _opt_eid(gas_supplier), _check_version(firmware_version),
                 None if variant is None else variant.value),
            )
        return self.device(did)

    def _require_role(self, entity_id: Id, role: Role) -> User:
        user = self.user(entity_id)
        if role not in user.roles:
            raise InventoryError(f"{user.entity_id} ({user.name}) does not hold the {role.value} role")
        return user

    def change_supplier(self, device: Id, new_supplier: Id) -> Device:
        """Change of supplier: the device's responsible supplier becomes ``new_supplier``.

        RSAs are appointed by suppliers, not per device, so the old supplier's RSA loses the
        device with it.
        """
        dev = self.device(device)
        role = dev.responsible_role
        self._require_role(new_supplier, role)
        column = {Role.IMPORT_SUPPLIER: "import_supplier", Role.GAS_SUPPLIER: "gas_supplier"}[role]
        with self.transaction():
            self._write(f"UPDATE devices SET {column} = ? WHERE entity_id = ?", (_eid(new_supplier), dev.entity_id.duis))
        return self.device(device)

    def set_ppmid_variant(self, device: Id, variant: PpmidVariant | str) -> Device:
        """Correct a device's PPMID variant after commissioning (MP170, as MP125 did for the ESME
        variant): a PPMID found to be an Alt HAN bridge, or a bridge of another type. The device
        type follows the variant (PPMID, or Alt HAN for B1 to B4); only the PPMID family has one."""
        dev = self.device(device)
        wanted = PpmidVariant.parse(variant) if isinstance(variant, str) else variant
        if dev.type not in PPMID_FAMILY:
            raise InventoryError(f"{dev.entity_id} is a {dev.type.value}: only a PPMID or an Alt HAN bridge has a "
                                 "PPMID variant")
        self._update_device(device, "type = ?, ppmid_variant = ?", (wanted.device_type.value, wanted.value))
        return self.device(device)

    def delete_device(self, device: Id) -> None:
        """Take ``device`` off the inventory (DUIS SR 8.4 Update Inventory, DeleteDevice). The
        alerts and the SR log that name it stay: they are history, not the inventory."""
        did = self.device(device).entity_id.duis
        if self._db.execute("SELECT 1 FROM devices WHERE ch_id = ?", (did,)).fetchone() is not None:
            raise InventoryError(f"{did} has devices hanging off it; delete those first")
        with self.transaction():
            self._write("DELETE FROM devices WHERE entity_id = ?", (did,))

    def set_status(self, device: Id, status: DeviceStatus | str) -> Device:
        dstatus = DeviceStatus.parse(status) if isinstance(status, str) else status
        self._update_device(device, "status = ?", (dstatus.value,))
        return self.device(device)

    def reset_device(self, device: Id, *, status: DeviceStatus | str, firmware_version: int,
                     detail: str = "") -> Device:
        """Put ``device`` back to a fresh start: ``status``, running ``firmware_version``, no
        pending image, no update in progress (``detail`` says why) and no missing 11.3 response.

        For a bench opening a new session: the premises starts afresh from its bench file,
        while the inventory keeps what outlives a session (the SR log, alerts, inboxes and
        originator counters), so the device record is reset rather than re-created.
        """
        dstatus = DeviceStatus.parse(status) if isinstance(status, str) else status
        self._update_device(
            device,
            "status = ?, firmware_version = ?, activation_response_missing = 0, update_state = ?, "
            "update_detail = ?, pending_hash = NULL, pending_file_version = NULL, pending_since = NULL, "
            "pending_by = NULL",
            (dstatus.value, _check_version(firmware_version), UpdateState.NONE.value, detail),
        )
        return self.device(device)

    def find_device(self, entity_id: Id) -> Device | None:
        row = self._db.execute("SELECT * FROM devices WHERE entity_id = ?", (_eid(entity_id),)).fetchone()
        return None if row is None else _device(row)

    def device(self, entity_id: Id) -> Device:
        """The device, or :class:`UnknownDevice`."""
        found = self.find_device(entity_id)
        if found is None:
            raise UnknownDevice(f"{_eid(entity_id)} is not in the inventory")
        return found

    def devices(self) -> list[Device]:
        return [_device(r) for r in self._rows("SELECT * FROM devices ORDER BY entity_id")]

    def _update_device(self, device: Id, assignments: str, params: Sequence[Any]) -> None:
        did = self.device(device).entity_id.duis
        with self.transaction():
            self._write(f"UPDATE devices SET {assignments} WHERE entity_id = ?", (*params, did))

    # ---- firmware update tracking (written by the DCC) -------------------------------------

    def record_distribution(self, device: Id, pending: PendingImage) -> None:
        """The CH stored ``pending`` for ``device``: it is the device's pending image now."""
        self._update_device(
            device,
            "pending_hash = ?, pending_file_version = ?, pending_since = ?, pending_by = ?, "
            "update_state = ?, update_detail = ''",
            (pending.hash, _check_version(pending.file_version), _iso(pending.since),
             pending.distributed_by.duis, UpdateState.DISTRIBUTED.value),
        )

    def set_update_state(self, device: Id, state: UpdateState, detail: str = "") -> None:
        self._update_device(device, "update_state = ?, update_detail = ?", (state.value, detail))

    def record_activation(self, device: Id, firmware_version: int, detail: str = "") -> None:
        """The device runs ``firmware_version`` after an activation: no pending image, no flag."""
        self._update_device(
            device,
            "firmware_version = ?, activation_response_missing = 0, update_state = ?, update_detail = ?, "
            "pending_hash = NULL, pending_file_version = NULL, pending_since = NULL, pending_by = NULL",
            (_check_version(firmware_version), UpdateState.ACTIVATED.value, detail),
        )

    def record_firmware_version(self, device: Id, firmware_version: int) -> None:
        """A version read (SR 11.2): clears the missing-response flag; if the pending image's
        version is now running, the activation evidently happened."""
        dev = self.device(device)
        with self.transaction():
            if dev.pending is not None and dev.pending.file_version == firmware_version:
                self.record_activation(device, firmware_version, "running version read with SR 11.2")
            else:
                self._update_device(device, "firmware_version = ?, activation_response_missing = 0",
                                    (_check_version(firmware_version),))

    def set_activation_response_missing(self, device: Id, missing: bool) -> None:
        self._update_device(device, "activation_response_missing = ?", (int(missing),))

    # ---- SR log ----------------------------------------------------------------------------

    def log_request(self, at: datetime, user: Id, request: str, detail: str,
                    decisions: Sequence[TargetDecision]) -> int:
        """Record one Service Request and its per-device decisions; returns the request ID."""
        with self.transaction():
            cur = self._write("INSERT INTO service_requests (at, user_id, request, detail) VALUES (?, ?, ?, ?)",
                              (_iso(at), _eid(user), request, detail))
            request_id = int(cur.lastrowid or 0)
            for d in decisions:
                self._write(
                    "INSERT INTO service_request_targets (request_id, device_id, accepted, rule, message, outcome) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (request_id, d.device.duis, int(d.accepted), None if d.rule is None else d.rule.value,
                     d.message, d.outcome),
                )
        return request_id

    def set_outcome(self, request_id: int, device: Id, outcome: str) -> None:
        with self.transaction():
            cur = self._write("UPDATE service_request_targets SET outcome = ? WHERE request_id = ? AND device_id = ?",
                              (outcome, request_id, _eid(device)))
            if cur.rowcount != 1:
                raise InventoryError(f"request {request_id} has no target {_eid(device)}")

    def requests(self) -> list[LoggedRequest]:
        """The whole SR log, oldest first."""
        logged = []
        for r in self._rows("SELECT * FROM service_requests ORDER BY id"):
            targets = tuple(
                TargetDecision(EntityId.parse(t["device_id"]), bool(t["accepted"]),
                               None if t["rule"] is None else RefusalRule(t["rule"]), t["message"], t["outcome"])
                for t in self._rows("SELECT * FROM service_request_targets WHERE request_id = ? ORDER BY rowid",
                                    (r["id"],))
            )
            logged.append(LoggedRequest(r["id"], datetime.fromisoformat(r["at"]), EntityId.parse(r["user_id"]),
                                        r["request"], r["detail"], targets))
        return logged

    # ---- CS06 originator counters ----------------------------------------------------------

    def next_originator_counter(self, supplier: Id) -> int:
        """A counter larger than any ``supplier`` used before (GBCS devices refuse replays)."""
        sid = self.user(supplier).entity_id.duis
        with self.transaction():
            self._write(
                "INSERT INTO originator_counters (supplier_id, last_counter) VALUES (?, 1) "
                "ON CONFLICT(supplier_id) DO UPDATE SET last_counter = last_counter + 1",
                (sid,),
            )
            row = self._db.execute("SELECT last_counter FROM originator_counters WHERE supplier_id = ?",
                                   (sid,)).fetchone()
        return int(row["last_counter"])

    # ---- invocation counters ---------------------------------------------------------------

    def next_invocation_counter(self, originator: Id) -> int:
        """An invocation counter ``originator`` (the Access Control Broker) has never used: one
        above the last, kept in the database so it never repeats, across runs too. GBCS forbids
        reusing one under a key, so running out (after 2^32 - 1) is an :class:`InventoryError`."""
        eid = _eid(originator)
        with self.transaction():
            row = self._db.execute("SELECT last_counter FROM invocation_counters WHERE entity_id = ?",
                                   (eid,)).fetchone()
            counter = 1 if row is None else int(row["last_counter"]) + 1
            if counter > MAX_INVOCATION_COUNTER:
                raise InventoryError(f"{eid} has used every invocation counter up to {MAX_INVOCATION_COUNTER}; "
                                     "GBCS forbids reusing one, so its key pair must be replaced")
            self._write("INSERT INTO invocation_counters (entity_id, last_counter) VALUES (?, ?) "
                        "ON CONFLICT(entity_id) DO UPDATE SET last_counter = excluded.last_counter", (eid, counter))
        return counter

    # ---- alerts and inboxes ----------------------------------------------------------------

    def add_alert(
        self,
        *,
        received_at: datetime,
        origin: AlertOrigin,
        code: str,
        device: Id | None,
        sender: Id | None,
        hash: bytes | None = None,
        firmware_version: int | None = None,
        detail: str = "",
        raw: bytes | None = None,
    ) -> AlertRecord:
        with self.transaction():
            cur = self._write(
                "INSERT INTO alerts (received_at, origin, code, device_id, sender_id, hash, firmware_version, "
                "detail, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_iso(received_at), origin.value, code, _opt_eid(device), _opt_eid(sender), hash,
                 _check_version(firmware_version), detail, raw),
            )
        return self.alert(int(cur.lastrowid or 0))

    def alert(self, alert_id: int) -> AlertRecord:
        row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise InventoryError(f"no alert {alert_id}")
        return _alert(row)

    def alerts(self, device: Id | None = None) -> list[AlertRecord]:
        """Every alert recorded (about ``device`` if given), oldest first."""
        if device is None:
            return [_alert(r) for r in self._rows("SELECT * FROM alerts ORDER BY id")]
        return [_alert(r) for r in self._rows("SELECT * FROM alerts WHERE device_id = ? ORDER BY id", (_eid(device),))]

    def last_alert(self, device: Id) -> AlertRecord | None:
        row = self._db.execute("SELECT * FROM alerts WHERE device_id = ? ORDER BY id DESC LIMIT 1",
                               (_eid(device),)).fetchone()
        return None if row is None else _alert(row)

    def deliver(self, user: Id, alert_id: int) -> InboxMessage:
        """Put an alert in a user's inbox under that user's next sequence number."""
        uid = self.user(user).entity_id.duis
        with self.transaction():
            row = self._db.execute("SELECT coalesce(max(seq), 0) + 1 AS seq FROM inbox WHERE user_id = ?",
                                   (uid,)).fetchone()
            self._write("INSERT INTO inbox (user_id, seq, alert_id) VALUES (?, ?, ?)", (uid, row["seq"], alert_id))
        return InboxMessage(EntityId.parse(uid), int(row["seq"]), self.alert(alert_id))

    def inbox(self, user: Id, *, after: int = 0) -> list[InboxMessage]:
        """A user's inbox messages with sequence number above ``after``, in order."""
        uid = self.user(user).entity_id
        rows = self._rows(
            "SELECT inbox.seq, alerts.* FROM inbox JOIN alerts ON alerts.id = inbox.alert_id "
            "WHERE inbox.user_id = ? AND inbox.seq > ? ORDER BY inbox.seq",
            (uid.duis, after),
        )
        return [InboxMessage(uid, int(r["seq"]), _alert(r)) for r in rows]


def _device(row: sqlite3.Row) -> Device:
    pending = None
    if row["pending_hash"] is not None:
        pending = PendingImage(bytes(row["pending_hash"]), int(row["pending_file_version"]),
                               datetime.fromisoformat(row["pending_since"]), EntityId.parse(row["pending_by"]))
    return Device(
        entity_id=EntityId.parse(row["entity_id"]),
        type=DeviceType(row["type"]),
        ch=_parse_opt_eid(row["ch_id"]),
        status=DeviceStatus(row["status"]),
        import_supplier=_parse_opt_eid(row["import_supplier"]),
        export_supplier=_parse_opt_eid(row["export_supplier"]),
        gas_supplier=_parse_opt_eid(row["gas_supplier"]),
        firmware_version=row["firmware_version"],
        ppmid_variant=None if row["ppmid_variant"] is None else PpmidVariant(row["ppmid_variant"]),
        activation_response_missing=bool(row["activation_response_missing"]),
        update_state=UpdateState(row["update_state"]),
        update_detail=row["update_detail"],
        pending=pending,
    )


def _alert(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        id=int(row["id"]),
        received_at=datetime.fromisoformat(row["received_at"]),
        origin=AlertOrigin(row["origin"]),
        code=row["code"],
        device=_parse_opt_eid(row["device_id"]),
        sender=_parse_opt_eid(row["sender_id"]),
        hash=None if row["hash"] is None else bytes(row["hash"]),
        firmware_version=row["firmware_version"],
        detail=row["detail"],
        raw=None if row["raw"] is None else bytes(row["raw"]),
    )
