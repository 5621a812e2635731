-- Schema version 7: each site's Bluetooth beacons (JSON, see codec.rs).
-- Eddystone-EID identity keys are stored here: the server must resolve ids.
CREATE TABLE site_beacons (
    org_id    TEXT NOT NULL,
    site_id   TEXT NOT NULL,
    beacon_no INTEGER NOT NULL,
    beacon    TEXT NOT NULL,
    PRIMARY KEY (org_id, site_id, beacon_no),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
) STRICT;
