-- Schema version 15: webhooks. Reviews get the order they committed in,
-- the stream punch.reviewed events follow; each webhook keeps its cursors
-- into the punch and review streams and the last date it reported closed.
ALTER TABLE punch_reviews ADD COLUMN review_order INTEGER;
UPDATE punch_reviews SET review_order = seq;
CREATE UNIQUE INDEX reviews_in_order ON punch_reviews (review_order);

CREATE TABLE webhooks (
    org_id         TEXT NOT NULL REFERENCES orgs (org_id),
    webhook_id     TEXT NOT NULL,
    url            TEXT NOT NULL,
    -- Event kinds, comma-separated (punch.recorded, …).
    events         TEXT NOT NULL,
    secret         TEXT NOT NULL,
    created_us     INTEGER NOT NULL,
    punch_cursor   INTEGER NOT NULL,
    review_cursor  INTEGER NOT NULL,
    closed_through TEXT NOT NULL,
    -- The date after closed_through is being sent: its employees up to
    -- this one are.
    closing_after  TEXT,
    PRIMARY KEY (org_id, webhook_id)
) STRICT;

-- Each delivery attempt, the last 1,000 per webhook.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_kind  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX deliveries_by_webhook ON webhook_deliveries (org_id, webhook_id, id);
