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
    Action, CheatMatch, ConsentPurpose, Decision, DeviceFacts, DeviceId, EmployeeId, FindingCode,
    GpsFix, History, Integrity, LocationMethod, OrgId, Platform, Policy, Punch, PunchId, PunchKind,
    SiteId, Verdict,
};
use punchguard::store::postgres::PostgresStore;
use punchguard::store::sqlite::SqliteStore;

mod common;
use punchguard::store::prelude::*;
use punchguard::store::{
    AuditEntry, HistoryQuery, PunchCursor, PunchQuery, StoreError, TokenGrant,
};

fn org(s: &str) -> OrgId {
    OrgId::new(s).unwrap()
}

/// The audit entry of a change made by the test itself.
fn audit() -> AuditEntry {
    audit_of("Setup")
}

fn audit_of(action: &str) -> AuditEntry {
    AuditEntry {
        at: Timestamp::now(),
        actor: "test".into(),
        role: Role::Admin,
        action: action.into(),
        employee: None,
        detail: String::new(),
    }
}

fn micros(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap()
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
        signed: None,
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
        assurance: Default::default(),
    }
}

fn with_device(mut punch: Punch, device: &str) -> Punch {
    punch.device = Some(DeviceFacts {
        device_id: DeviceId::new(device).unwrap(),
        platform: Platform::Android,
        rooted: false,
        emulator: false,
        developer_mode: false,
        integrity: Integrity::NotChecked,
    });
    punch
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
                    clock: punchguard::store::Clock::Received,
                    from: t0() + SignedDuration::from_secs(10),
                    to: t0() + SignedDuration::from_secs(40),
                    after,
                    limit: 2,
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(PunchCursor {
                at: last.received_at,
                seq: last.seq,
            });
            seen.extend(page.iter().map(|r| r.punch_id.as_str().to_owned()));
        }
        // [10, 40): p1 and p3 at 10 s in record order, p2 at 20 s, p0 at 30 s.
        assert_eq!(seen, ["p1", "p3", "p2", "p0"]);
    }

    /// By the punch's own clock: an offline punch made two days before it
    /// arrived is listed on the day it was made, in punch-time order, and
    /// not on the day it arrived.
    pub async fn lists_by_the_punchs_own_time(store: Arc<dyn Store>) {
        use punchguard::store::Clock;
        store.ensure_org(&org("a")).await.unwrap();
        let day = SignedDuration::from_hours(24);
        // (id, made, received), recorded in arrival order.
        let punches = [
            ("today", t0(), t0()),
            (
                "offline",
                t0() - 2 * day + SignedDuration::from_mins(5),
                t0(),
            ),
            ("earlier", t0() - 2 * day, t0() - 2 * day),
        ];
        let mut sorted = punches;
        sorted.sort_by_key(|(_, _, received)| *received);
        for (id, made, received) in sorted {
            let mut p = punch("a", "e1", id, received);
            p.client_time = made;
            store
                .record_punch(&p, &verdict(Decision::Accepted))
                .await
                .unwrap();
        }
        let listed = async |clock: Clock, from: Timestamp| {
            let mut ids = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_punches(PunchQuery {
                        org: org("a"),
                        clock,
                        from,
                        to: from + day,
                        after,
                        limit: 1,
                    })
                    .await
                    .unwrap();
                let Some(last) = page.last() else { break };
                after = Some(PunchCursor::of(last, clock));
                ids.extend(page.iter().map(|r| r.punch_id.as_str().to_owned()));
            }
            ids
        };
        let two_days_ago = t0() - 2 * day - SignedDuration::from_mins(1);
        assert_eq!(
            listed(Clock::Punched, two_days_ago).await,
            ["earlier", "offline"]
        );
        assert_eq!(listed(Clock::Received, two_days_ago).await, ["earlier"]);
        let today = t0() - SignedDuration::from_mins(1);
        assert_eq!(listed(Clock::Punched, today).await, ["today"]);
        assert_eq!(listed(Clock::Received, today).await, ["today", "offline"]);
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
                    expires_at: None,
                },
                audit(),
            )
            .await
            .unwrap();
        store.ensure_org(&org("a")).await.unwrap();
        store
            .record_punch(&punch("a", "e1", "p1", t0()), &verdict(Decision::Accepted))
            .await
            .unwrap();
        store
            .put_sites(&org("a"), vec![circle_site("hq", 100.0)], audit())
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
        let grant = store.find_token(&hash).await.unwrap().unwrap().grant;
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
                audit(),
            )
            .await
            .unwrap();
        let v2 = store
            .put_sites(&a, vec![circle_site("hq", 300.0)], audit())
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
            .put_sites(&a, vec![circle_site("hq", 100.0)], audit())
            .await
            .unwrap();
        let mut policy = Policy {
            max_accuracy_m: 35.0,
            ..Policy::default()
        };
        policy.actions.insert(FindingCode::Rooted, Action::Reject);
        policy.field_staff.insert(EmployeeId::new("rep").unwrap());
        let v2 = store.put_policy(&a, policy.clone(), audit()).await.unwrap();
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

    pub async fn history_follows_every_write(store: Arc<dyn Store>) {
        let acme = org("acme");
        store.ensure_org(&acme).await.unwrap();
        let aino = EmployeeId::new("aino").unwrap();
        let phone = DeviceId::new("phone-1").unwrap();
        let query = |nonce: &str| HistoryQuery {
            org: acme.clone(),
            employee: aino.clone(),
            device: Some(phone.clone()),
            nonce: Some(nonce.into()),
            shared_since: t0() - SignedDuration::from_hours(1),
            attested: false,
        };
        // Every check twice: the first may load, the second may be cached.
        let history = async |nonce: &str| {
            let first = store.history(query(nonce)).await.unwrap();
            assert_eq!(first, store.history(query(nonce)).await.unwrap());
            first
        };
        let empty = history("n1").await;
        assert_eq!(empty, History::default());

        let mut first = with_device(punch("acme", "aino", "p1", t0()), "phone-1");
        first.nonce = Some("n1".into());
        store
            .record_punch(&first, &verdict(Decision::Accepted))
            .await
            .unwrap();
        let after_first = history("n1").await;
        assert!(after_first.nonce_seen);
        assert!(!history("n2").await.nonce_seen);
        assert_eq!(after_first.bound_devices, std::slice::from_ref(&phone));
        let fix = after_first.last_accepted.unwrap();
        assert_eq!((fix.latitude, fix.at), (60.5, t0()));

        // A rejected punch elsewhere moves nothing; a colleague on the phone shows.
        let mut rejected = punch("acme", "aino", "p2", t0() + SignedDuration::from_mins(5));
        rejected.gps.as_mut().unwrap().latitude = 61.0;
        store
            .record_punch(&rejected, &verdict(Decision::Rejected))
            .await
            .unwrap();
        let buddy = with_device(punch("acme", "onni", "p1", t0()), "phone-1");
        store
            .record_punch(&buddy, &verdict(Decision::Accepted))
            .await
            .unwrap();
        let after_buddy = history("n2").await;
        assert_eq!(after_buddy.last_accepted, Some(fix));
        assert_eq!(
            after_buddy.device_other_employees,
            [EmployeeId::new("onni").unwrap()]
        );

        // Admin changes and consent show on the very next read.
        store
            .revoke_device(&acme, &aino, &phone, audit())
            .await
            .unwrap();
        assert!(history("n2").await.bound_devices.is_empty());
        let tablet = DeviceId::new("tablet").unwrap();
        store
            .bind_device(&acme, &aino, &tablet, audit())
            .await
            .unwrap();
        assert_eq!(history("n2").await.bound_devices, [tablet]);
        store
            .set_consent(&acme, &aino, ConsentPurpose::AutoPunch, true, audit())
            .await
            .unwrap();
        assert!(history("n2").await.auto_punch_consent);
        store
            .set_consent(&acme, &aino, ConsentPurpose::AutoPunch, false, audit())
            .await
            .unwrap();
        assert!(!history("n2").await.auto_punch_consent);
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

    pub async fn tokens_expire_revoke_and_rotate(store: Arc<dyn Store>) {
        let acme = org("acme");
        let grant = |role, expires_at| TokenGrant {
            org: acme.clone(),
            role,
            employee: None,
            expires_at,
        };
        let (admin, hr) = (TokenHash::of("admin-secret"), TokenHash::of("hr-secret"));
        store
            .create_token(admin.clone(), grant(Role::Admin, None), audit())
            .await
            .unwrap();
        // Stores keep microseconds.
        let soon = micros(Timestamp::now() + SignedDuration::from_hours(1));
        store
            .create_token(hr.clone(), grant(Role::Hr, Some(soon)), audit())
            .await
            .unwrap();
        let found = store.find_token(&hr).await.unwrap().unwrap();
        assert_eq!(found.grant.expires_at, Some(soon));
        assert_eq!(found.refusal(soon), Some("token expired"));
        assert!(
            store
                .find_token(&TokenHash::of("nope"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.list_tokens(&acme).await.unwrap().len(), 2);
        assert!(store.list_tokens(&org("other")).await.unwrap().is_empty());

        // Rotation: a new token with the grant, the old one expiring soon.
        let new = TokenHash::of("admin-secret-2");
        let grace = micros(Timestamp::now() + SignedDuration::from_mins(5));
        let issued = store
            .rotate_token(&acme, &admin.id(), new.clone(), grace, audit())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(issued.grant.role, Role::Admin);
        let old = store.find_token(&admin).await.unwrap().unwrap();
        assert_eq!(old.grant.expires_at, Some(grace));
        // Another organisation cannot rotate or revoke it.
        let other = TokenHash::of("x");
        assert!(
            store
                .rotate_token(&org("other"), &new.id(), other, grace, audit())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .revoke_token(&org("other"), &new.id(), audit())
                .await
                .unwrap()
                .is_none()
        );
        let revoked = store
            .revoke_token(&acme, &new.id(), audit())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.refusal(Timestamp::now()), Some("token revoked"));

        // Rotating a token that expires keeps an expiry: the new token gets
        // the lifetime the old one was given (an hour), never "forever".
        let hr_next = TokenHash::of("hr-secret-2");
        let rotated = store
            .rotate_token(&acme, &hr.id(), hr_next, grace, audit())
            .await
            .unwrap()
            .unwrap();
        let lifetime = rotated
            .grant
            .expires_at
            .expect("a rotated expiring token still expires")
            .duration_since(rotated.created_at);
        let hour = SignedDuration::from_hours(1);
        assert!(
            (lifetime - hour).abs() < SignedDuration::from_secs(5),
            "lifetime {lifetime:?}"
        );
        // The old one stops at the grace's end or its own expiry, whichever
        // comes first.
        let old_hr = store.find_token(&hr).await.unwrap().unwrap();
        assert_eq!(old_hr.grant.expires_at, Some(grace.min(soon)));

        let used = Timestamp::now();
        store
            .touch_tokens(vec![
                (hr.id(), used - SignedDuration::from_secs(5)),
                (hr.id(), used),
            ])
            .await
            .unwrap();
        let touched = store.find_token(&hr).await.unwrap().unwrap();
        assert_eq!(
            touched.last_used_at.map(|t| t.as_microsecond()),
            Some(used.as_microsecond())
        );
    }

    pub async fn retention_sweeps_each_category_as_previewed(store: Arc<dyn Store>) {
        let acme = org("acme");
        store.ensure_org(&acme).await.unwrap();
        let day = SignedDuration::from_hours(24);
        let now = t0();
        // Ages in days, decisions; some with cheat matches and nonces.
        let ages = [
            (1, Decision::Accepted),
            (10, Decision::Accepted),
            (40, Decision::Accepted),
            (40, Decision::Rejected),
            (40, Decision::Review),
            (800, Decision::Accepted),
        ];
        for (i, (age, decision)) in ages.iter().enumerate() {
            let mut p = punch("acme", "e1", &format!("p{i}"), now - day * *age);
            p.nonce = Some(format!("n{i}"));
            let mut v = verdict(*decision);
            v.findings = vec![punchguard::engine::Finding {
                code: FindingCode::LowAccuracy,
                action: Action::Review,
                message: "the fix was 120 m wide".into(),
            }];
            v.cheat_matches = vec![CheatMatch {
                signature_id: "fake-gps".into(),
                category: CheatCategory::VirtualLocation,
            }];
            store.record_punch(&p, &v).await.unwrap();
        }
        let policy = punchguard::retention::RetentionPolicy {
            evidence_days: 7,
            flagged_evidence_days: 30,
            cheat_findings_days: 30,
            attendance_days: 365,
            audit_days: 400,
        };
        let cutoffs = policy.cutoffs(now);
        let preview = store.sweep_preview(&acme, &cutoffs).await.unwrap();
        let mut swept = punchguard::retention::SweepCounts::default();
        loop {
            // Batches of two: the sweep must resume where it stopped.
            let done = store.sweep_batch(&acme, &cutoffs, 2).await.unwrap();
            if done == Default::default() {
                break;
            }
            swept.add(&done);
        }
        assert_eq!(swept, preview);
        assert_eq!(swept.attendance_deleted, 1, "{swept:?}");
        assert_eq!(swept.evidence_coarsened, 2, "{swept:?}");
        // The REVIEW punch is unreviewed: its evidence stays.
        assert_eq!(swept.flagged_evidence_coarsened, 1, "{swept:?}");
        assert_eq!(swept.cheat_findings_deleted, 3, "{swept:?}");
        assert_eq!(swept.nonces_deleted, 5, "{swept:?}");

        let rows = store.list_punches(all_time(&acme)).await.unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.punch_id.as_str()).collect();
        assert_eq!(ids, ["p2", "p3", "p4", "p1", "p0"]);
        for row in &rows {
            let old = row.received_at < cutoffs.evidence;
            let flagged_kept = row.verdict.decision == Decision::Review;
            assert_eq!(row.evidence_kept, !old || flagged_kept, "{row:?}");
            assert_eq!(
                row.verdict.distance_m.is_some(),
                row.evidence_kept,
                "{row:?}"
            );
            assert_eq!(
                row.distance_bucket,
                Some(punchguard::engine::DistanceBucket::Inside)
            );
            let codes: Vec<_> = row.verdict.findings.iter().map(|f| f.code).collect();
            assert_eq!(codes, [FindingCode::LowAccuracy], "codes stay");
            let text_kept = !row.verdict.findings[0].message.is_empty();
            assert_eq!(text_kept, row.evidence_kept, "{row:?}");
            assert_eq!(
                row.verdict.cheat_matches.is_empty(),
                row.received_at < cutoffs.cheat_findings
            );
        }
        // Nothing left to do.
        assert_eq!(
            store.sweep_preview(&acme, &cutoffs).await.unwrap(),
            Default::default()
        );
    }

    pub async fn erasure_removes_the_employee_and_only_them(store: Arc<dyn Store>) {
        let acme = org("acme");
        store.ensure_org(&acme).await.unwrap();
        for (employee, id) in [("gone", "g1"), ("gone", "g2"), ("stays", "s1")] {
            let mut p = with_device(
                punch("acme", employee, id, t0()),
                &format!("{employee}-phone"),
            );
            p.nonce = Some(format!("nonce-{id}"));
            store
                .record_punch(&p, &verdict(Decision::Accepted))
                .await
                .unwrap();
        }
        let (gone, stays) = (
            EmployeeId::new("gone").unwrap(),
            EmployeeId::new("stays").unwrap(),
        );
        store
            .set_consent(&acme, &gone, ConsentPurpose::AutoPunch, true, audit())
            .await
            .unwrap();
        store
            .create_token(
                TokenHash::of("gone-phone-token"),
                TokenGrant {
                    org: acme.clone(),
                    role: Role::Device,
                    employee: Some(gone.clone()),
                    expires_at: None,
                },
                audit(),
            )
            .await
            .unwrap();
        store
            .append_audit(
                &acme,
                punchguard::store::AuditEntry {
                    at: t0(),
                    actor: "hr-token".into(),
                    role: Role::Hr,
                    action: "ExportEmployee".into(),
                    employee: Some(gone.clone()),
                    detail: String::new(),
                },
            )
            .await
            .unwrap();
        let before = store.employee_data(&acme, &gone).await.unwrap();
        assert_eq!(before.punches.len(), 2);
        assert!(
            before
                .punches
                .iter()
                .all(|(_, evidence)| evidence.is_some())
        );
        assert_eq!(
            (
                before.devices.len(),
                before.consents.len(),
                before.audit.len()
            ),
            (1, 1, 1)
        );

        // Both are in the schedule and among the policy's field staff.
        let assign = |employee: &EmployeeId| punchguard::attendance::Assignment {
            employee: employee.clone(),
            weekdays: vec![jiff::civil::Weekday::Monday],
            shift: "day".into(),
        };
        let schedule = punchguard::attendance::Schedule {
            time_zone: "Europe/Helsinki".into(),
            shifts: vec![punchguard::attendance::Shift {
                id: "day".into(),
                start: jiff::civil::time(8, 0, 0, 0),
                end: jiff::civil::time(16, 0, 0, 0),
                late_grace_min: 5,
                early_grace_min: 5,
                serious_late_min: 30,
                flexible_start_min: 0,
            }],
            assignments: vec![assign(&gone), assign(&stays)],
        };
        store.put_schedule(&acme, schedule, audit()).await.unwrap();
        let policy = Policy {
            field_staff: [gone.clone(), stays.clone()].into(),
            ..Policy::default()
        };
        let version = store.put_policy(&acme, policy, audit()).await.unwrap();

        let counts = store
            .erase_employee(&acme, &gone, audit_of("EraseEmployee"))
            .await
            .unwrap();
        assert_eq!(counts.settings, 2, "the schedule and the policy");
        let schedule = store.load_schedule(&acme).await.unwrap().unwrap();
        assert_eq!(schedule.assignments, vec![assign(&stays)]);
        let policy = store.load_policy(&acme).await.unwrap();
        assert_eq!(policy.field_staff, [stays.clone()].into());
        let (moved, _) = store.load_sites(&acme).await.unwrap();
        assert!(
            moved > version,
            "snapshots rebuild without the erased person"
        );
        assert_eq!(
            (
                counts.punches,
                counts.devices,
                counts.consents,
                counts.tokens,
                counts.nonces,
                counts.audit_anonymised
            ),
            (2, 1, 1, 1, 2, 1)
        );
        assert!(store.employee_data(&acme, &gone).await.unwrap().is_empty());
        assert!(
            store
                .find_token(&TokenHash::of("gone-phone-token"))
                .await
                .unwrap()
                .is_none()
        );
        let kept = store.employee_data(&acme, &stays).await.unwrap();
        assert_eq!((kept.punches.len(), kept.devices.len()), (1, 1));
        let audit = store
            .list_audit(punchguard::store::AuditQuery {
                org: acme.clone(),
                employee: None,
                after_id: 0,
                limit: 10,
            })
            .await
            .unwrap();
        let actions: Vec<_> = audit
            .iter()
            .map(|r| (r.entry.action.as_str(), r.entry.employee.as_ref()))
            .collect();
        assert!(
            actions.contains(&("ExportEmployee", None)),
            "anonymised, not deleted: {actions:?}"
        );
        assert_eq!(
            actions.last(),
            Some(&("EraseEmployee", None)),
            "the erasure's own entry, written with it"
        );
        // A second erasure finds nothing, and so records nothing.
        let again = audit_of("EraseEmployee");
        assert!(
            store
                .erase_employee(&acme, &gone, again)
                .await
                .unwrap()
                .is_empty()
        );
        let after = store
            .list_audit(punchguard::store::AuditQuery {
                org: acme.clone(),
                employee: None,
                after_id: 0,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(after.len(), audit.len(), "no entry for a change not made");
    }

    /// HR's correction: the punch and its approving review and the audit
    /// entry together; a taken punch id writes nothing, not even the entry.
    pub async fn corrections_are_recorded_whole_once(store: Arc<dyn Store>) {
        let acme = org("acme");
        store.ensure_org(&acme).await.unwrap();
        let e1 = EmployeeId::new("e1").unwrap();
        let mut fix = punch("acme", "e1", "fix-1", t0());
        fix.gps = None;
        let mut accepted = verdict(Decision::Accepted);
        accepted.method = LocationMethod::Correction;
        accepted.distance_m = None;
        let review = punchguard::store::Review {
            approved: true,
            reason: "forgot to clock in".into(),
            reviewer: "hr-token".into(),
            at: t0() + SignedDuration::from_hours(1),
        };
        let entry = || AuditEntry {
            employee: Some(e1.clone()),
            ..audit_of("RecordCorrection")
        };
        let row = store
            .record_correction(&fix, &accepted, review.clone(), entry())
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!(row.verdict.method, LocationMethod::Correction);
        assert_eq!(row.verdict.decision, Decision::Accepted);
        assert_eq!(row.review.as_ref(), Some(&review));
        let again = store
            .record_correction(&fix, &accepted, review, entry())
            .await
            .unwrap();
        assert!(again.is_none(), "a taken punch id");
        let listed = store.list_punches(all(&acme)).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0], row);
        let audit = store
            .list_audit(punchguard::store::AuditQuery {
                org: acme.clone(),
                employee: Some(e1.clone()),
                after_id: 0,
                limit: 10,
            })
            .await
            .unwrap();
        let corrections = audit
            .iter()
            .filter(|r| r.entry.action == "RecordCorrection")
            .count();
        assert_eq!(corrections, 1);
    }

    pub async fn reviews_are_decided_once_and_the_feed_resumes(store: Arc<dyn Store>) {
        let acme = org("acme");
        store.ensure_org(&acme).await.unwrap();
        store.ensure_org(&org("other")).await.unwrap();
        let e1 = EmployeeId::new("e1").unwrap();
        for (i, decision) in [Decision::Review, Decision::Accepted, Decision::Review]
            .iter()
            .enumerate()
        {
            store
                .record_punch(
                    &punch("acme", "e1", &format!("p{i}"), t0()),
                    &verdict(*decision),
                )
                .await
                .unwrap();
        }
        store
            .record_punch(
                &punch("other", "e1", "p0", t0()),
                &verdict(Decision::Review),
            )
            .await
            .unwrap();
        let queue = store.review_queue(&acme, 0, 10).await.unwrap();
        let ids: Vec<&str> = queue.iter().map(|r| r.punch_id.as_str()).collect();
        assert_eq!(ids, ["p0", "p2"]);
        let page = store.review_queue(&acme, queue[0].seq, 10).await.unwrap();
        assert_eq!(page.len(), 1);

        let review = |approved| punchguard::store::Review {
            approved,
            reason: "checked with the site manager".into(),
            reviewer: "hr-token".into(),
            at: t0() + SignedDuration::from_hours(1),
        };
        let id = |s: &str| PunchId::new(s).unwrap();
        use punchguard::store::ReviewOutcome;
        let ReviewOutcome::Reviewed(row) = store
            .review_punch(&acme, &e1, &id("p0"), review(true), audit())
            .await
            .unwrap()
        else {
            panic!("the first review decides");
        };
        assert_eq!(row.review, Some(review(true)));
        assert_eq!(
            store
                .review_punch(&acme, &e1, &id("p0"), review(false), audit())
                .await
                .unwrap(),
            ReviewOutcome::AlreadyDecided(review(true))
        );
        assert_eq!(
            store
                .review_punch(&acme, &e1, &id("p1"), review(true), audit())
                .await
                .unwrap(),
            ReviewOutcome::NotAwaitingReview(Decision::Accepted)
        );
        assert_eq!(
            store
                .review_punch(&acme, &e1, &id("nope"), review(true), audit())
                .await
                .unwrap(),
            ReviewOutcome::NotFound
        );
        let ids: Vec<String> = store
            .review_queue(&acme, 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.punch_id.to_string())
            .collect();
        assert_eq!(ids, ["p2"]);

        // The feed: in seq order, resumable from any seq, per organisation.
        let latest = store.latest_seq(&acme).await.unwrap();
        let feed = store.punches_after(&acme, 0, 10).await.unwrap();
        assert_eq!(feed.len(), 3);
        assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(feed.last().unwrap().seq, latest);
        let resumed = store.punches_after(&acme, feed[0].seq, 10).await.unwrap();
        assert_eq!(resumed, feed[1..]);
        assert_eq!(store.latest_seq(&org("nobody")).await.unwrap(), 0);
        let evidence = store
            .punch_evidence(&acme, feed.iter().map(|r| r.seq).collect())
            .await
            .unwrap();
        assert_eq!(evidence.len(), 3);
        assert_eq!(evidence[0].1.latitude, Some(60.5));
        let theirs = store.latest_seq(&org("other")).await.unwrap();
        assert!(
            store
                .punch_evidence(&acme, vec![theirs])
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn calendars_change_whole_and_load_by_date(store: Arc<dyn Store>) {
        use jiff::civil::Date;
        use punchguard::attendance::{CalendarEntry, Holiday, Leave, RosterDay};
        use punchguard::store::CalendarChange;
        let acme = org("acme");
        let d = |s: &str| s.parse::<Date>().unwrap();
        let aino = EmployeeId::new("aino").unwrap();
        let ville = EmployeeId::new("ville").unwrap();
        let holiday = |date: &str, name: &str| {
            CalendarEntry::Holiday(Holiday {
                date: d(date),
                name: name.into(),
            })
        };
        let roster = |who: &EmployeeId, date: &str, shift: Option<&str>| {
            CalendarEntry::Roster(RosterDay {
                employee: who.clone(),
                date: d(date),
                shift: shift.map(Into::into),
            })
        };
        let leave = CalendarEntry::Leave(Leave {
            id: "L1".into(),
            employee: aino.clone(),
            kind: "sick".into(),
            start: "2026-03-09T22:00:00Z".parse().unwrap(),
            end: "2026-03-11T22:00:00Z".parse().unwrap(),
        });
        let changes = vec![
            CalendarChange::Put(holiday("2026-03-02", "first")),
            CalendarChange::Put(holiday("2026-04-01", "april")),
            CalendarChange::Put(roster(&aino, "2026-03-04", Some("night"))),
            CalendarChange::Put(roster(&ville, "2026-03-04", None)),
            CalendarChange::Put(leave.clone()),
        ];
        assert_eq!(
            store
                .change_calendar(&acme, changes, audit_of("PutCalendar"))
                .await
                .unwrap(),
            5
        );
        let march = |who: Option<&EmployeeId>| {
            let store = store.clone();
            let acme = acme.clone();
            let who = who.cloned();
            async move {
                let mut keys: Vec<String> = store
                    .load_calendar(&acme, who.as_ref(), d("2026-03-01"), d("2026-03-31"))
                    .await
                    .unwrap()
                    .iter()
                    .map(CalendarEntry::key)
                    .collect();
                keys.sort();
                keys
            }
        };
        assert_eq!(
            march(None).await,
            [
                "holiday/2026-03-02",
                "leave/L1",
                "roster/aino/2026-03-04",
                "roster/ville/2026-03-04"
            ]
        );
        assert_eq!(
            march(Some(&aino)).await,
            ["holiday/2026-03-02", "leave/L1", "roster/aino/2026-03-04"]
        );
        // Entries round-trip whole; another organisation sees none of them.
        let loaded = store
            .load_calendar(&acme, Some(&aino), d("2026-03-10"), d("2026-03-10"))
            .await
            .unwrap();
        assert_eq!(loaded, [leave]);
        assert!(
            store
                .load_calendar(&org("other"), None, d("2026-01-01"), d("2026-12-31"))
                .await
                .unwrap()
                .is_empty()
        );
        // Replacing by key, removing by key, clearing holidays by range.
        let changes = vec![
            CalendarChange::Put(roster(&aino, "2026-03-04", None)),
            CalendarChange::Remove("roster/ville/2026-03-04".into()),
            CalendarChange::ClearHolidays {
                from: d("2026-03-01"),
                to: d("2026-03-31"),
            },
        ];
        assert_eq!(
            store
                .change_calendar(&acme, changes, audit_of("PutCalendar"))
                .await
                .unwrap(),
            3
        );
        assert_eq!(march(None).await, ["leave/L1", "roster/aino/2026-03-04"]);
        let april = store
            .load_calendar(&acme, None, d("2026-04-01"), d("2026-04-01"))
            .await
            .unwrap();
        assert_eq!(april, [holiday("2026-04-01", "april")]);
        // The person's export holds their entries; erasure takes them.
        let data = store.employee_data(&acme, &aino).await.unwrap();
        assert_eq!(data.calendar.len(), 2);
        let erased = store
            .erase_employee(&acme, &aino, audit_of("EraseEmployee"))
            .await
            .unwrap();
        assert_eq!(erased.calendar, 2);
        assert!(march(Some(&aino)).await.is_empty());
        assert_eq!(march(None).await, Vec::<String>::new());
    }

    pub async fn webhooks_keep_cursors_reviews_and_a_bounded_log(store: Arc<dyn Store>) {
        use punchguard::store::{Delivery, WebhookConfig, WebhookCursors};
        use punchguard::webhooks::EventKind;
        let acme = org("acme");
        let date = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
        store.ensure_org(&acme).await.unwrap();
        // Two punches before the webhook exists: it starts after them.
        for id in ["p1", "p2"] {
            let p = punch("acme", "aino", id, t0());
            store
                .record_punch(&p, &verdict(Decision::Review))
                .await
                .unwrap();
        }
        let review = |reason: &str| punchguard::store::Review {
            approved: true,
            reason: reason.into(),
            reviewer: "abcdef012345".into(),
            at: t0(),
        };
        let aino = EmployeeId::new("aino").unwrap();
        store
            .review_punch(
                &acme,
                &aino,
                &PunchId::new("p1").unwrap(),
                review("one"),
                audit(),
            )
            .await
            .unwrap();
        let config = WebhookConfig {
            id: "hr".into(),
            url: "https://hr.example.com/hook".into(),
            events: vec![EventKind::PunchRecorded, EventKind::DayClosed],
            secret: "whsec_x".into(),
            created_at: micros(t0()),
        };
        let created = store
            .put_webhook(
                &acme,
                config.clone(),
                date("2026-03-01"),
                audit_of("PutWebhook"),
            )
            .await
            .unwrap();
        let latest = store.latest_seq(&acme).await.unwrap();
        assert_eq!(created.config, config);
        assert_eq!(created.cursors.punches, latest);
        assert_eq!(created.cursors.closed_through, date("2026-03-01"));
        let reviewed_before = created.cursors.reviews;
        assert!(reviewed_before > 0);
        // Reviews after the cursor, in the order they were made.
        for (id, reason) in [("p2", "two")] {
            store
                .review_punch(
                    &acme,
                    &aino,
                    &PunchId::new(id).unwrap(),
                    review(reason),
                    audit(),
                )
                .await
                .unwrap();
        }
        let reviews = store
            .reviews_after(&acme, reviewed_before, 10)
            .await
            .unwrap();
        assert_eq!(reviews.len(), 1);
        assert!(reviews[0].0 > reviewed_before);
        assert_eq!(reviews[0].1.punch_id.as_str(), "p2");
        assert_eq!(reviews[0].1.review.as_ref().unwrap().reason, "two");
        let all = store.reviews_after(&acme, 0, 10).await.unwrap();
        assert_eq!(
            all.iter()
                .map(|r| r.1.punch_id.as_str())
                .collect::<Vec<_>>(),
            ["p1", "p2"]
        );
        assert!(
            store
                .reviews_after(&org("other"), 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Changing the webhook keeps its cursors; moving them sticks.
        let moved = WebhookCursors {
            punches: latest + 5,
            reviews: reviews[0].0,
            closed_through: date("2026-03-04"),
            closing_after: Some(aino.clone()),
        };
        store
            .advance_webhook(&acme, "hr", moved.clone())
            .await
            .unwrap();
        let changed = WebhookConfig {
            url: "https://hr.example.com/v2".into(),
            ..config.clone()
        };
        let stored = store
            .put_webhook(
                &acme,
                changed.clone(),
                date("2026-12-01"),
                audit_of("PutWebhook"),
            )
            .await
            .unwrap();
        assert_eq!((stored.config, stored.cursors), (changed, moved));
        assert_eq!(store.webhooks(None).await.unwrap().len(), 1);
        assert!(
            store
                .webhooks(Some(&org("other")))
                .await
                .unwrap()
                .is_empty()
        );
        // The log keeps the newest attempts, newest first.
        let attempt = |n: u32| Delivery {
            event_id: format!("punch.recorded/{n}"),
            kind: EventKind::PunchRecorded,
            attempt: n,
            at: micros(t0()),
            status: n.is_multiple_of(2).then_some(200),
            error: (!n.is_multiple_of(2)).then(|| "connection refused".to_owned()),
            duration_ms: n,
        };
        let many = (1..=punchguard::store::MAX_DELIVERIES_KEPT as u32 + 5).map(attempt);
        store
            .log_deliveries(&acme, "hr", many.collect())
            .await
            .unwrap();
        let log = store.deliveries(&acme, "hr", 2000).await.unwrap();
        assert_eq!(log.len() as i64, punchguard::store::MAX_DELIVERIES_KEPT);
        assert_eq!(
            log[0],
            attempt(punchguard::store::MAX_DELIVERIES_KEPT as u32 + 5)
        );
        // Deleting takes the log with it.
        assert!(
            store
                .delete_webhook(&acme, "hr", audit_of("DeleteWebhook"))
                .await
                .unwrap()
                .is_some()
        );
        assert!(store.webhooks(None).await.unwrap().is_empty());
        assert!(store.deliveries(&acme, "hr", 10).await.unwrap().is_empty());
        assert!(
            store
                .delete_webhook(&acme, "hr", audit_of("DeleteWebhook"))
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn schedules_swap_only_from_what_was_read(store: Arc<dyn Store>) {
        use punchguard::attendance::{Assignment, Schedule, Shift};
        let acme = org("acme");
        let shift = Shift {
            id: "day".into(),
            start: "09:00".parse().unwrap(),
            end: "17:00".parse().unwrap(),
            late_grace_min: 5,
            early_grace_min: 5,
            serious_late_min: 30,
            flexible_start_min: 0,
        };
        let with = |employees: &[&str]| Schedule {
            time_zone: "Europe/Helsinki".into(),
            shifts: vec![shift.clone()],
            assignments: employees
                .iter()
                .map(|e| Assignment {
                    employee: EmployeeId::new(*e).unwrap(),
                    weekdays: vec![jiff::civil::Weekday::Monday],
                    shift: "day".into(),
                })
                .collect(),
        };
        store
            .put_schedule(&acme, with(&["aino"]), audit_of("PutSchedule"))
            .await
            .unwrap();
        // From a stale read: refused, nothing written.
        let stale = with(&[]);
        assert!(
            !store
                .swap_schedule(&acme, &stale, with(&["onni"]), audit_of("Swap"))
                .await
                .unwrap()
        );
        assert_eq!(
            store.load_schedule(&acme).await.unwrap(),
            Some(with(&["aino"]))
        );
        // From what is stored: swapped.
        assert!(
            store
                .swap_schedule(
                    &acme,
                    &with(&["aino"]),
                    with(&["aino", "onni"]),
                    audit_of("Swap")
                )
                .await
                .unwrap()
        );
        assert_eq!(
            store.load_schedule(&acme).await.unwrap(),
            Some(with(&["aino", "onni"]))
        );
        // An organisation without a schedule has nothing to swap from.
        assert!(
            !store
                .swap_schedule(&org("other"), &stale, with(&["x"]), audit_of("Swap"))
                .await
                .unwrap()
        );
    }

    /// Every punch from the beginning of time to the end.
    pub fn all_time(org: &OrgId) -> PunchQuery {
        PunchQuery {
            from: Timestamp::UNIX_EPOCH,
            to: t0() + SignedDuration::from_hours(24 * 365),
            ..all(org)
        }
    }

    pub fn all(org: &OrgId) -> PunchQuery {
        PunchQuery {
            org: org.clone(),
            clock: punchguard::store::Clock::Received,
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
            suite!(@case $open, lists_by_the_punchs_own_time);
            suite!(@case $open, organisations_are_isolated);
            suite!(@case $open, sites_replace_by_name_and_bump_the_version);
            suite!(@case $open, policies_round_trip_and_bump_the_version);
            suite!(@case $open, close_commits_what_was_queued);
            suite!(@case $open, history_follows_every_write);
            suite!(@case $open, tokens_expire_revoke_and_rotate);
            suite!(@case $open, retention_sweeps_each_category_as_previewed);
            suite!(@case $open, erasure_removes_the_employee_and_only_them);
            suite!(@case $open, reviews_are_decided_once_and_the_feed_resumes);
            suite!(@case $open, corrections_are_recorded_whole_once);
            suite!(@case $open, calendars_change_whole_and_load_by_date);
            suite!(@case $open, webhooks_keep_cursors_reviews_and_a_bounded_log);
            suite!(@case $open, schedules_swap_only_from_what_was_read);
        }
    };
    (@case $open:expr, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let Some((store, _guard)) = $open(stringify!($case)).await else {
                return;
            };
            cases::$case(store).await;
        }
    };
}

/// What keeps a backend's storage alive for the length of a case.
type Guard = Box<dyn std::any::Any + Send>;

async fn sqlite(_case: &str) -> Option<(Arc<dyn Store>, Guard)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("conformance.db")).unwrap();
    Some((Arc::new(store), Box::new(dir)))
}

/// A fresh schema per case; skipped (with a message) without a test database.
async fn postgres(case: &str) -> Option<(Arc<dyn Store>, Guard)> {
    let schema = common::postgres::Schema::fresh(case).await?;
    let store = PostgresStore::open(&schema.url).await.unwrap();
    Some((Arc::new(store), Box::new(schema)))
}

suite!(sqlite_backend, sqlite);
suite!(postgres_backend, postgres);

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

/// The SQLite store keeps recent history in memory: after any sequence of
/// punches, bindings and consents, what it answers equals what a store
/// opened fresh on the same file (nothing cached) reads from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cached_history_equals_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.db");
    let store = SqliteStore::open(&path).unwrap();
    let acme = org("acme");
    store.ensure_org(&acme).await.unwrap();
    let employees = ["e0", "e1", "e2"].map(|e| EmployeeId::new(e).unwrap());
    let devices = ["d0", "d1"].map(|d| DeviceId::new(d).unwrap());
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for step in 0..300 {
        let employee = &employees[next(3) as usize];
        let device = &devices[next(2) as usize];
        let at = t0() + SignedDuration::from_mins(step);
        match next(6) {
            0 => {
                store
                    .revoke_device(&acme, employee, device, audit())
                    .await
                    .unwrap();
            }
            1 => {
                store
                    .bind_device(&acme, employee, device, audit())
                    .await
                    .unwrap();
            }
            2 => {
                let granted = next(2) == 0;
                store
                    .set_consent(&acme, employee, ConsentPurpose::AutoPunch, granted, audit())
                    .await
                    .unwrap();
            }
            _ => {
                let mut p = punch("acme", employee.as_str(), &format!("p{step}"), at);
                p = with_device(p, device.as_str());
                p.gps.as_mut().unwrap().latitude = 60.0 + next(100) as f64 / 100.0;
                p.nonce = Some(format!("n{}", next(50)));
                let decision =
                    [Decision::Accepted, Decision::Review, Decision::Rejected][next(3) as usize];
                store.record_punch(&p, &verdict(decision)).await.unwrap();
            }
        }
        let query = HistoryQuery {
            org: acme.clone(),
            employee: employees[next(3) as usize].clone(),
            device: Some(devices[next(2) as usize].clone()),
            nonce: Some(format!("n{}", next(50))),
            shared_since: at - SignedDuration::from_mins(30),
            attested: false,
        };
        let cached = store.history(query.clone()).await.unwrap();
        let fresh = SqliteStore::open(&path).unwrap();
        assert_eq!(cached, fresh.history(query).await.unwrap(), "step {step}");
        fresh.close().await.unwrap();
    }
}
