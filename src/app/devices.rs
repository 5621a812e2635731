//! Device bindings: which phones punch for which employee.

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::{DeviceId, EmployeeId, FindingCode};
use crate::store::{DeviceBinding, Enrolment};

/// Bindings are an admin's business.
pub const ROLE: Role = Role::Admin;

/// One of an employee's devices: bound (on first use or by an admin),
/// enrolled with an attested key, or both.
#[derive(Debug, Clone)]
pub struct ListedDevice {
    pub device: DeviceId,
    pub binding: Option<DeviceBinding>,
    /// The attested key's enrolment, with the findings every punch it
    /// signs carries today.
    pub enrolled: Option<(Enrolment, Vec<FindingCode>)>,
}

/// An employee's devices, revoked bindings included (a read of personal data).
pub async fn list(app: &App, actor: &Actor, employee: &EmployeeId) -> Result<Vec<ListedDevice>> {
    actor.require(ROLE)?;
    audit::read(app.store.as_ref(), actor, "ListDevices", Some(employee), "").await?;
    let mut enrolled = super::attestation::enrolled(app, actor, employee).await?;
    let mut listed: Vec<ListedDevice> = app
        .store
        .list_devices(&actor.org, employee)
        .await?
        .into_iter()
        .map(|binding| {
            let position = enrolled
                .iter()
                .position(|(e, _)| e.device == binding.device);
            ListedDevice {
                device: binding.device.clone(),
                enrolled: position.map(|i| enrolled.swap_remove(i)),
                binding: Some(binding),
            }
        })
        .collect();
    // Enrolled, but not yet bound: its first punch binds it.
    listed.extend(enrolled.into_iter().map(|e| ListedDevice {
        device: e.0.device.clone(),
        binding: None,
        enrolled: Some(e),
    }));
    Ok(listed)
}

/// Binds (or re-binds) a device to an employee.
pub async fn bind(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    device: &DeviceId,
) -> Result<DeviceBinding> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "BindDevice", Some(employee), "");
    let binding = app
        .store
        .bind_device(&actor.org, employee, device, entry)
        .await?;
    tracing::info!(org = %actor.org, bind = true, "device binding changed");
    Ok(binding)
}

/// Revokes a binding; the device's next punch is UNBOUND_DEVICE.
pub async fn revoke(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    device: &DeviceId,
) -> Result<DeviceBinding> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "RevokeDevice", Some(employee), "");
    let binding = app
        .store
        .revoke_device(&actor.org, employee, device, entry)
        .await?
        .ok_or_else(|| AppError::NotFound("the device was never bound to the employee".into()))?;
    tracing::info!(org = %actor.org, bind = false, "device binding changed");
    Ok(binding)
}
