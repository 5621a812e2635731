-- The organisation's punches by their own time (the phone's clock, as the
-- punch was made, offline or not): reports and exports group punches by
-- the day they were punched, not the day they arrived.
CREATE INDEX punches_by_client_time ON punches (org_id, client_us, seq);
