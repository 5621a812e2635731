//! Locate throughput, single thread: which fence covers each point of a
//! uniform grid over the tiled footprints. Prints one line that
//! benches/shapely_compare.py reads and sets beside shapely 2's STRtree on
//! the same polygons and points.
//!
//! Run: cargo bench --bench locate   (PUNCHGUARD_COPIES, default 92 ≈ 200k fences)

use std::hint::black_box;
use std::time::Instant;

#[path = "common/tiles.rs"]
mod tiles;

use punchguard::engine::{OrgId, OrgSnapshot, Policy};

fn main() {
    let copies: usize = std::env::var("PUNCHGUARD_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(92);
    let grid_n: usize = std::env::var("PUNCHGUARD_GRID")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let snapshot = OrgSnapshot::build(
        OrgId::new("scale").unwrap(),
        1,
        tiles::tiled(copies),
        Policy::default(),
    );
    let points = tiles::grid(copies, grid_n);
    // Warm up once, then time the best of three passes.
    let mut best = f64::INFINITY;
    let mut hits = 0;
    for _ in 0..4 {
        let started = Instant::now();
        hits = points
            .iter()
            .filter(|p| black_box(snapshot.index.covering(**p)).is_some())
            .count();
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "punchguard locate: {} fences, {} points, {} hits, {:.0} points/s",
        snapshot.index.len(),
        points.len(),
        hits,
        points.len() as f64 / best
    );
}
