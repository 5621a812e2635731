//! What the store remembers about an employee and their device, as the
//! history rules need it: the last accepted fix, the devices bound to the
//! employee, who else the device punched for lately, whether the punch's
//! nonce was seen before, and the consents on record. The service gathers it; the engine only
//! reads it.

use jiff::Timestamp;

use super::types::{DeviceId, EmployeeId};

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
}
