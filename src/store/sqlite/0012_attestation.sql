-- Device attestation: each device's attested key and the facts its
-- attestation proved (JSON, engine::attestation), the enrolment challenges
-- outstanding, and what each organisation calls its genuine app.

CREATE TABLE device_keys (
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    device_id   TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    facts       TEXT NOT NULL,
    -- The highest App Attest assertion counter seen: a later assertion
    -- must exceed it. Written in the transaction that records the punch.
    counter     INTEGER NOT NULL DEFAULT 0,
    enrolled_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, device_id)
) STRICT;
CREATE INDEX device_keys_by_employee ON device_keys (org_id, employee_id);

-- A challenge is taken (deleted) by the enrolment that answers it, so it
-- serves once; expired ones are swept when the next is issued.
CREATE TABLE enrolment_challenges (
    org_id      TEXT NOT NULL REFERENCES orgs (org_id),
    challenge   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    token_id    TEXT NOT NULL,
    expires_us  INTEGER NOT NULL,
    PRIMARY KEY (org_id, challenge)
) STRICT;

CREATE TABLE org_attestation (
    org_id       TEXT PRIMARY KEY REFERENCES orgs (org_id),
    app_identity TEXT NOT NULL,
    -- Google's status list format; NULL: the shipped snapshot.
    revocations  TEXT,
    updated_us   INTEGER NOT NULL
) STRICT;

-- The punch was signed by the device's attested key (its device facts
-- were verified, not only reported).
ALTER TABLE punches ADD COLUMN attested INTEGER NOT NULL DEFAULT 0;
