-- Schema version 5: consent for optional purposes, per employee.
CREATE TABLE consents (
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    employee_id TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    granted     INTEGER NOT NULL,
    changed_us  INTEGER NOT NULL,
    PRIMARY KEY (org_id, employee_id, purpose)
) STRICT;
