-- Schema version 9: retention by category, the audit log, erasure counts.

-- What stays of a punch's location once its evidence is coarsened: a
-- distance bucket instead of the exact distance (see engine::distance_bucket).
ALTER TABLE punches ADD COLUMN distance_bucket TEXT;
UPDATE punches SET distance_bucket = CASE
    WHEN distance_m IS NULL THEN NULL
    WHEN distance_m <= 0 THEN 'inside'
    WHEN distance_m < 50 THEN 'under_50m'
    WHEN distance_m < 200 THEN '50m_to_200m'
    WHEN distance_m < 1000 THEN '200m_to_1km'
    WHEN distance_m < 10000 THEN '1km_to_10km'
    ELSE 'over_10km' END;
-- When HR decided a REVIEW punch: its evidence is kept until then plus the
-- flagged-evidence period.
ALTER TABLE punches ADD COLUMN reviewed_us INTEGER;
CREATE INDEX punches_flagged ON punches (org_id, received_us) WHERE decision <> 'accepted';

-- Each organisation's retention periods (JSON, retention::RetentionPolicy);
-- no row means the defaults.
CREATE TABLE org_retention (
    org_id     TEXT PRIMARY KEY REFERENCES orgs (org_id),
    retention  TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;

-- How far the sweeper has coarsened accepted evidence, per organisation:
-- every accepted punch received before this has no evidence left.
CREATE TABLE retention_progress (
    org_id             TEXT PRIMARY KEY REFERENCES orgs (org_id),
    evidence_until_us  INTEGER NOT NULL
) STRICT;

CREATE INDEX nonces_by_time ON nonces (org_id, seen_us);

-- Who read or changed personal data or configuration. `actor` is the
-- token's id (a prefix of its hash), never the token.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      TEXT NOT NULL,
    at_us       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    -- The employee whose data was read or changed, if one was.
    employee_id TEXT,
    detail      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit_log (org_id, at_us);
CREATE INDEX audit_by_employee ON audit_log (org_id, employee_id, id);

-- Anonymous counts of what erasures removed: nothing here names anyone.
CREATE TABLE erasures (
    org_id    TEXT NOT NULL,
    erased_us INTEGER NOT NULL,
    punches   INTEGER NOT NULL
) STRICT;
