-- Schema version 14: the calendar beside the weekly schedule (holidays,
-- roster days, leave). One row per entry, keyed as the entry names itself;
-- `first_day`..`last_day` are the local dates it can touch (YYYY-MM-DD, so
-- text order is date order) and `body` its fields as JSON.
CREATE TABLE calendar_entries (
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    entry_key   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    employee_id TEXT,
    first_day   TEXT NOT NULL,
    last_day    TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (org_id, entry_key)
) WITHOUT ROWID;

CREATE INDEX calendar_by_employee ON calendar_entries (org_id, employee_id, first_day);
CREATE INDEX calendar_by_day ON calendar_entries (org_id, first_day);
