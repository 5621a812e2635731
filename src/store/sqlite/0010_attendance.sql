-- Schema version 10: schedules and HR's review of flagged punches.

-- Each organisation's time zone, shifts and assignments (JSON,
-- attendance::Schedule); replaced whole.
CREATE TABLE org_schedules (
    org_id     TEXT PRIMARY KEY REFERENCES orgs (org_id),
    schedule   TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;

-- HR's decision on a REVIEW punch: made once, never overwritten. The
-- verdict stays as the engine gave it; the review says whether it counts.
CREATE TABLE punch_reviews (
    seq         INTEGER PRIMARY KEY REFERENCES punches (seq) ON DELETE CASCADE,
    approved    INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    -- The reviewer's token id.
    reviewer    TEXT NOT NULL,
    reviewed_us INTEGER NOT NULL
) STRICT;

CREATE INDEX punches_by_employee_time ON punches (org_id, employee_id, client_us);
