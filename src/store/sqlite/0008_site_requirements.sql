-- Schema version 8: the evidence a site requires, as "any_of:gps,wifi" or
-- "all_of:gps,beacon"; NULL when any evidence will do.
ALTER TABLE sites ADD COLUMN requires TEXT;
