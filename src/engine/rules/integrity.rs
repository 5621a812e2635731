//! The platform's integrity attestation failed: the app or the OS is
//! modified. An attestation that was not checked is not a finding, and a
//! punch signed by an attested key is judged on what its attestation
//! proved (see `attestation`), which outranks what the app reports.

use super::Observation;
use crate::engine::types::{Assurance, DeviceFacts, FindingCode, Integrity};

pub fn check(device: Option<&DeviceFacts>, assurance: Assurance) -> Option<Observation> {
    device
        .filter(|d| d.integrity == Integrity::Failed && !assurance.is_attested())
        .map(|_| {
            (
                FindingCode::IntegrityFailed,
                "the platform integrity attestation failed".to_string(),
            )
        })
}
