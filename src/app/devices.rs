//! Device bindings: which phones punch for which employee.

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::{DeviceId, EmployeeId};
use crate::store::DeviceBinding;

/// Bindings are an admin's business.
pub const ROLE: Role = Role::Admin;

/// An employee's bindings, revoked ones included (a read of personal data).
pub async fn list(app: &App, actor: &Actor, employee: &EmployeeId) -> Result<Vec<DeviceBinding>> {
    actor.require(ROLE)?;
    audit::read(app.store.as_ref(), actor, "ListDevices", Some(employee), "").await?;
    Ok(app.store.list_devices(&actor.org, employee).await?)
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
