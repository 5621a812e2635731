//! The anti-cheat rules, one file each. A rule looks at the punch (and the
//! snapshot, where it needs to) and reports what it observed; the policy,
//! not the rule, decides what an observation costs.

pub mod attestation;
pub mod beacons;
pub mod cheat_apps;
pub mod clock_skew;
pub mod consent;
pub mod device_binding;
pub mod device_shared;
pub mod emulator;
pub mod evidence_required;
pub mod impossible_travel;
pub mod integrity;
pub mod location;
pub mod low_accuracy;
pub mod mock_location;
pub mod replay;
pub mod rooted;
pub mod sensor_flat;
pub mod sensor_inconsistent;
pub mod stale_fix;
pub mod wifi;

use super::types::FindingCode;

/// A rule's observation: a stable code and a human-readable message that
/// carries no personal data (no coordinates, no identifiers).
pub type Observation = (FindingCode, String);
