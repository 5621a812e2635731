//! EVIDENCE_MISSING: the site the punch was placed at requires evidence
//! (any of, or all of, GPS / WiFi / beacon) that the punch did not carry
//! for that site. GPS counts when the fix is inside one of the site's
//! fences; WiFi and beacons count when they point at the site.

use geo::Point;

use super::Observation;
use super::beacons::BeaconReading;
use super::location::Placement;
use super::wifi::WifiReading;
use crate::engine::sites::EvidenceKind;
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::{FindingCode, GpsFix};

pub fn check(
    snapshot: &OrgSnapshot,
    placement: &Placement,
    gps: Option<&GpsFix>,
    wifi: &WifiReading,
    beacons: &BeaconReading,
) -> Option<Observation> {
    let site = placement.site_index?;
    let requirement = snapshot.requirement(site)?;
    let gps_inside = gps.is_some_and(|f| {
        snapshot.distance_to_site_m(site, Point::new(f.longitude, f.latitude)) == 0.0
    });
    let present: Vec<EvidenceKind> = [
        (gps_inside, EvidenceKind::Gps),
        (wifi.site == Some(site), EvidenceKind::Wifi),
        (beacons.site == Some(site), EvidenceKind::Beacon),
    ]
    .into_iter()
    .filter_map(|(here, kind)| here.then_some(kind))
    .collect();
    if requirement.is_met(&present) {
        return None;
    }
    let (mode, kinds) = requirement.parts();
    let names = |k: &[EvidenceKind]| k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
    Some((
        FindingCode::EvidenceMissing,
        format!(
            "site {} requires {} {}; the punch had {}",
            snapshot.sites[site],
            mode.replace('_', " "),
            names(kinds),
            if present.is_empty() {
                "none of them".to_string()
            } else {
                names(&present)
            }
        ),
    ))
}
