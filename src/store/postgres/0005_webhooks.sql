-- Webhooks. Reviews get the order they committed in (taken under the
-- organisation's feed lock), the stream punch.reviewed events follow; each
-- webhook keeps its cursors into the punch and review streams and the last
-- date it reported closed.
ALTER TABLE punch_reviews ADD COLUMN review_order BIGINT;
UPDATE punch_reviews SET review_order = seq;
CREATE UNIQUE INDEX reviews_in_order ON punch_reviews (review_order);
CREATE SEQUENCE review_order_seq;
SELECT setval('review_order_seq', COALESCE(MAX(review_order), 0) + 1, false) FROM punch_reviews;

CREATE TABLE webhooks (
    org_id         TEXT COLLATE "C" NOT NULL REFERENCES orgs (org_id),
    webhook_id     TEXT COLLATE "C" NOT NULL,
    url            TEXT NOT NULL,
    -- Event kinds, comma-separated (punch.recorded, …).
    events         TEXT COLLATE "C" NOT NULL,
    secret         TEXT COLLATE "C" NOT NULL,
    created_us     BIGINT NOT NULL,
    punch_cursor   BIGINT NOT NULL,
    review_cursor  BIGINT NOT NULL,
    closed_through TEXT COLLATE "C" NOT NULL,
    -- The date after closed_through is being sent: its employees up to
    -- this one are.
    closing_after  TEXT COLLATE "C",
    PRIMARY KEY (org_id, webhook_id)
);

-- Each delivery attempt, the last 1,000 per webhook.
CREATE TABLE webhook_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL,
    webhook_id  TEXT COLLATE "C" NOT NULL,
    event_id    TEXT COLLATE "C" NOT NULL,
    event_kind  TEXT COLLATE "C" NOT NULL,
    attempt     INTEGER NOT NULL,
    at_us       BIGINT NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);

CREATE INDEX deliveries_by_webhook ON webhook_deliveries (org_id, webhook_id, id);
