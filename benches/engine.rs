//! The engine's verdict for one punch against the real Kotka building
//! footprints (2,171 polygon fences): inside a building (hit), far from
//! any building (miss), and just outside a wall within the fix's accuracy
//! (near-boundary). Each case cycles through 512 different punches so the
//! figure is not one lucky cached path. Also: building the snapshot
//! (parsing aside, R-tree bulk load included).
//!
//! Run: cargo bench --bench engine

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::{InteriorPoint, Point};
use jiff::{SignedDuration, Timestamp};

use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::sites::{SiteDefinition, parse_sites_geojson};
use punchguard::engine::{
    EmployeeId, GpsFix, History, OrgId, OrgSnapshot, Policy, Punch, PunchId, PunchKind, evaluate,
};

const KOTKA: &str = include_str!("../data/kotka-buildings.geojson");
const PUNCHES_PER_CASE: usize = 512;

fn punch_at(p: Point<f64>, accuracy_m: f64) -> Punch {
    let now: Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
    Punch {
        org: OrgId::new("kotka").unwrap(),
        employee: EmployeeId::new("e1").unwrap(),
        punch_id: PunchId::new("p1").unwrap(),
        kind: PunchKind::In,
        client_time: now,
        received_at: now,
        sent_at: now,
        queued_offline: false,
        nonce: None,
        gps: Some(GpsFix {
            latitude: p.y(),
            longitude: p.x(),
            accuracy_m,
            fix_time: now - SignedDuration::from_secs(5),
            mock_location: false,
            speed_mps: None,
        }),
        wifi: Vec::new(),
        device: None,
        motion: None,
        apps: Default::default(),
    }
}

fn interior(site: &SiteDefinition) -> Option<Point<f64>> {
    match &site.fences[0] {
        FenceGeometry::Polygon(mp) => mp.interior_point(),
        FenceGeometry::Circle { center, .. } => Some(*center),
    }
}

/// Deterministic punch sets for each case, checked against the index so a
/// "miss" really misses and a "near" really is near.
fn cases(sites: &[SiteDefinition], snapshot: &OrgSnapshot) -> [(&'static str, Vec<Punch>); 3] {
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
    [("hit", hits), ("miss", misses), ("near_boundary", near)]
}

fn bench_verdict(c: &mut Criterion) {
    let sites = parse_sites_geojson(KOTKA).unwrap();
    let org = OrgId::new("kotka").unwrap();
    let snapshot = OrgSnapshot::build(org.clone(), 1, sites.clone(), Policy::default());
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
