-- Schema version 4: each organisation's policy (JSON, see store::policy_json).
CREATE TABLE org_policies (
    org_id     TEXT PRIMARY KEY REFERENCES orgs (org_id),
    policy     TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;
