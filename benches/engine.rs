//! The engine's verdict for one punch against the real Kotka building
//! footprints (2,171 polygon fences): inside a building (hit), 300 m – 3 km
//! from any building (miss), just outside a wall within the fix's accuracy
//! (near-boundary), and thousands of kilometres from every building
//! (miss_far). Each case cycles through 512 different punches so the
//! figure is not one lucky cached path. Also: building the snapshot
//! (parsing aside, R-tree bulk load included). Each case also runs with
//! full evidence: GPS, 20 WiFi APs, 5 beacons, device facts, sensors, 300
//! packages and the employee's history.
//!
//! Run: cargo bench --bench engine

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::{InteriorPoint, Point};

use punchguard::engine::beacons::{BeaconSighting, IBeaconId, SiteBeacon, eid};
use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::history::LastFix;
use punchguard::engine::sites::{SiteDefinition, parse_sites_geojson};
use punchguard::engine::wifi::{AccessPoint, Bssid, WifiSighting};
use punchguard::engine::{
    AppEvidence, DeviceFacts, DeviceId, EmployeeId, History, InstalledPackages, Integrity,
    MotionSummary, OrgId, OrgSnapshot, Platform, Policy, Punch, PunchId, SensorKind, SensorStats,
    evaluate,
};

const KOTKA: &str = include_str!("../data/kotka-buildings.geojson");
const PUNCHES_PER_CASE: usize = 512;

fn punch_at(p: Point<f64>, accuracy_m: f64) -> Punch {
    Punch::gps_only(
        OrgId::new("kotka").unwrap(),
        EmployeeId::new("e1").unwrap(),
        PunchId::new("p1").unwrap(),
        "2026-11-30T09:00:00Z".parse().unwrap(),
        (p.x(), p.y()),
        accuracy_m,
    )
}

fn interior(site: &SiteDefinition) -> Option<Point<f64>> {
    match &site.fences[0] {
        FenceGeometry::Polygon(mp) => mp.interior_point(),
        FenceGeometry::Circle { center, .. } => Some(*center),
    }
}

/// Deterministic punch sets for each case, checked against the index so a
/// "miss" really misses and a "near" really is near.
fn cases(sites: &[SiteDefinition], snapshot: &OrgSnapshot) -> [(&'static str, Vec<Punch>); 4] {
    let index = &snapshot.index;
    let hits: Vec<_> = sites
        .iter()
        .filter_map(interior)
        .filter(|p| index.covering(*p).is_some())
        .take(PUNCHES_PER_CASE)
        .map(|p| punch_at(p, 10.0))
        .collect();
    // 300 m to 3 km off the town, on a fixed spiral around its buildings.
    let misses: Vec<_> = (0..)
        .map(|i: usize| {
            let base = interior(&sites[(i * 37) % sites.len()]).unwrap();
            let angle = i as f64 * 2.399_963; // golden angle
            let reach = 0.005 + 0.02 * ((i % 10) as f64 / 10.0);
            Point::new(
                base.x() + reach * angle.cos() * 2.0,
                base.y() + reach * angle.sin(),
            )
        })
        .filter(|p| index.nearest(*p).is_some_and(|(_, d)| d > 300.0))
        .take(PUNCHES_PER_CASE)
        .map(|p| punch_at(p, 10.0))
        .collect();
    // 5 m beyond a building's first corner, away from its interior point.
    let near: Vec<_> = sites
        .iter()
        .filter_map(|site| {
            let FenceGeometry::Polygon(mp) = &site.fences[0] else {
                return None;
            };
            let c = interior(site)?;
            let v = mp.0.first()?.exterior().0.first().copied()?;
            let (dx, dy) = (v.x - c.x(), v.y - c.y());
            let step = 5.0 / 111_000.0 / (dx * dx + dy * dy).sqrt();
            Some(Point::new(v.x + dx * step, v.y + dy * step))
        })
        .filter(|p| {
            index.covering(*p).is_none() && index.nearest(*p).is_some_and(|(_, d)| d < 20.0)
        })
        .take(PUNCHES_PER_CASE)
        .map(|p| punch_at(p, 25.0))
        .collect();
    // Thousands of kilometres from every building: the North Atlantic,
    // Africa, Siberia, the South Pacific (the nearest fence still sought).
    let far: Vec<_> = (0..PUNCHES_PER_CASE)
        .map(|i| {
            let (lon, lat) = [(-30.0, 45.0), (20.0, 5.0), (100.0, 65.0), (-150.0, -20.0)][i % 4];
            punch_at(
                Point::new(lon + (i % 17) as f64 * 0.7, lat + (i % 13) as f64 * 0.4),
                10.0,
            )
        })
        .collect();
    [
        ("hit", hits),
        ("miss", misses),
        ("near_boundary", near),
        ("miss_far", far),
    ]
}

const BEACON_UUID: &str = "f7826da6-4fa2-4e98-8024-bc5b71e0893e";
const EID_KEY: [u8; 16] = *b"bench-eid-key-01";

/// The same punch with everything a modern client sends: GPS, a 20-AP WiFi
/// scan, 5 beacons (4 iBeacons, one of them the org's, and a live
/// Eddystone-EID id, all faint), device facts, a motion summary, and an older client's
/// 300-package list (one a known cheat app); plus the employee's history.
fn full_evidence(mut punch: Punch) -> Punch {
    let uuid = uuid::Uuid::parse_str(BEACON_UUID).unwrap();
    // Heard but too faint to place the punch (so each case keeps its
    // location path): the org's iBeacon and its rotating beacon's live id,
    // plus three strangers' iBeacons.
    punch.beacons = (0..4)
        .map(|minor| {
            let uuid = if minor == 0 { uuid } else { uuid::Uuid::nil() };
            BeaconSighting::IBeacon {
                id: IBeaconId {
                    uuid,
                    major: 7,
                    minor,
                },
                rssi_dbm: -95,
            }
        })
        .chain(std::iter::once(BeaconSighting::Eid {
            eid: eid(&EID_KEY, 10, punch.received_at.as_second() as u32),
            rssi_dbm: -95,
        }))
        .collect();
    punch.wifi = (0..20)
        .map(|i| WifiSighting {
            bssid: Bssid::parse(&format!("02:00:00:00:00:{i:02x}")).unwrap(),
            ssid: if i < 2 {
                "Kotka-Office".into()
            } else {
                format!("net-{i}")
            },
            rssi_dbm: -40 - i,
        })
        .collect();
    punch.device = Some(DeviceFacts {
        device_id: DeviceId::new("bench-phone").unwrap(),
        platform: Platform::Android,
        rooted: false,
        emulator: false,
        developer_mode: false,
        integrity: Integrity::Passed,
    });
    punch.motion = Some(MotionSummary {
        sensors: vec![
            SensorStats {
                kind: SensorKind::Accelerometer,
                sample_count: 250,
                mean_magnitude: 9.81,
                variance: 0.8,
            },
            SensorStats {
                kind: SensorKind::Gyroscope,
                sample_count: 250,
                mean_magnitude: 0.3,
                variance: 0.02,
            },
            SensorStats {
                kind: SensorKind::RotationVector,
                sample_count: 250,
                mean_magnitude: 1.0,
                variance: 0.01,
            },
        ],
        step_delta: Some(12),
    });
    let mut packages: Vec<String> = (0..299).map(|i| format!("com.example.app{i:03}")).collect();
    packages.push("com.lexa.fakegps".into());
    punch.apps = AppEvidence {
        matched_signature_ids: Vec::new(),
        installed_packages: InstalledPackages(packages),
    };
    punch.nonce = Some("bench-nonce".into());
    punch
}

fn history() -> History {
    History {
        last_accepted: Some(LastFix {
            at: "2026-11-30T08:00:00Z".parse().unwrap(),
            latitude: 60.52,
            longitude: 26.95,
            accuracy_m: 10.0,
        }),
        bound_devices: vec![DeviceId::new("bench-phone").unwrap()],
        device_other_employees: Vec::new(),
        nonce_seen: false,
        auto_punch_consent: true,
        attested: None,
    }
}

fn bench_verdict(c: &mut Criterion) {
    let mut sites = parse_sites_geojson(KOTKA).unwrap();
    // One site has an iBeacon and a rotating beacon.
    sites[1].beacons = vec![
        SiteBeacon::IBeacon {
            id: IBeaconId {
                uuid: uuid::Uuid::parse_str(BEACON_UUID).unwrap(),
                major: 7,
                minor: 0,
            },
            min_rssi_dbm: -90,
        },
        SiteBeacon::Eid {
            identity_key: EID_KEY,
            rotation_exponent: 10,
            clock_offset_s: 0,
            min_rssi_dbm: -90,
        },
    ];
    // Two access points per building, like an office floor.
    for (i, site) in sites.iter_mut().enumerate() {
        site.access_points = (0..2)
            .map(|k| AccessPoint {
                bssid: Bssid::parse(&format!("0a:00:00:{:02x}:{:02x}:{k:02x}", i / 256, i % 256))
                    .unwrap(),
                ssid: "Kotka-Office".into(),
            })
            .collect();
    }
    let org = OrgId::new("kotka").unwrap();
    let snapshot = OrgSnapshot::build(org.clone(), 1, sites.clone(), Policy::default());
    let history = history();
    let mut group = c.benchmark_group("verdict_kotka_2171_fences");
    group.throughput(Throughput::Elements(1));
    for (name, punches) in cases(&sites, &snapshot) {
        assert!(
            punches.len() >= 100,
            "{name}: only {} punches",
            punches.len()
        );
        let mut next = punches.iter().cycle();
        group.bench_function(name, |b| {
            b.iter(|| {
                evaluate(
                    black_box(&snapshot),
                    black_box(next.next().unwrap()),
                    &History::default(),
                )
            })
        });
        // A server decodes each request just before judging it, so its package
        // list is in cache; cycling 512 lists of 300 heap strings would
        // measure DRAM misses instead. 16 punches keep the lists warm.
        let full: Vec<_> = punches.into_iter().take(16).map(full_evidence).collect();
        let mut next = full.iter().cycle();
        group.bench_function(format!("{name}_full_evidence"), |b| {
            b.iter(|| {
                evaluate(
                    black_box(&snapshot),
                    black_box(next.next().unwrap()),
                    &history,
                )
            })
        });
    }
    group.finish();

    c.bench_function("snapshot_build_kotka_2171_fences", |b| {
        b.iter_batched(
            || sites.clone(),
            |sites| OrgSnapshot::build(org.clone(), 1, sites, Policy::default()),
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, bench_verdict);
criterion_main!(benches);
