//! The decision engine: pure, synchronous, no I/O.
//!
//! It takes a validated [`Punch`] and the organisation's immutable
//! [`OrgSnapshot`] and returns a [`Verdict`]. It never imports tonic, tokio,
//! prost or a database, so everything it decides is testable without a server.
//!
//! - [`types`]: validated domain types, finding codes, decisions.
//! - [`fence`]: fence geometry and the R-tree index (prefilter + exact predicate).
//! - [`sites`]: sites and their import from GeoJSON.
//! - [`policy`]: per-organisation limits and finding → action mapping.
//! - [`snapshot`]: the per-organisation view the engine reads.
//! - [`rules`]: one file per anti-cheat rule.

pub mod fence;
pub mod policy;
pub mod rules;
pub mod sites;
pub mod snapshot;
pub mod types;

pub use policy::Policy;
pub use snapshot::OrgSnapshot;
pub use types::*;

/// Decides one punch against its organisation's snapshot.
pub fn evaluate(snapshot: &OrgSnapshot, punch: &Punch) -> Verdict {
    let policy = &snapshot.policy;
    let mut observed = Vec::new();
    let placement = rules::location::place(snapshot, &punch.gps, &mut observed);
    observed.extend(
        [
            rules::low_accuracy::check(&punch.gps, policy),
            rules::stale_fix::check(punch, policy),
            rules::clock_skew::check(punch, policy),
            rules::mock_location::check(&punch.gps),
        ]
        .into_iter()
        .flatten(),
    );
    let findings: Vec<Finding> = observed
        .into_iter()
        .map(|(code, message)| Finding {
            code,
            action: policy.action(code),
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
            },
            SiteDefinition {
                id: SiteId::new("yard").unwrap(),
                fences: vec![yard],
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
            gps: GpsFix {
                latitude: LAT + 0.0005,
                longitude: LON + 0.001,
                accuracy_m: 12.0,
                fix_time: now() - SignedDuration::from_secs(5),
                mock_location: false,
            },
        }
    }

    struct Scenario {
        name: &'static str,
        tamper: fn(&mut Punch),
        decision: Decision,
        codes: &'static [FindingCode],
        site: Option<&'static str>,
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
                    p.gps.longitude = LON + 0.01;
                    p.gps.latitude = LAT + 0.0005; // ~56 m north of the centre
                },
                decision: Decision::Accepted,
                codes: &[],
                site: Some("yard"),
            },
            Scenario {
                name: "punching from home 1 km away",
                tamper: |p| p.gps.latitude = LAT + 0.01,
                decision: Decision::Rejected,
                codes: &[OutsideFence],
                site: None,
            },
            Scenario {
                name: "standing at the edge with GPS drift",
                tamper: |p| {
                    p.gps.latitude = LAT - 0.0002; // ~22 m south of the office
                    p.gps.accuracy_m = 30.0;
                },
                decision: Decision::Review,
                codes: &[NearFence],
                site: Some("office"),
            },
            Scenario {
                name: "vague fix from a cell tower",
                tamper: |p| p.gps.accuracy_m = 850.0,
                decision: Decision::Review,
                codes: &[LowAccuracy],
                site: Some("office"),
            },
            Scenario {
                name: "replaying a fix from an hour ago",
                tamper: |p| p.gps.fix_time = now() - SignedDuration::from_hours(1),
                decision: Decision::Review,
                codes: &[StaleFix],
                site: Some("office"),
            },
            Scenario {
                name: "backdating by setting the phone clock",
                tamper: |p| {
                    p.client_time = now() - SignedDuration::from_mins(40);
                    p.gps.fix_time = p.client_time;
                },
                decision: Decision::Review,
                codes: &[ClockSkew],
                site: Some("office"),
            },
            Scenario {
                name: "fake GPS app with the mock flag showing",
                tamper: |p| p.gps.mock_location = true,
                decision: Decision::Rejected,
                codes: &[MockLocation],
                site: Some("office"),
            },
        ];
        let snapshot = snapshot();
        for s in table {
            let mut punch = genuine();
            (s.tamper)(&mut punch);
            let verdict = evaluate(&snapshot, &punch);
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
        punch.gps.latitude = LAT + 0.001 + 0.0045; // ~500 m north of the office's top edge
        let verdict = evaluate(&snapshot(), &punch);
        let d = verdict.distance_m.unwrap();
        assert!((d - 500.9).abs() < 3.0, "distance {d}");
        assert_eq!(verdict.nearest_site.unwrap().as_str(), "office");
        assert_eq!(verdict.method, LocationMethod::None);
    }

    #[test]
    fn org_without_fences_rejects_without_distance() {
        let verdict = evaluate(&OrgSnapshot::empty(OrgId::new("new").unwrap()), &genuine());
        assert_eq!(verdict.decision, Decision::Rejected);
        assert!(verdict.has(FindingCode::OutsideFence));
        assert_eq!(verdict.distance_m, None);
    }
}
