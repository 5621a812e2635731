//! UNBOUND_DEVICE: the employee punches from a device not bound to them.
//! Devices are bound on first use, up to the policy's limit, so a new phone
//! just works; a third phone (by default) needs an admin.

use super::Observation;
use crate::engine::history::History;
use crate::engine::policy::Policy;
use crate::engine::types::{DeviceFacts, FindingCode};

/// The finding when the device is neither bound nor bindable. (Binding a
/// new device on first use is the store's part, see `engine::binds_device`.)
pub fn check(
    device: Option<&DeviceFacts>,
    history: &History,
    policy: &Policy,
) -> Option<Observation> {
    let device = device?;
    if history.bound_devices.contains(&device.device_id)
        || history.bound_devices.len() < policy.max_devices_per_employee
    {
        return None;
    }
    Some((
        FindingCode::UnboundDevice,
        format!(
            "the device is not bound to the employee, who already has {} bound (the limit)",
            history.bound_devices.len()
        ),
    ))
}
