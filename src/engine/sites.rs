//! Sites and their fences, and the import of both from GeoJSON (RFC 7946).
//!
//! Parsing is pure: text in, validated [`SiteDefinition`]s or the first
//! problem out, named by its JSON path (`features[3].geometry`). An import is
//! all or nothing, so a caller never stores part of a bad file.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};

use geo::{Coord, CoordsIter, MapCoords, MultiPolygon, Point, Validation};
use geojson::{Feature, GeoJson, GeometryValue, JsonValue};

use super::beacons::{
    DEFAULT_MIN_RSSI_DBM, IBeaconId, MAX_CLOCK_OFFSET_S, MAX_ROTATION_EXPONENT, SiteBeacon,
};
use super::coords::CoordinateSystem;
use super::fence::FenceGeometry;
use super::types::SiteId;
use super::wifi::{AccessPoint, Bssid, MAX_SSID_LEN};

/// Most features one import may hold.
pub const MAX_FEATURES: usize = 200_000;
/// Most vertices one polygon fence may have (all rings together).
pub const MAX_VERTICES: usize = 10_000;
/// Most WiFi access points one feature may list.
pub const MAX_ACCESS_POINTS: usize = 256;
/// Largest circle fence radius, metres. Attendance fences are a building or a
/// campus; a 50 km "fence" would accept a whole city.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// One site: a named workplace, its fences, WiFi access points and beacons,
/// and which evidence a punch there must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDefinition {
    pub id: SiteId,
    pub fences: Vec<FenceGeometry>,
    pub access_points: Vec<AccessPoint>,
    pub beacons: Vec<SiteBeacon>,
    /// `None`: any evidence that places the punch will do.
    pub requires: Option<Requirement>,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mode, kinds) = self.parts();
        let kinds: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
        write!(f, "{mode}:{}", kinds.join(","))
    }
}

/// A kind of location evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EvidenceKind {
    Gps,
    Wifi,
    Beacon,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Gps => "gps",
            EvidenceKind::Wifi => "wifi",
            EvidenceKind::Beacon => "beacon",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EvidenceKind::Gps, EvidenceKind::Wifi, EvidenceKind::Beacon]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Which evidence a site demands (EVIDENCE_MISSING otherwise): a building
/// that wants WiFi *and* GPS is much harder to fake than one that takes GPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    AnyOf(Vec<EvidenceKind>),
    AllOf(Vec<EvidenceKind>),
}

impl Requirement {
    pub fn is_met(&self, present: &[EvidenceKind]) -> bool {
        match self {
            Requirement::AnyOf(kinds) => kinds.iter().any(|k| present.contains(k)),
            Requirement::AllOf(kinds) => kinds.iter().all(|k| present.contains(k)),
        }
    }

    /// `("any_of" | "all_of", kinds)`, the form it is written in.
    pub fn parts(&self) -> (&'static str, &[EvidenceKind]) {
        match self {
            Requirement::AnyOf(k) => ("any_of", k),
            Requirement::AllOf(k) => ("all_of", k),
        }
    }

    /// Reads the written form, `all_of:gps,wifi` (see `Display`).
    pub fn parse(text: &str) -> Option<Self> {
        let (mode, kinds) = text.split_once(':')?;
        let kinds = kinds
            .split(',')
            .map(EvidenceKind::parse)
            .collect::<Option<Vec<_>>>()?;
        Self::from_parts(mode, kinds)
    }

    pub fn from_parts(mode: &str, kinds: Vec<EvidenceKind>) -> Option<Self> {
        match (mode, kinds.is_empty()) {
            (_, true) => None,
            ("any_of", false) => Some(Requirement::AnyOf(kinds)),
            ("all_of", false) => Some(Requirement::AllOf(kinds)),
            _ => None,
        }
    }
}

impl SiteDefinition {
    pub fn polygon_count(&self) -> usize {
        self.fences
            .iter()
            .filter(|f| matches!(f, FenceGeometry::Polygon(_)))
            .count()
    }

    pub fn circle_count(&self) -> usize {
        self.fences.len() - self.polygon_count()
    }

    /// Bounding box of all fences, `([min_lon, min_lat], [max_lon, max_lat])`.
    pub fn bounds(&self) -> Option<([f64; 2], [f64; 2])> {
        self.fences
            .iter()
            .filter_map(FenceGeometry::bounds)
            .reduce(|a, b| {
                (
                    [a.0[0].min(b.0[0]), a.0[1].min(b.0[1])],
                    [a.1[0].max(b.1[0]), a.1[1].max(b.1[1])],
                )
            })
    }
}

/// What is wrong with an import, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {description}")]
pub struct ImportError {
    /// JSON path of the offending part, e.g. `features[3].properties.radius_m`.
    pub field: String,
    pub description: String,
}

fn err(field: impl Into<String>, description: impl Into<String>) -> ImportError {
    ImportError {
        field: field.into(),
        description: description.into(),
    }
}

/// Parses a FeatureCollection into sites, sorted by site id; the first
/// problem found is the error.
pub fn parse_sites_geojson(text: &str) -> Result<Vec<SiteDefinition>, ImportError> {
    check_sites_geojson(text).map_err(|mut problems| problems.swap_remove(0))
}

/// Most problems one check reports: enough to fix a file in one pass.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// Parses a FeatureCollection into sites, sorted by site id, or names every
/// feature's problem (at most [`MAX_REPORTED_PROBLEMS`], in feature order),
/// so that an admin fixes a file in one pass. Never an empty list of problems.
pub fn check_sites_geojson(text: &str) -> Result<Vec<SiteDefinition>, Vec<ImportError>> {
    let geojson: GeoJson = text
        .parse()
        .map_err(|e| vec![err("geojson", format!("not valid GeoJSON: {e}"))])?;
    let GeoJson::FeatureCollection(collection) = geojson else {
        return Err(vec![err("geojson", "must be a FeatureCollection")]);
    };
    if collection.features.is_empty() {
        return Err(vec![err("features", "must not be empty")]);
    }
    if collection.features.len() > MAX_FEATURES {
        return Err(vec![err(
            "features",
            format!(
                "at most {MAX_FEATURES} features, got {}",
                collection.features.len()
            ),
        )]);
    }
    let default_system = match collection
        .foreign_members
        .as_ref()
        .and_then(|m| m.get("coordinate_system"))
    {
        Some(value) => coordinate_system(value, "coordinate_system").map_err(|e| vec![e])?,
        None => CoordinateSystem::Wgs84,
    };
    let mut builder = SitesBuilder::new(default_system);
    for feature in &collection.features {
        if !builder.add(feature) {
            break;
        }
    }
    builder.finish()
}

/// Largest line of a GeoJSON-lines import: one feature, bytes.
pub const MAX_FEATURE_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Parses GeoJSON lines (one Feature per line, RFC 8142's record separator
/// allowed; blank lines skipped) as they are read, so that memory is
/// bounded by the sites built, not by the input: the way to import more
/// than one GeoJSON text may carry. Problems as [`check_sites_geojson`]'s,
/// `features[i]` counting features (not lines).
pub fn check_sites_geojson_lines(
    input: impl std::io::BufRead,
    default_system: CoordinateSystem,
) -> Result<Vec<SiteDefinition>, Vec<ImportError>> {
    let mut builder = SitesBuilder::new(default_system);
    let mut line = Vec::new();
    let mut input = input;
    loop {
        line.clear();
        let read = (&mut input)
            .take(MAX_FEATURE_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| vec![err("geojson", format!("reading: {e}"))])?;
        if read == 0 {
            break;
        }
        let path = format!("features[{}]", builder.count);
        if line.len() > MAX_FEATURE_LINE_BYTES {
            return Err(vec![err(
                path,
                format!("a feature of at most {MAX_FEATURE_LINE_BYTES} bytes a line"),
            )]);
        }
        let text = line.strip_prefix(b"\x1e").unwrap_or(&line).trim_ascii();
        if text.is_empty() {
            continue;
        }
        if builder.count == MAX_FEATURES {
            return Err(vec![err(
                "features",
                format!("at most {MAX_FEATURES} features"),
            )]);
        }
        let keep_going = match serde_json::from_slice::<Feature>(text) {
            Ok(feature) => builder.add(&feature),
            Err(e) => builder.problem(err(path, format!("not a GeoJSON Feature: {e}"))),
        };
        if !keep_going {
            break;
        }
    }
    if builder.count == 0 && builder.problems.is_empty() {
        return Err(vec![err("features", "must not be empty")]);
    }
    builder.finish()
}

/// Sites built feature by feature, with every problem met on the way.
struct SitesBuilder {
    sites: BTreeMap<SiteId, SiteDefinition>,
    problems: Vec<ImportError>,
    default_system: CoordinateSystem,
    /// Features seen.
    count: usize,
}

impl SitesBuilder {
    fn new(default_system: CoordinateSystem) -> Self {
        SitesBuilder {
            sites: BTreeMap::new(),
            problems: Vec::new(),
            default_system,
            count: 0,
        }
    }

    /// Adds the next feature; false once enough problems are reported.
    fn add(&mut self, feature: &Feature) -> bool {
        let i = self.count;
        self.count += 1;
        match add_feature(&mut self.sites, feature, i, self.default_system) {
            Ok(()) => true,
            Err(problem) => {
                self.count -= 1;
                self.problem(problem)
            }
        }
    }

    /// Records a feature's problem; false once enough are reported.
    fn problem(&mut self, problem: ImportError) -> bool {
        self.count += 1;
        self.problems.push(problem);
        self.problems.len() < MAX_REPORTED_PROBLEMS
    }

    fn finish(self) -> Result<Vec<SiteDefinition>, Vec<ImportError>> {
        if !self.problems.is_empty() {
            return Err(self.problems);
        }
        Ok(self.sites.into_values().collect())
    }
}

/// Adds feature `i` to the site it names.
fn add_feature(
    sites: &mut BTreeMap<SiteId, SiteDefinition>,
    feature: &Feature,
    i: usize,
    default_system: CoordinateSystem,
) -> Result<(), ImportError> {
    let path = format!("features[{i}]");
    let site = site_of(feature, i, &path)?;
    let system = match feature.property("coordinate_system") {
        Some(value) => coordinate_system(value, &format!("{path}.properties.coordinate_system"))?,
        None => default_system,
    };
    let access_points = access_points_of(feature, &path)?;
    let beacons = beacons_of(feature, &path)?;
    let fence = match (
        &feature.geometry,
        access_points.is_empty() && beacons.is_empty(),
    ) {
        // A feature without geometry may name access points only: a site
        // found by WiFi indoors, where GPS does not reach.
        (None, false) => None,
        _ => Some(fence_of(feature, system, &path)?),
    };
    let entry = sites.entry(site.clone()).or_insert_with(|| SiteDefinition {
        id: site,
        fences: Vec::new(),
        access_points: Vec::new(),
        beacons: Vec::new(),
        requires: None,
    });
    entry.beacons.extend(beacons);
    if let Some(requires) = requires_of(feature, &path)? {
        if entry.requires.as_ref().is_some_and(|r| *r != requires) {
            return Err(err(
                format!("{path}.properties.requires"),
                "differs from an earlier feature of the same site",
            ));
        }
        entry.requires = Some(requires);
    }
    entry.fences.extend(fence);
    for ap in access_points {
        if !entry
            .access_points
            .iter()
            .any(|known| known.bssid == ap.bssid)
        {
            entry.access_points.push(ap);
        }
    }
    Ok(())
}

/// The `requires` property: `{"any_of": ["gps", "wifi"]}` or
/// `{"all_of": ["gps", "beacon"]}`.
fn requires_of(feature: &Feature, path: &str) -> Result<Option<Requirement>, ImportError> {
    let field = format!("{path}.properties.requires");
    let Some(value) = feature.property("requires") else {
        return Ok(None);
    };
    let bad = || {
        err(
            &field,
            r#"must be {"any_of": [...]} or {"all_of": [...]} of "gps", "wifi", "beacon""#,
        )
    };
    let object = value.as_object().filter(|o| o.len() == 1).ok_or_else(bad)?;
    let (mode, list) = object.iter().next().ok_or_else(bad)?;
    let kinds = list
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|k| k.as_str().and_then(EvidenceKind::parse).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Requirement::from_parts(mode, kinds)
        .map(Some)
        .ok_or_else(bad)
}

/// The `beacons` property: iBeacons `{"uuid": "…", "major": 1, "minor": 2}` or
/// rotating Eddystone-EID beacons `{"eid_identity_key": "<32 hex>",
/// "rotation_exponent": 10, "clock_offset_s": 0}`; each may carry
/// `min_rssi_dbm` (default -90), the signal a sighting needs to count.
fn beacons_of(feature: &Feature, path: &str) -> Result<Vec<SiteBeacon>, ImportError> {
    let field = format!("{path}.properties.beacons");
    let Some(value) = feature.property("beacons") else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| err(&field, "must be a list of beacons"))?;
    if list.len() > MAX_ACCESS_POINTS {
        return Err(err(&field, format!("at most {MAX_ACCESS_POINTS} beacons")));
    }
    list.iter()
        .enumerate()
        .map(|(j, b)| {
            let at = |name: &str| format!("{field}[{j}].{name}");
            let int = |name: &str, lo: i64, hi: i64| -> Result<Option<i64>, ImportError> {
                match b.get(name) {
                    None => Ok(None),
                    Some(v) => v
                        .as_i64()
                        .filter(|n| (lo..=hi).contains(n))
                        .map(Some)
                        .ok_or_else(|| err(at(name), format!("must be an integer {lo}..{hi}"))),
                }
            };
            let min_rssi_dbm =
                int("min_rssi_dbm", -127, 0)?.unwrap_or(i64::from(DEFAULT_MIN_RSSI_DBM)) as i32;
            if let Some(uuid) = b.get("uuid") {
                let uuid = uuid
                    .as_str()
                    .and_then(|u| uuid::Uuid::parse_str(u).ok())
                    .ok_or_else(|| err(at("uuid"), "must be a UUID"))?;
                let major =
                    int("major", 0, 65535)?.ok_or_else(|| err(at("major"), "required"))? as u16;
                let minor =
                    int("minor", 0, 65535)?.ok_or_else(|| err(at("minor"), "required"))? as u16;
                return Ok(SiteBeacon::IBeacon {
                    id: IBeaconId { uuid, major, minor },
                    min_rssi_dbm,
                });
            }
            let key = b
                .get("eid_identity_key")
                .and_then(JsonValue::as_str)
                .ok_or_else(|| {
                    err(
                        format!("{field}[{j}]"),
                        "needs uuid/major/minor or eid_identity_key",
                    )
                })?;
            let identity_key: [u8; 16] = hex::decode(key)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| {
                    err(
                        at("eid_identity_key"),
                        "must be 32 hex digits (a 128-bit key)",
                    )
                })?;
            let rotation_exponent = int("rotation_exponent", 0, i64::from(MAX_ROTATION_EXPONENT))?
                .ok_or_else(|| err(at("rotation_exponent"), "required"))?
                as u8;
            let bound = MAX_CLOCK_OFFSET_S as i64;
            let clock_offset_s = int("clock_offset_s", -bound, bound)?.unwrap_or(0);
            Ok(SiteBeacon::Eid {
                identity_key,
                rotation_exponent,
                clock_offset_s,
                min_rssi_dbm,
            })
        })
        .collect()
}

/// The `wifi` property: `[{"bssid": "aa:bb:cc:dd:ee:ff", "ssid": "Office"}, …]`.
fn access_points_of(feature: &Feature, path: &str) -> Result<Vec<AccessPoint>, ImportError> {
    let field = format!("{path}.properties.wifi");
    let Some(value) = feature.property("wifi") else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| err(&field, "must be a list of {\"bssid\", \"ssid\"} objects"))?;
    if list.len() > MAX_ACCESS_POINTS {
        return Err(err(
            &field,
            format!("at most {MAX_ACCESS_POINTS} access points"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(j, ap)| {
            let bssid = ap
                .get("bssid")
                .and_then(JsonValue::as_str)
                .ok_or_else(|| err(format!("{field}[{j}].bssid"), "required"))?;
            let bssid = Bssid::parse(bssid).map_err(|d| err(format!("{field}[{j}].bssid"), d))?;
            let ssid = match ap.get("ssid") {
                None | Some(JsonValue::Null) => String::new(),
                Some(JsonValue::String(s)) if s.len() <= MAX_SSID_LEN => s.clone(),
                Some(_) => {
                    return Err(err(
                        format!("{field}[{j}].ssid"),
                        format!("must be a string of at most {MAX_SSID_LEN} bytes"),
                    ));
                }
            };
            Ok(AccessPoint { bssid, ssid })
        })
        .collect()
}

/// The site a feature belongs to: its `site` property, else its `id`, else
/// its `name` property, else `feature-N` after its position in the file (so
/// a plain file of footprints imports as one site per footprint).
fn site_of(feature: &Feature, index: usize, path: &str) -> Result<SiteId, ImportError> {
    let name = match feature.property("site") {
        Some(JsonValue::String(s)) => s.clone(),
        Some(JsonValue::Number(n)) => n.to_string(),
        Some(_) => return Err(err(format!("{path}.properties.site"), "must be a string")),
        None => match (&feature.id, feature.property("name")) {
            (Some(geojson::feature::Id::String(s)), _) => s.clone(),
            (Some(geojson::feature::Id::Number(n)), _) => n.to_string(),
            (None, Some(JsonValue::String(s))) if !s.is_empty() => s.clone(),
            _ => format!("feature-{index}"),
        },
    };
    SiteId::new(name).map_err(|d| err(format!("{path}.properties.site"), d))
}

/// A `coordinate_system` member: "wgs84" (the RFC 7946 default), "gcj02" or "bd09".
fn coordinate_system(value: &JsonValue, field: &str) -> Result<CoordinateSystem, ImportError> {
    value
        .as_str()
        .and_then(CoordinateSystem::parse)
        .ok_or_else(|| err(field, "must be \"wgs84\", \"gcj02\" or \"bd09\""))
}

fn fence_of(
    feature: &Feature,
    system: CoordinateSystem,
    path: &str,
) -> Result<FenceGeometry, ImportError> {
    let to_wgs84 = |c: Coord<f64>| {
        let (x, y) = system.to_wgs84(c.x, c.y);
        Coord { x, y }
    };
    let geometry_path = format!("{path}.geometry");
    let Some(geometry) = &feature.geometry else {
        return Err(err(geometry_path, "required"));
    };
    // geojson's conversion indexes [0] and [1] of every position: a
    // position of one number must be refused here, not panic there (found
    // by the GeoJSON fuzz target).
    let positions: Vec<&geojson::Position> = match &geometry.value {
        GeometryValue::Point { coordinates } => vec![coordinates],
        GeometryValue::Polygon { coordinates } => coordinates.iter().flatten().collect(),
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().flatten().collect()
        }
        _ => Vec::new(),
    };
    if positions.iter().any(|p| !(2..=3).contains(&p.len())) {
        return Err(err(
            geometry_path,
            "every position must be [longitude, latitude] (an altitude may follow)",
        ));
    }
    match &geometry.value {
        GeometryValue::Polygon { coordinates } => {
            check_rings(coordinates, &format!("{geometry_path}.coordinates"))?
        }
        GeometryValue::MultiPolygon { coordinates } => {
            for (i, polygon) in coordinates.iter().enumerate() {
                check_rings(polygon, &format!("{geometry_path}.coordinates[{i}]"))?;
            }
        }
        _ => {}
    }
    match &geometry.value {
        value @ (GeometryValue::Polygon { .. } | GeometryValue::MultiPolygon { .. }) => {
            let polygons: MultiPolygon<f64> = match value {
                GeometryValue::Polygon { .. } => MultiPolygon(vec![
                    value
                        .try_into()
                        .map_err(|e| err(&geometry_path, format!("{e}")))?,
                ]),
                _ => value
                    .try_into()
                    .map_err(|e| err(&geometry_path, format!("{e}")))?,
            };
            check_coordinates(&polygons).map_err(|d| err(&geometry_path, d))?;
            let polygons = polygons.map_coords(to_wgs84);
            check_polygons(&polygons).map_err(|d| err(&geometry_path, d))?;
            Ok(FenceGeometry::Polygon(polygons))
        }
        value @ GeometryValue::Point { .. } => {
            let center: Point<f64> = value
                .try_into()
                .map_err(|e| err(&geometry_path, format!("{e}")))?;
            check_coordinate(center.x(), center.y()).map_err(|d| err(&geometry_path, d))?;
            let center = Point::from(to_wgs84(center.0));
            let radius_path = format!("{path}.properties.radius_m");
            let radius_m = match feature.property("radius_m") {
                Some(JsonValue::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                Some(_) => return Err(err(radius_path, "must be a number of metres")),
                None => {
                    return Err(err(
                        radius_path,
                        "required for a Point feature (circle fence radius in metres)",
                    ));
                }
            };
            if !(radius_m.is_finite() && radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
                return Err(err(
                    radius_path,
                    format!("must be > 0 and at most {MAX_RADIUS_M} m, got {radius_m}"),
                ));
            }
            Ok(FenceGeometry::Circle { center, radius_m })
        }
        other => Err(err(
            geometry_path,
            format!(
                "{} is not a fence: use Polygon, MultiPolygon, or Point with radius_m",
                other.type_name()
            ),
        )),
    }
}

/// RFC 7946 §3.1.6: a ring has at least four positions and ends where it
/// starts. §3.1.9: a ring that crosses the antimeridian must be cut there.
/// An edge is the straight line in longitude/latitude between its ends (the
/// model containment and distance share), so an edge from 179.9° to
/// -179.9° runs 359.8° the long way round: a fence around Fiji would cover
/// the Gulf of Guinea. Such rings are refused, with how to mend them, rather
/// than guessed at. Edges along a pole or along the ±180° meridian itself
/// (as Natural Earth draws Antarctica) are taken as written.
/// `path` names the polygon's coordinates (its list of rings).
fn check_rings(rings: &[Vec<geojson::Position>], path: &str) -> Result<(), ImportError> {
    for (r, ring) in rings.iter().enumerate() {
        let ring_path = format!("{path}[{r}]");
        if ring.len() < 4 {
            return Err(err(
                ring_path,
                format!(
                    "a ring needs at least 4 positions (the last repeating the first), got {}",
                    ring.len()
                ),
            ));
        }
        if ring.first().map(|p| &p[..2]) != ring.last().map(|p| &p[..2]) {
            return Err(err(
                ring_path,
                "ring is not closed: its last position must repeat its first (RFC 7946 §3.1.6)",
            ));
        }
        for (k, pair) in ring.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            if super::fence::the_long_way_round((a[0], a[1]), (b[0], b[1])) {
                return Err(err(
                    format!("{ring_path}[{k}]"),
                    format!(
                        "the edge from [{}, {}] to [{}, {}] crosses the antimeridian: edges are \
                         straight in longitude/latitude, so it would span {:.1}° of longitude the \
                         long way round; split the polygon at ±180° into a MultiPolygon with one \
                         part on each side (RFC 7946 §3.1.9)",
                        a[0],
                        a[1],
                        b[0],
                        b[1],
                        (b[0] - a[0]).abs()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_coordinate(lon: f64, lat: f64) -> Result<(), String> {
    if !(lon.is_finite() && lat.is_finite()) {
        return Err("coordinates must be finite".into());
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!(
            "coordinate [{lon}, {lat}] is out of range (longitude -180..180, latitude -90..90)"
        ));
    }
    Ok(())
}

/// Size and coordinate ranges, checked before any conversion.
fn check_coordinates(polygons: &MultiPolygon<f64>) -> Result<(), String> {
    if polygons.0.is_empty() {
        return Err("must have at least one polygon".into());
    }
    let vertices = polygons.coords_count();
    if vertices > MAX_VERTICES {
        return Err(format!(
            "at most {MAX_VERTICES} vertices per fence, got {vertices}"
        ));
    }
    polygons
        .coords_iter()
        .try_for_each(|c| check_coordinate(c.x, c.y))
}

fn check_polygons(polygons: &MultiPolygon<f64>) -> Result<(), String> {
    // Self-intersecting rings, holes outside their shell, overlapping parts:
    // any of these makes "inside" ambiguous, so the fence is refused.
    polygons
        .check_validation()
        .map_err(|e| format!("invalid polygon: {e}"))
}

/// Serialises a fence's geometry for storage as GeoJSON geometry text; the
/// circle radius is stored beside it.
pub fn fence_to_stored(fence: &FenceGeometry) -> (String, Option<f64>) {
    match fence {
        FenceGeometry::Polygon(mp) => (geojson::Geometry::from(mp).to_string(), None),
        FenceGeometry::Circle { center, radius_m } => {
            (geojson::Geometry::from(center).to_string(), Some(*radius_m))
        }
    }
}

/// Reads back what [`fence_to_stored`] wrote.
pub fn fence_from_stored(geometry: &str, radius_m: Option<f64>) -> Result<FenceGeometry, String> {
    let geometry: geojson::Geometry = geometry.parse().map_err(|e| format!("{e}"))?;
    Ok(match radius_m {
        Some(radius_m) => FenceGeometry::Circle {
            center: (&geometry.value).try_into().map_err(|e| format!("{e}"))?,
            radius_m,
        },
        None => FenceGeometry::Polygon((&geometry.value).try_into().map_err(|e| format!("{e}"))?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(geometry: &str, properties: &str) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{properties},"geometry":{geometry}}}]}}"#
        )
    }

    const SQUARE: &str =
        r#"{"type":"Polygon","coordinates":[[[0,0],[0.001,0],[0.001,0.001],[0,0.001],[0,0]]]}"#;

    #[test]
    fn groups_features_into_sites() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"site":"hq"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0.001,0],[0.001,0.001],[0,0]]]}},
          {"type":"Feature","properties":{"site":"hq","radius_m":150},"geometry":{"type":"Point","coordinates":[0.01,0.01]}},
          {"type":"Feature","id":"depot","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[1,1],[1.001,1],[1.001,1.001],[1,1]]]]}}
        ]}"#;
        let sites = parse_sites_geojson(text).unwrap();
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].id.as_str(), "depot");
        assert_eq!(sites[1].id.as_str(), "hq");
        assert_eq!((sites[1].polygon_count(), sites[1].circle_count()), (1, 1));
    }

    #[test]
    fn sites_default_to_id_then_name_then_position() {
        let circle = r#""geometry":{"type":"Point","coordinates":[0,0]}"#;
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[
              {{"type":"Feature","id":7,"properties":{{"name":"ignored","radius_m":5}},{circle}}},
              {{"type":"Feature","properties":{{"name":"Depot","radius_m":5}},{circle}}},
              {{"type":"Feature","properties":{{"radius_m":5}},{circle}}}
            ]}}"#
        );
        let ids: Vec<_> = parse_sites_geojson(&text)
            .unwrap()
            .into_iter()
            .map(|s| s.id.as_str().to_owned())
            .collect();
        assert_eq!(ids, ["7", "Depot", "feature-2"]);
    }

    #[test]
    fn fences_drawn_on_chinese_maps_are_converted_to_wgs84() {
        // Tiananmen: WGS-84 (116.404, 39.915) is GCJ-02 (116.41024449916938, 39.91640428150164).
        let text = r#"{"type":"FeatureCollection","coordinate_system":"gcj02","features":[
          {"type":"Feature","properties":{"site":"a","radius_m":50},"geometry":{"type":"Point","coordinates":[116.41024449916938,39.91640428150164]}},
          {"type":"Feature","properties":{"site":"b","radius_m":50,"coordinate_system":"wgs84"},"geometry":{"type":"Point","coordinates":[116.404,39.915]}}
        ]}"#;
        let sites = parse_sites_geojson(text).unwrap();
        for site in &sites {
            let FenceGeometry::Circle { center, .. } = site.fences[0] else {
                panic!()
            };
            assert!(
                (center.x() - 116.404).abs() < 1e-7 && (center.y() - 39.915).abs() < 1e-7,
                "{center:?}"
            );
        }
        let bad = text.replace(
            r#""coordinate_system":"gcj02""#,
            r#""coordinate_system":"mars""#,
        );
        assert_eq!(
            parse_sites_geojson(&bad).unwrap_err().field,
            "coordinate_system"
        );
    }

    #[test]
    fn positions_of_one_number_are_refused_not_a_panic() {
        // The fuzz target's finding, reduced.
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"site":"a"},
            "geometry":{"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,1]],
                [[1.2,1.1],[1.8,1.1],[2343],[1.2,1.1]]]}}]}"#;
        let e = parse_sites_geojson(text).unwrap_err();
        assert_eq!(e.field, "features[0].geometry");
        let point = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
            "properties":{"site":"a","radius_m":50},"geometry":{"type":"Point","coordinates":[7]}}]}"#;
        assert!(
            parse_sites_geojson(point).is_err(),
            "refused by the parser itself"
        );
    }

    #[test]
    fn sites_carry_wifi_access_points_with_or_without_geometry() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"site":"hq","radius_m":80,"wifi":[{"bssid":"AA-BB-CC-00-11-22","ssid":"Acme"}]},"geometry":{"type":"Point","coordinates":[1,1]}},
          {"type":"Feature","properties":{"site":"hq","wifi":[{"bssid":"aa:bb:cc:00:11:22","ssid":"Acme"},{"bssid":"aabbcc001133"}]},"geometry":null},
          {"type":"Feature","properties":{"site":"vault","wifi":[{"bssid":"02:00:00:00:00:01","ssid":"Vault"}]},"geometry":null}
        ]}"#;
        let sites = parse_sites_geojson(text).unwrap();
        let hq = &sites[0];
        assert_eq!(
            (hq.fences.len(), hq.access_points.len()),
            (1, 2),
            "duplicate BSSID kept once"
        );
        assert_eq!(hq.access_points[1].ssid, "");
        assert!(sites[1].fences.is_empty());

        let bad = text.replace("aabbcc001133", "aabbcc0011");
        assert_eq!(
            parse_sites_geojson(&bad).unwrap_err().field,
            "features[1].properties.wifi[1].bssid"
        );
    }

    #[test]
    fn sites_say_which_evidence_they_require() {
        let with =
            |requires: &str| one(SQUARE, &format!(r#"{{"site":"a","requires":{requires}}}"#));
        let sites = parse_sites_geojson(&with(r#"{"all_of":["gps","wifi"]}"#)).unwrap();
        assert_eq!(
            sites[0].requires,
            Some(Requirement::AllOf(vec![
                EvidenceKind::Gps,
                EvidenceKind::Wifi
            ]))
        );
        for bad in [
            r#"{"all_of":["gps","radar"]}"#,
            r#"{"some_of":["gps"]}"#,
            r#"{"any_of":[]}"#,
            r#""gps""#,
        ] {
            let e = parse_sites_geojson(&with(bad)).unwrap_err();
            assert_eq!(e.field, "features[0].properties.requires", "{bad}");
        }
    }

    #[test]
    fn bad_files_name_the_field() {
        let cases = [
            ("{}".to_string(), "geojson"),
            (
                r#"{"type":"FeatureCollection","features":[]}"#.to_string(),
                "features",
            ),
            (one(SQUARE, r#"{"site":""}"#), "features[0].properties.site"),
            (
                one(r#"{"type":"Point","coordinates":[0,0]}"#, r#"{"site":"a"}"#),
                "features[0].properties.radius_m",
            ),
            (
                one(
                    r#"{"type":"Point","coordinates":[0,0]}"#,
                    r#"{"site":"a","radius_m":0}"#,
                ),
                "features[0].properties.radius_m",
            ),
            (
                one(
                    r#"{"type":"Point","coordinates":[0,0]}"#,
                    r#"{"site":"a","radius_m":-5}"#,
                ),
                "features[0].properties.radius_m",
            ),
            (
                // A bow tie: the ring crosses itself.
                one(
                    r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#,
                    r#"{"site":"a"}"#,
                ),
                "features[0].geometry",
            ),
            (
                one(
                    r#"{"type":"Polygon","coordinates":[[[0,0],[0,200],[1,1],[0,0]]]}"#,
                    r#"{"site":"a"}"#,
                ),
                "features[0].geometry",
            ),
            (
                one(
                    r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#,
                    r#"{"site":"a"}"#,
                ),
                "features[0].geometry",
            ),
            (one("null", r#"{"site":"a"}"#), "features[0].geometry"),
        ];
        for (text, field) in cases {
            let e = parse_sites_geojson(&text).expect_err(&text);
            assert_eq!(e.field, field, "{text}: {e}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let sites = parse_sites_geojson(&one(SQUARE, r#"{"site":"a"}"#)).unwrap();
        let circle = FenceGeometry::Circle {
            center: Point::new(1.5, -2.5),
            radius_m: 120.0,
        };
        for fence in [sites[0].fences[0].clone(), circle] {
            let (text, radius) = fence_to_stored(&fence);
            assert_eq!(fence_from_stored(&text, radius).unwrap(), fence);
        }
    }
}
