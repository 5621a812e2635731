-- Device attestation (see the SQLite migration 0012 for the why).

CREATE TABLE device_keys (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    device_id   TEXT COLLATE "C" NOT NULL,
    employee_id TEXT COLLATE "C" NOT NULL,
    key         TEXT NOT NULL,
    facts       TEXT NOT NULL,
    counter     BIGINT NOT NULL DEFAULT 0,
    enrolled_us BIGINT NOT NULL,
    PRIMARY KEY (org_id, device_id)
);
CREATE INDEX device_keys_by_employee ON device_keys (org_id, employee_id);

CREATE TABLE enrolment_challenges (
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    challenge   TEXT COLLATE "C" NOT NULL,
    device_id   TEXT COLLATE "C" NOT NULL,
    employee_id TEXT COLLATE "C" NOT NULL,
    token_id    TEXT COLLATE "C" NOT NULL,
    expires_us  BIGINT NOT NULL,
    PRIMARY KEY (org_id, challenge)
);

CREATE TABLE org_attestation (
    org_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES orgs (org_id),
    app_identity TEXT NOT NULL,
    revocations  TEXT,
    updated_us   BIGINT NOT NULL
);

ALTER TABLE punches ADD COLUMN attested BOOLEAN NOT NULL DEFAULT false;
