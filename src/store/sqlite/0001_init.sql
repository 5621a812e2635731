-- Schema version 1: organisations, tokens, sites and fences, punches.
-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE orgs (
    org_id        TEXT PRIMARY KEY,
    -- Bumped by every change to the org's sites; snapshots are rebuilt when it moves.
    sites_version INTEGER NOT NULL DEFAULT 0,
    created_us    INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
    -- SHA-256 of the bearer token, hex. The token itself is never stored.
    token_hash  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    role        TEXT NOT NULL,
    employee_id TEXT,
    created_us  INTEGER NOT NULL
) STRICT;

CREATE TABLE sites (
    org_id     TEXT NOT NULL REFERENCES orgs (org_id),
    site_id    TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, site_id)
) STRICT;

CREATE TABLE fences (
    org_id   TEXT NOT NULL,
    site_id  TEXT NOT NULL,
    fence_no INTEGER NOT NULL,
    -- GeoJSON geometry: Polygon/MultiPolygon, or the Point centre of a circle.
    geometry TEXT NOT NULL,
    -- Set for circle fences only.
    radius_m REAL,
    PRIMARY KEY (org_id, site_id, fence_no),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
) STRICT;

-- The attendance record: who, when, where, what was decided.
CREATE TABLE punches (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          TEXT NOT NULL REFERENCES orgs (org_id),
    employee_id     TEXT NOT NULL,
    punch_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    client_us       INTEGER NOT NULL,
    received_us     INTEGER NOT NULL,
    decision        TEXT NOT NULL,
    site_id         TEXT,
    method          TEXT NOT NULL,
    distance_m      REAL,
    nearest_site_id TEXT,
    -- JSON array of {"code", "action", "message"}.
    findings        TEXT NOT NULL,
    UNIQUE (org_id, employee_id, punch_id)
) STRICT;

CREATE INDEX punches_by_received ON punches (org_id, received_us, seq);

-- Raw location evidence, kept apart from the record so that it can expire
-- on its own, shorter schedule.
CREATE TABLE punch_evidence (
    seq           INTEGER PRIMARY KEY REFERENCES punches (seq) ON DELETE CASCADE,
    -- The fix, WGS-84; NULL for a WiFi-only punch.
    latitude      REAL,
    longitude     REAL,
    accuracy_m    REAL,
    fix_us        INTEGER,
    mock_location INTEGER
) STRICT;
