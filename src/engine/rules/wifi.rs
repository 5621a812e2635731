//! What the WiFi scan says. A scanned BSSID that belongs to a site is
//! location evidence on its own (it works indoors, where GPS does not). An
//! office SSID with no known BSSID is what an evil-twin hotspot looks like;
//! only unknown networks where GPS claims a WiFi-equipped site suggests the
//! GPS is lying; WiFi at one site and a good fix far from it disagree.

use geo::Point;

use super::Observation;
use super::location::Placement;
use crate::engine::policy::Policy;
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::{FindingCode, GpsFix, LocationMethod};
use crate::engine::wifi::{Bssid, WifiSighting};

/// The scan read against the organisation's access points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WifiReading {
    /// The site most of the known access points belong to (ties: the one
    /// with the strongest signal), if any was seen.
    pub site: Option<usize>,
    /// Known access points seen: the evidence for `site`.
    pub matched: Vec<Bssid>,
    /// Unknown access points using one of the organisation's SSIDs.
    pub impostors: Vec<Bssid>,
    /// Networks in the scan.
    pub seen: usize,
}

pub fn read(snapshot: &OrgSnapshot, scan: &[WifiSighting]) -> WifiReading {
    let mut votes: Vec<(usize, usize, i32)> = Vec::new(); // (site, count, best rssi)
    let mut reading = WifiReading {
        seen: scan.len(),
        ..Default::default()
    };
    for ap in scan {
        match snapshot.wifi.site_of(&ap.bssid) {
            Some(site) => {
                reading.matched.push(ap.bssid);
                match votes.iter_mut().find(|v| v.0 == site) {
                    Some(v) => {
                        v.1 += 1;
                        v.2 = v.2.max(ap.rssi_dbm);
                    }
                    None => votes.push((site, 1, ap.rssi_dbm)),
                }
            }
            None if snapshot.wifi.is_known_ssid(&ap.ssid) => reading.impostors.push(ap.bssid),
            None => {}
        }
    }
    reading.site = votes
        .into_iter()
        .max_by_key(|&(site, count, rssi)| (count, rssi, std::cmp::Reverse(site)))
        .map(|(site, _, _)| site);
    reading
}

pub fn check(
    reading: &WifiReading,
    placement: &Placement,
    gps: Option<&GpsFix>,
    snapshot: &OrgSnapshot,
    policy: &Policy,
) -> Vec<Observation> {
    let mut found = Vec::new();
    if reading.site.is_none() && !reading.impostors.is_empty() {
        found.push((
            FindingCode::WifiSsidOnly,
            format!(
                "{} network(s) use the organisation's WiFi name but none is a known access point",
                reading.impostors.len()
            ),
        ));
    }
    let gps_site = match placement.method {
        LocationMethod::Gps | LocationMethod::GpsNear => placement.site_index,
        _ => None,
    };
    if reading.site.is_none()
        && reading.impostors.is_empty()
        && reading.seen > 0
        && gps_site.is_some_and(|s| snapshot.wifi.site_has_wifi(s))
    {
        found.push((
            FindingCode::WifiUnknown,
            format!(
                "the fix places the punch at a site with WiFi, but none of the {} networks seen is one of its access points",
                reading.seen
            ),
        ));
    }
    if let (Some(site), Some(fix)) = (reading.site, gps)
        && fix.accuracy_m <= policy.max_accuracy_m
    {
        let gap = snapshot.distance_to_site_m(site, Point::new(fix.longitude, fix.latitude));
        if gap.is_finite() && gap > policy.wifi_gps_max_gap_m {
            found.push((
                FindingCode::GpsWifiDisagree,
                format!(
                    "WiFi places the punch at site {} but a good fix is {gap:.0} m from it",
                    snapshot.sites[site]
                ),
            ));
        }
    }
    found
}
