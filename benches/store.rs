//! Group-commit throughput of each store: durable punches per second
//! when 1, 16 or 256 callers record at once. Every punch is acknowledged
//! only after its transaction is fsynced (WAL, synchronous=FULL), so with
//! one caller this measures the disk's sync latency, and with many it shows
//! how many punches one sync carries.
//!
//! Also: reading a punch's history from memory versus from the database.
//!
//! The database lives under the target directory (a real disk, not tmpfs).
//! PostgreSQL runs too when PUNCHGUARD_BENCH_POSTGRES names a database
//! (each run in a schema of its own, dropped after).
//!
//! Run: PUNCHGUARD_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test cargo bench --bench store

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;

use punchguard::engine::{
    Decision, EmployeeId, GpsFix, LocationMethod, OrgId, Punch, PunchId, PunchKind, Verdict,
};
use punchguard::store::postgres::{self, PostgresStore};
use punchguard::store::prelude::*;
use punchguard::store::sqlite::SqliteStore;
use punchguard::store::{HistoryQuery, Store};

const PUNCHES_PER_ITERATION: u64 = 512;

fn punch(n: u64) -> Punch {
    let now = Timestamp::now();
    Punch {
        org: OrgId::new("bench").unwrap(),
        employee: EmployeeId::new(format!("e{}", n % 1000)).unwrap(),
        punch_id: PunchId::new(format!("p{n}")).unwrap(),
        kind: PunchKind::In,
        client_time: now,
        received_at: now,
        sent_at: now,
        queued_offline: false,
        nonce: None,
        gps: Some(GpsFix {
            latitude: 60.5,
            longitude: 26.9,
            accuracy_m: 8.0,
            fix_time: now,
            mock_location: false,
            speed_mps: None,
        }),
        wifi: Vec::new(),
        beacons: Vec::new(),
        device: None,
        motion: None,
        apps: Default::default(),
        signed: None,
    }
}

fn verdict() -> Verdict {
    Verdict {
        decision: Decision::Accepted,
        findings: Vec::new(),
        site: None,
        method: LocationMethod::Gps,
        distance_m: Some(0.0),
        nearest_site: None,
        cheat_matches: Vec::new(),
        wifi_bssids: Vec::new(),
        assurance: Default::default(),
    }
}

/// The PostgreSQL store on a fresh schema of `PUNCHGUARD_BENCH_POSTGRES`
/// (e.g. postgres://postgres@127.0.0.1:5432/test), if set.
fn postgres(runtime: &tokio::runtime::Runtime) -> Option<(Arc<PostgresStore>, String, String)> {
    let Ok(base) = std::env::var("PUNCHGUARD_BENCH_POSTGRES") else {
        eprintln!("SKIPPED the PostgreSQL benchmarks: set PUNCHGUARD_BENCH_POSTGRES=postgres://…");
        return None;
    };
    let schema = format!("punchguard_bench_{}", std::process::id());
    runtime.block_on(async {
        let url = postgres::create_schema(&base, &schema).await.unwrap();
        let store = PostgresStore::open(&url).await.unwrap();
        Some((Arc::new(store), base, schema))
    })
}

fn bench_group_commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sqlite = Arc::new(SqliteStore::open(dir.path().join("bench.db")).unwrap());
    record_punches(c, &runtime, "sqlite_record_punch", sqlite.clone());
    let (commits, jobs) = sqlite.commit_stats();
    eprintln!(
        "sqlite group commit: {jobs} punches in {commits} transactions ({:.1} per commit)",
        jobs as f64 / commits.max(1) as f64
    );
    if let Some((pg, base, schema)) = postgres(&runtime) {
        record_punches(c, &runtime, "postgres_record_punch", pg.clone());
        let (commits, jobs) = pg.commit_stats();
        eprintln!(
            "postgres group commit: {jobs} punches in {commits} transactions ({:.1} per commit)",
            jobs as f64 / commits.max(1) as f64
        );
        runtime
            .block_on(postgres::drop_schema(&base, &schema))
            .unwrap();
    }
}

/// Durable punches per second with 1, 16 or 256 callers recording at once.
fn record_punches(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn Store>,
) {
    runtime
        .block_on(store.ensure_org(&OrgId::new("bench").unwrap()))
        .unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(PUNCHES_PER_ITERATION));
    group.sample_size(10);
    for callers in [1u64, 16, 256] {
        group.bench_function(format!("{callers}_concurrent_callers"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let started = Instant::now();
                    runtime.block_on(async {
                        let tasks: Vec<_> = (0..callers)
                            .map(|_| {
                                let (store, next) = (store.clone(), next.clone());
                                tokio::spawn(async move {
                                    for _ in 0..PUNCHES_PER_ITERATION / callers {
                                        let n = next.fetch_add(1, Ordering::Relaxed);
                                        store.record_punch(&punch(n), &verdict()).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                    });
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// The history a punch is judged on: from memory when the employee is
/// cached, from the database on a miss (a fresh store on the same file
/// caches nothing until asked), and with a nonce, which always needs a
/// point lookup.
fn bench_history(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("history.db");
    let store = SqliteStore::open(&path).unwrap();
    runtime.block_on(async {
        store
            .ensure_org(&OrgId::new("bench").unwrap())
            .await
            .unwrap();
        for n in 0..5_000 {
            store.record_punch(&punch(n), &verdict()).await.unwrap();
        }
    });
    let query = |nonce: Option<&str>| HistoryQuery {
        org: OrgId::new("bench").unwrap(),
        employee: EmployeeId::new("e7").unwrap(),
        device: None,
        nonce: nonce.map(str::to_owned),
        shared_since: Timestamp::now() - jiff::SignedDuration::from_hours(24),
        attested: false,
    };
    let mut group = c.benchmark_group("sqlite_history");
    group.bench_function("cached", |b| {
        b.iter(|| runtime.block_on(store.history(query(None))).unwrap())
    });
    group.bench_function("cached_with_nonce", |b| {
        b.iter(|| runtime.block_on(store.history(query(Some("n1")))).unwrap())
    });
    group.bench_function("from_database", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let fresh = SqliteStore::open(&path).unwrap();
                // Warm the fresh store's read connection on another employee.
                let mut other = query(None);
                other.employee = EmployeeId::new("e8").unwrap();
                runtime.block_on(fresh.history(other)).unwrap();
                let started = Instant::now();
                runtime.block_on(fresh.history(query(None))).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();

    // PostgreSQL keeps no history in memory (another replica may have
    // written): every punch reads it, pipelined on one connection.
    if let Some((pg, base, schema)) = postgres(&runtime) {
        runtime.block_on(async {
            pg.ensure_org(&OrgId::new("bench").unwrap()).await.unwrap();
            for n in 0..5_000 {
                pg.record_punch(&punch(n), &verdict()).await.unwrap();
            }
        });
        let mut group = c.benchmark_group("postgres_history");
        group.bench_function("from_database", |b| {
            b.iter(|| runtime.block_on(pg.history(query(None))).unwrap())
        });
        group.bench_function("from_database_with_nonce", |b| {
            b.iter(|| runtime.block_on(pg.history(query(Some("n1")))).unwrap())
        });
        group.finish();
        runtime
            .block_on(postgres::drop_schema(&base, &schema))
            .unwrap();
    }
}

criterion_group!(benches, bench_group_commit, bench_history);
criterion_main!(benches);
