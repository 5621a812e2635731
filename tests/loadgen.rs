//! `punchguard loadgen` against a real server: both phases run, every
//! answer is checked, the report adds up, and the load is what it claims
//! (issue 17): runs never collide on punch ids, honest punches are
//! accepted, and the cheats are exactly the share asked for.

mod common;

use common::*;
use punchguard::auth::Role;
use punchguard::loadgen::{LoadgenArgs, Mode, run};

fn args(server: &TestServer, admin: &str, mode: Mode, cheat_share: f64) -> LoadgenArgs {
    LoadgenArgs {
        server: format!("http://{}", server.addr),
        admin_token: admin.to_owned(),
        mode,
        connections: 2,
        concurrency: 8,
        duration: 1,
        rate: None,
        devices: 20,
        cheat_share,
        no_setup: false,
        run_id: None,
        server_pid: Some(std::process::id()),
        staging_root_key: std::env::temp_dir().join(format!(
            "punchguard-loadgen-test-{}.key",
            std::process::id()
        )),
    }
}

/// How many punches the store holds for the load's organisation.
async fn recorded(server: &TestServer) -> i64 {
    let org = punchguard::engine::OrgId::new("loadtest").unwrap();
    server.app.store.latest_seq(&org).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_measures_punches_against_the_health_baseline() {
    let server = TestServer::start().await;
    let admin = server.token("loadtest", Role::Admin, None).await;
    let report = run(args(&server, &admin, Mode::Both, 0.2)).await.unwrap();
    let [health, punch] = &report.phases[..] else {
        panic!("two phases")
    };
    assert!(health.ok > 0 && health.errors.is_empty());
    assert!(punch.ok > 0, "punches were answered");
    assert!(punch.errors.is_empty(), "{:?}", punch.errors);
    assert_eq!(punch.latency.len(), punch.ok);
    // The server here is this process: its CPU time was read, and so were
    // the bytes its durable punches wrote (the SQLite WAL, fsynced).
    let usage = punch.server.expect("the server's usage was read");
    assert!(!usage.cpu.is_zero());
    assert!(
        usage.bytes_written.is_some_and(|bytes| bytes > 0),
        "{usage:?}"
    );
    // Every acknowledged punch is durable: the store holds them all.
    let recorded = recorded(&server).await;
    assert!(recorded as u64 >= punch.ok);
    // Exactly a fifth of the punches cheat (rounded down), and none of
    // them is accepted.
    let verdicts = report.verdicts.unwrap();
    let honest = punch.ok - punch.ok / 5;
    let accepted = verdicts.decisions.get("ACCEPTED").copied().unwrap_or(0);
    assert!(accepted <= honest + 1, "{}", verdicts.report());
    assert!(
        accepted as f64 >= honest as f64 * 0.99,
        "{}",
        verdicts.report()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_never_collide_and_honest_punches_are_accepted() {
    let server = TestServer::start().await;
    let admin = server.token("loadtest", Role::Admin, None).await;
    let mut total = 0;
    for _ in 0..2 {
        let report = run(args(&server, &admin, Mode::Punch, 0.0)).await.unwrap();
        let punch = &report.phases[0];
        assert!(
            punch.ok > 0 && punch.errors.is_empty(),
            "{:?}",
            punch.errors
        );
        let verdicts = report.verdicts.unwrap();
        assert_eq!(verdicts.duplicates, 0, "a punch id of another run");
        assert!(
            verdicts.share("ACCEPTED") >= 0.99,
            "honest punches: {}",
            verdicts.report()
        );
        total += punch.ok;
    }
    // Both runs' punches are all recorded, each once.
    let recorded = recorded(&server).await;
    assert_eq!(recorded as u64, total);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_compares_signed_punches_with_unsigned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("staging.key");
    // The root the load generator signs under; the server is told to trust it.
    let root = punchguard::loadgen::staging_root(&key).unwrap();
    let server = TestServer::start_trusting(None, root.der()).await;
    let admin = server.token("loadtest", Role::Admin, None).await;
    let mut args = args(&server, &admin, Mode::Attested, 0.2);
    args.staging_root_key = key;
    let report = run(args).await.unwrap();
    let [unsigned, signed, unsigned_again, _] = &report.phases[..] else {
        panic!("four phases")
    };
    let names: Vec<&str> = report.phases.iter().map(|p| p.name).collect();
    assert_eq!(names, ["punch", "signed", "punch", "signed"]);
    assert!(unsigned_again.ok > 0 && unsigned_again.errors.is_empty());
    assert!(
        unsigned.ok > 0 && unsigned.errors.is_empty(),
        "{:?}",
        unsigned.errors
    );
    assert!(
        signed.ok > 0 && signed.errors.is_empty(),
        "{:?}",
        signed.errors
    );
    // Every signed punch of the last phase verified: the honest ones are
    // accepted, and none carries a signature finding.
    let verdicts = report.verdicts.unwrap();
    let signed = &report.phases[3];
    let honest = signed.ok - signed.ok / 5;
    let accepted = verdicts.decisions.get("ACCEPTED").copied().unwrap_or(0);
    assert!(
        accepted as f64 >= honest as f64 * 0.99,
        "{}",
        verdicts.report()
    );
    assert_eq!(verdicts.attested, signed.ok, "{}", verdicts.report());
    for code in [
        "SIGNATURE_INVALID",
        "SIGNATURE_MISSING",
        "DEVICE_NOT_ATTESTED",
    ] {
        assert!(
            !verdicts.findings.contains_key(code),
            "{}",
            verdicts.report()
        );
    }
    server.stop().await;
}
