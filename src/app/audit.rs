//! The audit log: who read or changed what. A read of personal data is
//! recorded before the data is returned (an attempt that then fails is
//! still on record); a change is recorded by the store in the same
//! transaction as the change itself, so that no change goes unaudited.

use jiff::Timestamp;

use super::{Actor, Result};
use crate::engine::EmployeeId;
use crate::metrics as m;
use crate::store::{AuditEntry, Store};

/// The entry recording that `actor` did `action`.
pub fn entry(
    actor: &Actor,
    action: &str,
    employee: Option<&EmployeeId>,
    detail: impl Into<String>,
) -> AuditEntry {
    metrics::counter!(m::AUDIT_ENTRIES, "role" => actor.role.as_str()).increment(1);
    AuditEntry {
        at: Timestamp::now(),
        actor: actor.id.clone(),
        role: actor.role,
        action: action.to_owned(),
        employee: employee.cloned(),
        detail: detail.into(),
    }
}

/// Records a read of personal data before it is made.
pub async fn read(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    employee: Option<&EmployeeId>,
    detail: impl Into<String>,
) -> Result<()> {
    store
        .append_audit(&actor.org, entry(actor, action, employee, detail))
        .await?;
    Ok(())
}
