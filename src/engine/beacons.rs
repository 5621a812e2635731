//! Bluetooth beacons: iBeacons (a fixed UUID, major, minor) and rotating
//! Eddystone-EID beacons, whose 8-byte ephemeral id is derived from a
//! secret identity key and the beacon's clock, so a recording of it is only
//! good until the id rotates.
//!
//! EID computation follows the Eddystone-EID specification: a temporary
//! key = AES-128(identity key, 11×0x00 ‖ 0xFF ‖ 0x00 0x00 ‖ top 16 bits of
//! the time counter); EID = the first 8 bytes of AES-128(temporary key,
//! 11×0x00 ‖ K ‖ time counter with its K low bits cleared, big-endian).

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use foldhash::{HashMap, HashMapExt};
use jiff::Timestamp;
use uuid::Uuid;

/// Largest rotation exponent the specification allows (2^15 s ≈ 9 h).
pub const MAX_ROTATION_EXPONENT: u8 = 15;

/// Largest registered clock offset, seconds (about 35,000 years): bounds
/// the arithmetic on it.
pub const MAX_CLOCK_OFFSET_S: u64 = 1 << 40;
/// A sighting's id may come from a beacon clock this far off the resolver's
/// (the specification allows 150 ppm drift; five minutes also matches the
/// default CLOCK_SKEW tolerance), plus one rotation period either way.
pub const EID_CLOCK_TOLERANCE_S: i64 = 300;
/// How far back a valid but expired id is recognised as a replay.
pub const EID_REPLAY_LOOKBACK_S: i64 = 24 * 3600;
/// Default signal floor for a sighting to count as presence, dBm.
pub const DEFAULT_MIN_RSSI_DBM: i32 = -90;

/// An iBeacon's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IBeaconId {
    pub uuid: Uuid,
    pub major: u16,
    pub minor: u16,
}

/// A beacon installed at a site.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteBeacon {
    IBeacon {
        id: IBeaconId,
        min_rssi_dbm: i32,
    },
    Eid {
        identity_key: [u8; 16],
        rotation_exponent: u8,
        /// The beacon's time counter minus Unix time, seconds, as recorded
        /// when it was registered.
        clock_offset_s: i64,
        min_rssi_dbm: i32,
    },
}

/// One beacon the phone heard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeaconSighting {
    IBeacon { id: IBeaconId, rssi_dbm: i32 },
    Eid { eid: [u8; 8], rssi_dbm: i32 },
}

fn aes128(key: &[u8; 16], block: [u8; 16]) -> [u8; 16] {
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut block = GenericArray::from(block);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// The ephemeral id a beacon with `identity_key` and exponent `k` shows at
/// time counter `counter`.
pub fn eid(identity_key: &[u8; 16], k: u8, counter: u32) -> [u8; 8] {
    let mut temporary = [0u8; 16];
    temporary[11] = 0xff;
    temporary[14..16].copy_from_slice(&((counter >> 16) as u16).to_be_bytes());
    let temporary_key = aes128(identity_key, temporary);
    let mut block = [0u8; 16];
    block[11] = k;
    let quantised = counter & !((1u32 << k) - 1);
    block[12..16].copy_from_slice(&quantised.to_be_bytes());
    let out = aes128(&temporary_key, block);
    out[..8].try_into().expect("8 of 16 bytes")
}

/// What a beacon sighting says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconMatch {
    /// A beacon of `site`, heard strongly enough to place the phone there.
    Present { site: usize },
    /// A beacon of `site`, too faint to place the phone.
    Faint { site: usize },
    /// A valid id of a rotating beacon of `site`, but from the past.
    Replayed { site: usize },
    /// Looks like one of ours (our iBeacon UUID, or an EID) but matches none.
    Unknown,
    /// Someone else's beacon.
    Foreign,
}

/// An organisation's beacons.
#[derive(Debug, Default)]
pub struct BeaconIndex {
    ibeacons: HashMap<IBeaconId, (usize, i32)>,
    ibeacons_by_site: HashMap<usize, Vec<IBeaconId>>,
    uuids: Vec<Uuid>,
    /// (site, identity key, exponent, clock offset, min rssi)
    rotating: Vec<(usize, [u8; 16], u8, i64, i32)>,
}

impl BeaconIndex {
    pub fn build<'a>(sites: impl IntoIterator<Item = (usize, &'a [SiteBeacon])>) -> Self {
        let mut index = BeaconIndex {
            ibeacons: HashMap::new(),
            ibeacons_by_site: HashMap::new(),
            ..Default::default()
        };
        for (site, beacons) in sites {
            for beacon in beacons {
                match *beacon {
                    SiteBeacon::IBeacon { id, min_rssi_dbm } => {
                        index.ibeacons.entry(id).or_insert((site, min_rssi_dbm));
                        index.ibeacons_by_site.entry(site).or_default().push(id);
                        if !index.uuids.contains(&id.uuid) {
                            index.uuids.push(id.uuid);
                        }
                    }
                    SiteBeacon::Eid {
                        identity_key,
                        rotation_exponent,
                        clock_offset_s,
                        min_rssi_dbm,
                    } => index.rotating.push((
                        site,
                        identity_key,
                        rotation_exponent,
                        clock_offset_s,
                        min_rssi_dbm,
                    )),
                }
            }
        }
        index
    }

    /// The iBeacon ids of a site (EID keys are secret and never leave).
    pub fn ibeacons_of(&self, site: usize) -> &[IBeaconId] {
        self.ibeacons_by_site.get(&site).map_or(&[], Vec::as_slice)
    }

    /// Judges one sighting heard at `now` (server clock).
    pub fn judge(&self, sighting: &BeaconSighting, now: Timestamp) -> BeaconMatch {
        let placed = |site, rssi: i32, floor: i32| {
            if rssi >= floor {
                BeaconMatch::Present { site }
            } else {
                BeaconMatch::Faint { site }
            }
        };
        match *sighting {
            BeaconSighting::IBeacon { id, rssi_dbm } => match self.ibeacons.get(&id) {
                Some(&(site, floor)) => placed(site, rssi_dbm, floor),
                None if self.uuids.contains(&id.uuid) => BeaconMatch::Unknown,
                None => BeaconMatch::Foreign,
            },
            BeaconSighting::Eid {
                eid: seen,
                rssi_dbm,
            } => {
                for &(site, key, k, offset, floor) in &self.rotating {
                    let period = 1i64 << k;
                    let counter_now = now.as_second() + offset;
                    let tolerance = EID_CLOCK_TOLERANCE_S + period;
                    let matches = |from: i64, to: i64| {
                        // Walk the rotation windows that overlap [from, to].
                        let mut window = from.div_euclid(period) * period;
                        while window <= to {
                            if (0..=i64::from(u32::MAX)).contains(&window)
                                && eid(&key, k, window as u32) == seen
                            {
                                return true;
                            }
                            window += period;
                        }
                        false
                    };
                    if matches(counter_now - tolerance, counter_now + tolerance) {
                        return placed(site, rssi_dbm, floor);
                    }
                    if matches(counter_now - EID_REPLAY_LOOKBACK_S, counter_now - tolerance) {
                        return BeaconMatch::Replayed { site };
                    }
                }
                // EIDs are ours by frame type only: an unresolvable one near
                // our sites is suspicious only if we run rotating beacons.
                if self.rotating.is_empty() {
                    BeaconMatch::Foreign
                } else {
                    BeaconMatch::Unknown
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn an_eid_is_constant_within_its_window_and_rotates_after() {
        let k = 10; // 1024 s
        let start = 5 * 1024;
        let first = eid(&KEY, k, start);
        assert_eq!(eid(&KEY, k, start + 1023), first);
        assert_ne!(eid(&KEY, k, start + 1024), first);
        assert_ne!(
            eid(b"fedcba9876543210", k, start),
            first,
            "another key, another id"
        );
    }

    #[test]
    fn live_ids_place_and_recordings_are_replays() {
        let now: Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
        let offset = -1_700_000_000; // the beacon's counter started near 2023-11
        let beacons = [SiteBeacon::Eid {
            identity_key: KEY,
            rotation_exponent: 8,
            clock_offset_s: offset,
            min_rssi_dbm: -90,
        }];
        let index = BeaconIndex::build([(3, beacons.as_slice())]);
        let counter = |t: Timestamp| (t.as_second() + offset) as u32;
        let live = BeaconSighting::Eid {
            eid: eid(&KEY, 8, counter(now)),
            rssi_dbm: -60,
        };
        assert_eq!(index.judge(&live, now), BeaconMatch::Present { site: 3 });
        let faint = BeaconSighting::Eid {
            eid: eid(&KEY, 8, counter(now)),
            rssi_dbm: -99,
        };
        assert_eq!(index.judge(&faint, now), BeaconMatch::Faint { site: 3 });
        // A beacon clock 4 minutes fast is drift, not a replay.
        let drifted = BeaconSighting::Eid {
            eid: eid(&KEY, 8, counter(now) + 240),
            rssi_dbm: -60,
        };
        assert_eq!(index.judge(&drifted, now), BeaconMatch::Present { site: 3 });
        let recorded = now - jiff::SignedDuration::from_hours(3);
        let replay = BeaconSighting::Eid {
            eid: eid(&KEY, 8, counter(recorded)),
            rssi_dbm: -60,
        };
        assert_eq!(index.judge(&replay, now), BeaconMatch::Replayed { site: 3 });
        let forged = BeaconSighting::Eid {
            eid: [7; 8],
            rssi_dbm: -60,
        };
        assert_eq!(index.judge(&forged, now), BeaconMatch::Unknown);
    }

    #[test]
    fn ibeacons_match_by_uuid_major_minor() {
        let uuid = Uuid::parse_str("f7826da6-4fa2-4e98-8024-bc5b71e0893e").unwrap();
        let id = IBeaconId {
            uuid,
            major: 1,
            minor: 7,
        };
        let beacons = [SiteBeacon::IBeacon {
            id,
            min_rssi_dbm: -80,
        }];
        let index = BeaconIndex::build([(0, beacons.as_slice())]);
        let now = Timestamp::UNIX_EPOCH;
        let heard = |id, rssi_dbm| index.judge(&BeaconSighting::IBeacon { id, rssi_dbm }, now);
        assert_eq!(heard(id, -70), BeaconMatch::Present { site: 0 });
        assert_eq!(heard(id, -85), BeaconMatch::Faint { site: 0 });
        assert_eq!(
            heard(IBeaconId { minor: 8, ..id }, -70),
            BeaconMatch::Unknown
        );
        assert_eq!(
            heard(
                IBeaconId {
                    uuid: Uuid::nil(),
                    ..id
                },
                -70
            ),
            BeaconMatch::Foreign
        );
    }
}
