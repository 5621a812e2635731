//! Webhooks as an admin manages them: which events go where, signed with
//! which secret, and the log of deliveries. The dispatcher that sends them
//! is `crate::webhooks::dispatch`.

use jiff::Timestamp;

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::check_id;
use crate::store::{Delivery, StoredWebhook, WebhookConfig};
use crate::webhooks::{self, EventKind, MAX_WEBHOOKS};

/// Webhooks are an admin's business.
pub const ROLE: Role = Role::Admin;

/// A webhook as an admin describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
}

/// Creates or changes a webhook; the secret when this call issued one (a
/// new webhook, or `rotate_secret`).
pub async fn put(
    app: &App,
    actor: &Actor,
    spec: WebhookSpec,
    rotate_secret: bool,
) -> Result<(StoredWebhook, Option<String>)> {
    actor.require(ROLE)?;
    let mut problems = Vec::new();
    if let Err(e) = check_id(&spec.id) {
        problems.push(("webhook.webhook_id".to_owned(), e));
    }
    if let Err(e) = webhooks::check_url(&spec.url) {
        problems.push(("webhook.url".to_owned(), e));
    }
    if spec.events.is_empty() {
        problems.push(("webhook.events".to_owned(), "at least one".to_owned()));
    }
    if !problems.is_empty() {
        return Err(AppError::InvalidArguments(problems));
    }
    let existing = app.store.webhooks(Some(&actor.org)).await?;
    let current = existing.iter().find(|w| w.config.id == spec.id);
    if current.is_none() && existing.len() >= MAX_WEBHOOKS {
        return Err(AppError::FailedPrecondition(format!(
            "at most {MAX_WEBHOOKS} webhooks an organisation"
        )));
    }
    let issued = (current.is_none() || rotate_secret).then(webhooks::new_secret);
    let mut events = spec.events;
    events.sort();
    events.dedup();
    let config = WebhookConfig {
        secret: match (&issued, current) {
            (Some(secret), _) => secret.clone(),
            (None, Some(current)) => current.config.secret.clone(),
            (None, None) => unreachable!("a new webhook is issued a secret"),
        },
        created_at: current.map_or_else(Timestamp::now, |c| c.config.created_at),
        id: spec.id,
        url: spec.url,
        events,
    };
    // A new webhook reports the dates that close from now on.
    let tz = super::attendance::zone(app, actor).await?;
    let closed_through = webhooks::last_closed_date(&tz, Timestamp::now());
    let detail = format!(
        "{} → {}{}",
        config.id,
        config.url,
        if issued.is_some() { ", new secret" } else { "" }
    );
    let entry = audit::entry(actor, "PutWebhook", None, detail);
    let stored = app
        .store
        .put_webhook(&actor.org, config, closed_through, entry)
        .await?;
    Ok((stored, issued))
}

/// The organisation's webhooks, their secrets left out by the caller.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<StoredWebhook>> {
    actor.require(ROLE)?;
    Ok(app.store.webhooks(Some(&actor.org)).await?)
}

pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<WebhookConfig> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "DeleteWebhook", None, id);
    app.store
        .delete_webhook(&actor.org, id, entry)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no webhook {id}")))
}

/// A webhook's delivery attempts, newest first.
pub async fn deliveries(app: &App, actor: &Actor, id: &str, limit: usize) -> Result<Vec<Delivery>> {
    actor.require(ROLE)?;
    let hooks = app.store.webhooks(Some(&actor.org)).await?;
    if !hooks.iter().any(|w| w.config.id == id) {
        return Err(AppError::NotFound(format!("no webhook {id}")));
    }
    Ok(app.store.deliveries(&actor.org, id, limit).await?)
}
