//! A fix too vague to place anyone at a building. Only when the fix is what
//! placed the punch: a known WiFi access point indoors makes a vague fix moot.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, GpsFix, LocationMethod};

pub fn check(fix: Option<&GpsFix>, method: LocationMethod, policy: &Policy) -> Option<Observation> {
    let fix = fix.filter(|_| method != LocationMethod::Wifi)?;
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
