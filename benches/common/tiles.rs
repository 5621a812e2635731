#![allow(dead_code)] // each bench uses part of it

//! Real footprints at scale: the 2,171 Kotka buildings copied onto a grid
//! of neighbouring places, as many copies as asked. Shared by the scale and
//! locate benches, and mirrored exactly by benches/shapely_compare.py.

use geo::{MapCoords, Point};

use punchguard::engine::SiteId;
use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::sites::{SiteDefinition, parse_sites_geojson};

pub const KOTKA: &str = include_str!("../../data/kotka-buildings.geojson");

/// Degrees between copies: Kotka's footprints span 0.04° × 0.02°.
pub const STEP_LON: f64 = 0.05;
pub const STEP_LAT: f64 = 0.025;
pub const COLUMNS: usize = 10;

pub fn offset(copy: usize) -> (f64, f64) {
    (
        (copy % COLUMNS) as f64 * STEP_LON,
        (copy / COLUMNS) as f64 * STEP_LAT,
    )
}

/// `copies` copies of the Kotka sites (2,171 fences each).
pub fn tiled(copies: usize) -> Vec<SiteDefinition> {
    let kotka = parse_sites_geojson(KOTKA).expect("the shipped data parses");
    (0..copies)
        .flat_map(|copy| {
            let (dx, dy) = offset(copy);
            kotka.iter().map(move |site| SiteDefinition {
                id: SiteId::new(format!("{}-{copy}", site.id.as_str())).expect("a valid id"),
                fences: site
                    .fences
                    .iter()
                    .map(|fence| match fence {
                        FenceGeometry::Polygon(mp) => FenceGeometry::Polygon(
                            mp.map_coords(|c| geo::coord! { x: c.x + dx, y: c.y + dy }),
                        ),
                        FenceGeometry::Circle { center, radius_m } => FenceGeometry::Circle {
                            center: Point::new(center.x() + dx, center.y() + dy),
                            radius_m: *radius_m,
                        },
                    })
                    .collect(),
                access_points: Vec::new(),
                beacons: Vec::new(),
                requires: None,
            })
        })
        .collect()
}

/// A uniform `n` × `n` grid of points over the tiled area (the same in the
/// shapely script): mostly misses, as a city's area mostly is.
pub fn grid(copies: usize, n: usize) -> Vec<Point<f64>> {
    let rows = copies.div_ceil(COLUMNS);
    let (lon0, lat0) = (26.930074, 60.5200298);
    let width = COLUMNS.min(copies) as f64 * STEP_LON;
    let height = rows as f64 * STEP_LAT;
    (0..n * n)
        .map(|i| {
            let (ix, iy) = (i % n, i / n);
            Point::new(
                lon0 + width * (ix as f64 + 0.5) / n as f64,
                lat0 + height * (iy as f64 + 0.5) / n as f64,
            )
        })
        .collect()
}
