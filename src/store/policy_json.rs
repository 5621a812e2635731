//! The stored form of an organisation's policy: JSON, so that a field added
//! later reads back as its default from policies stored before it existed.
//! Shared by every backend.

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::{Result, StoreError};
use crate::engine::policy::AttestationMode;
use crate::engine::{Action, EmployeeId, FindingCode, Policy};

#[derive(Serialize, Deserialize)]
#[serde(default)]
struct StoredPolicy {
    max_accuracy_m: f64,
    max_fix_age_s: i64,
    max_clock_skew_s: i64,
    flat_variance: f64,
    still_accel_variance: f64,
    moving_speed_mps: f64,
    wifi_gps_max_gap_m: f64,
    max_travel_speed_mps: f64,
    max_devices_per_employee: usize,
    device_share_window_s: i64,
    /// Finding code name → action name.
    actions: BTreeMap<String, String>,
    field_staff: BTreeSet<String>,
    attestation: String,
}

impl Default for StoredPolicy {
    fn default() -> Self {
        from_policy(&Policy::default())
    }
}

fn from_policy(p: &Policy) -> StoredPolicy {
    StoredPolicy {
        max_accuracy_m: p.max_accuracy_m,
        max_fix_age_s: p.max_fix_age.as_secs(),
        max_clock_skew_s: p.max_clock_skew.as_secs(),
        flat_variance: p.flat_variance,
        still_accel_variance: p.still_accel_variance,
        moving_speed_mps: p.moving_speed_mps,
        wifi_gps_max_gap_m: p.wifi_gps_max_gap_m,
        max_travel_speed_mps: p.max_travel_speed_mps,
        max_devices_per_employee: p.max_devices_per_employee,
        device_share_window_s: p.device_share_window.as_secs(),
        actions: p
            .actions
            .iter()
            .map(|(code, action)| (code.as_str().to_owned(), action.as_str().to_owned()))
            .collect(),
        field_staff: p
            .field_staff
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        attestation: p.attestation.as_str().to_owned(),
    }
}

pub fn to_json(policy: &Policy) -> String {
    serde_json::to_string(&from_policy(policy)).expect("a policy always serialises")
}

pub fn from_json(text: &str) -> Result<Policy> {
    let s: StoredPolicy =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let corrupt =
        |what: &str, v: &str| StoreError::Corrupt(format!("stored policy: unknown {what} {v:?}"));
    Ok(Policy {
        max_accuracy_m: s.max_accuracy_m,
        max_fix_age: SignedDuration::from_secs(s.max_fix_age_s),
        max_clock_skew: SignedDuration::from_secs(s.max_clock_skew_s),
        flat_variance: s.flat_variance,
        still_accel_variance: s.still_accel_variance,
        moving_speed_mps: s.moving_speed_mps,
        wifi_gps_max_gap_m: s.wifi_gps_max_gap_m,
        max_travel_speed_mps: s.max_travel_speed_mps,
        max_devices_per_employee: s.max_devices_per_employee,
        device_share_window: SignedDuration::from_secs(s.device_share_window_s),
        actions: s
            .actions
            .iter()
            .map(|(code, action)| {
                Ok((
                    FindingCode::parse(code).ok_or_else(|| corrupt("finding code", code))?,
                    Action::parse(action).ok_or_else(|| corrupt("action", action))?,
                ))
            })
            .collect::<Result<_>>()?,
        field_staff: s
            .field_staff
            .into_iter()
            .map(|e| EmployeeId::new(e).map_err(StoreError::Corrupt))
            .collect::<Result<_>>()?,
        attestation: AttestationMode::parse(&s.attestation)
            .ok_or_else(|| corrupt("attestation mode", &s.attestation))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_fills_missing_fields_with_defaults() {
        let mut policy = Policy {
            max_accuracy_m: 42.0,
            ..Policy::default()
        };
        policy
            .actions
            .insert(FindingCode::ClockSkew, Action::Ignore);
        policy.field_staff.insert(EmployeeId::new("rep").unwrap());
        assert_eq!(from_json(&to_json(&policy)).unwrap(), policy);
        let old = from_json(r#"{"max_accuracy_m": 80.0}"#).unwrap();
        assert_eq!(
            old,
            Policy {
                max_accuracy_m: 80.0,
                ..Policy::default()
            }
        );
    }
}
