//! Where was the punch? In order of strength: the fix inside a fence; a
//! site's beacon heard close by; a known WiFi access point of a site; the fix
//! outside but within its own accuracy of a fence (NEAR_FENCE); otherwise
//! nowhere (OUTSIDE_FENCE), with the distance to the nearest fence when
//! there is a fix.

use geo::Point;

use super::Observation;
use super::beacons::BeaconReading;
use super::wifi::WifiReading;
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::{FindingCode, GpsFix, LocationMethod, SiteId};

/// Where the evidence put the punch.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub site: Option<SiteId>,
    /// Position of `site` in the snapshot.
    pub site_index: Option<usize>,
    pub method: LocationMethod,
    /// Metres from the fix to the nearest fence (0 inside one); `None`
    /// without a fix or without fences.
    pub distance_m: Option<f64>,
    pub nearest_site: Option<SiteId>,
}

pub fn place(
    snapshot: &OrgSnapshot,
    gps: Option<&GpsFix>,
    beacons: &BeaconReading,
    wifi: &WifiReading,
    found: &mut Vec<Observation>,
) -> Placement {
    let at = |site: usize, method, distance_m, nearest: Option<usize>| Placement {
        site: Some(snapshot.sites[site].clone()),
        site_index: Some(site),
        method,
        distance_m,
        nearest_site: nearest.map(|s| snapshot.sites[s].clone()),
    };
    let p = gps.map(|fix| Point::new(fix.longitude, fix.latitude));
    if let Some(fence) = p.and_then(|p| snapshot.index.covering(p)) {
        let site = snapshot.index.fence(fence).site;
        return at(site, LocationMethod::Gps, Some(0.0), Some(site));
    }
    let nearest = p.and_then(|p| snapshot.index.nearest(p));
    let nearest_site = nearest.map(|(fence, _)| snapshot.index.fence(fence).site);
    let distance_m = nearest.map(|(_, d)| d);
    if let Some(site) = beacons.site {
        return at(site, LocationMethod::Beacon, distance_m, nearest_site);
    }
    if let Some(site) = wifi.site {
        return at(site, LocationMethod::Wifi, distance_m, nearest_site);
    }
    match (gps, nearest) {
        (Some(fix), Some((fence, d))) if d <= fix.accuracy_m => {
            found.push((
                FindingCode::NearFence,
                format!(
                    "fix is {d:.0} m outside the nearest fence, within its accuracy of {:.0} m",
                    fix.accuracy_m
                ),
            ));
            let site = snapshot.index.fence(fence).site;
            at(site, LocationMethod::GpsNear, Some(d), Some(site))
        }
        (Some(_), Some((_, d))) => {
            found.push((
                FindingCode::OutsideFence,
                format!("fix is {d:.0} m outside the nearest fence"),
            ));
            nowhere(snapshot, distance_m, nearest_site)
        }
        (Some(_), None) => {
            found.push((
                FindingCode::OutsideFence,
                "the organisation has no fences yet".to_string(),
            ));
            nowhere(snapshot, None, None)
        }
        (None, _) => {
            found.push((
                FindingCode::OutsideFence,
                "no fix, and no site's beacon or WiFi access point in range".to_string(),
            ));
            nowhere(snapshot, None, None)
        }
    }
}

fn nowhere(snapshot: &OrgSnapshot, distance_m: Option<f64>, nearest: Option<usize>) -> Placement {
    Placement {
        site: None,
        site_index: None,
        method: LocationMethod::None,
        distance_m,
        nearest_site: nearest.map(|s| snapshot.sites[s].clone()),
    }
}
