//! Data-subject rights and the audit log: consent for optional purposes,
//! everything held about a person, erasure, and who read or changed what.

use jiff::Timestamp;

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::{ConsentPurpose, EmployeeId};
use crate::store::{AuditQuery, AuditRecord, ConsentRecord, ErasureCounts};

/// Privacy requests are a privacy officer's business.
pub const ROLE: Role = Role::Privacy;

pub async fn set_consent(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    purpose: ConsentPurpose,
    granted: bool,
) -> Result<ConsentRecord> {
    actor.require(ROLE)?;
    let detail = format!("{} granted={granted}", purpose.as_str());
    let entry = audit::entry(actor, "SetConsent", Some(employee), detail);
    let record = app
        .store
        .set_consent(&actor.org, employee, purpose, granted, entry)
        .await?;
    tracing::info!(org = %actor.org, purpose = purpose.as_str(), granted, "consent changed");
    Ok(record)
}

pub async fn consents(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
) -> Result<Vec<ConsentRecord>> {
    actor.require(ROLE)?;
    audit::read(
        app.store.as_ref(),
        actor,
        "ListConsents",
        Some(employee),
        "",
    )
    .await?;
    Ok(app.store.list_consents(&actor.org, employee).await?)
}

/// Everything held about the employee, as the JSON document the README
/// describes: what the store holds, their place in the schedule, and this
/// export's own audit entry.
pub async fn export(app: &App, actor: &Actor, employee: &EmployeeId) -> Result<String> {
    actor.require(ROLE)?;
    let schedule = app.store.load_schedule(&actor.org).await?;
    let scheduled = schedule
        .as_ref()
        .is_some_and(|s| s.assignments.iter().any(|a| a.employee == *employee));
    if !scheduled
        && app
            .store
            .employee_data(&actor.org, employee)
            .await?
            .is_empty()
    {
        return Err(no_data());
    }
    audit::read(
        app.store.as_ref(),
        actor,
        "ExportEmployee",
        Some(employee),
        "",
    )
    .await?;
    // Read again so that the export lists its own audit entry too.
    let data = app.store.employee_data(&actor.org, employee).await?;
    let enrolled = app.store.enrolled_devices(&actor.org, employee).await?;
    let now = Timestamp::now();
    let daily = daily_results(app, actor, employee, &data, now).await?;
    Ok(crate::privacy::export_json(
        &actor.org,
        employee,
        &data,
        &enrolled,
        schedule.as_ref(),
        daily.as_ref().map(|(days, tz)| (days, tz)),
        now,
    ))
}

/// Days of daily results an export holds at most, back from today.
const EXPORT_DAYS: i64 = 366;
/// Days back an export's results start when no punch of the person is held.
const EXPORT_DAYS_WITHOUT_PUNCHES: i64 = 31;

/// What HR's results say about the employee: from the day of their first
/// punch still held (a month back without one, a year at most) to today,
/// in the schedule's time zone (which comes with them). `None` when the
/// schedule does not name them.
async fn daily_results(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    data: &crate::store::EmployeeData,
    now: Timestamp,
) -> Result<Option<(crate::reports::EmployeeDays, jiff::tz::TimeZone)>> {
    let store = app.store.as_ref();
    let Some(schedule) = crate::reports::schedule(store, &actor.org).await? else {
        return Ok(None);
    };
    let today = schedule.tz.to_datetime(now).date();
    let days_back = |n: i64| today.saturating_sub(jiff::Span::new().days(n));
    let first = data
        .punches
        .iter()
        .map(|(row, _)| schedule.tz.to_datetime(row.client_time).date())
        .min()
        .unwrap_or_else(|| days_back(EXPORT_DAYS_WITHOUT_PUNCHES))
        .clamp(days_back(EXPORT_DAYS), today);
    let dates: Vec<jiff::civil::Date> = first
        .series(jiff::Span::new().days(1))
        .take_while(|d| *d <= today)
        .collect();
    let Some(schedule) = crate::reports::schedule_for(store, &actor.org, first, today).await?
    else {
        return Ok(None);
    };
    if !schedule.is_assigned(employee) {
        return Ok(None);
    }
    let days =
        crate::reports::employee_days(store, &actor.org, &schedule, employee, &dates).await?;
    Ok(Some((days, schedule.tz.clone())))
}

/// Erases the employee's data (see [`crate::store::Store::erase_employee`]).
pub async fn erase(app: &App, actor: &Actor, employee: &EmployeeId) -> Result<ErasureCounts> {
    actor.require(ROLE)?;
    // Serialised with the employee's punches: none can slip in half-way.
    let _serialised = app.employee_locks.lock(&actor.org, employee).await;
    let _leased = app.store.lease_employee(&actor.org, employee).await?;
    // The entry names no one: after erasure nothing may link to the id.
    let entry = audit::entry(actor, "EraseEmployee", None, "");
    let erased = app
        .store
        .erase_employee(&actor.org, employee, entry)
        .await?;
    if erased.is_empty() {
        return Err(no_data());
    }
    // The policy may have named them among its field staff.
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, punches = erased.punches, "employee erased");
    Ok(erased)
}

/// The organisation's audit log in order, optionally about one employee
/// (a read that is itself audited).
///
/// The entry of this read names the employee asked about only by a keyed
/// pseudonym, never by their id: asking whether an erased person left a
/// trace must not write their id back into the log (nor make an export
/// find them again).
pub async fn audit_log(
    app: &App,
    actor: &Actor,
    employee: Option<EmployeeId>,
    after_id: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>> {
    actor.require(ROLE)?;
    let about = employee
        .as_ref()
        .map(|e| format!("about {}", crate::privacy::pseudonym(&actor.org, e)))
        .unwrap_or_default();
    audit::read(app.store.as_ref(), actor, "ListAuditEntries", None, about).await?;
    Ok(app
        .store
        .list_audit(AuditQuery {
            org: actor.org.clone(),
            employee,
            after_id,
            limit,
        })
        .await?)
}

fn no_data() -> AppError {
    AppError::NotFound("no data is held about that employee in the organisation".into())
}
