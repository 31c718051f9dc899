-- Frozen: src/hanbench/dcc/schema.sql as hanbench shipped it at schema version 3, so that the
-- migration tests start from a database that version really made. Never edit it; a new schema
-- version leaves this file as it is.

-- The DCC's Smart Metering Inventory and its records, as the bench keeps them.
-- Entity IDs are stored in the DUIS form (90-B3-D5-1F-30-01-00-00); date-times as ISO 8601
-- with their UTC offset; hashes as 32 raw bytes; firmware versions as unsigned 32-bit integers.
-- Bump PRAGMA user_version (and SCHEMA_VERSION in inventory.py) on every change.

CREATE TABLE users (
    entity_id TEXT PRIMARY KEY,
    name      TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(entity_id),
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Which Energy Supplier appointed which Registered Supplier Agent.
CREATE TABLE appointments (
    supplier_id TEXT NOT NULL REFERENCES users(entity_id),
    rsa_id      TEXT NOT NULL REFERENCES users(entity_id),
    PRIMARY KEY (supplier_id, rsa_id)
);

CREATE TABLE devices (
    entity_id        TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    ch_id            TEXT REFERENCES devices(entity_id),
    status           TEXT NOT NULL,
    import_supplier  TEXT REFERENCES users(entity_id),
    export_supplier  TEXT REFERENCES users(entity_id),
    gas_supplier     TEXT REFERENCES users(entity_id),
    firmware_version INTEGER CHECK (firmware_version BETWEEN 0 AND 4294967295),
    ppmid_variant    TEXT,
    -- An 11.3 was sent and its response never came back (SECAS "SR11.2 to suspended devices").
    activation_response_missing INTEGER NOT NULL DEFAULT 0 CHECK (activation_response_missing IN (0, 1)),
    -- Where the latest firmware update stands, and why (for "failed updates needing action").
    update_state     TEXT NOT NULL DEFAULT 'none',
    update_detail    TEXT NOT NULL DEFAULT '',
    -- The image distributed and not yet activated: all four set, or none.
    pending_hash         BLOB CHECK (pending_hash IS NULL OR length(pending_hash) = 32),
    pending_file_version INTEGER,
    pending_since        TEXT,
    pending_by           TEXT REFERENCES users(entity_id),
    CHECK ((pending_hash IS NULL) = (pending_file_version IS NULL)
       AND (pending_hash IS NULL) = (pending_since IS NULL)
       AND (pending_hash IS NULL) = (pending_by IS NULL))
);

-- Every Service Request submitted, accepted or not.
CREATE TABLE service_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(entity_id),
    request    TEXT NOT NULL,          -- SRV number, e.g. 11.1
    detail     TEXT NOT NULL DEFAULT ''
);

-- One row per target device of a request: the decision, the rule that refused it, the outcome.
-- device_id is not a foreign key: requests naming unknown devices are logged too.
CREATE TABLE service_request_targets (
    request_id INTEGER NOT NULL REFERENCES service_requests(id),
    device_id  TEXT NOT NULL,
    accepted   INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    rule       TEXT,                   -- refusal rule, NULL when accepted
    message    TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, device_id),
    CHECK ((accepted = 1) = (rule IS NULL))
);

-- Alerts the DCC received from the CH (device and CH alerts) or raised itself (N60, N61).
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at      TEXT NOT NULL,
    origin           TEXT NOT NULL,    -- device | ch | dcc
    code             TEXT NOT NULL,    -- 0x8F72 ... or N60 / N61
    device_id        TEXT,             -- the device the alert is about
    sender_id        TEXT,             -- who sent it (the CH for CCS08, the DCC for N60/N61)
    hash             BLOB,
    firmware_version INTEGER,
    detail           TEXT NOT NULL DEFAULT '',
    raw              BLOB
);

-- Each user's inbox: per-user sequence numbers from 1, an alert at most once per user.
CREATE TABLE inbox (
    user_id  TEXT NOT NULL REFERENCES users(entity_id),
    seq      INTEGER NOT NULL CHECK (seq >= 1),
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    PRIMARY KEY (user_id, seq),
    UNIQUE (user_id, alert_id)
);

-- The last CS06 originator counter each supplier used (GBCS counters only ever increase).
CREATE TABLE originator_counters (
    supplier_id  TEXT PRIMARY KEY REFERENCES users(entity_id),
    last_counter INTEGER NOT NULL
);

-- The last invocation counter each MAC originator on the DCC's side used (the Access Control
-- Broker's, in every command's security header): GBCS forbids reusing one under a key.
CREATE TABLE invocation_counters (
    entity_id    TEXT PRIMARY KEY,
    last_counter INTEGER NOT NULL CHECK (last_counter BETWEEN 1 AND 4294967295)
);

CREATE INDEX devices_by_import_supplier ON devices(import_supplier);
CREATE INDEX devices_by_gas_supplier ON devices(gas_supplier);
CREATE INDEX alerts_by_device ON alerts(device_id);

-- begin: ppmid variant rules
-- A PPMID's PPMID variant is PPMID, an Alt HAN bridge's its type, B1 to B4 (MP170: bridges join the
-- HAN as PPMID variants); no other device has one. The inventory's own consistency, kept here so no
-- write can break it.
CREATE TRIGGER devices_ppmid_variant_on_insert BEFORE INSERT ON devices
WHEN NOT coalesce(CASE NEW.type WHEN 'ppmid' THEN NEW.ppmid_variant = 'PPMID'
                                WHEN 'alt_han' THEN NEW.ppmid_variant IN ('B1', 'B2', 'B3', 'B4')
                                ELSE NEW.ppmid_variant IS NULL END, 0)
BEGIN SELECT RAISE(ABORT, 'the PPMID variant does not fit the device type'); END;
CREATE TRIGGER devices_ppmid_variant_on_update BEFORE UPDATE OF type, ppmid_variant ON devices
WHEN NOT coalesce(CASE NEW.type WHEN 'ppmid' THEN NEW.ppmid_variant = 'PPMID'
                                WHEN 'alt_han' THEN NEW.ppmid_variant IN ('B1', 'B2', 'B3', 'B4')
                                ELSE NEW.ppmid_variant IS NULL END, 0)
BEGIN SELECT RAISE(ABORT, 'the PPMID variant does not fit the device type'); END;
-- end: ppmid variant rules

PRAGMA user_version = 3;
