//! One conformance suite for every `Store` backend: each case is written
//! once against the trait and stamped out per backend by `suite!`.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use punchguard::auth::{Role, TokenHash};
use punchguard::engine::beacons::{IBeaconId, SiteBeacon};
use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::signatures::CheatCategory;
use punchguard::engine::sites::{EvidenceKind, Requirement, SiteDefinition};
use punchguard::engine::wifi::{AccessPoint, Bssid};
use punchguard::engine::{
    Action, CheatMatch, Decision, EmployeeId, FindingCode, GpsFix, LocationMethod, OrgId, Policy,
    Punch, PunchId, PunchKind, SiteId, Verdict,
};
use punchguard::store::sqlite::SqliteStore;
use punchguard::store::{PunchCursor, PunchQuery, Store, StoreError, TokenGrant};

fn org(s: &str) -> OrgId {
    OrgId::new(s).unwrap()
}

fn t0() -> Timestamp {
    "2026-11-30T09:00:00Z".parse().unwrap()
}

fn punch(org_id: &str, employee: &str, id: &str, received_at: Timestamp) -> Punch {
    Punch {
        org: org(org_id),
        employee: EmployeeId::new(employee).unwrap(),
        punch_id: PunchId::new(id).unwrap(),
        kind: PunchKind::In,
        client_time: received_at,
        received_at,
        sent_at: received_at,
        queued_offline: false,
        nonce: None,
        gps: Some(GpsFix {
            latitude: 60.5,
            longitude: 26.9,
            accuracy_m: 10.0,
            fix_time: received_at,
            mock_location: false,
            speed_mps: None,
        }),
        wifi: Vec::new(),
        beacons: Vec::new(),
        device: None,
        motion: None,
        apps: Default::default(),
    }
}

fn verdict(decision: Decision) -> Verdict {
    Verdict {
        decision,
        findings: Vec::new(),
        site: Some(SiteId::new("hq").unwrap()),
        method: LocationMethod::Gps,
        distance_m: Some(0.0),
        nearest_site: Some(SiteId::new("hq").unwrap()),
        cheat_matches: Vec::new(),
        wifi_bssids: Vec::new(),
    }
}

fn circle_site(id: &str, radius_m: f64) -> SiteDefinition {
    SiteDefinition {
        id: SiteId::new(id).unwrap(),
        fences: vec![FenceGeometry::Circle {
            center: geo::Point::new(26.9, 60.5),
            radius_m,
        }],
        access_points: vec![AccessPoint {
            bssid: Bssid::parse(&format!("02:00:00:00:{:02x}:01", id.len())).unwrap(),
            ssid: format!("{id}-wifi"),
        }],
        beacons: vec![SiteBeacon::IBeacon {
            id: IBeaconId {
                uuid: uuid::Uuid::from_u128(id.len() as u128),
                major: 1,
                minor: 2,
            },
            min_rssi_dbm: -80,
        }],
        requires: Some(Requirement::AllOf(vec![
            EvidenceKind::Gps,
            EvidenceKind::Wifi,
        ])),
    }
}

mod cases {
    use super::*;

    pub async fn records_are_idempotent(store: Arc<dyn Store>) {
        store.ensure_org(&org("a")).await.unwrap();
        let p = punch("a", "e1", "p1", t0());
        let mut flagged = verdict(Decision::Review);
        flagged.cheat_matches = vec![
            CheatMatch {
                signature_id: "ac-parallel-space".into(),
                category: CheatCategory::AppCloner,
            },
            CheatMatch {
                signature_id: "vl-lexa-fakegps".into(),
                category: CheatCategory::VirtualLocation,
            },
        ];
        flagged.wifi_bssids = vec![
            Bssid::parse("02:00:00:00:00:0b").unwrap(),
            Bssid::parse("02:00:00:00:00:0a").unwrap(),
        ];
        let first = store.record_punch(&p, &flagged).await.unwrap();
        assert!(!first.duplicate);
        // Same id, different content and verdict: the first record wins, read
        // back whole (cheat matches included).
        let mut later = punch("a", "e1", "p1", t0() + SignedDuration::from_secs(60));
        later.kind = PunchKind::Out;
        let second = store
            .record_punch(&later, &verdict(Decision::Rejected))
            .await
            .unwrap();
        assert!(second.duplicate);
        assert_eq!(second.row, first.row);
        // The same id from another employee is another punch.
        let other = store
            .record_punch(&punch("a", "e2", "p1", t0()), &verdict(Decision::Accepted))
            .await
            .unwrap();
        assert!(!other.duplicate);
        let rows = store.list_punches(all(&org("a"))).await.unwrap();
        assert_eq!(rows.len(), 2);
    }

    pub async fn concurrent_resubmissions_record_once(store: Arc<dyn Store>) {
        store.ensure_org(&org("a")).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_punch(
                            &punch("a", "e1", "same", t0()),
                            &verdict(Decision::Accepted),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut fresh = 0;
        let mut seqs = std::collections::HashSet::new();
        for t in tasks {
            let r = t.await.unwrap();
            fresh += usize::from(!r.duplicate);
            seqs.insert(r.row.seq);
        }
        assert_eq!(fresh, 1);
        assert_eq!(seqs.len(), 1);
        assert_eq!(store.list_punches(all(&org("a"))).await.unwrap().len(), 1);
    }

    pub async fn lists_in_receive_order_with_keyset_pages(store: Arc<dyn Store>) {
        store.ensure_org(&org("a")).await.unwrap();
        // Recorded out of receive order, two sharing one instant.
        let offsets = [30, 10, 20, 10, 0, 40];
        for (i, s) in offsets.iter().enumerate() {
            let p = punch(
                "a",
                "e1",
                &format!("p{i}"),
                t0() + SignedDuration::from_secs(*s),
            );
            store
                .record_punch(&p, &verdict(Decision::Accepted))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_punches(PunchQuery {
                    org: org("a"),
                    from: t0() + SignedDuration::from_secs(10),
                    to: t0() + SignedDuration::from_secs(40),
                    after,
                    limit: 2,
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(PunchCursor {
                received_at: last.received_at,
                seq: last.seq,
            });
            seen.extend(page.iter().map(|r| r.punch_id.as_str().to_owned()));
        }
        // [10, 40): p1 and p3 at 10 s in record order, p2 at 20 s, p0 at 30 s.
        assert_eq!(seen, ["p1", "p3", "p2", "p0"]);
    }

    pub async fn organisations_are_isolated(store: Arc<dyn Store>) {
        let hash = TokenHash::of("token-of-b");
        store
            .create_token(
                hash.clone(),
                TokenGrant {
                    org: org("b"),
                    role: Role::Hr,
                    employee: None,
                },
            )
            .await
            .unwrap();
        store.ensure_org(&org("a")).await.unwrap();
        store
            .record_punch(&punch("a", "e1", "p1", t0()), &verdict(Decision::Accepted))
            .await
            .unwrap();
        store
            .put_sites(&org("a"), vec![circle_site("hq", 100.0)])
            .await
            .unwrap();
        assert!(store.list_punches(all(&org("b"))).await.unwrap().is_empty());
        assert!(store.load_sites(&org("b")).await.unwrap().1.is_empty());
        assert!(
            store
                .list_sites(&org("b"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let grant = store.find_token(&hash).await.unwrap().unwrap();
        assert_eq!(grant.org, org("b"));
        assert_eq!(grant.role, Role::Hr);
        assert!(
            store
                .find_token(&TokenHash::of("unknown"))
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn sites_replace_by_name_and_bump_the_version(store: Arc<dyn Store>) {
        let a = org("a");
        let v1 = store
            .put_sites(
                &a,
                vec![circle_site("hq", 100.0), circle_site("depot", 50.0)],
            )
            .await
            .unwrap();
        let v2 = store
            .put_sites(&a, vec![circle_site("hq", 300.0)])
            .await
            .unwrap();
        assert!(v2 > v1);
        let (version, sites) = store.load_sites(&a).await.unwrap();
        assert_eq!(version, v2);
        assert_eq!(
            sites,
            vec![circle_site("depot", 50.0), circle_site("hq", 300.0)]
        );
        let versions = store.org_versions().await.unwrap();
        assert!(versions.contains(&(a.clone(), v2)));
        let page = store
            .list_sites(&a, Some(SiteId::new("depot").unwrap()), 10)
            .await
            .unwrap();
        assert_eq!(page, vec![circle_site("hq", 300.0)]);
    }

    pub async fn policies_round_trip_and_bump_the_version(store: Arc<dyn Store>) {
        let a = org("a");
        assert_eq!(store.load_policy(&a).await.unwrap(), Policy::default());
        let v1 = store
            .put_sites(&a, vec![circle_site("hq", 100.0)])
            .await
            .unwrap();
        let mut policy = Policy {
            max_accuracy_m: 35.0,
            ..Policy::default()
        };
        policy.actions.insert(FindingCode::Rooted, Action::Reject);
        policy.field_staff.insert(EmployeeId::new("rep").unwrap());
        let v2 = store.put_policy(&a, policy.clone()).await.unwrap();
        assert!(
            v2 > v1,
            "a policy change must move the configuration version"
        );
        assert_eq!(store.load_policy(&a).await.unwrap(), policy);
        assert_eq!(
            store.load_policy(&org("b")).await.unwrap(),
            Policy::default()
        );
    }

    pub async fn close_commits_what_was_queued(store: Arc<dyn Store>) {
        store.ensure_org(&org("a")).await.unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_punch(
                            &punch("a", "e1", &format!("p{i}"), t0()),
                            &verdict(Decision::Accepted),
                        )
                        .await
                })
            })
            .collect();
        let mut acknowledged = 0;
        for t in tasks {
            acknowledged += usize::from(t.await.unwrap().is_ok());
        }
        store.close().await.unwrap();
        assert_eq!(acknowledged, 50);
        let late = store
            .record_punch(
                &punch("a", "e1", "late", t0()),
                &verdict(Decision::Accepted),
            )
            .await;
        assert!(matches!(late, Err(StoreError::Closed)), "{late:?}");
    }

    pub fn all(org: &OrgId) -> PunchQuery {
        PunchQuery {
            org: org.clone(),
            from: t0() - SignedDuration::from_hours(24),
            to: t0() + SignedDuration::from_hours(24),
            after: None,
            limit: 1000,
        }
    }
}

macro_rules! suite {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            suite!(@case $open, records_are_idempotent);
            suite!(@case $open, concurrent_resubmissions_record_once);
            suite!(@case $open, lists_in_receive_order_with_keyset_pages);
            suite!(@case $open, organisations_are_isolated);
            suite!(@case $open, sites_replace_by_name_and_bump_the_version);
            suite!(@case $open, policies_round_trip_and_bump_the_version);
            suite!(@case $open, close_commits_what_was_queued);
        }
    };
    (@case $open:expr, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (store, _guard) = $open;
            cases::$case(store).await;
        }
    };
}

fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("conformance.db")).unwrap();
    (Arc::new(store), dir)
}

suite!(sqlite_backend, sqlite());

/// SQLite specifics: the file is in WAL mode with full sync, concurrent
/// writes share transactions, and what was acknowledged is there after reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_groups_commits_and_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    store.ensure_org(&org("a")).await.unwrap();
    let before = store.commit_stats();
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_punch(
                        &punch("a", "e1", &format!("p{i}"), t0()),
                        &verdict(Decision::Accepted),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = store.commit_stats();
    let (commits, jobs) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(jobs, 400);
    assert!(
        commits < 200,
        "400 concurrent punches took {commits} commits: no grouping"
    );
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let reopened = SqliteStore::open(&path).unwrap();
    let rows = reopened.list_punches(cases::all(&org("a"))).await.unwrap();
    assert_eq!(rows.len(), 400);
}
