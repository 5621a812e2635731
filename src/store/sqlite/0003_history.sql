-- Schema version 3: what the history rules need.

-- Devices bound to employees: on first use (up to the policy's limit) or by
-- an admin. A revoked binding stays as a record of who used what.
CREATE TABLE devices (
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    employee_id TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    bound_us    INTEGER NOT NULL,
    revoked_us  INTEGER,
    PRIMARY KEY (org_id, employee_id, device_id)
) STRICT;

-- Nonces already used, per device (or per employee when the punch named no
-- device): a second use is a replay.
CREATE TABLE nonces (
    org_id  TEXT NOT NULL,
    scope   TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, scope, nonce)
) STRICT;

CREATE INDEX punch_evidence_by_device ON punch_evidence (device_id);
CREATE INDEX punches_by_employee ON punches (org_id, employee_id, seq);
