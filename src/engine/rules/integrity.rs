//! The platform's integrity attestation failed: the app or the OS is
//! modified. An attestation that was not checked is not a finding.

use super::Observation;
use crate::engine::types::{DeviceFacts, FindingCode, Integrity};

pub fn check(device: Option<&DeviceFacts>) -> Option<Observation> {
    device
        .filter(|d| d.integrity == Integrity::Failed)
        .map(|_| {
            (
                FindingCode::IntegrityFailed,
                "the platform integrity attestation failed".to_string(),
            )
        })
}
