//! The engine at scale: a GPS-only verdict inside a fence (hit), near none
//! (miss, 300 m – 3 km away) and thousands of kilometres from every fence
//! (miss_far), the distance to the nearest fence included, against 2k, 20k
//! and 200k real footprints (Kotka tiled, see common/tiles.rs); building the
//! 200k snapshot (R-tree bulk load); and the memory the 200k snapshot holds,
//! printed as bytes per fence.
//!
//! Run: cargo bench --bench scale

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use geo::{InteriorPoint, Point};

#[path = "common/tiles.rs"]
mod tiles;

use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::{
    EmployeeId, History, OrgId, OrgSnapshot, Policy, Punch, PunchId, evaluate,
};

const CASES: usize = 512;

fn punch_at(p: Point<f64>) -> Punch {
    Punch::gps_only(
        OrgId::new("scale").unwrap(),
        EmployeeId::new("e1").unwrap(),
        PunchId::new("p1").unwrap(),
        "2026-11-30T09:00:00Z".parse().unwrap(),
        (p.x(), p.y()),
        10.0,
    )
}

fn snapshot(copies: usize) -> OrgSnapshot {
    OrgSnapshot::build(
        OrgId::new("scale").unwrap(),
        1,
        tiles::tiled(copies),
        Policy::default(),
    )
}

/// Resident memory of this process, bytes (Linux).
fn resident() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn bench_scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("verdict_gps_only");
    for copies in [1usize, 10, 92] {
        let snap = snapshot(copies);
        let fences = snap.index.len();
        // Hits: inside buildings spread over every copy.
        let hits: Vec<Punch> = (0..CASES)
            .filter_map(|i| {
                let fence = snap.index.fence((i * 7919) % fences);
                match &fence.geometry {
                    FenceGeometry::Polygon(mp) => mp.interior_point().map(punch_at),
                    FenceGeometry::Circle { center, .. } => Some(punch_at(*center)),
                }
            })
            .collect();
        // Misses: 300 m – 3 km south of the tiled area, nearest fence sought.
        let misses: Vec<Punch> = (0..CASES)
            .map(|i| {
                let (dx, _) = tiles::offset(i % copies);
                punch_at(Point::new(
                    26.93 + dx + (i % 40) as f64 * 0.001,
                    60.5200 - 0.003 - (i % 9) as f64 * 0.003,
                ))
            })
            .collect();
        // Far misses: thousands of kilometres from every fence (the North
        // Atlantic, Africa, Siberia, the Pacific), the nearest still sought.
        let far: Vec<Punch> = (0..CASES)
            .map(|i| {
                let (lon, lat) =
                    [(-30.0, 45.0), (20.0, 5.0), (100.0, 65.0), (-150.0, -20.0)][i % 4];
                punch_at(Point::new(
                    lon + (i % 17) as f64 * 0.7,
                    lat + (i % 13) as f64 * 0.4,
                ))
            })
            .collect();
        let history = History::default();
        for (case, punches) in [("hit", &hits), ("miss", &misses), ("miss_far", &far)] {
            group.bench_with_input(BenchmarkId::new(case, fences), punches, |b, punches| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % punches.len();
                    black_box(evaluate(&snap, &punches[i], &history))
                })
            });
        }
    }
    group.finish();

    let sites = tiles::tiled(92);
    let before = resident();
    let big = OrgSnapshot::build(
        OrgId::new("scale").unwrap(),
        1,
        sites.clone(),
        Policy::default(),
    );
    let held = resident().saturating_sub(before);
    eprintln!(
        "200k snapshot: {} fences, ~{} MB resident for the index, ~{} bytes per fence",
        big.index.len(),
        held >> 20,
        held / big.index.len().max(1)
    );
    drop(big);
    let mut build = c.benchmark_group("snapshot_build");
    build.sample_size(10);
    build.bench_function("200k_fences", |b| {
        b.iter(|| {
            black_box(OrgSnapshot::build(
                OrgId::new("scale").unwrap(),
                1,
                sites.clone(),
                Policy::default(),
            ))
        })
    });
    build.finish();
}

criterion_group!(benches, bench_scale);
criterion_main!(benches);
