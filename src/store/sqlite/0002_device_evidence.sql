-- Schema version 2: device and WiFi evidence, cheat-software matches,
-- sites' WiFi access points.

ALTER TABLE punch_evidence ADD COLUMN speed_mps REAL;
ALTER TABLE punch_evidence ADD COLUMN device_id TEXT;
ALTER TABLE punch_evidence ADD COLUMN rooted INTEGER;
ALTER TABLE punch_evidence ADD COLUMN emulator INTEGER;
ALTER TABLE punch_evidence ADD COLUMN integrity TEXT;

-- Cheat-software findings: signature ids and categories only, never a
-- package list; apart from the record so they expire on their own period.
CREATE TABLE punch_cheat_matches (
    seq          INTEGER NOT NULL REFERENCES punches (seq) ON DELETE CASCADE,
    signature_id TEXT NOT NULL,
    category     TEXT NOT NULL,
    PRIMARY KEY (seq, signature_id)
) STRICT;

-- The access points of each site (normalised BSSIDs).
CREATE TABLE site_access_points (
    org_id  TEXT NOT NULL,
    site_id TEXT NOT NULL,
    bssid   TEXT NOT NULL,
    ssid    TEXT NOT NULL,
    PRIMARY KEY (org_id, site_id, bssid),
    FOREIGN KEY (org_id, site_id) REFERENCES sites (org_id, site_id) ON DELETE CASCADE
) STRICT;

-- The site's access points a punch's scan contained: raw evidence, kept on
-- the evidence schedule. Other networks in the scan are never stored.
CREATE TABLE punch_wifi_evidence (
    seq   INTEGER NOT NULL REFERENCES punches (seq) ON DELETE CASCADE,
    bssid TEXT NOT NULL,
    PRIMARY KEY (seq, bssid)
) STRICT;
