-- Schema version 2: device evidence and cheat-software matches.

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
