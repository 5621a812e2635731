//! A fix too vague to place anyone at a building.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, GpsFix};

pub fn check(fix: &GpsFix, policy: &Policy) -> Option<Observation> {
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
