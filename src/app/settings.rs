//! An organisation's settings: its policy, its cheat-signature list, its
//! retention periods and its schedule. A change to the first two is
//! effective for the next punch.

use super::{Actor, App, AppError, Result, audit};
use crate::attendance::{CheckedSchedule, Schedule};
use crate::auth::Role;
use crate::engine::Policy;
use crate::engine::signatures::SignatureList;
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

/// Replaces the schedule once it checks out (shifts, assignments, time zone).
pub async fn put_schedule(app: &App, actor: &Actor, schedule: Schedule) -> Result<Schedule> {
    actor.require(ROLE)?;
    let CheckedSchedule { schedule, .. } = schedule
        .check()
        .map_err(|e| AppError::invalid(format!("schedule.{}", e.field), e.description))?;
    let entry = audit::entry(actor, "PutSchedule", None, "");
    app.store
        .put_schedule(&actor.org, schedule.clone(), entry)
        .await?;
    tracing::info!(org = %actor.org, "schedule changed");
    Ok(schedule)
}
