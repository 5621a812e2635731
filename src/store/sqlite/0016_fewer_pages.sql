-- Schema version 16: fewer b-tree pages written per durable punch (issue
-- 17). Each index keyed by employee or device puts a punch on a random page,
-- and each such page is a WAL frame at the commit and a write again at the
-- checkpoint.

-- Ordered by (org, employee, seq), it duplicated what the unique
-- (org_id, employee_id, punch_id) and punches_by_employee_time indexes
-- already find by employee; the queries that sort one employee's punches by
-- seq read them through those and sort a few rows.
DROP INDEX punches_by_employee;

-- A nonce is looked up and unique by its key alone: kept in its key's b-tree
-- (WITHOUT ROWID), it is one b-tree write instead of a row and an index.
CREATE TABLE nonces_by_key (
    org_id  TEXT NOT NULL,
    scope   TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, scope, nonce)
) STRICT, WITHOUT ROWID;
INSERT INTO nonces_by_key (org_id, scope, nonce, seen_us)
    SELECT org_id, scope, nonce, seen_us FROM nonces;
DROP TABLE nonces;
ALTER TABLE nonces_by_key RENAME TO nonces;
CREATE INDEX nonces_by_time ON nonces (org_id, seen_us);
