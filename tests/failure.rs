//! Failure is loud (issue 12): a store that can no longer write takes the
//! server out of rotation (health NOT_SERVING) and ends it with an error,
//! so that the process exits non-zero and its supervisor restarts it;
//! nothing acknowledged before is lost.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use punchguard::app::tokens::{self, NewToken};
use punchguard::app::{Actor, App};
use punchguard::auth::Role;
use punchguard::engine::{EmployeeId, OrgId};
use punchguard::proto::v1::punch_service_client::PunchServiceClient;
use punchguard::server::{self, Options};
use punchguard::store::prelude::*;
use punchguard::store::sqlite::SqliteStore;
use punchguard::store::{PunchQuery, Store, StoreError};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_stops_the_server_loudly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("punchguard.db");
    let sqlite = Arc::new(SqliteStore::open(&path).unwrap());
    let app = App::new(sqlite.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let running = tokio::spawn(server::run(
        app.clone(),
        listener,
        Options {
            drain_deadline: Duration::from_secs(1),
            ..Options::local(Duration::from_secs(1))
        },
        std::future::pending(),
    ));
    let org = OrgId::new("acme").unwrap();
    let operator = Actor::cli(org.clone(), Role::Admin);
    let device = NewToken {
        role: Role::Device,
        employee: Some(EmployeeId::new("aino").unwrap()),
        expires_in_days: None,
    };
    let token = tokens::create(&app, &operator, device).await.unwrap().token;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let serving = health.message().await.unwrap().unwrap();
    assert_eq!(serving.status, ServingStatus::Serving as i32);

    let mut punches = PunchServiceClient::new(channel);
    for i in 0..20 {
        punches
            .submit_punch(authed(honest(&format!("p{i}")), &token))
            .await
            .unwrap();
    }

    // A bug in a write kills the writer thread.
    let crashed = sqlite.crash_writer_for_test().await.unwrap_err();
    assert!(matches!(crashed, StoreError::Internal(_)), "{crashed:?}");
    // Writes after it are internal errors too, not "shutting down".
    let after = app.store.ensure_org(&org).await.unwrap_err();
    assert!(matches!(after, StoreError::Internal(_)), "{after:?}");

    let update = tokio::time::timeout(Duration::from_secs(5), health.message())
        .await
        .expect("health tells of the failure")
        .unwrap()
        .unwrap();
    assert_eq!(update.status, ServingStatus::NotServing as i32);
    let ended = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server ends by itself")
        .unwrap();
    let error = ended.expect_err("an error, so that the process exits non-zero");
    assert!(error.to_string().contains("panicked"), "{error:#}");

    // Every acknowledged punch is in the file.
    let reopened = SqliteStore::open(&path).unwrap();
    let all = reopened
        .list_punches(PunchQuery {
            org,
            clock: punchguard::store::Clock::Received,
            from: jiff::Timestamp::UNIX_EPOCH,
            to: jiff::Timestamp::MAX,
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    reopened.close().await.unwrap();
}
