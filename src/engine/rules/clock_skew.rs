//! A device clock far from the server's: a hand-set clock can backdate punches.
//!
//! The clock is judged when the request was sent, not when the punch was
//! made: a punch from the offline queue was made hours ago on a clock that
//! may be perfectly right.

use super::Observation;
use crate::engine::policy::Policy;
use crate::engine::types::{FindingCode, Punch};

pub fn check(punch: &Punch, policy: &Policy) -> Option<Observation> {
    let skew = punch.sent_at.duration_since(punch.received_at);
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
