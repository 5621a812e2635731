//! A punch from an emulator: no phone was at any site.

use super::Observation;
use crate::engine::types::{DeviceFacts, FindingCode};

pub fn check(device: Option<&DeviceFacts>) -> Option<Observation> {
    device.filter(|d| d.emulator).map(|_| {
        (
            FindingCode::Emulator,
            "the app reports it runs in an emulator".to_string(),
        )
    })
}
