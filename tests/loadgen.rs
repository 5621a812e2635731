//! `punchguard loadgen` against a real server: both phases run, every
//! answer is checked, and the report adds up.

mod common;

use common::*;
use punchguard::auth::Role;
use punchguard::loadgen::{LoadgenArgs, Mode, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_measures_punches_against_the_health_baseline() {
    let server = TestServer::start().await;
    let admin = server.token("loadtest", Role::Admin, None).await;
    let results = run(LoadgenArgs {
        server: format!("http://{}", server.addr),
        admin_token: admin,
        mode: Mode::Both,
        connections: 2,
        concurrency: 8,
        duration: 1,
        rate: None,
        devices: 20,
        cheat_share: 0.2,
        no_setup: false,
    })
    .await
    .unwrap();
    let [health, punch] = &results[..] else {
        panic!("two phases")
    };
    assert!(health.ok > 0 && health.errors.is_empty());
    assert!(punch.ok > 0, "punches were answered");
    assert!(punch.errors.is_empty(), "{:?}", punch.errors);
    assert_eq!(punch.latency.len(), punch.ok);
    // Every acknowledged punch is durable: the store holds them all.
    let recorded = server
        .app
        .store
        .latest_seq(&punchguard::engine::OrgId::new("loadtest").unwrap())
        .await
        .unwrap();
    assert!(recorded as u64 >= punch.ok);
    server.stop().await;
}
