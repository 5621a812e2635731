//! What the beacons say. A site's beacon heard strongly enough places the
//! phone there on its own (a few metres' range, indoors). A rotating id that
//! was valid hours ago is a recording played back: BEACON_REPLAYED. An id
//! that looks like ours but matches no beacon: BEACON_UNKNOWN.

use jiff::Timestamp;

use super::Observation;
use crate::engine::beacons::{BeaconMatch, BeaconSighting};
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::FindingCode;

/// The beacons heard, read against the organisation's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeaconReading {
    /// The site most present beacons belong to (ties: strongest signal).
    pub site: Option<usize>,
    pub replayed: usize,
    pub unknown: usize,
}

pub fn read(snapshot: &OrgSnapshot, heard: &[BeaconSighting], now: Timestamp) -> BeaconReading {
    let mut reading = BeaconReading::default();
    let mut votes: Vec<(usize, usize, i32)> = Vec::new(); // (site, count, best rssi)
    for sighting in heard {
        let rssi = match *sighting {
            BeaconSighting::IBeacon { rssi_dbm, .. } | BeaconSighting::Eid { rssi_dbm, .. } => {
                rssi_dbm
            }
        };
        match snapshot.beacons.judge(sighting, now) {
            BeaconMatch::Present { site } => match votes.iter_mut().find(|v| v.0 == site) {
                Some(v) => {
                    v.1 += 1;
                    v.2 = v.2.max(rssi);
                }
                None => votes.push((site, 1, rssi)),
            },
            BeaconMatch::Replayed { .. } => reading.replayed += 1,
            BeaconMatch::Unknown => reading.unknown += 1,
            BeaconMatch::Faint { .. } | BeaconMatch::Foreign => {}
        }
    }
    reading.site = votes
        .into_iter()
        .max_by_key(|&(site, count, rssi)| (count, rssi, std::cmp::Reverse(site)))
        .map(|(site, _, _)| site);
    reading
}

pub fn check(reading: &BeaconReading) -> Vec<Observation> {
    let mut found = Vec::new();
    if reading.replayed > 0 {
        found.push((
            FindingCode::BeaconReplayed,
            format!(
                "{} beacon id(s) were valid earlier but not now: a recording played back",
                reading.replayed
            ),
        ));
    }
    if reading.unknown > 0 && reading.site.is_none() {
        found.push((
            FindingCode::BeaconUnknown,
            format!(
                "{} beacon(s) look like the organisation's but match none of its beacons",
                reading.unknown
            ),
        ));
    }
    found
}
