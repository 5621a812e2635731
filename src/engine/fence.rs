//! Fences and the spatial index that finds them.
//!
//! Lookups are two-phase, as in tile38: an R-tree of bounding boxes in
//! degrees prefilters, then an exact predicate decides. R-tree distances are
//! in degrees and mean nothing on the ground, so the index is never asked
//! for distances: metres always come from the WGS-84 ellipsoid (see
//! [`super::ellipsoid`] for the edge model and the error bound).
//!
//! Boundary rule: a fix exactly on a polygon's boundary is inside (`Covers`,
//! not `Contains`). A phone cannot resolve a line anyway, and giving the
//! benefit of the doubt on the line keeps honest people out of review.

use geo::{BoundingRect, Covers, MultiPolygon, Point};
use std::collections::BinaryHeap;

use rstar::{
    AABB, Envelope, RTree, RTreeNode, RTreeObject, primitives::GeomWithData, primitives::Rectangle,
};

use super::ellipsoid::{self, SphereBound};

/// Mean Earth radius (GRS80), in metres: the sphere a circle's boxes are drawn on.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Half the Earth's circumference: no two points are further apart.
const HALF_CIRCUMFERENCE_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;

/// A circle's boxes are widened by this factor plus [`SEARCH_MARGIN_M`] so
/// that the sphere/ellipsoid difference (< 0.6%) can never leave part of the
/// disc outside them: R / 1.01 is below the ellipsoid's smallest radius of
/// curvature ([`ellipsoid::MIN_RADIUS_M`]).
const SEARCH_SLACK: f64 = 1.01;
const SEARCH_MARGIN_M: f64 = 5.0;

/// The shape of one fence.
#[derive(Debug, Clone, PartialEq)]
pub enum FenceGeometry {
    /// One or more polygons (holes excluded), WGS-84 degrees.
    Polygon(MultiPolygon<f64>),
    /// A disc of `radius_m` metres (geodesic) around `center`.
    Circle { center: Point<f64>, radius_m: f64 },
}

/// Whether the edge from `a` to `b` (lon, lat) runs more than 180° of
/// longitude: straight in lon/lat, an edge from 179.9° to -179.9° goes the
/// long way round the planet. Edges along a pole, or along ±180° itself
/// (as Natural Earth draws Antarctica), are as meant.
pub fn the_long_way_round(a: (f64, f64), b: (f64, f64)) -> bool {
    let along_pole = a.1.abs() == 90.0 && b.1.abs() == 90.0;
    let along_antimeridian = a.0.abs() == 180.0 && b.0.abs() == 180.0;
    (b.0 - a.0).abs() > 180.0 && !along_pole && !along_antimeridian
}

impl FenceGeometry {
    /// A polygon with an edge that goes [the long way round](the_long_way_round):
    /// what an import refuses, found again in fences stored before it did.
    pub fn has_long_way_edge(&self) -> bool {
        match self {
            FenceGeometry::Polygon(mp) => {
                mp.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                    .flat_map(|ring| ring.lines())
                    .any(|l| the_long_way_round(l.start.x_y(), l.end.x_y()))
            }
            FenceGeometry::Circle { .. } => false,
        }
    }

    /// Whether the fence covers `p` (boundary included).
    pub fn covers(&self, p: Point<f64>) -> bool {
        match self {
            FenceGeometry::Polygon(mp) => mp.covers(&p),
            FenceGeometry::Circle { center, radius_m } => {
                ellipsoid::geodesic_m(*center, p) <= *radius_m
            }
        }
    }

    /// Metres on the WGS-84 ellipsoid from `p` to the nearest point of the
    /// fence; 0 when covered. For a polygon that is the nearest point of its
    /// boundary, whose edges are straight in longitude/latitude as for
    /// [`Self::covers`]; for a circle, the geodesic to its centre less the
    /// radius (exact: the nearest point lies on that geodesic).
    pub fn distance_m(&self, p: Point<f64>) -> f64 {
        match self {
            FenceGeometry::Polygon(mp) => {
                if mp.covers(&p) {
                    0.0
                } else {
                    ellipsoid::boundary_distance_m(mp, p)
                }
            }
            FenceGeometry::Circle { center, radius_m } => {
                (ellipsoid::geodesic_m(*center, p) - radius_m).max(0.0)
            }
        }
    }

    /// Boxes in degrees that cover the fence: every point of it lies in one
    /// (a polygon's edges are straight in degrees, so they never leave its
    /// bounding box; a circle's boxes are drawn with slack).
    fn envelopes(&self) -> Vec<AABB<[f64; 2]>> {
        match self {
            FenceGeometry::Polygon(mp) => mp
                .bounding_rect()
                .map(|r| {
                    vec![AABB::from_corners(
                        [r.min().x, r.min().y],
                        [r.max().x, r.max().y],
                    )]
                })
                .unwrap_or_default(),
            FenceGeometry::Circle { center, radius_m } => boxes_within(*center, *radius_m),
        }
    }

    /// Bounding box `(min, max)` as `([lon, lat], [lon, lat])`.
    pub fn bounds(&self) -> Option<([f64; 2], [f64; 2])> {
        self.envelopes()
            .into_iter()
            .reduce(|a, b| a.merged(&b))
            .map(|e| (e.lower(), e.upper()))
    }
}

/// Degree boxes that together contain every point within `radius_m` of
/// `center`: one box normally, two when the range crosses the antimeridian,
/// the full longitude range when it reaches a pole.
fn boxes_within(center: Point<f64>, radius_m: f64) -> Vec<AABB<[f64; 2]>> {
    let radius_m = radius_m * SEARCH_SLACK + SEARCH_MARGIN_M;
    if radius_m >= HALF_CIRCUMFERENCE_M {
        return vec![AABB::from_corners([-180.0, -90.0], [180.0, 90.0])];
    }
    let delta = radius_m / EARTH_RADIUS_M; // angular radius, radians
    let (lon, lat) = (center.x(), center.y());
    let dlat = delta.to_degrees();
    let (lat_min, lat_max) = (lat - dlat, lat + dlat);
    if lat_min <= -90.0 || lat_max >= 90.0 {
        return vec![AABB::from_corners(
            [-180.0, lat_min.max(-90.0)],
            [180.0, lat_max.min(90.0)],
        )];
    }
    // Widest longitude reach of a spherical cap: asin(sin δ / cos φ).
    let ratio = delta.sin() / lat.to_radians().cos();
    if ratio >= 1.0 {
        return vec![AABB::from_corners([-180.0, lat_min], [180.0, lat_max])];
    }
    let dlon = ratio.asin().to_degrees();
    let (lon_min, lon_max) = (lon - dlon, lon + dlon);
    if lon_min < -180.0 {
        vec![
            AABB::from_corners([lon_min + 360.0, lat_min], [180.0, lat_max]),
            AABB::from_corners([-180.0, lat_min], [lon_max, lat_max]),
        ]
    } else if lon_max > 180.0 {
        vec![
            AABB::from_corners([lon_min, lat_min], [180.0, lat_max]),
            AABB::from_corners([-180.0, lat_min], [lon_max - 360.0, lat_max]),
        ]
    } else {
        vec![AABB::from_corners([lon_min, lat_min], [lon_max, lat_max])]
    }
}

/// A fence in the index: its geometry and the position of its site in the snapshot.
#[derive(Debug, Clone)]
pub struct IndexedFence {
    pub site: usize,
    pub geometry: FenceGeometry,
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// An immutable R-tree over an organisation's fences, bulk-loaded once per snapshot.
#[derive(Debug)]
pub struct FenceIndex {
    tree: RTree<Entry>,
    fences: Vec<IndexedFence>,
}

impl FenceIndex {
    pub fn build(fences: Vec<IndexedFence>) -> Self {
        let mut entries = Vec::with_capacity(fences.len());
        entries.extend(fences.iter().enumerate().flat_map(|(i, f)| {
            f.geometry
                .envelopes()
                .into_iter()
                .map(move |e| GeomWithData::new(Rectangle::from_corners(e.lower(), e.upper()), i))
        }));
        Self {
            tree: RTree::bulk_load(entries),
            fences,
        }
    }

    pub fn len(&self) -> usize {
        self.fences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    pub fn fence(&self, i: usize) -> &IndexedFence {
        &self.fences[i]
    }

    /// The box all fences lie in, `(lower, upper)` in degrees.
    pub fn extent(&self) -> Option<([f64; 2], [f64; 2])> {
        (!self.is_empty()).then(|| {
            let e = self.tree.root().envelope();
            (e.lower(), e.upper())
        })
    }

    /// The fences whose envelope meets the box `lower..upper` (degrees),
    /// each once, in number order: what a map of that box draws.
    pub fn meeting(&self, lower: [f64; 2], upper: [f64; 2]) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners(lower, upper))
            .map(|e| e.data)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The fence covering `p`, the lowest-numbered one when fences overlap
    /// (so the answer does not depend on the tree's layout).
    pub fn covering(&self, p: Point<f64>) -> Option<usize> {
        let at = AABB::from_point([p.x(), p.y()]);
        self.tree
            .locate_in_envelope_intersecting(&at)
            .map(|e| e.data)
            .filter(|&i| self.fences[i].geometry.covers(p))
            .min()
    }

    /// The fence nearest to `p` and its distance in metres, or `None` for an
    /// empty index. Ties go to the lowest-numbered fence.
    ///
    /// The fence whose box is nearest in degrees gives a first candidate
    /// and its true distance `d` (degrees are only a guess: a degree of
    /// longitude shrinks with latitude). Then one of two searches, both
    /// pruning with a rigorous lower bound on the metres from `p` to
    /// anything in a box ([`SphereBound`]):
    ///
    /// - `d` within [`LOCAL_SEARCH_M`] (a fix at a wall): every fence nearer
    ///   than `d` has a point in the degree boxes around `p` of radius `d`,
    ///   so only the few envelopes meeting them are bounded and measured.
    /// - farther: a best-first descent of the R-tree (Hjaltason & Samet's
    ///   incremental nearest neighbour), nodes in order of their bound,
    ///   stopping once no box can hold anything nearer. A box of radius `d`
    ///   would hold every fence of a distant cluster.
    ///
    /// Degrees are never compared as distances, so the antimeridian and the
    /// poles need no special case. Within [`ellipsoid::EXACT_WITHIN_M`] the
    /// answer is exact; beyond it, no fence is nearer than the one reported
    /// by more than [`ellipsoid::tolerance`] of the distance (1 % to 1,000
    /// km, 3 % beyond).
    pub fn nearest(&self, p: Point<f64>) -> Option<(usize, f64)> {
        let first = self.tree.nearest_neighbor(&[p.x(), p.y()])?.data;
        let best = (first, self.fences[first].geometry.distance_m(p));
        let bound = SphereBound::new(p);
        Some(if best.1 <= LOCAL_SEARCH_M {
            self.nearest_around(p, &bound, best)
        } else {
            self.nearest_best_first(p, &bound, best)
        })
    }

    /// Improves on `best` among the envelopes within its distance of `p`.
    fn nearest_around(
        &self,
        p: Point<f64>,
        bound: &SphereBound,
        mut best: (usize, f64),
    ) -> (usize, f64) {
        let mut candidates: Vec<(f64, usize)> = boxes_within(p, best.1)
            .iter()
            .flat_map(|bx| self.tree.locate_in_envelope_intersecting(bx))
            .filter_map(|e| {
                let b = bound.to_aabb(&e.envelope());
                (b <= best.1).then_some((b, e.data))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        for (b, i) in candidates {
            if b > best.1 {
                break;
            }
            self.measure(p, i, &mut best);
        }
        best
    }

    /// Measures fence `i` and keeps it as `best` when nearer (ties to the
    /// lower number).
    fn measure(&self, p: Point<f64>, i: usize, best: &mut (usize, f64)) {
        if i != best.0 {
            let d = self.fences[i].geometry.distance_m(p);
            if (d, i) < (best.1, best.0) {
                *best = (i, d);
            }
        }
    }

    /// Improves on `best` by a best-first descent of the tree.
    fn nearest_best_first(
        &self,
        p: Point<f64>,
        bound: &SphereBound,
        mut best: (usize, f64),
    ) -> (usize, f64) {
        let mut pending: BinaryHeap<Pending<'_>> = self
            .tree
            .root()
            .children()
            .iter()
            .map(|node| Pending {
                bound: bound.to_aabb(&node.envelope()),
                node,
            })
            .collect();
        while let Some(Pending { bound: b, node }) = pending.pop() {
            if !ellipsoid::may_beat(b, best.1) {
                break;
            }
            match node {
                RTreeNode::Parent(parent) => {
                    for child in parent.children() {
                        let b = bound.to_aabb(&child.envelope());
                        if ellipsoid::may_beat(b, best.1) {
                            pending.push(Pending {
                                bound: b,
                                node: child,
                            });
                        }
                    }
                }
                RTreeNode::Leaf(entry) => self.measure(p, entry.data, &mut best),
            }
        }
        best
    }
}

/// Up to this distance from the first candidate, [`FenceIndex::nearest`]
/// looks only around the fix: cheap degree-box tests find the few fences
/// that could be nearer. Beyond it the best-first descent is cheaper.
const LOCAL_SEARCH_M: f64 = 250.0;

/// A node of the R-tree waiting to be visited, nearest bound first.
struct Pending<'a> {
    bound: f64,
    node: &'a RTreeNode<Entry>,
}

impl PartialEq for Pending<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bound.total_cmp(&other.bound).is_eq()
    }
}

impl Eq for Pending<'_> {}

impl PartialOrd for Pending<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending<'_> {
    /// Reversed, so that the max-heap pops the smallest bound.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.bound.total_cmp(&self.bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ellipsoid::tolerance;
    use geo::{LineString, Polygon, polygon};
    use proptest::prelude::*;

    fn square(lon: f64, lat: f64, half: f64) -> FenceGeometry {
        FenceGeometry::Polygon(MultiPolygon(vec![polygon![
            (x: lon - half, y: lat - half),
            (x: lon + half, y: lat - half),
            (x: lon + half, y: lat + half),
            (x: lon - half, y: lat + half),
        ]]))
    }

    fn index(fences: Vec<FenceGeometry>) -> FenceIndex {
        FenceIndex::build(
            fences
                .into_iter()
                .enumerate()
                .map(|(site, geometry)| IndexedFence { site, geometry })
                .collect(),
        )
    }

    #[test]
    fn courtyard_of_a_building_with_a_hole_is_outside() {
        let outer = LineString::from(vec![(0.0, 0.0), (0.002, 0.0), (0.002, 0.002), (0.0, 0.002)]);
        let hole = LineString::from(vec![
            (0.0005, 0.0005),
            (0.0015, 0.0005),
            (0.0015, 0.0015),
            (0.0005, 0.0015),
        ]);
        let building = FenceGeometry::Polygon(MultiPolygon(vec![Polygon::new(outer, vec![hole])]));
        let idx = index(vec![building]);
        let courtyard = Point::new(0.001, 0.001);
        let wing = Point::new(0.00025, 0.001);
        assert_eq!(idx.covering(courtyard), None);
        assert_eq!(idx.covering(wing), Some(0));
        // The courtyard centre is 0.0005° (~55 m) from the hole's edge.
        let (_, d) = idx.nearest(courtyard).unwrap();
        assert!(
            (d - 55.6).abs() < 1.0,
            "distance to the hole's edge was {d}"
        );
    }

    #[test]
    fn polygon_boundary_counts_as_inside() {
        let idx = index(vec![square(10.0, 10.0, 0.001)]);
        assert_eq!(idx.covering(Point::new(10.001, 10.0)), Some(0));
        assert_eq!(idx.covering(Point::new(10.0011, 10.0)), None);
    }

    #[test]
    fn circle_uses_metres_not_degrees() {
        // At 60.52°N a degree of longitude is ~54.7 km; 100 m is ~0.00183°.
        let center = Point::new(26.95, 60.52);
        let idx = index(vec![FenceGeometry::Circle {
            center,
            radius_m: 100.0,
        }]);
        assert_eq!(idx.covering(Point::new(26.95 + 0.0017, 60.52)), Some(0));
        assert_eq!(idx.covering(Point::new(26.95 + 0.0019, 60.52)), None);
        let (_, d) = idx.nearest(Point::new(26.95 + 0.0036, 60.52)).unwrap();
        assert!((d - 97.7).abs() < 1.0, "got {d}");
    }

    #[test]
    fn distance_across_the_antimeridian_is_short() {
        let idx = index(vec![square(179.9995, 0.0, 0.0004)]);
        let (_, d) = idx.nearest(Point::new(-179.9995, 0.0)).unwrap();
        // 0.001° minus the square's half width 0.0004° = 0.0006° ≈ 67 m.
        assert!(d < 100.0, "antimeridian distance was {d} m");
        let circle = index(vec![FenceGeometry::Circle {
            center: Point::new(179.9999, 10.0),
            radius_m: 50.0,
        }]);
        assert_eq!(circle.covering(Point::new(-179.9999, 10.0)), Some(0));
    }

    #[test]
    fn nearest_reaches_the_far_side_of_the_world() {
        let idx = index(vec![square(0.0, 0.0, 0.001)]);
        let (i, d) = idx.nearest(Point::new(179.0, 0.0)).unwrap();
        assert_eq!(i, 0);
        assert!(d > 19_000_000.0 && d < 20_100_000.0, "got {d}");
        assert!(index(vec![]).nearest(Point::new(0.0, 0.0)).is_none());
    }

    #[test]
    fn circle_near_a_pole_is_found() {
        let idx = index(vec![FenceGeometry::Circle {
            center: Point::new(0.0, 89.9995),
            radius_m: 200.0,
        }]);
        assert_eq!(idx.covering(Point::new(180.0, 89.9995)), Some(0));
    }

    fn arb_fence() -> impl Strategy<Value = FenceGeometry> {
        prop_oneof![
            (-0.05f64..0.05, -0.05f64..0.05, 0.0001f64..0.01).prop_map(|(x, y, h)| square(
                26.9 + x,
                60.5 + y,
                h
            )),
            (-0.05f64..0.05, -0.05f64..0.05, 1.0f64..800.0).prop_map(|(x, y, r)| {
                FenceGeometry::Circle {
                    center: Point::new(26.9 + x, 60.5 + y),
                    radius_m: r,
                }
            }),
        ]
    }

    proptest! {
        /// The prefilter never drops a true hit, and the ring search finds the
        /// same nearest distance as a scan of every fence.
        #[test]
        fn index_agrees_with_brute_force(
            fences in prop::collection::vec(arb_fence(), 1..60),
            points in prop::collection::vec((-0.08f64..0.08, -0.08f64..0.08), 1..20),
        ) {
            let idx = index(fences.clone());
            for (dx, dy) in points {
                let p = Point::new(26.9 + dx, 60.5 + dy);
                let brute = fences.iter().position(|f| f.covers(p));
                prop_assert_eq!(idx.covering(p), brute);
                let brute_min = fences.iter().map(|f| f.distance_m(p)).fold(f64::INFINITY, f64::min);
                let (_, d) = idx.nearest(p).unwrap();
                prop_assert!((d - brute_min).abs() < 1e-6, "index {} vs scan {}", d, brute_min);
            }
        }

        /// Nearest agrees with a full scan for fences scattered over the
        /// whole globe, the antimeridian included.
        #[test]
        fn nearest_agrees_with_brute_force_worldwide(
            centres in prop::collection::vec((-180f64..180.0, -80f64..80.0, 10.0f64..50_000.0), 1..40),
            points in prop::collection::vec((-180f64..180.0, -85f64..85.0), 1..10),
        ) {
            let fences: Vec<_> = centres
                .iter()
                .map(|&(x, y, r)| FenceGeometry::Circle { center: Point::new(x, y), radius_m: r })
                .collect();
            let idx = index(fences.clone());
            for (x, y) in points {
                let p = Point::new(x, y);
                let brute = fences.iter().map(|f| f.distance_m(p)).fold(f64::INFINITY, f64::min);
                let (_, d) = idx.nearest(p).unwrap();
                // Exact near; farther, within the tolerance promised there.
                let slack = 1e-6 + brute * tolerance(brute) / (1.0 - tolerance(brute));
                prop_assert!(d >= brute - 1e-6 && d <= brute + slack, "index {} vs scan {}", d, brute);
            }
        }

        #[test]
        fn point_distance_is_symmetric(
            a in (-180f64..180.0, -89f64..89.0),
            b in (-180f64..180.0, -89f64..89.0),
        ) {
            let (pa, pb) = (Point::new(a.0, a.1), Point::new(b.0, b.1));
            let ab = FenceGeometry::Circle { center: pa, radius_m: 0.0 }.distance_m(pb);
            let ba = FenceGeometry::Circle { center: pb, radius_m: 0.0 }.distance_m(pa);
            prop_assert!((ab - ba).abs() < 1e-3);
        }
    }
}
