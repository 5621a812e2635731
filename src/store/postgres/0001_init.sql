-- Schema version 1 of the PostgreSQL backend: the same tables and column
-- formats as the SQLite file at its version 11 (see src/store/sqlite/),
-- so that the two backends are interchangeable. Times are microseconds
-- since the Unix epoch (UTC); JSON columns hold store::encoding's texts.
-- Text compares byte-wise (COLLATE "C"), as SQLite's does, so orders and
-- keyset pages are the same whatever the database's locale.

CREATE TABLE orgs (
    org_id        TEXT COLLATE "C" PRIMARY KEY,
    -- Bumped by every change to the org's sites, policy or signatures;
    -- every replica polls it and rebuilds its snapshot when it moves.
    sites_version BIGINT NOT NULL DEFAULT 0,
    created_us    BIGINT NOT NULL
);

CREATE TABLE tokens (
    -- SHA-256 of the bearer token, hex. The token itself is never stored.
    token_hash   TEXT COLLATE "C" PRIMARY KEY,
    -- The first 12 hex digits of the hash: shown in audit entries, used to
    -- revoke or rotate. Never enough to use the token.
    token_id     TEXT COLLATE "C" NOT NULL UNIQUE,
    org_id       TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    role         TEXT COLLATE "C" NOT NULL,
    employee_id  TEXT COLLATE "C",
    created_us   BIGINT NOT NULL,
    expires_us   BIGINT,
    revoked_us   BIGINT,
    last_used_us BIGINT
);

CREATE TABLE sites (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    site_id    TEXT COLLATE "C" NOT NULL,
    updated_us BIGINT NOT NULL,
    -- "any_of:gps,wifi" or "all_of:gps,beacon"; NULL when any evidence will do.
    requires   TEXT COLLATE "C",
    PRIMARY KEY (org_id, site_id)
);

CREATE TABLE fences (
    org_id   TEXT COLLATE "C" NOT NULL,
    site_id  TEXT COLLATE "C" NOT NULL,
    fence_no INTEGER NOT NULL,
    -- GeoJSON geometry: Polygon/MultiPolygon, or the Point centre of a circle.
    geometry TEXT COLLATE "C" NOT NULL,
    radius_m DOUBLE PRECISION,
    PRIMARY KEY (org_id, site_id, fence_no),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
);

CREATE TABLE site_access_points (
    org_id  TEXT COLLATE "C" NOT NULL,
    site_id TEXT COLLATE "C" NOT NULL,
    ap_no   INTEGER NOT NULL,
    bssid   TEXT COLLATE "C" NOT NULL,
    ssid    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, site_id, bssid),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
);

CREATE TABLE site_beacons (
    org_id    TEXT COLLATE "C" NOT NULL,
    site_id   TEXT COLLATE "C" NOT NULL,
    beacon_no INTEGER NOT NULL,
    beacon    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, site_id, beacon_no),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
);

-- The attendance record. `seq` is assigned while the organisation's feed
-- lock is held (see postgres/punches.rs), so within an organisation seq
-- order is commit order, even across replicas.
CREATE TABLE punches (
    seq             BIGSERIAL PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    employee_id     TEXT COLLATE "C" NOT NULL,
    punch_id        TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    client_us       BIGINT NOT NULL,
    received_us     BIGINT NOT NULL,
    decision        TEXT COLLATE "C" NOT NULL,
    site_id         TEXT COLLATE "C",
    method          TEXT COLLATE "C" NOT NULL,
    distance_m      DOUBLE PRECISION,
    nearest_site_id TEXT COLLATE "C",
    findings        TEXT COLLATE "C" NOT NULL,
    distance_bucket TEXT COLLATE "C",
    reviewed_us     BIGINT,
    UNIQUE (org_id, employee_id, punch_id)
);
CREATE INDEX punches_by_received ON punches (org_id, received_us, seq);
CREATE INDEX punches_by_org_seq ON punches (org_id, seq);
CREATE INDEX punches_by_employee ON punches (org_id, employee_id, seq);
CREATE INDEX punches_by_employee_time ON punches (org_id, employee_id, client_us);
CREATE INDEX punches_flagged ON punches (org_id, received_us) WHERE decision <> 'accepted';

-- Raw evidence, apart from the record so that it expires on its own period.
CREATE TABLE punch_evidence (
    seq           BIGINT PRIMARY KEY REFERENCES punches (seq) ON DELETE CASCADE,
    latitude      DOUBLE PRECISION,
    longitude     DOUBLE PRECISION,
    accuracy_m    DOUBLE PRECISION,
    fix_us        BIGINT,
    mock_location BOOLEAN,
    speed_mps     DOUBLE PRECISION,
    device_id     TEXT COLLATE "C",
    rooted        BOOLEAN,
    emulator      BOOLEAN,
    integrity     TEXT COLLATE "C"
);
CREATE INDEX punch_evidence_by_device ON punch_evidence (device_id);

CREATE TABLE punch_cheat_matches (
    seq          BIGINT NOT NULL REFERENCES punches (seq) ON DELETE CASCADE,
    signature_id TEXT COLLATE "C" NOT NULL,
    category     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, signature_id)
);

CREATE TABLE punch_wifi_evidence (
    seq   BIGINT NOT NULL REFERENCES punches (seq) ON DELETE CASCADE,
    -- The order the engine listed them in.
    pos   INTEGER NOT NULL,
    bssid TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (seq, bssid)
);

CREATE TABLE devices (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    employee_id TEXT COLLATE "C" NOT NULL,
    device_id   TEXT COLLATE "C" NOT NULL,
    bound_us    BIGINT NOT NULL,
    revoked_us  BIGINT,
    PRIMARY KEY (org_id, employee_id, device_id)
);

CREATE TABLE nonces (
    org_id  TEXT COLLATE "C" NOT NULL,
    scope   TEXT COLLATE "C" NOT NULL,
    nonce   TEXT COLLATE "C" NOT NULL,
    seen_us BIGINT NOT NULL,
    PRIMARY KEY (org_id, scope, nonce)
);
CREATE INDEX nonces_by_time ON nonces (org_id, seen_us);

CREATE TABLE org_policies (
    org_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    policy     TEXT COLLATE "C" NOT NULL,
    updated_us BIGINT NOT NULL
);

CREATE TABLE consents (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    employee_id TEXT COLLATE "C" NOT NULL,
    purpose     TEXT COLLATE "C" NOT NULL,
    granted     BOOLEAN NOT NULL,
    changed_us  BIGINT NOT NULL,
    PRIMARY KEY (org_id, employee_id, purpose)
);

CREATE TABLE org_signatures (
    org_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    signatures TEXT COLLATE "C" NOT NULL,
    updated_us BIGINT NOT NULL
);

CREATE TABLE org_retention (
    org_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    retention  TEXT COLLATE "C" NOT NULL,
    updated_us BIGINT NOT NULL
);

CREATE TABLE retention_progress (
    org_id            TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    evidence_until_us BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL,
    at_us       BIGINT NOT NULL,
    actor       TEXT COLLATE "C" NOT NULL,
    role        TEXT COLLATE "C" NOT NULL,
    action      TEXT COLLATE "C" NOT NULL,
    employee_id TEXT COLLATE "C",
    detail      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_by_time ON audit_log (org_id, at_us);
CREATE INDEX audit_by_employee ON audit_log (org_id, employee_id, id);

CREATE TABLE erasures (
    org_id    TEXT COLLATE "C" NOT NULL,
    erased_us BIGINT NOT NULL,
    punches   BIGINT NOT NULL
);

CREATE TABLE org_schedules (
    org_id     TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    schedule   TEXT COLLATE "C" NOT NULL,
    updated_us BIGINT NOT NULL
);

CREATE TABLE punch_reviews (
    seq         BIGINT PRIMARY KEY REFERENCES punches (seq) ON DELETE CASCADE,
    approved    BOOLEAN NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL,
    reviewer    TEXT COLLATE "C" NOT NULL,
    reviewed_us BIGINT NOT NULL
);
