//! Retention, table by table: the clock moves across each period and
//! exactly what is due goes, while the attendance results stay the same.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use punchguard::auth::Role;
use punchguard::engine::signatures::CheatCategory;
use punchguard::engine::wifi::Bssid;
use punchguard::engine::{
    Action, CheatMatch, Decision, DeviceFacts, DeviceId, EmployeeId, Finding, FindingCode, GpsFix,
    Integrity, LocationMethod, OrgId, Platform, Punch, PunchId, PunchKind, SiteId, Verdict,
};
use punchguard::retention::{self, SweepCounts};
use punchguard::store::prelude::*;
use punchguard::store::sqlite::SqliteStore;
use punchguard::store::{AuditEntry, PunchQuery, PunchRow, Store};

fn t0() -> Timestamp {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn org() -> OrgId {
    OrgId::new("acme").unwrap()
}

fn punch(id: &str, at: Timestamp) -> Punch {
    Punch {
        org: org(),
        employee: EmployeeId::new(format!("emp-{id}")).unwrap(),
        punch_id: PunchId::new(id).unwrap(),
        kind: PunchKind::In,
        client_time: at,
        received_at: at,
        sent_at: at,
        queued_offline: false,
        nonce: Some(format!("nonce-{id}")),
        gps: Some(GpsFix {
            latitude: 60.5,
            longitude: 26.9,
            accuracy_m: 12.0,
            fix_time: at,
            mock_location: false,
            speed_mps: None,
        }),
        wifi: Vec::new(),
        beacons: Vec::new(),
        device: Some(DeviceFacts {
            device_id: DeviceId::new(format!("dev-{id}")).unwrap(),
            platform: Platform::Android,
            rooted: false,
            emulator: false,
            developer_mode: false,
            integrity: Integrity::NotChecked,
        }),
        motion: None,
        apps: Default::default(),
        signed: None,
    }
}

fn verdict(decision: Decision, cheat: bool) -> Verdict {
    Verdict {
        decision,
        findings: vec![Finding {
            code: FindingCode::LowAccuracy,
            action: Action::Review,
            message: "accuracy 12 m at 60.5, 26.9".into(),
        }],
        site: Some(SiteId::new("hq").unwrap()),
        method: LocationMethod::Gps,
        distance_m: Some(37.5),
        nearest_site: Some(SiteId::new("hq").unwrap()),
        cheat_matches: if cheat {
            vec![CheatMatch {
                signature_id: "vl-lexa-fakegps".into(),
                category: CheatCategory::VirtualLocation,
            }]
        } else {
            Vec::new()
        },
        wifi_bssids: vec![Bssid::parse("02:00:00:00:00:01").unwrap()],
        assurance: Default::default(),
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Rows per table that the sweeper touches.
#[derive(Debug, PartialEq, Eq)]
struct Tables {
    punches: i64,
    evidence: i64,
    wifi: i64,
    cheat: i64,
    nonces: i64,
    audit: i64,
    exact_distances: i64,
    finding_texts: i64,
}

fn tables(db: &Path) -> Tables {
    Tables {
        punches: count(db, "SELECT count(*) FROM punches"),
        evidence: count(db, "SELECT count(*) FROM punch_evidence"),
        wifi: count(db, "SELECT count(*) FROM punch_wifi_evidence"),
        cheat: count(db, "SELECT count(*) FROM punch_cheat_matches"),
        nonces: count(db, "SELECT count(*) FROM nonces"),
        audit: count(db, "SELECT count(*) FROM audit_log"),
        exact_distances: count(
            db,
            "SELECT count(*) FROM punches WHERE distance_m IS NOT NULL",
        ),
        finding_texts: count(
            db,
            "SELECT count(*) FROM punches, json_each(findings)
             WHERE json_extract(value, '$.message') <> ''",
        ),
    }
}

/// What HR sees of each punch, which must never change when evidence goes.
fn results(rows: &[PunchRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let codes: Vec<_> = r.verdict.findings.iter().map(|f| f.code.as_str()).collect();
            format!(
                "{} {} {:?} {} {:?} {:?}",
                r.punch_id.as_str(),
                r.verdict.decision.as_str(),
                r.verdict.site,
                r.verdict.method.as_str(),
                r.distance_bucket,
                codes
            )
        })
        .collect()
}

async fn all(store: &SqliteStore) -> Vec<PunchRow> {
    store
        .list_punches(PunchQuery {
            org: org(),
            clock: punchguard::store::Clock::Received,
            from: Timestamp::MIN,
            to: Timestamp::MAX,
            after: None,
            limit: 1000,
        })
        .await
        .unwrap()
}

/// Sweeps as of `now`, after checking that the dry run predicts it exactly.
async fn sweep(store: &SqliteStore, now: Timestamp) -> SweepCounts {
    let predicted = retention::preview(store, now).await.unwrap();
    let done = retention::sweep(store, now, 2).await.unwrap();
    assert_eq!(
        predicted,
        vec![(org(), done)],
        "the dry run predicted otherwise"
    );
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_category_goes_when_its_period_ends_and_results_stay() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let store = SqliteStore::open(&db).unwrap();
    store.ensure_org(&org()).await.unwrap();
    // Accepted, accepted with a cheat match, rejected with one, and a REVIEW
    // punch HR decides two days later, all received at t0.
    let recorded = [
        ("acc", Decision::Accepted, false),
        ("acc-cheat", Decision::Accepted, true),
        ("rej", Decision::Rejected, true),
        ("rev", Decision::Review, false),
        ("rev-open", Decision::Review, false),
    ];
    for (id, decision, cheat) in recorded {
        store
            .record_punch(&punch(id, t0()), &verdict(decision, cheat))
            .await
            .unwrap();
    }
    Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE punches SET reviewed_us = ?1 WHERE punch_id = 'rev'",
            [(t0() + days(2)).as_microsecond()],
        )
        .unwrap();
    store
        .append_audit(
            &org(),
            AuditEntry {
                at: t0(),
                actor: "abcdef012345".into(),
                role: Role::Hr,
                action: "ListPunches".into(),
                employee: None,
                detail: String::new(),
            },
        )
        .await
        .unwrap();
    let before = results(&all(&store).await);
    let start = Tables {
        punches: 5,
        evidence: 5,
        wifi: 5,
        cheat: 2,
        nonces: 5,
        audit: 1,
        exact_distances: 5,
        finding_texts: 5,
    };
    assert_eq!(tables(&db), start);

    // Within every period: nothing goes.
    assert_eq!(sweep(&store, t0() + days(29)).await, SweepCounts::default());
    assert_eq!(tables(&db), start);

    // Past 30 days: accepted evidence is coarsened, nonces go.
    let done = sweep(&store, t0() + days(31)).await;
    assert_eq!((done.evidence_coarsened, done.nonces_deleted), (2, 5));
    assert_eq!(done.total(), 7);
    let after_evidence = Tables {
        evidence: 3,
        wifi: 3,
        nonces: 0,
        exact_distances: 3,
        finding_texts: 3,
        ..start
    };
    assert_eq!(tables(&db), after_evidence);
    assert_eq!(results(&all(&store).await), before);
    let coarse = all(&store).await;
    let acc = coarse
        .iter()
        .find(|r| r.punch_id.as_str() == "acc")
        .unwrap();
    assert!(!acc.evidence_kept && acc.verdict.distance_m.is_none());
    assert_eq!(acc.distance_bucket.unwrap().as_str(), "under_50m");

    // Past 90 days from receipt: the rejected punch's evidence; the reviewed
    // one's counts from its review (two days later); the open one stays.
    let done = sweep(&store, t0() + days(91)).await;
    assert_eq!(done.flagged_evidence_coarsened, 1);
    assert_eq!(tables(&db).evidence, 2);
    let done = sweep(&store, t0() + days(93)).await;
    assert_eq!(done.flagged_evidence_coarsened, 1);
    assert_eq!(
        tables(&db).evidence,
        1,
        "an unreviewed punch keeps its evidence"
    );

    // Past 180 days: cheat findings.
    let done = sweep(&store, t0() + days(181)).await;
    assert_eq!(done.cheat_findings_deleted, 2);
    assert_eq!(tables(&db).cheat, 0);
    assert_eq!(results(&all(&store).await), before);

    // Past three years: the records themselves, with what was left, and
    // the audit entry.
    let done = sweep(&store, t0() + days(1096)).await;
    assert_eq!((done.attendance_deleted, done.audit_deleted), (5, 1));
    assert_eq!(
        tables(&db),
        Tables {
            punches: 0,
            evidence: 0,
            wifi: 0,
            cheat: 0,
            nonces: 0,
            audit: 0,
            exact_distances: 0,
            finding_texts: 0,
        }
    );
    // Sweeping again changes nothing: idempotent.
    assert_eq!(
        sweep(&store, t0() + days(1096)).await,
        SweepCounts::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisations_shorter_periods_apply_to_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let store = SqliteStore::open(&db).unwrap();
    store.ensure_org(&org()).await.unwrap();
    let mut other = punch("other", t0());
    other.org = OrgId::new("other").unwrap();
    store.ensure_org(&other.org).await.unwrap();
    store
        .record_punch(&other, &verdict(Decision::Accepted, false))
        .await
        .unwrap();
    store
        .record_punch(&punch("acc", t0()), &verdict(Decision::Accepted, false))
        .await
        .unwrap();
    let week = retention::RetentionPolicy {
        evidence_days: 7,
        ..Default::default()
    };
    let operator = punchguard::app::Actor::cli(org(), punchguard::auth::Role::Admin);
    let entry = punchguard::app::audit::entry(&operator, "PutRetention", None, "");
    store.put_retention(&org(), week, entry).await.unwrap();
    let done = retention::sweep(&store, t0() + days(8), 100).await.unwrap();
    assert_eq!(done.evidence_coarsened, 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM punch_evidence e JOIN punches p USING (seq) WHERE p.org_id = 'other'"
        ),
        1
    );
}

/// Many batches' worth, swept by a task that is stopped after its first
/// batches (a crash between or inside batches: each batch is one
/// transaction), then by a store opened afresh on the file: the second run
/// finishes exactly the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_sweep_resumes_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let store = std::sync::Arc::new(SqliteStore::open(&db).unwrap());
    store.ensure_org(&org()).await.unwrap();
    let n = 300;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let at = t0() + SignedDuration::from_secs(i);
                store
                    .record_punch(
                        &punch(&format!("p{i}"), at),
                        &verdict(Decision::Accepted, false),
                    )
                    .await
                    .unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let later = t0() + days(40);
    let sweeping = {
        let store = store.clone();
        tokio::spawn(async move { retention::sweep(store.as_ref(), later, 10).await })
    };
    // Stop it once it has made some progress, wherever it is.
    while count(&db, "SELECT count(*) FROM punch_evidence") == n {
        tokio::task::yield_now().await;
    }
    sweeping.abort();
    let _ = sweeping.await;
    store.close().await.unwrap();
    drop(store);
    let left = count(&db, "SELECT count(*) FROM punch_evidence");
    assert!(left < n, "the first run made progress");

    let reopened = SqliteStore::open(&db).unwrap();
    let done = retention::sweep(&reopened, later, 10).await.unwrap();
    assert_eq!(done.evidence_coarsened as i64, left);
    assert_eq!(count(&db, "SELECT count(*) FROM punch_evidence"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM punches"), n);
    let integrity: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// Punches keep arriving while old evidence is swept: every new punch keeps
/// its evidence, every old one loses it, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_beside_arriving_punches_takes_only_what_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retention.db");
    let store = std::sync::Arc::new(SqliteStore::open(&db).unwrap());
    store.ensure_org(&org()).await.unwrap();
    for i in 0..200 {
        let at = t0() + SignedDuration::from_secs(i);
        store
            .record_punch(
                &punch(&format!("old{i}"), at),
                &verdict(Decision::Accepted, false),
            )
            .await
            .unwrap();
    }
    let now = t0() + days(45);
    let arriving = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let at = now - SignedDuration::from_secs(200 - i);
                store
                    .record_punch(
                        &punch(&format!("new{i}"), at),
                        &verdict(Decision::Accepted, false),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let swept = retention::sweep(store.as_ref(), now, 7).await.unwrap();
    arriving.await.unwrap();
    assert_eq!(swept.evidence_coarsened, 200);
    let kept = |prefix: &str| {
        count(
            &db,
            &format!(
                "SELECT count(*) FROM punches p JOIN punch_evidence e USING (seq)
                 WHERE p.punch_id LIKE '{prefix}%'"
            ),
        )
    };
    assert_eq!((kept("old"), kept("new")), (0, 200));
    assert_eq!(count(&db, "SELECT count(*) FROM punches"), 400);
}
