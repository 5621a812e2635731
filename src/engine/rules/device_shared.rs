//! DEVICE_SHARED: one phone punching for several people — buddy punching.

use super::Observation;
use crate::engine::history::History;
use crate::engine::policy::Policy;
use crate::engine::types::FindingCode;

pub fn check(history: &History, policy: &Policy) -> Option<Observation> {
    let others = history.device_other_employees.len();
    (others > 0).then(|| {
        (
            FindingCode::DeviceShared,
            format!(
                "this device punched for {others} other employee(s) in the last {} h",
                policy.device_share_window.as_hours()
            ),
        )
    })
}
