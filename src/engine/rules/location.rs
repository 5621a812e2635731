//! Where was the fix? Inside a fence; outside but within its own accuracy
//! of one (NEAR_FENCE); or outside (OUTSIDE_FENCE).

use geo::Point;

use super::Observation;
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::{FindingCode, GpsFix, LocationMethod, SiteId};

/// Where the fix put the punch.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub site: Option<SiteId>,
    pub method: LocationMethod,
    pub distance_m: Option<f64>,
    pub nearest_site: Option<SiteId>,
}

pub fn place(snapshot: &OrgSnapshot, fix: &GpsFix, found: &mut Vec<Observation>) -> Placement {
    let p = Point::new(fix.longitude, fix.latitude);
    if let Some(fence) = snapshot.index.covering(p) {
        let site = snapshot.site_of_fence(fence).clone();
        return Placement {
            site: Some(site.clone()),
            method: LocationMethod::Gps,
            distance_m: Some(0.0),
            nearest_site: Some(site),
        };
    }
    let Some((fence, distance_m)) = snapshot.index.nearest(p) else {
        found.push((
            FindingCode::OutsideFence,
            "the organisation has no fences yet".to_string(),
        ));
        return Placement {
            site: None,
            method: LocationMethod::None,
            distance_m: None,
            nearest_site: None,
        };
    };
    let nearest = snapshot.site_of_fence(fence).clone();
    if distance_m <= fix.accuracy_m {
        found.push((
            FindingCode::NearFence,
            format!(
                "fix is {distance_m:.0} m outside the nearest fence, within its accuracy of {:.0} m",
                fix.accuracy_m
            ),
        ));
        Placement {
            site: Some(nearest.clone()),
            method: LocationMethod::GpsNear,
            distance_m: Some(distance_m),
            nearest_site: Some(nearest),
        }
    } else {
        found.push((
            FindingCode::OutsideFence,
            format!("fix is {distance_m:.0} m outside the nearest fence"),
        ));
        Placement {
            site: None,
            method: LocationMethod::None,
            distance_m: Some(distance_m),
            nearest_site: Some(nearest),
        }
    }
}
