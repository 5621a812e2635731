//! Webhooks against a real HTTP receiver on loopback that goes down and
//! comes back, across a restart of punchguard itself: every event arrives
//! at least once, each signature verifies, and each employee's punches
//! arrive in the order they were recorded.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use common::*;
use punchguard::auth::Role;
use punchguard::engine::OrgId;
use punchguard::proto::v1 as pb;
use punchguard::webhooks;

/// What the receiver saw: each request's event, and any it refused.
#[derive(Default)]
struct Received {
    secret: String,
    /// (event id, type, body) in arrival order, resends included.
    events: Vec<(String, String, serde_json::Value)>,
    bad_signatures: usize,
}

/// An HTTP receiver on `addr` until `stop`: verifies each request as the
/// README tells receivers to, then answers 200.
async fn receiver(addr: std::net::SocketAddr, seen: Arc<Mutex<Received>>, stop: CancellationToken) {
    let handler = move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let mut seen = seen.lock().unwrap();
            let signature = headers
                .get(webhooks::SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if webhooks::verify(&seen.secret, signature, &body, Timestamp::now()).is_err() {
                seen.bad_signatures += 1;
                return StatusCode::UNAUTHORIZED;
            }
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let id = event["id"].as_str().unwrap().to_owned();
            assert_eq!(
                headers[webhooks::EVENT_ID_HEADER].to_str().unwrap(),
                id,
                "the header names the body's event"
            );
            let kind = event["type"].as_str().unwrap().to_owned();
            seen.events.push((id, kind, event));
            StatusCode::OK
        }
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(handler));
    // The port comes back after a restart (SO_REUSEADDR is tokio's default).
    let listener = TcpListener::bind(addr).await.unwrap();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .unwrap();
}

fn start_receiver(
    addr: std::net::SocketAddr,
    seen: &Arc<Mutex<Received>>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(receiver(addr, seen.clone(), stop.clone()));
    (stop, task)
}

/// Waits until `done` holds of what was received, for at most a minute.
async fn until(seen: &Arc<Mutex<Received>>, done: impl Fn(&Received) -> bool) {
    for _ in 0..600 {
        if done(&seen.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap();
    let ids: Vec<&str> = seen.events.iter().map(|e| e.0.as_str()).collect();
    panic!("not everything arrived; received {ids:?}");
}

fn ids_of(seen: &Received, kind: &str) -> HashSet<String> {
    seen.events
        .iter()
        .filter(|e| e.1 == kind)
        .map(|e| e.0.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_signed_and_in_order_across_outages_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("punchguard.db");
    let server = TestServer::start_at(database.clone()).await;
    let admin = server.token("acme", Role::Admin, None).await;
    let hr = server.token("acme", Role::Hr, None).await;
    server.import(&admin, HQ).await;
    let mut admin_client = server.admin_client().await;
    let (shift, _) = shift_around_now("day", 0);
    // More employees than a test server's batch (3): a closed date is
    // sent in parts.
    let assignments = ["aino", "onni", "liisa", "ville"]
        .map(|e| every_day(e, "day"))
        .to_vec();
    server.put_schedule(&admin, vec![shift], assignments).await;

    // The receiver, on a port it will come back to.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let seen = Arc::new(Mutex::new(Received::default()));
    let (stop_receiver, receiver_task) = start_receiver(addr, &seen);

    let webhook = |url: String| pb::Webhook {
        webhook_id: "hr-system".into(),
        url,
        events: vec![
            pb::WebhookEvent::PunchRecorded.into(),
            pb::WebhookEvent::PunchReviewed.into(),
            pb::WebhookEvent::DayClosed.into(),
        ],
        created_time: None,
    };
    // Plain HTTP is refused off loopback.
    let refused = admin_client
        .put_webhook(authed(
            pb::PutWebhookRequest {
                webhook: Some(webhook("http://hr.example.com/hook".into())),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&refused).as_deref(), Some("webhook.url"));
    let answer = admin_client
        .put_webhook(authed(
            pb::PutWebhookRequest {
                webhook: Some(webhook(format!("http://{addr}/hook"))),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(answer.secret.starts_with("whsec_"));
    seen.lock().unwrap().secret = answer.secret.clone();
    // Report the last three closed dates too (a new webhook starts with
    // those closing from now on): the date cursor moved back in the store.
    let org = OrgId::new("acme").unwrap();
    let store = server.app.store.clone();
    let mut cursors = store.webhooks(Some(&org)).await.unwrap()[0].cursors.clone();
    let last_closed = cursors.closed_through;
    cursors.closed_through = last_closed.checked_sub(jiff::Span::new().days(3)).unwrap();
    store
        .advance_webhook(&org, "hr-system", cursors)
        .await
        .unwrap();

    let mut punches = server.punch_client().await;
    let mut submit = async |employee: &str, id: String, request: pb::SubmitPunchRequest| {
        let token = server.token("acme", Role::Device, Some(employee)).await;
        let mut request = request;
        request.punch_id = id;
        punches.submit_punch(authed(request, &token)).await.unwrap();
    };
    let inside = || punch_at("x", geo::Point::new(26.94, 60.47), 10.0);
    for i in 0..10 {
        submit("aino", format!("aino-{i}"), inside()).await;
        submit("onni", format!("onni-{i}"), inside()).await;
    }
    until(&seen, |s| ids_of(s, "punch.recorded").len() >= 20).await;

    // The receiver goes down; punches, a review and a restart of
    // punchguard happen while it is away.
    stop_receiver.cancel();
    receiver_task.await.unwrap();
    submit("aino", "aino-edge".into(), at_the_edge("x")).await;
    for i in 10..20 {
        submit("aino", format!("aino-{i}"), inside()).await;
        submit("onni", format!("onni-{i}"), inside()).await;
    }
    server
        .attendance_client()
        .await
        .review_punch(authed(
            pb::ReviewPunchRequest {
                org_id: String::new(),
                employee_id: "aino".into(),
                punch_id: "aino-edge".into(),
                approve: true,
                reason: "was at the door".into(),
            },
            &hr,
        ))
        .await
        .unwrap();
    // Failed attempts pile up, with backoff, while it is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.stop().await;
    let server = TestServer::start_at(database).await;
    let (stop_receiver, receiver_task) = start_receiver(addr, &seen);

    let expected_punches = 41;
    let expected_days = 3 * 4;
    until(&seen, |s| {
        ids_of(s, "punch.recorded").len() >= expected_punches
            && !ids_of(s, "punch.reviewed").is_empty()
            && ids_of(s, "day.closed").len() >= expected_days
    })
    .await;

    {
        let seen_now = seen.lock().unwrap();
        assert_eq!(seen_now.bad_signatures, 0);
        // Each employee's punches in record order (first arrival of each).
        let mut first_arrival: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut counted = HashSet::new();
        for (id, kind, event) in &seen_now.events {
            if kind == "punch.recorded" && counted.insert(id.clone()) {
                let employee = event["data"]["employee_id"].as_str().unwrap().to_owned();
                let seq: i64 = event["sequence"].as_str().unwrap().parse().unwrap();
                first_arrival.entry(employee).or_default().push(seq);
            }
        }
        assert_eq!(first_arrival["aino"].len(), 21);
        assert_eq!(first_arrival["onni"].len(), 20);
        for seqs in first_arrival.values() {
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "out of order: {seqs:?}"
            );
        }
        let reviewed = seen_now
            .events
            .iter()
            .find(|e| e.1 == "punch.reviewed")
            .unwrap();
        assert_eq!(reviewed.2["data"]["punch"]["punch_id"], "aino-edge");
        assert_eq!(reviewed.2["data"]["approved"], true);
        // day.closed: the three dates, each employee's daily result.
        let days: HashSet<String> = seen_now
            .events
            .iter()
            .filter(|e| e.1 == "day.closed")
            .map(|e| format!("{}/{}", e.2["data"]["date"], e.2["data"]["employee_id"]))
            .collect();
        // At least those; one more date if 04:00 in Helsinki passed meanwhile.
        assert!(days.len() >= expected_days, "{days:?}");
    }

    // The delivery log shows the failed attempts and the successes.
    let deliveries = server
        .admin_client()
        .await
        .list_webhook_deliveries(authed(
            pb::ListWebhookDeliveriesRequest {
                webhook_id: "hr-system".into(),
                page_size: 1000,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert!(
        deliveries
            .iter()
            .any(|d| d.status == 0 && !d.error.is_empty() && d.attempt >= 2),
        "no retried failure in the log"
    );
    assert!(
        deliveries
            .iter()
            .any(|d| d.status == 200 && d.error.is_empty())
    );

    // Deleting the webhook stops deliveries.
    server
        .admin_client()
        .await
        .delete_webhook(authed(
            pb::DeleteWebhookRequest {
                org_id: String::new(),
                webhook_id: "hr-system".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let before = seen.lock().unwrap().events.len();
    let token = server.token("acme", Role::Device, Some("aino")).await;
    let mut request = inside();
    request.punch_id = "after-delete".into();
    server
        .punch_client()
        .await
        .submit_punch(authed(request, &token))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(seen.lock().unwrap().events.len(), before);
    stop_receiver.cancel();
    receiver_task.await.unwrap();
    server.stop().await;
}

/// Two replicas on one PostgreSQL database: one sender a webhook, so each
/// event is delivered once, not once per replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_deliver_each_event_once() {
    let Some(schema) = common::postgres::Schema::fresh("webhook_replicas").await else {
        return;
    };
    let first = TestServer::start_postgres(&schema.url).await;
    let second = TestServer::start_postgres(&schema.url).await;
    let admin = first.token("acme", Role::Admin, None).await;
    first.import(&admin, HQ).await;
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let seen = Arc::new(Mutex::new(Received::default()));
    let (stop_receiver, receiver_task) = start_receiver(addr, &seen);
    let answer = first
        .admin_client()
        .await
        .put_webhook(authed(
            pb::PutWebhookRequest {
                webhook: Some(pb::Webhook {
                    webhook_id: "hr".into(),
                    url: format!("http://{addr}/hook"),
                    events: vec![pb::WebhookEvent::PunchRecorded.into()],
                    created_time: None,
                }),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    seen.lock().unwrap().secret = answer.secret;
    let device = first.token("acme", Role::Device, Some("aino")).await;
    for i in 0..30 {
        let replica = if i % 2 == 0 { &first } else { &second };
        let mut request = punch_at("x", geo::Point::new(26.94, 60.47), 10.0);
        request.punch_id = format!("p{i}");
        replica
            .punch_client()
            .await
            .submit_punch(authed(request, &device))
            .await
            .unwrap();
    }
    until(&seen, |s| ids_of(s, "punch.recorded").len() >= 30).await;
    // Time for a second sender, if there were one, to send them again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.bad_signatures, 0);
        assert_eq!(seen.events.len(), 30, "an event arrived twice");
    }
    stop_receiver.cancel();
    receiver_task.await.unwrap();
    first.stop().await;
    second.stop().await;
}
