//! A device clock far from the server's: a hand-set clock can backdate punches.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, Punch};

pub fn check(punch: &Punch, policy: &Policy) -> Option<Observation> {
    let skew = punch.client_time.duration_since(punch.received_at);
    (skew.abs() > policy.max_clock_skew).then(|| {
        let direction = if skew.is_negative() {
            "behind"
        } else {
            "ahead of"
        };
        (
            FindingCode::ClockSkew,
            format!(
                "device clock is {} s {direction} the server's; the limit is {} s",
                skew.as_secs().abs(),
                policy.max_clock_skew.as_secs()
            ),
        )
    })
}
