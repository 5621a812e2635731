//! What the store remembers about an employee and their device, as the
//! history rules need it: the last accepted fix, the devices bound to the
//! employee, who else the device punched for lately, whether the punch's
//! nonce was seen before, and the consents on record. The service gathers it; the engine only
//! reads it.

use jiff::Timestamp;

use super::types::{Decision, DeviceId, EmployeeId, Punch, Verdict};

/// The fix of the employee's last accepted punch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastFix {
    pub at: Timestamp,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_m: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    pub last_accepted: Option<LastFix>,
    /// Devices bound to the employee (first use, or by an admin).
    pub bound_devices: Vec<DeviceId>,
    /// Other employees the punch's device punched for within the policy's
    /// sharing window.
    pub device_other_employees: Vec<EmployeeId>,
    /// The punch's nonce was already used by its device.
    pub nonce_seen: bool,
    /// The employee's consent to automatic punches is on record.
    pub auto_punch_consent: bool,
    /// The punch's device's attested key, when it enrolled one for this
    /// employee (looked up only when attestation can matter).
    pub attested: Option<super::attestation::AttestedDevice>,
}

/// The scope a nonce is unique in: its device, or the employee when the
/// punch names no device.
pub fn nonce_scope(employee: &EmployeeId, device: Option<&DeviceId>) -> String {
    match device {
        Some(d) => format!("device:{d}"),
        None => format!("employee:{employee}"),
    }
}

/// What recording a punch adds to the history later punches are judged on.
/// Every keeper of history (each store, its cache, `verify`'s replay)
/// applies this one delta, so that they cannot disagree on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryDelta<'a> {
    /// The employee's last accepted fix, when the punch was accepted.
    pub last_accepted: Option<LastFix>,
    /// The device this punch binds to the employee (see [`binds_device`]).
    pub binds: Option<&'a DeviceId>,
    /// The device the punch came from: it punched for the employee then.
    pub device_used: Option<&'a DeviceId>,
    /// The nonce the punch used, with its scope ([`nonce_scope`]).
    pub nonce: Option<(String, &'a str)>,
    /// The device's new App Attest assertion counter.
    pub assertion_counter: Option<(&'a DeviceId, u32)>,
}

impl<'a> HistoryDelta<'a> {
    pub fn of(punch: &'a Punch, verdict: &Verdict) -> Self {
        let device = punch.device.as_ref().map(|d| &d.device_id);
        HistoryDelta {
            last_accepted: match (verdict.decision, &punch.gps) {
                (Decision::Accepted, Some(fix)) => Some(LastFix {
                    at: fix.fix_time,
                    latitude: fix.latitude,
                    longitude: fix.longitude,
                    accuracy_m: fix.accuracy_m,
                }),
                _ => None,
            },
            binds: device.filter(|_| binds_device(punch, verdict)),
            device_used: device,
            nonce: punch
                .nonce
                .as_deref()
                .map(|n| (nonce_scope(&punch.employee, device), n)),
            assertion_counter: match (verdict.assurance, device) {
                (super::types::Assurance::Attested { counter: Some(c) }, Some(d)) => Some((d, c)),
                _ => None,
            },
        }
    }
}

/// Whether recording `punch` with `verdict` binds the punch's device to the
/// employee: a device new to the employee is bound on first use unless the
/// binding rule refused it (the limit is reached) or the punch was rejected
/// (an emulator must not take a slot).
pub fn binds_device(punch: &Punch, verdict: &Verdict) -> bool {
    punch.device.is_some()
        && verdict.decision != Decision::Rejected
        && !verdict.has(super::types::FindingCode::UnboundDevice)
}
