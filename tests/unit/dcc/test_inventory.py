"""The SQLite inventory: seeding rules, change of supplier, schema versioning and migration,
transactions, originator and invocation counters, and inbox numbering."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from dcc_support import CH, ESME, GSME, PPMID, RSA_1, RSA_2, START, SUPPLIER_A, SUPPLIER_B, V1, V2

from hanbench.dcc.errors import InventoryError, PpmidVariantMismatch, UnknownDevice, UnknownUser
from hanbench.dcc.inventory import SCHEMA_VERSION, Inventory
from hanbench.dcc.records import AlertOrigin, PendingImage, UpdateState
from hanbench.gbcs.device_types import PPMID_FAMILY, DeviceType, PpmidVariant
from hanbench.gbcs.entity import DCC_ENTITY, EntityId
from hanbench.gbcs.errors import GbcsError
from hanbench.gbcs.roles import DeviceStatus, Role


def test_seeded_records_read_back(inventory):
    user = inventory.user(SUPPLIER_A)
    assert user.roles == {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER} and user.name == "Supplier A"
    gsme = inventory.device(GSME)
    assert (gsme.type.value, gsme.ch, gsme.status, gsme.responsible_supplier, gsme.firmware_version) == \
        ("gsme", CH, DeviceStatus.COMMISSIONED, SUPPLIER_A, V1)
    assert inventory.is_appointed(RSA_1, by=SUPPLIER_A) and not inventory.is_appointed(RSA_1, by=SUPPLIER_B)
    assert not inventory.is_appointed(RSA_1, by=None)
    assert inventory.appointing_suppliers(RSA_2) == [SUPPLIER_B]


@pytest.mark.parametrize(("call", "message"), [
    (lambda inv: inv.add_user(SUPPLIER_A, "again", ["rsa"]), "already registered"),
    (lambda inv: inv.add_user("90-B3-D5-1F-30-07-00-00", "nobody", []), "at least one role"),
    (lambda inv: inv.appoint(RSA_1, RSA_2), "not an Energy Supplier"),
    (lambda inv: inv.appoint(SUPPLIER_A, SUPPLIER_B), "does not hold the RSA role"),
    (lambda inv: inv.appoint(SUPPLIER_A, RSA_1), "already appointed"),
    (lambda inv: inv.add_device(ESME, "esme"), "already in the inventory"),
    (lambda inv: inv.add_device("00-00-00-00-00-00-00-09", "esme", ch=ESME), "not a Comms Hub"),
    (lambda inv: inv.add_device("00-00-00-00-00-00-00-09", "esme", import_supplier=RSA_1),
     "does not hold the import_supplier role"),
    (lambda inv: inv.add_device("00-00-00-00-00-00-00-09", "esme", ppmid_variant="B1"),
     "cannot be a esme with PPMID variant B1"),
    (lambda inv: inv.add_device("00-00-00-00-00-00-00-09", "esme", firmware_version=1 << 32), "32-bit"),
    (lambda inv: inv.change_supplier(ESME, RSA_2), "does not hold the import_supplier role"),
    (lambda inv: inv.record_distribution(ESME, PendingImage(bytes(32), V2, datetime(2030, 1, 1), SUPPLIER_A)),
     "no time zone"),
    (lambda inv: inv.set_outcome(999, ESME, "x"), "no target"),
])
def test_seeding_mistakes_are_refused_with_a_plain_message(inventory, call, message):
    with pytest.raises(InventoryError, match=message):
        call(inventory)


def test_unknown_ids_and_bad_values(inventory):
    with pytest.raises(UnknownUser):
        inventory.user("90-B3-D5-1F-30-09-09-09")
    with pytest.raises(UnknownDevice):
        inventory.device("00-00-00-00-00-00-00-09")
    with pytest.raises(GbcsError):
        inventory.add_device("00-00-00-00-00-00-00-09", "toaster")
    with pytest.raises(GbcsError):
        inventory.set_status(ESME, "lost")
    with pytest.raises(GbcsError):
        inventory.add_user("90-B3-D5-1F-30-07-00-00", "x", ["king"])


def test_change_of_supplier_moves_the_responsible_capacity(inventory):
    assert inventory.change_supplier(GSME, SUPPLIER_B).gas_supplier == SUPPLIER_B
    assert inventory.change_supplier(ESME, SUPPLIER_B).import_supplier == SUPPLIER_B
    assert inventory.device(PPMID).import_supplier == SUPPLIER_A


def test_pending_image_activation_and_the_flag(inventory):
    inventory.record_distribution(ESME, PendingImage(bytes(32), V2, START, RSA_1))
    inventory.set_activation_response_missing(ESME, True)
    inventory.record_firmware_version(ESME, V1)  # an 11.2 read: the flag clears, the image is still pending
    device = inventory.device(ESME)
    assert not device.activation_response_missing and device.pending is not None
    inventory.record_firmware_version(ESME, V2)  # now running the pending version: activated
    device = inventory.device(ESME)
    assert (device.pending, device.update_state, device.firmware_version) == (None, UpdateState.ACTIVATED, V2)


def test_a_failed_transaction_leaves_nothing_behind(inventory):
    with pytest.raises(RuntimeError):
        with inventory.transaction():
            inventory.add_user("90-B3-D5-1F-30-07-00-00", "half", ["rsa"])
            inventory.set_status(ESME, "suspended")
            raise RuntimeError("power cut")
    assert inventory.find_user("90-B3-D5-1F-30-07-00-00") is None
    assert inventory.device(ESME).status is DeviceStatus.COMMISSIONED


def test_inner_failure_rolls_back_only_the_inner_block(inventory):
    with inventory.transaction():
        inventory.set_status(ESME, "suspended")
        with pytest.raises(InventoryError):
            inventory.add_user(SUPPLIER_A, "duplicate", ["rsa"])
    assert inventory.device(ESME).status is DeviceStatus.SUSPENDED


def test_database_file_keeps_everything_and_checks_its_schema_version(tmp_path):
    path = tmp_path / "bench.db"
    with Inventory(path) as inv:
        inv.add_user(SUPPLIER_A, "Supplier A", ["import_supplier"])
        first = inv.next_originator_counter(SUPPLIER_A)
    with Inventory(path) as inv:
        assert inv.user(SUPPLIER_A).name == "Supplier A"
        assert inv.next_originator_counter(SUPPLIER_A) == first + 1
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(InventoryError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Inventory(path)


def test_invocation_counters_survive_reopening_and_never_repeat(tmp_path):
    path = tmp_path / "bench.db"
    used: list[int] = []
    for _run in range(3):
        with Inventory(path) as inv:
            used += [inv.next_invocation_counter(DCC_ENTITY) for _ in range(4)]
    assert used == list(range(1, 13)), "one above the last, across runs"
    with Inventory(path) as inv:
        assert inv.next_invocation_counter(CH) == 1, "each originator has its own"
        assert inv.next_invocation_counter(DCC_ENTITY) == 13


def test_an_exhausted_invocation_counter_is_refused_not_reused(tmp_path):
    path = tmp_path / "bench.db"
    Inventory(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO invocation_counters VALUES (?, 4294967295)", (DCC_ENTITY.duis,))
    db.commit()
    db.close()
    with Inventory(path) as inv, pytest.raises(InventoryError, match="used every invocation counter"):
        inv.next_invocation_counter(DCC_ENTITY)


_SCHEMA_V3 = Path(__file__).with_name("data") / "inventory_schema_v3.sql"
"""``schema.sql`` as hanbench shipped it at schema version 3, to make older databases from."""


def _old_database(path, version: int) -> sqlite3.Connection:
    """A database as hanbench wrote it at schema ``version`` (1 to 3), with Supplier A, one
    originator counter used and a PPMID; open, for the test to put in what that version held."""
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA_V3.read_text("utf-8"))
    db.execute("INSERT INTO users VALUES (?, 'Supplier A')", (SUPPLIER_A.duis,))
    db.execute("INSERT INTO user_roles VALUES (?, 'import_supplier')", (SUPPLIER_A.duis,))
    db.execute("INSERT INTO originator_counters VALUES (?, 1)", (SUPPLIER_A.duis,))
    db.execute("INSERT INTO devices (entity_id, type, status, import_supplier, ppmid_variant) "
               "VALUES (?, 'ppmid', 'commissioned', ?, 'PPMID')", (PPMID.duis, SUPPLIER_A.duis))
    if version < 3:
        db.executescript("DROP TRIGGER devices_ppmid_variant_on_insert; DROP TRIGGER devices_ppmid_variant_on_update;")
    if version < 2:
        db.execute("DROP TABLE invocation_counters")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    return db


def _version_1_database(path):
    """A database as hanbench wrote it before the invocation counters (schema version 1)."""
    _old_database(path, 1).close()


def test_a_version_1_database_is_brought_up_to_date_with_its_records(tmp_path):
    path = tmp_path / "old.db"
    _version_1_database(path)
    with Inventory(path) as inv:
        assert inv.user(SUPPLIER_A).name == "Supplier A"
        assert inv.next_originator_counter(SUPPLIER_A) == 2, "the originator counters carry on"
        assert inv.next_invocation_counter(DCC_ENTITY) == 1
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    db.close()


def test_a_migration_that_fails_changes_nothing_and_says_why(tmp_path):
    path = tmp_path / "odd.db"
    _version_1_database(path)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invocation_counters (x)")  # in the way of the migration
    db.commit()
    db.close()
    with pytest.raises(InventoryError, match="from schema version 1 to 2: table invocation_counters already exists"):
        Inventory(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()


def test_shares_a_file_with_other_tables(tmp_path):
    """The session record keeps its own tables in the same file: the inventory leaves them be."""
    path = tmp_path / "session.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE session_runs (id INTEGER PRIMARY KEY, note TEXT)")
    db.execute("INSERT INTO session_runs (note) VALUES ('kept')")
    db.commit()
    db.close()
    with Inventory(path) as inv:
        inv.add_user(SUPPLIER_A, "A", ["gas_supplier"])
    with Inventory(path) as inv:
        assert inv.user(SUPPLIER_A).name == "A"
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT note FROM session_runs").fetchall() == [("kept",)]
    finally:
        db.close()


def test_not_a_database_is_bad_input(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite at all, just some words that are long enough to fill a header page")
    with pytest.raises(InventoryError, match="cannot open inventory database"):
        Inventory(path)


def test_inbox_numbers_are_per_user_and_an_alert_lands_once(inventory):
    alert = inventory.add_alert(received_at=START, origin=AlertOrigin.DEVICE, code="0x8F72", device=ESME,
                                sender=ESME)
    other = inventory.add_alert(received_at=START, origin=AlertOrigin.DCC, code="N60", device=ESME, sender=None)
    assert inventory.deliver(SUPPLIER_A, alert.id).seq == 1
    assert inventory.deliver(SUPPLIER_A, other.id).seq == 2
    assert inventory.deliver(RSA_1, other.id).seq == 1
    with pytest.raises(InventoryError):
        inventory.deliver(SUPPLIER_A, alert.id)
    assert [m.alert.code for m in inventory.inbox(SUPPLIER_A, after=1)] == ["N60"]
    assert inventory.last_alert(ESME) == other


def test_reset_device_starts_it_afresh_and_keeps_the_history(inventory):
    inventory.record_distribution(ESME, PendingImage(bytes(32), V2, START, RSA_1))
    inventory.set_activation_response_missing(ESME, True)
    inventory.set_update_state(ESME, UpdateState.FAILED, "0x8F1C")
    inventory.set_status(ESME, "suspended")
    alert = inventory.add_alert(received_at=START, origin=AlertOrigin.DEVICE, code="0x8F1C", device=ESME, sender=ESME)
    counter = inventory.next_originator_counter(SUPPLIER_A)

    device = inventory.reset_device(ESME, status="commissioned", firmware_version=0x7, detail="new session")

    assert (device.status, device.firmware_version, device.pending) == (DeviceStatus.COMMISSIONED, 0x7, None)
    assert (device.update_state, device.update_detail) == (UpdateState.NONE, "new session")
    assert not device.activation_response_missing and not device.needs_action
    assert device.responsible_supplier == SUPPLIER_A
    assert inventory.last_alert(ESME) == alert
    assert inventory.next_originator_counter(SUPPLIER_A) == counter + 1
    with pytest.raises(InventoryError, match="32-bit"):
        inventory.reset_device(ESME, status="commissioned", firmware_version=-1)
    with pytest.raises(UnknownDevice):
        inventory.reset_device("00-00-00-00-00-00-00-09", status="commissioned", firmware_version=1)


BRIDGE = "00-DB-12-34-56-78-91-13"


def test_a_ppmids_variant_is_ppmid_and_a_bridge_must_name_its_type(inventory):
    assert inventory.device(PPMID).ppmid_variant is PpmidVariant.PPMID
    assert inventory.device(ESME).ppmid_variant is None
    bridge = inventory.add_device(BRIDGE, "alt_han", ch=CH, import_supplier=SUPPLIER_A, ppmid_variant="b3")
    assert (bridge.type, bridge.ppmid_variant) == (DeviceType.ALT_HAN, PpmidVariant.B3)
    with pytest.raises(PpmidVariantMismatch, match="cannot be a alt_han with no PPMID variant"):
        inventory.add_device("00-DB-12-34-56-78-91-14", "alt_han", import_supplier=SUPPLIER_A)
    with pytest.raises(PpmidVariantMismatch, match="cannot be a ppmid with PPMID variant B2"):
        inventory.add_device("00-DB-12-34-56-78-91-14", "ppmid", import_supplier=SUPPLIER_A, ppmid_variant="B2")
    assert inventory.find_device("00-DB-12-34-56-78-91-14") is None, "nothing half-written"


@pytest.mark.parametrize("device_type", list(DeviceType))
@pytest.mark.parametrize("variant", [None, *PpmidVariant])
def test_the_database_keeps_the_variant_rule_the_gbcs_layer_knows(device_type, variant):
    """The variant rule is the database's; the GBCS layer's :attr:`PpmidVariant.device_type` and
    :data:`PPMID_FAMILY`, which the bench reads without a database, must say the same: a
    variant fits the type it names, and a type outside the family has none."""
    fits = device_type not in PPMID_FAMILY if variant is None else variant.device_type is device_type
    with Inventory(":memory:") as inv:
        write = "INSERT INTO devices (entity_id, type, status, ppmid_variant) VALUES ('00-00-00-00-00-00-00-01', ?, " \
                "'pending', ?)"
        if fits:
            inv._write(write, (device_type.value, variant))
        else:
            with pytest.raises(PpmidVariantMismatch, match="ppmid_variant_fits_type"):
                inv._write(write, (device_type.value, variant))


def test_the_variant_is_corrected_after_commissioning_and_the_type_follows_it(inventory):
    """MP170: "the existing solution does not cater for changing the PPMIDVariant once the Device
    has been commissioned"; the working group asked for it, as MP125 did for the ESME variant."""
    corrected = inventory.set_ppmid_variant(PPMID, PpmidVariant.B2)
    assert (corrected.type, corrected.ppmid_variant) == (DeviceType.ALT_HAN, PpmidVariant.B2)
    back = inventory.set_ppmid_variant(PPMID, "PPMID")
    assert (back.type, back.ppmid_variant) == (DeviceType.PPMID, PpmidVariant.PPMID)
    with pytest.raises(InventoryError, match="only a PPMID or an Alt HAN bridge has a PPMID variant"):
        inventory.set_ppmid_variant(ESME, "B1")


def test_no_write_can_give_a_device_a_variant_that_does_not_fit_its_type(tmp_path):
    """Not even one straight into the file, past hanbench: the inventory is the record."""
    path = tmp_path / "bench.db"
    Inventory(path).close()
    db = sqlite3.connect(path)
    for row in (("esme", "B1"), ("ppmid", None), ("ppmid", "B1"), ("alt_han", None), ("alt_han", "B5")):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: ppmid_variant_fits_type"):
            db.execute("INSERT INTO devices (entity_id, type, status, ppmid_variant) VALUES "
                       "('00-00-00-00-00-00-00-01', ?, 'pending', ?)", row)
    db.execute("INSERT INTO devices (entity_id, type, status, ppmid_variant) VALUES "
               "('00-00-00-00-00-00-00-01', 'alt_han', 'pending', 'B4')")
    for change in ("type = 'ppmid'", "ppmid_variant = 'PPMID'", "type = 'esme'"):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: ppmid_variant_fits_type"):
            db.execute(f"UPDATE devices SET {change}")
    db.close()


def test_a_version_2_database_gets_its_ppmids_labelled(tmp_path):
    """The one-off data uplift SECAS proposed for MP170: existing PPMIDs are labelled PPMID."""
    path = tmp_path / "v2.db"
    db = _old_database(path, 2)
    db.execute("UPDATE devices SET ppmid_variant = NULL")
    db.commit()
    db.close()
    with Inventory(path) as inv:
        assert inv.device(PPMID).ppmid_variant is PpmidVariant.PPMID
        with pytest.raises(PpmidVariantMismatch, match="ppmid_variant_fits_type"):
            inv._write("UPDATE devices SET ppmid_variant = NULL")


def test_a_version_3_database_keeps_its_devices_and_the_rule_becomes_a_check(tmp_path):
    path = tmp_path / "v3.db"
    db = _old_database(path, 3)
    db.execute("INSERT INTO devices (entity_id, type, status) VALUES (?, 'ch', 'commissioned')", (CH.duis,))
    db.execute("INSERT INTO devices (entity_id, type, ch_id, status, ppmid_variant) "
               "VALUES ('00-DB-12-34-56-78-91-13', 'alt_han', ?, 'pending', 'B2')", (CH.duis,))
    db.commit()
    db.close()
    with Inventory(path) as inv:
        assert [(d.entity_id, d.type, d.ppmid_variant, d.ch) for d in inv.devices()] == [
            (CH, DeviceType.CH, None, None),
            (PPMID, DeviceType.PPMID, PpmidVariant.PPMID, None),
            (EntityId.parse("00-DB-12-34-56-78-91-13"), DeviceType.ALT_HAN, PpmidVariant.B2, CH)]
        with pytest.raises(InventoryError, match="FOREIGN KEY"):
            inv._write("UPDATE devices SET ch_id = '00-00-00-00-00-00-00-77'")
        with pytest.raises(PpmidVariantMismatch, match="ppmid_variant_fits_type"):
            inv._write("UPDATE devices SET ppmid_variant = 'B1' WHERE type = 'ppmid'")
    db = sqlite3.connect(path)
    objects = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'devices'")}
    db.close()
    assert objects == {"devices", "sqlite_autoindex_devices_1", "devices_by_import_supplier",
                       "devices_by_gas_supplier"}, "the old table and its triggers are gone"


def test_a_version_3_database_whose_devices_break_the_rule_stays_at_version_3(tmp_path):
    path = tmp_path / "v3.db"
    db = _old_database(path, 3)
    db.executescript("DROP TRIGGER devices_ppmid_variant_on_update; UPDATE devices SET ppmid_variant = 'B1';")
    db.close()
    with pytest.raises(InventoryError, match="from schema version 3 to 4: CHECK constraint failed"):
        Inventory(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("SELECT ppmid_variant FROM devices").fetchall() == [("B1",)]
    db.close()


def test_a_device_taken_off_the_inventory_leaves_its_history(inventory):
    inventory.add_alert(received_at=START, origin=AlertOrigin.DEVICE, code="0x8F8B", device=PPMID, sender=PPMID)
    inventory.delete_device(PPMID)
    assert inventory.find_device(PPMID) is None
    assert [a.code for a in inventory.alerts(PPMID)] == ["0x8F8B"]
    with pytest.raises(InventoryError, match="devices hanging off it"):
        inventory.delete_device(CH)
