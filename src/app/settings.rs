//! An organisation's settings: its policy, its cheat-signature list, its
//! retention periods and its schedule. A change to the first two is
//! effective for the next punch.

use super::{Actor, App, AppError, Result, audit};
use crate::attendance::{Assignment, CheckedSchedule, Schedule};
use crate::auth::Role;
use crate::engine::signatures::SignatureList;
use crate::engine::{EmployeeId, Policy};
use crate::retention::RetentionPolicy;

/// Settings are an admin's business.
pub const ROLE: Role = Role::Admin;

pub async fn policy(app: &App, actor: &Actor) -> Result<Policy> {
    actor.require(ROLE)?;
    Ok(app.store.load_policy(&actor.org).await?)
}

pub async fn put_policy(app: &App, actor: &Actor, policy: Policy) -> Result<Policy> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "PutPolicy", None, "");
    let version = app
        .store
        .put_policy(&actor.org, policy.clone(), entry)
        .await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, version, "policy changed");
    Ok(policy)
}

/// The organisation's own signature list; `None` when it uses the shipped one.
pub async fn signatures(app: &App, actor: &Actor) -> Result<Option<SignatureList>> {
    actor.require(ROLE)?;
    Ok(app.store.load_signatures(&actor.org).await?)
}

/// Replaces the organisation's list (`None`: back to the shipped one).
pub async fn put_signatures(
    app: &App,
    actor: &Actor,
    own: Option<SignatureList>,
) -> Result<Option<SignatureList>> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "PutSignatures", None, "");
    let version = app
        .store
        .put_signatures(&actor.org, own.clone(), entry)
        .await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, version, "signature list changed");
    Ok(own)
}

pub async fn retention(app: &App, actor: &Actor) -> Result<RetentionPolicy> {
    actor.require(ROLE)?;
    Ok(app.store.load_retention(&actor.org).await?)
}

/// Replaces the retention periods, each within its documented bounds.
pub async fn put_retention(
    app: &App,
    actor: &Actor,
    retention: RetentionPolicy,
) -> Result<RetentionPolicy> {
    actor.require(ROLE)?;
    retention.check().map_err(|(field, description)| {
        AppError::invalid(format!("retention.{field}"), description)
    })?;
    let entry = audit::entry(actor, "PutRetention", None, "");
    app.store
        .put_retention(&actor.org, retention, entry)
        .await?;
    tracing::info!(org = %actor.org, "retention changed");
    Ok(retention)
}

pub async fn schedule(app: &App, actor: &Actor) -> Result<Schedule> {
    actor.require(ROLE)?;
    app.store
        .load_schedule(&actor.org)
        .await?
        .ok_or_else(|| AppError::NotFound("the organisation has no schedule yet".into()))
}

/// Replaces the schedule once it checks out (shifts, assignments, time
/// zone, and every shift a roster day names still defined).
pub async fn put_schedule(app: &App, actor: &Actor, schedule: Schedule) -> Result<Schedule> {
    actor.require(ROLE)?;
    let schedule = checked(app, actor, schedule, "schedule").await?;
    let entry = audit::entry(actor, "PutSchedule", None, "");
    app.store
        .put_schedule(&actor.org, schedule.clone(), entry)
        .await?;
    tracing::info!(org = %actor.org, "schedule changed");
    Ok(schedule)
}

/// How often a change of one employee's week is tried again when another
/// change (another request, another replica) got there first.
const SCHEDULE_SWAP_TRIES: usize = 10;

/// Replaces one employee's weekly assignments, leaving the rest alone.
pub async fn put_employee_shifts(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    assignments: Vec<Assignment>,
) -> Result<Schedule> {
    actor.require(ROLE)?;
    if let Some(i) = assignments.iter().position(|a| &a.employee != employee) {
        return Err(AppError::invalid(
            format!("assignments[{i}].employee_id"),
            "must be the request's employee_id",
        ));
    }
    // Read, change, and swap in only if the stored schedule is still the
    // one read: two changes of different employees at once, on one replica
    // or two, both land.
    for _ in 0..SCHEDULE_SWAP_TRIES {
        let stored = schedule(app, actor).await.map_err(|e| match e {
            AppError::NotFound(_) => AppError::FailedPrecondition(
                "the organisation has no schedule: put one with PutSchedule".into(),
            ),
            e => e,
        })?;
        // The employee's assignments go last; errors name them by their index.
        let mut changed = stored.clone();
        changed.assignments.retain(|a| &a.employee != employee);
        let offset = changed.assignments.len();
        changed.assignments.extend(assignments.clone());
        let renumber = |field: String| match field
            .strip_prefix("assignments[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?.checked_sub(offset)?, rest)))
        {
            Some((i, rest)) => format!("assignments[{i}]{rest}"),
            None => field,
        };
        let changed = checked(app, actor, changed, "")
            .await
            .map_err(|e| match e {
                AppError::InvalidArgument { field, description } => AppError::InvalidArgument {
                    field: renumber(field),
                    description,
                },
                e => e,
            })?;
        let entry = audit::entry(actor, "PutEmployeeShifts", Some(employee), "");
        if app
            .store
            .swap_schedule(&actor.org, &stored, changed.clone(), entry)
            .await?
        {
            tracing::info!(org = %actor.org, "schedule changed");
            return Ok(changed);
        }
    }
    Err(AppError::Store(crate::store::StoreError::Unavailable(
        "the schedule kept changing under this request; try again".into(),
    )))
}

/// `schedule` once it checks out; errors name fields under `prefix`.
async fn checked(app: &App, actor: &Actor, schedule: Schedule, prefix: &str) -> Result<Schedule> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let checked = schedule
        .check()
        .map_err(|e| AppError::invalid(field(&e.field), e.description))?;
    // A roster day may name only shifts the schedule defines.
    let roster = app
        .store
        .load_calendar(
            &actor.org,
            None,
            jiff::civil::Date::MIN,
            jiff::civil::Date::MAX,
        )
        .await?;
    let CheckedSchedule { schedule, .. } = checked
        .with_calendar(crate::attendance::Calendar::new(roster))
        .map_err(|e| AppError::invalid(field("shifts"), e.description))?;
    Ok(schedule)
}
