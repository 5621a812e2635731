//! The audit log from the handlers' side: who read or changed what. Reads of
//! personal data are recorded before the data is returned (an attempt that
//! then fails is still on record); changes after they are made.

use jiff::Timestamp;

use super::App;
use super::auth::Caller;
use super::error::ApiError;
use crate::engine::EmployeeId;
use crate::metrics as m;
use crate::store::AuditEntry;

pub async fn record(
    app: &App,
    caller: &Caller,
    action: &str,
    employee: Option<&EmployeeId>,
    detail: impl Into<String>,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        at: Timestamp::now(),
        actor: caller.token_id.clone(),
        role: caller.role,
        action: action.to_owned(),
        employee: employee.cloned(),
        detail: detail.into(),
    };
    app.store.append_audit(&caller.org, entry).await?;
    metrics::counter!(m::AUDIT_ENTRIES, "role" => caller.role.as_str()).increment(1);
    Ok(())
}
