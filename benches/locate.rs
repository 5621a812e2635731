//! Locate throughput, single thread: which fence covers each point. Prints
//! one line that benches/shapely_compare.py reads and sets beside shapely
//! 2's STRtree on the same polygons and points.
//!
//! Run: cargo bench --bench locate
//!
//! - `PUNCHGUARD_GEOJSON`: a FeatureCollection of Polygon/MultiPolygon
//!   features to use as the fences, taken as they are (like shapely, no
//!   validation). Without it, the Kotka footprints tiled
//!   `PUNCHGUARD_COPIES` times (default 92 ≈ 200k fences).
//! - `PUNCHGUARD_POINTS`: a file of little-endian f64 pairs (lon, lat), the
//!   points to locate. Without it, a `PUNCHGUARD_GRID`² grid (default 1000)
//!   over the tiles.

use std::hint::black_box;
use std::time::Instant;

use geo::{MultiPolygon, Point};

#[path = "common/tiles.rs"]
mod tiles;

use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::sites::SiteDefinition;
use punchguard::engine::{OrgId, OrgSnapshot, Policy, SiteId};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every polygon feature of a GeoJSON file as one site with one fence.
fn sites_from(path: &str) -> Vec<SiteDefinition> {
    let text = std::fs::read_to_string(path).expect("PUNCHGUARD_GEOJSON is readable");
    let geojson::GeoJson::FeatureCollection(collection) = text.parse().expect("valid GeoJSON")
    else {
        panic!("PUNCHGUARD_GEOJSON must be a FeatureCollection");
    };
    collection
        .features
        .iter()
        .enumerate()
        .filter_map(|(i, feature)| {
            let value = &feature.geometry.as_ref()?.value;
            let polygons: MultiPolygon<f64> = match value {
                geojson::GeometryValue::Polygon { .. } => {
                    MultiPolygon(vec![value.try_into().ok()?])
                }
                geojson::GeometryValue::MultiPolygon { .. } => value.try_into().ok()?,
                _ => return None,
            };
            Some(SiteDefinition {
                id: SiteId::new(format!("f{i}")).expect("a valid id"),
                fences: vec![FenceGeometry::Polygon(polygons)],
                access_points: Vec::new(),
                beacons: Vec::new(),
                requires: None,
            })
        })
        .collect()
}

fn points_from(path: &str) -> Vec<Point<f64>> {
    let bytes = std::fs::read(path).expect("PUNCHGUARD_POINTS is readable");
    bytes
        .chunks_exact(16)
        .map(|pair| {
            let lon = f64::from_le_bytes(pair[..8].try_into().unwrap());
            let lat = f64::from_le_bytes(pair[8..].try_into().unwrap());
            Point::new(lon, lat)
        })
        .collect()
}

fn main() {
    let copies = env_usize("PUNCHGUARD_COPIES", 92);
    let sites = match std::env::var("PUNCHGUARD_GEOJSON") {
        Ok(path) => sites_from(&path),
        Err(_) => tiles::tiled(copies),
    };
    let points = match std::env::var("PUNCHGUARD_POINTS") {
        Ok(path) => points_from(&path),
        Err(_) => tiles::grid(copies, env_usize("PUNCHGUARD_GRID", 1000)),
    };
    let snapshot = OrgSnapshot::build(OrgId::new("scale").unwrap(), 1, sites, Policy::default());
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
