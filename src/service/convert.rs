//! Proto messages ↔ domain types. Raw input becomes a validated domain type
//! here, once; every problem is reported with the path of its field.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};

use super::auth::Caller;
use super::error::ApiError;
use crate::engine::coords::CoordinateSystem;
use crate::engine::sites::SiteDefinition;
use crate::engine::wifi::{Bssid, MAX_SSID_LEN, WifiSighting};
use crate::engine::{
    Action, AppEvidence, Decision, DeviceFacts, DeviceId, EmployeeId, GpsFix, InstalledPackages,
    Integrity, LocationMethod, MotionSummary, Platform, Policy, Punch, PunchId, PunchKind,
    SensorKind, SensorStats, SiteId, Verdict,
};
use crate::proto::v1 as pb;
use crate::store::{PunchCursor, PunchRow, Recorded};

/// How far ahead of the server's clock a client time may be before the
/// request is refused outright. Within it, CLOCK_SKEW flags the punch;
/// beyond it the time is nonsense, not skew.
pub const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);
/// Largest accuracy radius accepted, metres. A worse "fix" says nothing.
pub const MAX_ACCURACY_M: f64 = 100_000.0;
/// Largest speed accepted, m/s (about 1,080 km/h: above any airliner's
/// ground speed; a phone reporting more is broken, not fast).
pub const MAX_SPEED_MPS: f64 = 300.0;
/// Bounds of the evidence lists and strings.
pub const MAX_SIGNATURE_IDS: usize = 64;
pub const MAX_PACKAGES: usize = 2_000;
pub const MAX_PACKAGE_LEN: usize = 256;
pub const MAX_VERSION_LEN: usize = 64;
pub const MAX_WIFI_APS: usize = 64;
/// Default and largest page sizes for list calls.
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// The server's clock, at the microsecond precision the store keeps, so
/// that what a client is told equals what is later read back.
pub fn now() -> Timestamp {
    truncate_to_us(Timestamp::now())
}

fn truncate_to_us(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

fn timestamp(field: &str, value: Option<prost_types::Timestamp>) -> Result<Timestamp, ApiError> {
    let value = value.ok_or_else(|| ApiError::invalid(field, "required"))?;
    let t = Timestamp::new(value.seconds, value.nanos)
        .map_err(|e| ApiError::invalid(field, format!("not a valid time: {e}")))?;
    Ok(truncate_to_us(t))
}

/// A device-reported time may not be more than [`MAX_FUTURE`] ahead of now.
/// Times in the past are accepted: offline queues send late, and a phone
/// whose clock reset to 1970 is evidence (CLOCK_SKEW), not a malformed request.
fn device_time(
    field: &str,
    value: Option<prost_types::Timestamp>,
    now: Timestamp,
) -> Result<Timestamp, ApiError> {
    let t = timestamp(field, value)?;
    if t.duration_since(now) > MAX_FUTURE {
        return Err(ApiError::invalid(
            field,
            format!("more than {} h in the future", MAX_FUTURE.as_hours()),
        ));
    }
    Ok(t)
}

fn required_f64(field: &str, value: Option<f64>) -> Result<f64, ApiError> {
    let v = value.ok_or_else(|| ApiError::invalid(field, "required"))?;
    if !v.is_finite() {
        return Err(ApiError::invalid(field, "must be a finite number"));
    }
    Ok(v)
}

fn in_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<f64, ApiError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ))
    }
}

fn gps_fix(gps: pb::GpsFix, now: Timestamp) -> Result<GpsFix, ApiError> {
    let system = match pb::CoordinateSystem::try_from(gps.coordinate_system) {
        Ok(pb::CoordinateSystem::Unspecified | pb::CoordinateSystem::Wgs84) => {
            CoordinateSystem::Wgs84
        }
        Ok(pb::CoordinateSystem::Gcj02) => CoordinateSystem::Gcj02,
        Ok(pb::CoordinateSystem::Bd09) => CoordinateSystem::Bd09,
        Err(_) => {
            return Err(ApiError::invalid(
                "gps.coordinate_system",
                "unknown coordinate system",
            ));
        }
    };
    let latitude = in_range(
        "gps.latitude",
        required_f64("gps.latitude", gps.latitude)?,
        -90.0,
        90.0,
    )?;
    let longitude = in_range(
        "gps.longitude",
        required_f64("gps.longitude", gps.longitude)?,
        -180.0,
        180.0,
    )?;
    let accuracy_m = required_f64("gps.accuracy_m", gps.accuracy_m)?;
    // 0 is what Android reports when the provider gave no estimate.
    if !(0.0..=MAX_ACCURACY_M).contains(&accuracy_m) {
        return Err(ApiError::invalid(
            "gps.accuracy_m",
            format!("must be between 0 and {MAX_ACCURACY_M} m, got {accuracy_m}"),
        ));
    }
    let speed_mps = gps
        .speed_mps
        .map(|v| {
            let v = required_f64("gps.speed_mps", Some(v))?;
            in_range("gps.speed_mps", v, 0.0, MAX_SPEED_MPS)
        })
        .transpose()?;
    let (longitude, latitude) = system.to_wgs84(longitude, latitude);
    Ok(GpsFix {
        latitude,
        longitude,
        accuracy_m,
        fix_time: device_time("gps.fix_time", gps.fix_time, now)?,
        mock_location: gps.mock_location,
        speed_mps,
    })
}

fn wifi_scan(scan: Vec<pb::WifiAccessPoint>) -> Result<Vec<WifiSighting>, ApiError> {
    if scan.len() > MAX_WIFI_APS {
        return Err(ApiError::invalid(
            "wifi",
            format!("at most {MAX_WIFI_APS} access points, got {}", scan.len()),
        ));
    }
    scan.into_iter()
        .enumerate()
        .map(|(i, ap)| {
            let bssid = Bssid::parse(&ap.bssid)
                .map_err(|e| ApiError::invalid(format!("wifi[{i}].bssid"), e))?;
            bounded_str(&format!("wifi[{i}].ssid"), &ap.ssid, MAX_SSID_LEN)?;
            if !(-127..=0).contains(&ap.rssi_dbm) {
                return Err(ApiError::invalid(
                    format!("wifi[{i}].rssi_dbm"),
                    "must be between -127 and 0",
                ));
            }
            Ok(WifiSighting {
                bssid,
                ssid: ap.ssid,
                rssi_dbm: ap.rssi_dbm,
            })
        })
        .collect()
}

fn bounded_str(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} bytes without control characters"),
        ));
    }
    Ok(())
}

fn device_facts(device: Option<pb::DeviceFacts>) -> Result<Option<DeviceFacts>, ApiError> {
    let Some(d) = device else { return Ok(None) };
    let device_id =
        DeviceId::new(d.device_id).map_err(|e| ApiError::invalid("device.device_id", e))?;
    bounded_str("device.os_version", &d.os_version, MAX_VERSION_LEN)?;
    bounded_str("device.app_version", &d.app_version, MAX_VERSION_LEN)?;
    let platform = match pb::Platform::try_from(d.platform) {
        Ok(pb::Platform::Unspecified) => Platform::Unknown,
        Ok(pb::Platform::Android) => Platform::Android,
        Ok(pb::Platform::Ios) => Platform::Ios,
        Ok(pb::Platform::Other) => Platform::Other,
        Err(_) => return Err(ApiError::invalid("device.platform", "unknown platform")),
    };
    let integrity = match pb::IntegrityVerdict::try_from(d.integrity) {
        Ok(pb::IntegrityVerdict::Unspecified) => Integrity::NotChecked,
        Ok(pb::IntegrityVerdict::Passed) => Integrity::Passed,
        Ok(pb::IntegrityVerdict::Failed) => Integrity::Failed,
        Err(_) => {
            return Err(ApiError::invalid(
                "device.integrity",
                "unknown integrity verdict",
            ));
        }
    };
    Ok(Some(DeviceFacts {
        device_id,
        platform,
        rooted: d.rooted,
        emulator: d.emulator,
        developer_mode: d.developer_mode,
        integrity,
    }))
}

fn motion_summary(motion: Option<pb::MotionSummary>) -> Result<Option<MotionSummary>, ApiError> {
    let Some(m) = motion else { return Ok(None) };
    let mut sensors: Vec<SensorStats> = Vec::with_capacity(m.sensors.len());
    for (i, s) in m.sensors.into_iter().enumerate() {
        let field = |name: &str| format!("motion.sensors[{i}].{name}");
        let kind = match pb::SensorType::try_from(s.r#type) {
            Ok(pb::SensorType::Accelerometer) => SensorKind::Accelerometer,
            Ok(pb::SensorType::Gyroscope) => SensorKind::Gyroscope,
            Ok(pb::SensorType::RotationVector) => SensorKind::RotationVector,
            Ok(pb::SensorType::Unspecified) | Err(_) => {
                return Err(ApiError::invalid(
                    field("type"),
                    "required: a known sensor type",
                ));
            }
        };
        if sensors.iter().any(|seen| seen.kind == kind) {
            return Err(ApiError::invalid(
                field("type"),
                "each sensor type at most once",
            ));
        }
        for (name, v) in [
            ("mean_magnitude", s.mean_magnitude),
            ("variance", s.variance),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ApiError::invalid(
                    field(name),
                    "must be a finite number >= 0",
                ));
            }
        }
        sensors.push(SensorStats {
            kind,
            sample_count: s.sample_count,
            mean_magnitude: s.mean_magnitude,
            variance: s.variance,
        });
    }
    let step_delta = m
        .step_delta
        .map(|n| {
            u32::try_from(n).map_err(|_| ApiError::invalid("motion.step_delta", "must be >= 0"))
        })
        .transpose()?;
    Ok(Some(MotionSummary {
        sensors,
        step_delta,
    }))
}

/// Cheat-software evidence. Errors name the position of a bad package name,
/// never the name: the list is the employee's, not ours to echo.
fn app_evidence(ids: Vec<String>, packages: Vec<String>) -> Result<AppEvidence, ApiError> {
    if ids.len() > MAX_SIGNATURE_IDS {
        return Err(ApiError::invalid(
            "matched_signature_ids",
            format!("at most {MAX_SIGNATURE_IDS} ids, got {}", ids.len()),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        crate::engine::check_id(id)
            .map_err(|e| ApiError::invalid(format!("matched_signature_ids[{i}]"), e))?;
    }
    if packages.len() > MAX_PACKAGES {
        return Err(ApiError::invalid(
            "installed_packages",
            format!("at most {MAX_PACKAGES} names, got {}", packages.len()),
        ));
    }
    for (i, p) in packages.iter().enumerate() {
        if p.is_empty() || p.len() > MAX_PACKAGE_LEN || p.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                format!("installed_packages[{i}]"),
                format!("must be 1..{MAX_PACKAGE_LEN} bytes without control characters"),
            ));
        }
    }
    Ok(AppEvidence {
        matched_signature_ids: ids,
        installed_packages: InstalledPackages(packages),
    })
}

/// Validates a punch submitted by `caller`, received at `now`.
pub fn punch(
    request: pb::SubmitPunchRequest,
    caller: &Caller,
    now: Timestamp,
) -> Result<Punch, ApiError> {
    let employee = caller.employee.clone().ok_or_else(|| {
        ApiError::PermissionDenied("this device token is not bound to an employee".into())
    })?;
    let punch_id = PunchId::new(request.punch_id).map_err(|d| ApiError::invalid("punch_id", d))?;
    let kind = match pb::PunchKind::try_from(request.kind) {
        Ok(pb::PunchKind::In) => PunchKind::In,
        Ok(pb::PunchKind::Out) => PunchKind::Out,
        Ok(pb::PunchKind::Auto) => PunchKind::Auto,
        Ok(pb::PunchKind::Unspecified) | Err(_) => {
            return Err(ApiError::invalid(
                "kind",
                "required: PUNCH_KIND_IN, PUNCH_KIND_OUT or PUNCH_KIND_AUTO",
            ));
        }
    };
    let client_time = device_time("client_time", request.client_time, now)?;
    let wifi = wifi_scan(request.wifi)?;
    let gps = match request.gps {
        Some(gps) => Some(gps_fix(gps, now)?),
        None if !wifi.is_empty() => None,
        None => {
            return Err(ApiError::invalid(
                "gps",
                "required unless a wifi scan is sent",
            ));
        }
    };
    Ok(Punch {
        org: caller.org.clone(),
        employee,
        punch_id,
        kind,
        client_time,
        received_at: now,
        sent_at: match request.sent_time {
            Some(sent) => device_time("sent_time", Some(sent), now)?,
            None => client_time,
        },
        queued_offline: request.queued_offline,
        nonce: match request.nonce {
            n if n.is_empty() => None,
            n => {
                crate::engine::check_id(&n).map_err(|e| ApiError::invalid("nonce", e))?;
                Some(n)
            }
        },
        gps,
        wifi,
        device: device_facts(request.device)?,
        motion: motion_summary(request.motion)?,
        apps: app_evidence(request.matched_signature_ids, request.installed_packages)?,
    })
}

/// A receive-time range `[from, to)`.
pub fn time_range(
    from: Option<prost_types::Timestamp>,
    to: Option<prost_types::Timestamp>,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let from = timestamp("from", from)?;
    let to = timestamp("to", to)?;
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok((from, to))
}

/// Page size: 0 means the default; larger than the maximum means the maximum.
pub fn page_size(requested: u32) -> usize {
    match requested as usize {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// Trims a page fetched with `limit + 1` rows to `limit` and returns the
/// token of the next page: the cursor of the last row kept, or empty when
/// the extra row did not come back (no more pages).
pub fn paginate<T>(rows: &mut Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> String {
    if rows.len() <= limit {
        return String::new();
    }
    rows.truncate(limit);
    rows.last().map(cursor).unwrap_or_default()
}

const PUNCH_CURSOR_TAG: &str = "p1";

pub fn encode_punch_cursor(cursor: PunchCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{PUNCH_CURSOR_TAG}:{}:{}",
        cursor.received_at.as_microsecond(),
        cursor.seq
    ))
}

pub fn decode_punch_cursor(token: &str) -> Result<Option<PunchCursor>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a page token from this call");
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let mut parts = text.split(':');
    let (Some(PUNCH_CURSOR_TAG), Some(us), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let us: i64 = us.parse().map_err(|_| bad())?;
    Ok(Some(PunchCursor {
        received_at: Timestamp::from_microsecond(us).map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    }))
}

pub fn encode_site_cursor(after: &SiteId) -> String {
    URL_SAFE_NO_PAD.encode(format!("s1:{after}"))
}

pub fn decode_site_cursor(token: &str) -> Result<Option<SiteId>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page_token", "not a page token from this call");
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let id = text.strip_prefix("s1:").ok_or_else(bad)?;
    SiteId::new(id).map(Some).map_err(|_| bad())
}

pub fn timestamp_to_pb(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

fn decision_to_pb(d: Decision) -> pb::Decision {
    match d {
        Decision::Accepted => pb::Decision::Accepted,
        Decision::Review => pb::Decision::Review,
        Decision::Rejected => pb::Decision::Rejected,
    }
}

fn action_to_pb(a: Action) -> pb::Action {
    match a {
        Action::Ignore => pb::Action::Ignore,
        Action::Review => pb::Action::Review,
        Action::Reject => pb::Action::Reject,
    }
}

fn method_to_pb(m: LocationMethod) -> pb::LocationMethod {
    match m {
        LocationMethod::None => pb::LocationMethod::None,
        LocationMethod::Gps => pb::LocationMethod::Gps,
        LocationMethod::GpsNear => pb::LocationMethod::GpsNear,
        LocationMethod::Wifi => pb::LocationMethod::Wifi,
    }
}

fn kind_to_pb(k: PunchKind) -> pb::PunchKind {
    match k {
        PunchKind::In => pb::PunchKind::In,
        PunchKind::Out => pb::PunchKind::Out,
        PunchKind::Auto => pb::PunchKind::Auto,
    }
}

fn site_id_string(site: &Option<SiteId>) -> String {
    site.as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

pub fn verdict_to_pb(v: &Verdict) -> pb::Verdict {
    pb::Verdict {
        decision: decision_to_pb(v.decision).into(),
        findings: v
            .findings
            .iter()
            .map(|f| pb::Finding {
                // Domain codes carry their contract numbers (see FindingCode).
                code: f.code as i32,
                action: action_to_pb(f.action).into(),
                message: f.message.clone(),
            })
            .collect(),
        site_id: site_id_string(&v.site),
        method: method_to_pb(v.method).into(),
        distance_m: v.distance_m,
        nearest_site_id: site_id_string(&v.nearest_site),
        cheat_matches: v
            .cheat_matches
            .iter()
            .map(|m| pb::CheatMatch {
                signature_id: m.signature_id.clone(),
                category: m.category.as_str().to_owned(),
            })
            .collect(),
        wifi_bssids: v.wifi_bssids.iter().map(ToString::to_string).collect(),
        risk_score: v.risk_score(),
    }
}

pub fn submit_response(recorded: &Recorded) -> pb::SubmitPunchResponse {
    pb::SubmitPunchResponse {
        verdict: Some(verdict_to_pb(&recorded.row.verdict)),
        duplicate: recorded.duplicate,
        received_time: Some(timestamp_to_pb(recorded.row.received_at)),
    }
}

pub fn punch_row_to_pb(row: &PunchRow) -> pb::PunchRecord {
    pb::PunchRecord {
        employee_id: row.employee.as_str().to_owned(),
        punch_id: row.punch_id.as_str().to_owned(),
        kind: kind_to_pb(row.kind).into(),
        client_time: Some(timestamp_to_pb(row.client_time)),
        received_time: Some(timestamp_to_pb(row.received_at)),
        verdict: Some(verdict_to_pb(&row.verdict)),
    }
}

pub fn site_to_pb(site: &SiteDefinition) -> pb::Site {
    pb::Site {
        site_id: site.id.as_str().to_owned(),
        polygon_fences: site.polygon_count() as u32,
        circle_fences: site.circle_count() as u32,
        bbox: site.bounds().map(|(lo, hi)| pb::BoundingBox {
            min_longitude: lo[0],
            min_latitude: lo[1],
            max_longitude: hi[0],
            max_latitude: hi[1],
        }),
    }
}

pub fn device_to_pb(d: &crate::store::DeviceBinding) -> pb::Device {
    pb::Device {
        employee_id: d.employee.as_str().to_owned(),
        device_id: d.device.as_str().to_owned(),
        bound_time: Some(timestamp_to_pb(d.bound_at)),
        revoked_time: d.revoked_at.map(timestamp_to_pb),
    }
}

pub fn employee_id(value: String) -> Result<EmployeeId, ApiError> {
    EmployeeId::new(value).map_err(|e| ApiError::invalid("employee_id", e))
}

pub fn device_id(value: String) -> Result<DeviceId, ApiError> {
    DeviceId::new(value).map_err(|e| ApiError::invalid("device_id", e))
}

/// How far a bundle's simplified polygon may stray from the real fence, m.
/// Below typical GPS error, so a phone's pre-check agrees with the server's
/// decision everywhere but the last couple of metres at a wall.
pub const BUNDLE_SIMPLIFY_M: f64 = 2.0;

/// The fence bundle a phone downloads for on-device checks.
pub fn fence_bundle(snapshot: &crate::engine::OrgSnapshot) -> pb::GetFenceBundleResponse {
    use crate::engine::fence::FenceGeometry;
    use geo::Simplify;
    // Metres to degrees for the tolerance: a degree of latitude is the
    // longest degree anywhere, so this never simplifies more than promised.
    let epsilon = BUNDLE_SIMPLIFY_M / 111_320.0;
    let ring = |ls: &geo::LineString<f64>| pb::BundleRing {
        coordinates: ls.coords().flat_map(|c| [c.x, c.y]).collect(),
    };
    let sites = snapshot
        .sites
        .iter()
        .enumerate()
        .map(|(site, id)| pb::BundleSite {
            site_id: id.as_str().to_owned(),
            fences: snapshot.site_fences[site]
                .iter()
                .flat_map(|&f| match &snapshot.index.fence(f).geometry {
                    FenceGeometry::Polygon(mp) => mp
                        .simplify(epsilon)
                        .0
                        .iter()
                        .map(|p| pb::BundleFence {
                            shape: Some(pb::bundle_fence::Shape::Polygon(pb::BundlePolygon {
                                rings: std::iter::once(p.exterior())
                                    .chain(p.interiors())
                                    .map(ring)
                                    .collect(),
                            })),
                        })
                        .collect::<Vec<_>>(),
                    FenceGeometry::Circle { center, radius_m } => vec![pb::BundleFence {
                        shape: Some(pb::bundle_fence::Shape::Circle(pb::BundleCircle {
                            longitude: center.x(),
                            latitude: center.y(),
                            radius_m: *radius_m,
                        })),
                    }],
                })
                .collect(),
            wifi_bssids: snapshot
                .wifi
                .bssids_of(site)
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
        .collect();
    pb::GetFenceBundleResponse {
        version: snapshot.version,
        not_modified: false,
        sites,
        signatures: snapshot
            .signatures
            .iter()
            .map(|s| pb::CheatSignature {
                id: s.id.clone(),
                package: s.package.clone(),
                cert_sha256: s.cert_sha256.clone().unwrap_or_default(),
                category: s.category.as_str().to_owned(),
            })
            .collect(),
        simplify_tolerance_m: BUNDLE_SIMPLIFY_M,
    }
}

/// Most field-staff ids one policy may list.
pub const MAX_FIELD_STAFF: usize = 10_000;

pub fn policy_to_pb(p: &Policy) -> pb::OrgPolicy {
    pb::OrgPolicy {
        max_accuracy_m: p.max_accuracy_m,
        max_fix_age_s: p.max_fix_age.as_secs() as u32,
        max_clock_skew_s: p.max_clock_skew.as_secs() as u32,
        flat_variance: p.flat_variance,
        still_accel_variance: p.still_accel_variance,
        moving_speed_mps: p.moving_speed_mps,
        wifi_gps_max_gap_m: p.wifi_gps_max_gap_m,
        max_travel_speed_kmh: p.max_travel_speed_mps * 3.6,
        max_devices_per_employee: p.max_devices_per_employee as u32,
        device_share_window_h: (p.device_share_window.as_secs() / 3600) as u32,
        actions: p
            .actions
            .iter()
            .map(|(code, action)| pb::FindingAction {
                code: *code as i32,
                action: action_to_pb(*action).into(),
            })
            .collect(),
        field_staff: p
            .field_staff
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
    }
}

/// A policy from an admin, every value within its documented bounds.
pub fn policy_from_pb(p: Option<pb::OrgPolicy>) -> Result<Policy, ApiError> {
    let p = p.ok_or_else(|| ApiError::invalid("policy", "required"))?;
    let bounded = |field: &str, v: f64, lo: f64, hi: f64| {
        let v = required_f64(&format!("policy.{field}"), Some(v))?;
        in_range(&format!("policy.{field}"), v, lo, hi)
    };
    let secs = |field: &str, v: u32, lo: u32, hi: u32| {
        bounded(field, f64::from(v), f64::from(lo), f64::from(hi))
            .map(|v| SignedDuration::from_secs(v as i64))
    };
    let mut actions = std::collections::BTreeMap::new();
    for (i, a) in p.actions.iter().enumerate() {
        let field = |name: &str| format!("policy.actions[{i}].{name}");
        let code = crate::engine::FindingCode::ALL
            .into_iter()
            .find(|c| *c as i32 == a.code)
            .ok_or_else(|| {
                ApiError::invalid(field("code"), "not a finding code punchguard raises")
            })?;
        let action = match pb::Action::try_from(a.action) {
            Ok(pb::Action::Ignore) => Action::Ignore,
            Ok(pb::Action::Review) => Action::Review,
            Ok(pb::Action::Reject) => Action::Reject,
            Ok(pb::Action::Unspecified) | Err(_) => {
                return Err(ApiError::invalid(
                    field("action"),
                    "required: ACTION_IGNORE, ACTION_REVIEW or ACTION_REJECT",
                ));
            }
        };
        if actions.insert(code, action).is_some() {
            return Err(ApiError::invalid(field("code"), "each code at most once"));
        }
    }
    if p.field_staff.len() > MAX_FIELD_STAFF {
        return Err(ApiError::invalid(
            "policy.field_staff",
            format!("at most {MAX_FIELD_STAFF} employees"),
        ));
    }
    let field_staff = p
        .field_staff
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            EmployeeId::new(e).map_err(|d| ApiError::invalid(format!("policy.field_staff[{i}]"), d))
        })
        .collect::<Result<_, _>>()?;
    Ok(Policy {
        max_accuracy_m: bounded("max_accuracy_m", p.max_accuracy_m, 5.0, 5000.0)?,
        max_fix_age: secs("max_fix_age_s", p.max_fix_age_s, 10, 3600)?,
        max_clock_skew: secs("max_clock_skew_s", p.max_clock_skew_s, 30, 86_400)?,
        flat_variance: bounded("flat_variance", p.flat_variance, 0.0, 1.0)?,
        still_accel_variance: bounded("still_accel_variance", p.still_accel_variance, 0.0, 10.0)?,
        moving_speed_mps: bounded("moving_speed_mps", p.moving_speed_mps, 0.1, 50.0)?,
        wifi_gps_max_gap_m: bounded("wifi_gps_max_gap_m", p.wifi_gps_max_gap_m, 50.0, 50_000.0)?,
        max_travel_speed_mps: bounded(
            "max_travel_speed_kmh",
            p.max_travel_speed_kmh,
            10.0,
            1200.0,
        )? / 3.6,
        max_devices_per_employee: bounded(
            "max_devices_per_employee",
            f64::from(p.max_devices_per_employee),
            1.0,
            10.0,
        )? as usize,
        device_share_window: secs("device_share_window_h", p.device_share_window_h, 1, 720)?
            .checked_mul(3600)
            .unwrap_or(SignedDuration::MAX),
        actions,
        field_staff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_codes_match_the_contract() {
        for code in crate::engine::FindingCode::ALL {
            let pb_code = pb::FindingCode::try_from(code as i32).unwrap();
            assert_eq!(
                pb_code.as_str_name(),
                format!("FINDING_CODE_{}", code.as_str())
            );
        }
    }

    #[test]
    fn punch_cursor_round_trips_and_rejects_garbage() {
        let cursor = PunchCursor {
            received_at: now(),
            seq: 42,
        };
        let token = encode_punch_cursor(cursor);
        assert_eq!(decode_punch_cursor(&token).unwrap(), Some(cursor));
        assert_eq!(decode_punch_cursor("").unwrap(), None);
        for bad in [
            "x",
            "cDI6MTox",
            &encode_site_cursor(&SiteId::new("a").unwrap()),
        ] {
            assert!(decode_punch_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_policy_round_trips_through_the_contract() {
        let mut policy = Policy::default();
        policy
            .actions
            .insert(crate::engine::FindingCode::Rooted, Action::Reject);
        policy.field_staff.insert(EmployeeId::new("rep").unwrap());
        let back = policy_from_pb(Some(policy_to_pb(&policy))).unwrap();
        assert_eq!(back.max_fix_age, policy.max_fix_age);
        assert_eq!(back.device_share_window, policy.device_share_window);
        assert!((back.max_travel_speed_mps - policy.max_travel_speed_mps).abs() < 1e-9);
        assert_eq!(back.actions, policy.actions);
        assert_eq!(back.field_staff, policy.field_staff);
    }

    #[test]
    fn page_size_defaults_and_clamps() {
        assert_eq!(page_size(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(1_000_000), MAX_PAGE_SIZE);
    }
}
