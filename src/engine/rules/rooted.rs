//! A rooted or jailbroken phone can fake anything the app reads. Not proof of
//! cheating (developers root their phones), so the default is review.

use super::Observation;
use crate::engine::types::{DeviceFacts, FindingCode};

pub fn check(device: Option<&DeviceFacts>) -> Option<Observation> {
    device.filter(|d| d.rooted).map(|_| {
        (
            FindingCode::Rooted,
            "the device reports root or jailbreak access".to_string(),
        )
    })
}
