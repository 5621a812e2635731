//! The operating system says the fix came from a mock-location provider.
//! Hooking frameworks can hide this flag, so its absence proves nothing;
//! its presence is strong evidence.

use super::Observation;
use crate::engine::types::{FindingCode, GpsFix};

pub fn check(fix: Option<&GpsFix>) -> Option<Observation> {
    fix?.mock_location.then(|| {
        (
            FindingCode::MockLocation,
            "the device reported the fix as coming from a mock-location provider".to_string(),
        )
    })
}
