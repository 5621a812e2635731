//! The decision engine: pure, synchronous, no I/O.
//!
//! It takes a validated [`Punch`] and the organisation's immutable
//! [`OrgSnapshot`] and returns a [`Verdict`]. It never imports tonic, tokio,
//! prost or a database, so everything it decides is testable without a server.
//!
//! - [`types`]: validated domain types, finding codes, decisions.
//! - [`fence`]: fence geometry and the R-tree index (prefilter + exact predicate).
//! - [`ellipsoid`]: metres on WGS-84 from a fix to a fence edge.
//! - [`sites`]: sites and their import from GeoJSON.
//! - [`coords`]: WGS-84 / GCJ-02 / BD-09 conversion.
//! - [`signatures`]: known cheat software.
//! - [`wifi`]: BSSIDs, access points, the WiFi index.
//! - [`beacons`]: iBeacon and Eddystone-EID beacons.
//! - [`history`]: what the history rules read about the employee and device.
//! - [`policy`]: per-organisation limits and finding → action mapping.
//! - [`snapshot`]: the per-organisation view the engine reads.
//! - [`rules`]: one file per anti-cheat rule.

pub mod attestation;
pub mod beacons;
pub mod coords;
pub mod ellipsoid;
pub mod fence;
pub mod history;
pub mod policy;
pub mod rules;
pub mod signatures;
pub mod sites;
pub mod snapshot;
pub mod types;
pub mod wifi;

pub use history::{History, HistoryDelta, binds_device};
pub use policy::Policy;
pub use snapshot::OrgSnapshot;
pub use types::*;

/// Decides one punch against its organisation's snapshot and the employee's
/// history.
pub fn evaluate(snapshot: &OrgSnapshot, punch: &Punch, history: &History) -> Verdict {
    let policy = &snapshot.policy;
    let mut observed = Vec::new();
    let gps = punch.gps.as_ref();
    let wifi = rules::wifi::read(snapshot, &punch.wifi);
    let beacons = rules::beacons::read(snapshot, &punch.beacons, punch.received_at);
    let placement = rules::location::place(snapshot, gps, &beacons, &wifi, &mut observed);
    observed.extend(rules::wifi::check(&wifi, &placement, gps, snapshot, policy));
    observed.extend(rules::beacons::check(&beacons));
    observed.extend(rules::evidence_required::check(
        snapshot, &placement, gps, &wifi, &beacons,
    ));
    let device = punch.device.as_ref();
    let motion = punch.motion.as_ref();
    let (cheat_matches, cheat_apps) = rules::cheat_apps::check(&punch.apps, &snapshot.signatures);
    let unbound = rules::device_binding::check(device, history, policy);
    let (attestation, assurance) = rules::attestation::check(snapshot, punch, history);
    observed.extend(attestation);
    observed.extend(
        [
            rules::low_accuracy::check(gps, wifi.site.is_some() || beacons.site.is_some(), policy),
            rules::stale_fix::check(punch, policy),
            rules::clock_skew::check(punch, policy),
            rules::mock_location::check(gps),
            cheat_apps,
            rules::rooted::check(device),
            rules::emulator::check(device),
            rules::integrity::check(device, assurance),
            rules::sensor_flat::check(motion, policy),
            rules::sensor_inconsistent::check(gps, motion, policy),
            rules::impossible_travel::check(gps, history.last_accepted.as_ref(), policy),
            unbound,
            rules::device_shared::check(history, policy),
            rules::replay::check(history),
            rules::consent::check(punch.kind, history),
        ]
        .into_iter()
        .flatten(),
    );
    let findings: Vec<Finding> = observed
        .into_iter()
        .map(|(code, message)| Finding {
            code,
            action: policy.action_for(code, &punch.employee),
            message,
        })
        .collect();
    Verdict {
        decision: policy.decide(&findings),
        findings,
        site: placement.site,
        method: placement.method,
        distance_m: placement.distance_m,
        nearest_site: placement.nearest_site,
        cheat_matches,
        // Kept only when they place or corroborate the punch's site.
        wifi_bssids: if wifi.site.is_some() && wifi.site == placement.site_index {
            wifi.matched
        } else {
            Vec::new()
        },
        assurance,
    }
}

#[cfg(test)]
mod tests {
    use super::fence::FenceGeometry;
    use super::sites::SiteDefinition;
    use super::*;
    use geo::{MultiPolygon, Point, polygon};
    use jiff::{SignedDuration, Timestamp};

    const LON: f64 = 26.95;
    const LAT: f64 = 60.52;

    fn snapshot() -> OrgSnapshot {
        let office = FenceGeometry::Polygon(MultiPolygon(vec![polygon![
            (x: LON, y: LAT),
            (x: LON + 0.002, y: LAT),
            (x: LON + 0.002, y: LAT + 0.001),
            (x: LON, y: LAT + 0.001),
        ]]));
        let yard = FenceGeometry::Circle {
            center: Point::new(LON + 0.01, LAT),
            radius_m: 150.0,
        };
        let sites = vec![
            SiteDefinition {
                id: SiteId::new("office").unwrap(),
                fences: vec![office],
                access_points: Vec::new(),
                beacons: Vec::new(),
                requires: None,
            },
            SiteDefinition {
                id: SiteId::new("yard").unwrap(),
                fences: vec![yard],
                access_points: Vec::new(),
                beacons: Vec::new(),
                requires: None,
            },
        ];
        OrgSnapshot::build(OrgId::new("acme").unwrap(), 1, sites, Policy::default())
    }

    fn now() -> Timestamp {
        "2026-11-30T09:00:00Z".parse().unwrap()
    }

    /// A genuine punch in the middle of the office.
    fn genuine() -> Punch {
        Punch {
            org: OrgId::new("acme").unwrap(),
            employee: EmployeeId::new("e1").unwrap(),
            punch_id: PunchId::new("p1").unwrap(),
            kind: PunchKind::In,
            client_time: now(),
            received_at: now(),
            sent_at: now(),
            queued_offline: false,
            nonce: None,
            gps: Some(GpsFix {
                latitude: LAT + 0.0005,
                longitude: LON + 0.001,
                accuracy_m: 12.0,
                fix_time: now() - SignedDuration::from_secs(5),
                mock_location: false,
                speed_mps: Some(0.0),
            }),
            wifi: Vec::new(),
            beacons: Vec::new(),
            device: Some(DeviceFacts {
                device_id: DeviceId::new("d1").unwrap(),
                platform: Platform::Android,
                rooted: false,
                emulator: false,
                developer_mode: false,
                integrity: Integrity::Passed,
            }),
            motion: Some(MotionSummary {
                sensors: vec![
                    sensor(SensorKind::Accelerometer, 9.81, 0.0004),
                    sensor(SensorKind::Gyroscope, 0.01, 0.00002),
                ],
                step_delta: Some(0),
            }),
            apps: AppEvidence::default(),
            signed: None,
        }
    }

    fn sensor(kind: SensorKind, mean_magnitude: f64, variance: f64) -> SensorStats {
        SensorStats {
            kind,
            sample_count: 250,
            mean_magnitude,
            variance,
        }
    }

    fn fix(p: &mut Punch) -> &mut GpsFix {
        p.gps.as_mut().unwrap()
    }

    fn device(p: &mut Punch) -> &mut DeviceFacts {
        p.device.as_mut().unwrap()
    }

    fn motion(p: &mut Punch) -> &mut MotionSummary {
        p.motion.as_mut().unwrap()
    }

    struct Scenario {
        name: &'static str,
        tamper: fn(&mut Punch),
        decision: Decision,
        codes: &'static [FindingCode],
        site: Option<&'static str>,
    }

    #[test]
    fn what_a_recorded_punch_adds_to_history() {
        let mut punch = genuine();
        punch.nonce = Some("n-1".into());
        let accepted = evaluate(&snapshot(), &punch, &History::default());
        assert_eq!(accepted.decision, Decision::Accepted, "{accepted:?}");
        let delta = HistoryDelta::of(&punch, &accepted);
        let d1 = DeviceId::new("d1").unwrap();
        assert_eq!(delta.binds, Some(&d1), "bound on first use");
        assert_eq!(delta.device_used, Some(&d1));
        assert_eq!(delta.nonce, Some(("device:d1".to_owned(), "n-1")));
        let kept = delta.last_accepted.expect("an accepted fix");
        assert_eq!(kept.latitude, punch.gps.as_ref().unwrap().latitude);

        // Rejected: the device is used but not bound, the fix not kept.
        fix(&mut punch).latitude = LAT + 1.0;
        let rejected = evaluate(&snapshot(), &punch, &History::default());
        assert_eq!(rejected.decision, Decision::Rejected, "{rejected:?}");
        let delta = HistoryDelta::of(&punch, &rejected);
        assert_eq!((delta.binds, delta.last_accepted), (None, None));
        assert_eq!(delta.device_used, Some(&d1));
    }

    #[test]
    fn scenarios() {
        use FindingCode::*;
        let table = [
            Scenario {
                name: "genuine punch at the office",
                tamper: |_| {},
                decision: Decision::Accepted,
                codes: &[],
                site: Some("office"),
            },
            Scenario {
                name: "genuine punch in the circular yard",
                tamper: |p| {
                    fix(p).longitude = LON + 0.01;
                    fix(p).latitude = LAT + 0.0005; // ~56 m north of the centre
                },
                decision: Decision::Accepted,
                codes: &[],
                site: Some("yard"),
            },
            Scenario {
                name: "punching from home 1 km away",
                tamper: |p| fix(p).latitude = LAT + 0.01,
                decision: Decision::Rejected,
                codes: &[OutsideFence],
                site: None,
            },
            Scenario {
                name: "standing at the edge with GPS drift",
                tamper: |p| {
                    fix(p).latitude = LAT - 0.0002; // ~22 m south of the office
                    fix(p).accuracy_m = 30.0;
                },
                decision: Decision::Review,
                codes: &[NearFence],
                site: Some("office"),
            },
            Scenario {
                name: "vague fix from a cell tower",
                tamper: |p| fix(p).accuracy_m = 850.0,
                decision: Decision::Review,
                codes: &[LowAccuracy],
                site: Some("office"),
            },
            Scenario {
                name: "replaying a fix from an hour ago",
                tamper: |p| fix(p).fix_time = now() - SignedDuration::from_hours(1),
                decision: Decision::Review,
                codes: &[StaleFix],
                site: Some("office"),
            },
            Scenario {
                name: "backdating by setting the phone clock",
                tamper: |p| {
                    p.client_time = now() - SignedDuration::from_mins(40);
                    p.sent_at = p.client_time;
                    fix(p).fix_time = p.client_time;
                },
                decision: Decision::Review,
                codes: &[ClockSkew],
                site: Some("office"),
            },
            Scenario {
                name: "fake GPS app with the mock flag showing",
                tamper: |p| fix(p).mock_location = true,
                decision: Decision::Rejected,
                codes: &[MockLocation],
                site: Some("office"),
            },
            Scenario {
                name: "fake GPS app installed, mock flag hidden (package list)",
                tamper: |p| {
                    p.apps.installed_packages = InstalledPackages(vec![
                        "com.android.chrome".into(),
                        "com.lexa.fakegps".into(),
                    ])
                },
                decision: Decision::Review,
                codes: &[CheatAppInstalled],
                site: Some("office"),
            },
            Scenario {
                name: "app cloner reported by the device itself",
                tamper: |p| {
                    p.apps.matched_signature_ids =
                        vec!["ac-parallel-space".into(), "not-in-our-list".into()]
                },
                decision: Decision::Review,
                codes: &[CheatAppInstalled],
                site: Some("office"),
            },
            Scenario {
                name: "rooted phone",
                tamper: |p| device(p).rooted = true,
                decision: Decision::Review,
                codes: &[Rooted],
                site: Some("office"),
            },
            Scenario {
                name: "emulator that admits it, with flat sensors",
                tamper: |p| {
                    device(p).emulator = true;
                    for s in &mut motion(p).sensors {
                        s.variance = 0.0;
                    }
                },
                decision: Decision::Rejected,
                codes: &[Emulator, SensorFlat],
                site: Some("office"),
            },
            Scenario {
                name: "emulator hiding its flag, but no gyroscope",
                tamper: |p| {
                    motion(p)
                        .sensors
                        .retain(|s| s.kind != SensorKind::Gyroscope)
                },
                decision: Decision::Review,
                codes: &[SensorFlat],
                site: Some("office"),
            },
            Scenario {
                name: "modified app failing attestation",
                tamper: |p| device(p).integrity = Integrity::Failed,
                decision: Decision::Review,
                codes: &[IntegrityFailed],
                site: Some("office"),
            },
            Scenario {
                name: "spoofed drive while the phone lies on a desk",
                tamper: |p| fix(p).speed_mps = Some(13.0),
                decision: Decision::Review,
                codes: &[SensorInconsistent],
                site: Some("office"),
            },
            Scenario {
                name: "honest: walking into the office, phone shaking, steps counted",
                tamper: |p| {
                    fix(p).speed_mps = Some(1.3);
                    motion(p).sensors[0].variance = 2.5;
                    motion(p).step_delta = Some(14);
                },
                decision: Decision::Accepted,
                codes: &[],
                site: Some("office"),
            },
            Scenario {
                name: "honest: punched offline two hours ago, sent now",
                tamper: |p| {
                    p.client_time = now() - SignedDuration::from_hours(2);
                    fix(p).fix_time = p.client_time - SignedDuration::from_secs(5);
                    p.queued_offline = true;
                },
                decision: Decision::Accepted,
                codes: &[],
                site: Some("office"),
            },
            Scenario {
                name: "honest: older client without device facts or sensors",
                tamper: |p| {
                    p.device = None;
                    p.motion = None;
                },
                decision: Decision::Accepted,
                codes: &[],
                site: Some("office"),
            },
        ];
        let snapshot = snapshot();
        for s in table {
            let mut punch = genuine();
            (s.tamper)(&mut punch);
            let verdict = evaluate(&snapshot, &punch, &History::default());
            let codes: Vec<_> = verdict.findings.iter().map(|f| f.code).collect();
            assert_eq!(codes, s.codes, "{}", s.name);
            assert_eq!(verdict.decision, s.decision, "{}", s.name);
            assert_eq!(
                verdict.site.as_ref().map(SiteId::as_str),
                s.site,
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn outside_reports_distance_to_nearest_fence() {
        let mut punch = genuine();
        fix(&mut punch).latitude = LAT + 0.001 + 0.0045; // ~500 m north of the office's top edge
        let verdict = evaluate(&snapshot(), &punch, &History::default());
        let d = verdict.distance_m.unwrap();
        assert!((d - 500.9).abs() < 3.0, "distance {d}");
        assert_eq!(verdict.nearest_site.unwrap().as_str(), "office");
        assert_eq!(verdict.method, LocationMethod::None);
    }

    #[test]
    fn org_without_fences_rejects_without_distance() {
        let verdict = evaluate(
            &OrgSnapshot::empty(OrgId::new("new").unwrap()),
            &genuine(),
            &History::default(),
        );
        assert_eq!(verdict.decision, Decision::Rejected);
        assert!(verdict.has(FindingCode::OutsideFence));
        assert_eq!(verdict.distance_m, None);
    }
}
