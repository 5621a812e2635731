-- Schema version 6: an organisation's own cheat-software signature list
-- (JSON, the shipped list's format); no row means the shipped list.
CREATE TABLE org_signatures (
    org_id     TEXT PRIMARY KEY REFERENCES orgs (org_id),
    signatures TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;
