//! Sends each webhook its events: one task per webhook, one event at a
//! time, retried with exponential backoff until the receiver answers 2xx.
//! The cursors move (durably) after the receiver acknowledged, at the end
//! of each batch and before each wait: a restart resends at most one batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Request, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{
    EVENT_ID_HEADER, Event, EventKind, SIGNATURE_HEADER, day_event_id, last_closed_date,
    punch_event_id, signature,
};
use crate::engine::OrgId;
use crate::reports::{self, export};
use crate::store::{Delivery, Store, StoredWebhook, WebhookCursors};

/// How the dispatcher paces itself.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// How often it looks for new webhooks and new events when idle.
    pub poll: Duration,
    /// The first wait after a failed attempt; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Events sent before the cursors are saved.
    pub batch: usize,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            poll: Duration::from_secs(1),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            batch: 100,
        }
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Runs until `stop`: starts a task for each webhook as it appears; a task
/// ends when its webhook is deleted.
pub async fn run(store: Arc<dyn Store>, settings: DispatchSettings, stop: CancellationToken) {
    let client = match http_client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhooks off: no TLS configuration");
            return;
        }
    };
    let mut running: HashMap<(OrgId, String), tokio::task::JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(settings.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        running.retain(|_, task| !task.is_finished());
        let hooks = match store.webhooks(None).await {
            Ok(hooks) => hooks,
            Err(e) => {
                tracing::warn!(error = %e, "could not list webhooks");
                continue;
            }
        };
        for hook in hooks {
            let key = (hook.org.clone(), hook.config.id.clone());
            running.entry(key).or_insert_with(|| {
                let sender = Sender {
                    store: store.clone(),
                    client: client.clone(),
                    settings,
                    org: hook.org,
                    id: hook.config.id,
                    stop: stop.clone(),
                };
                tokio::spawn(sender.run())
            });
        }
    }
    for (_, task) in running {
        let _ = task.await;
    }
}

fn http_client() -> Result<HttpClient, rustls::Error> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// One event ready to send, and the cursors once it is acknowledged.
struct Pending {
    kind: EventKind,
    id: String,
    body: Vec<u8>,
    after: WebhookCursors,
}

impl Pending {
    /// The event of a punch's record or review at stream `position`.
    fn of(
        kind: EventKind,
        org: &OrgId,
        position: i64,
        data: impl Serialize,
        after: WebhookCursors,
    ) -> Self {
        let id = punch_event_id(kind, position);
        let body = Event::new(kind, org, id.clone(), position.to_string(), data).body();
        Pending {
            kind,
            id,
            body,
            after,
        }
    }

    /// No event: only the cursors move (a kind the webhook does not take,
    /// a date no one had results on).
    fn cursors_only(after: WebhookCursors) -> Self {
        Pending {
            kind: EventKind::DayClosed,
            id: String::new(),
            body: Vec::new(),
            after,
        }
    }

    fn is_event(&self) -> bool {
        !self.id.is_empty()
    }
}

/// What a `punch.reviewed` event carries: the punch as `punch.recorded`
/// does, and the decision.
#[derive(Serialize)]
struct Reviewed<'a> {
    punch: export::PunchLine<'a>,
    approved: bool,
    reason: &'a str,
    reviewer: &'a str,
    reviewed_time: Timestamp,
}

struct Sender {
    store: Arc<dyn Store>,
    client: HttpClient,
    settings: DispatchSettings,
    org: OrgId,
    id: String,
    stop: CancellationToken,
}

impl Sender {
    async fn run(self) {
        // One sender a webhook across replicas; another replica's sender
        // keeps it, and this one is tried again at the next poll.
        let _claim = match self.store.claim_webhook(&self.org, &self.id).await {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                self.pause(self.settings.poll).await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, webhook = %self.id, "could not claim a webhook");
                self.pause(self.settings.poll).await;
                return;
            }
        };
        let mut backoff = self.settings.min_backoff;
        // The event that failed last, and how many attempts it has had.
        let mut failing: Option<(String, u32)> = None;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            // The configuration afresh each round: a new URL or secret
            // applies to the next attempt; a deleted webhook stops here.
            let hook = match self.store.webhooks(Some(&self.org)).await {
                Ok(hooks) => match hooks.into_iter().find(|w| w.config.id == self.id) {
                    Some(hook) => hook,
                    None => return,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "could not read a webhook");
                    self.pause(self.settings.poll).await;
                    continue;
                }
            };
            let pending = match self.next_events(&hook).await {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::warn!(error = %e, webhook = %self.id, "could not gather events");
                    self.pause(self.settings.poll).await;
                    continue;
                }
            };
            if pending.is_empty() {
                self.pause(self.settings.poll).await;
                continue;
            }
            let mut log = Vec::new();
            let mut acknowledged = hook.cursors.clone();
            let mut failed = false;
            for event in &pending {
                // At shutdown, what was acknowledged so far is saved below.
                if self.stop.is_cancelled() {
                    break;
                }
                if event.is_event() {
                    let attempt = match &failing {
                        Some((id, attempts)) if *id == event.id => attempts + 1,
                        _ => 1,
                    };
                    let delivery = self.send(&hook, event, attempt).await;
                    let ok = delivery.error.is_none();
                    log.push(delivery);
                    if !ok {
                        failing = Some((event.id.clone(), attempt));
                        failed = true;
                        break;
                    }
                    failing = None;
                }
                acknowledged = event.after.clone();
            }
            if !failed {
                backoff = self.settings.min_backoff;
            }
            if let Err(e) = self.save(acknowledged, &hook.cursors, log).await {
                tracing::warn!(error = %e, webhook = %self.id, "could not save deliveries");
            }
            if failed {
                self.pause(backoff).await;
                backoff = (backoff * 2).min(self.settings.max_backoff);
            }
        }
    }

    async fn pause(&self, wait: Duration) {
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    async fn save(
        &self,
        acknowledged: WebhookCursors,
        before: &WebhookCursors,
        log: Vec<Delivery>,
    ) -> crate::store::Result<()> {
        if acknowledged != *before {
            self.store
                .advance_webhook(&self.org, &self.id, acknowledged)
                .await?;
        }
        if !log.is_empty() {
            self.store.log_deliveries(&self.org, &self.id, log).await?;
        }
        Ok(())
    }

    /// One attempt: POST the body, signed, and wait for a 2xx.
    async fn send(&self, hook: &StoredWebhook, event: &Pending, attempt: u32) -> Delivery {
        let at = Timestamp::now();
        let started = Instant::now();
        let request = Request::post(&hook.config.url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::USER_AGENT,
                concat!("punchguard/", env!("CARGO_PKG_VERSION")),
            )
            .header(EVENT_ID_HEADER, &event.id)
            .header(
                SIGNATURE_HEADER,
                signature(&hook.config.secret, at, &event.body),
            )
            .body(Full::new(Bytes::from(event.body.clone())));
        let outcome = match request {
            Err(e) => Err((None, format!("bad request: {e}"))),
            Ok(request) => {
                match tokio::time::timeout(self.settings.timeout, self.client.request(request))
                    .await
                {
                    Err(_) => Err((None, "timed out".to_owned())),
                    Ok(Err(e)) => Err((None, format!("{e:#}"))),
                    Ok(Ok(answer)) if answer.status().is_success() => Ok(answer.status()),
                    Ok(Ok(answer)) => Err((
                        Some(answer.status()),
                        format!("answered {}", answer.status()),
                    )),
                }
            }
        };
        let (status, error) = match outcome {
            Ok(status) => (Some(status.as_u16()), None),
            Err((status, error)) => (status.map(|s| s.as_u16()), Some(error)),
        };
        let result = if error.is_none() { "ok" } else { "failed" };
        metrics::counter!(
            crate::metrics::WEBHOOK_DELIVERIES,
            "event" => event.kind.as_str(),
            "outcome" => result
        )
        .increment(1);
        Delivery {
            event_id: event.id.clone(),
            kind: event.kind,
            attempt,
            at,
            status,
            error,
            duration_ms: started.elapsed().as_millis().min(u32::MAX as u128) as u32,
        }
    }

    /// The next events after the webhook's cursors: recorded punches, then
    /// reviews, then the next closed date, at most a batch of each. A kind
    /// the webhook does not take only moves its cursor (a placeholder with
    /// no id carries it).
    async fn next_events(&self, hook: &StoredWebhook) -> crate::store::Result<Vec<Pending>> {
        let store = self.store.as_ref();
        let org = &self.org;
        let wants = |kind| hook.config.events.contains(&kind);
        let tz = reports::schedule(store, org)
            .await?
            .map_or(jiff::tz::TimeZone::UTC, |s| s.tz);
        let mut cursors = hook.cursors.clone();
        let mut pending = Vec::new();

        if wants(EventKind::PunchRecorded) {
            for row in store
                .punches_after(org, cursors.punches, self.settings.batch)
                .await?
            {
                cursors.punches = row.seq;
                let data = export::PunchLine::new(&row, &tz);
                pending.push(Pending::of(
                    EventKind::PunchRecorded,
                    org,
                    row.seq,
                    data,
                    cursors.clone(),
                ));
            }
        } else {
            let latest = store.latest_seq(org).await?;
            if latest > cursors.punches {
                cursors.punches = latest;
                pending.push(Pending::cursors_only(cursors.clone()));
            }
        }

        for (order, row) in store
            .reviews_after(org, cursors.reviews, self.settings.batch)
            .await?
        {
            cursors.reviews = order;
            match &row.review {
                Some(review) if wants(EventKind::PunchReviewed) => {
                    let data = Reviewed {
                        punch: export::PunchLine::new(&row, &tz),
                        approved: review.approved,
                        reason: &review.reason,
                        reviewer: &review.reviewer,
                        reviewed_time: review.at,
                    };
                    pending.push(Pending::of(
                        EventKind::PunchReviewed,
                        org,
                        order,
                        data,
                        cursors.clone(),
                    ));
                }
                _ => pending.push(Pending::cursors_only(cursors.clone())),
            }
        }

        // The next closed date, a batch of its employees a round (in id
        // order, resumed after the last one acknowledged); the date counts
        // as sent with its last employee.
        let closed = last_closed_date(&tz, Timestamp::now());
        if !wants(EventKind::DayClosed) {
            if closed > cursors.closed_through {
                cursors.closed_through = closed;
                cursors.closing_after = None;
                pending.push(Pending::cursors_only(cursors.clone()));
            }
        } else if let Some(date) = cursors
            .closed_through
            .tomorrow()
            .ok()
            .filter(|d| *d <= closed)
        {
            pending.extend(self.closed_day(date, cursors).await?);
        }
        Ok(pending)
    }

    /// The next `day.closed` events of `date` after `cursors`: a batch of
    /// employees, one event each, and the date done after the last of them.
    async fn closed_day(
        &self,
        date: Date,
        cursors: WebhookCursors,
    ) -> crate::store::Result<Vec<Pending>> {
        let store = self.store.as_ref();
        let done = WebhookCursors {
            closed_through: date,
            closing_after: None,
            ..cursors.clone()
        };
        let Some(schedule) = reports::schedule_for(store, &self.org, date, date).await? else {
            return Ok(vec![Pending::cursors_only(done)]);
        };
        let mut employees: Vec<_> = schedule
            .employees()
            .into_iter()
            .filter(|e| cursors.closing_after.as_ref().is_none_or(|after| e > after))
            .collect();
        let last_batch = employees.len() <= self.settings.batch;
        employees.truncate(self.settings.batch);
        let mut pending = Vec::new();
        for employee in employees {
            let days =
                reports::employee_days(store, &self.org, &schedule, &employee, &[date]).await?;
            let after = WebhookCursors {
                closing_after: Some(employee.clone()),
                ..cursors.clone()
            };
            for r in &days.results {
                let id = day_event_id(date, employee.as_str());
                let event = Event::new(
                    EventKind::DayClosed,
                    &self.org,
                    id.clone(),
                    date.to_string(),
                    export::DailyLine::new(r, &days, &schedule.tz),
                );
                pending.push(Pending {
                    kind: EventKind::DayClosed,
                    id,
                    body: event.body(),
                    after: after.clone(),
                });
            }
        }
        if last_batch {
            pending.push(Pending::cursors_only(done));
        }
        Ok(pending)
    }
}
