//! A fix taken long before the punch: a cached or replayed location.
//!
//! Both times come from the device's clock, so a device whose clock is merely
//! wrong is not also called stale; CLOCK_SKEW covers the clock itself.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, Punch};

pub fn check(punch: &Punch, policy: &Policy) -> Option<Observation> {
    let age = punch
        .client_time
        .duration_since(punch.gps.as_ref()?.fix_time);
    (age > policy.max_fix_age).then(|| {
        (
            FindingCode::StaleFix,
            format!(
                "fix was taken {} s before the punch; the limit is {} s",
                age.as_secs(),
                policy.max_fix_age.as_secs()
            ),
        )
    })
}
