//! A fix too vague to place anyone at a building. Not when a site's beacon
//! or WiFi access point was in range: indoors a vague fix is normal and
//! those place the punch on their own.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, GpsFix};

pub fn check(fix: Option<&GpsFix>, radio_located: bool, policy: &Policy) -> Option<Observation> {
    let fix = fix.filter(|_| !radio_located)?;
    (fix.accuracy_m > policy.max_accuracy_m).then(|| {
        (
            FindingCode::LowAccuracy,
            format!(
                "fix accuracy {:.0} m is worse than the limit of {:.0} m",
                fix.accuracy_m, policy.max_accuracy_m
            ),
        )
    })
}
