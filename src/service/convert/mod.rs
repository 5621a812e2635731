//! Proto messages ↔ domain types. Raw input becomes a validated domain type
//! here, once; every problem is reported with the path of its field.

mod admin;
mod attendance;
pub mod attestation;
mod evidence;

// Request validation lives in `evidence` (punches) and `admin` (policy,
// bundle); this module keeps what every call shares: times, pages, cursors,
// and the verdict and record conversions.

pub use admin::{
    BUNDLE_SIMPLIFY_M, MAX_FIELD_STAFF, MAX_SIGNATURES, delivery_to_pb, fence_bundle,
    policy_from_pb, policy_to_pb, retention_from_pb, retention_to_pb, signature_to_pb,
    signatures_from_pb, site_access_points_from_pb, site_beacons_from_pb, webhook_from_pb,
    webhook_to_pb,
};
pub use attendance::{
    assignment_from_pb, calendar_to_pb, daily_result_to_pb, date, evidence_to_pb, holiday_from_pb,
    leave_from_pb, roster_day_from_pb, schedule_from_pb, schedule_to_pb,
};
pub use evidence::{
    MAX_ACCURACY_M, MAX_PACKAGE_LEN, MAX_PACKAGES, MAX_SIGNATURE_IDS, MAX_SPEED_MPS,
    MAX_VERSION_LEN, MAX_WIFI_APS, punch,
};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};

use crate::app::AppError;
use crate::engine::beacons::{IBeaconId, SiteBeacon};
use crate::engine::sites::SiteDefinition;
use crate::engine::{
    Action, Decision, DeviceId, EmployeeId, LocationMethod, PunchKind, SiteId, Verdict,
};
use crate::proto::v1 as pb;
use crate::store::{PunchCursor, PunchRow, Recorded};

/// How far ahead of the server's clock a client time may be before the
/// request is refused outright. Within it, CLOCK_SKEW flags the punch;
/// beyond it the time is nonsense, not skew.
pub const MAX_FUTURE: SignedDuration = SignedDuration::from_hours(24);
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

pub(crate) fn timestamp(
    field: &str,
    value: Option<prost_types::Timestamp>,
) -> Result<Timestamp, AppError> {
    let value = value.ok_or_else(|| AppError::invalid(field, "required"))?;
    // google.protobuf.Timestamp: nanos are 0..=999,999,999, never negative
    // (a time before the second is the second before, plus nanos).
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(AppError::invalid(
            format!("{field}.nanos"),
            format!("must be 0..=999999999, got {}", value.nanos),
        ));
    }
    let t = Timestamp::new(value.seconds, value.nanos)
        .map_err(|e| AppError::invalid(field, format!("not a valid time: {e}")))?;
    Ok(truncate_to_us(t))
}

/// A device-reported time may not be more than [`MAX_FUTURE`] ahead of now.
/// Times in the past are accepted: offline queues send late, and a phone
/// whose clock reset to 1970 is evidence (CLOCK_SKEW), not a malformed request.
pub(crate) fn device_time(
    field: &str,
    value: Option<prost_types::Timestamp>,
    now: Timestamp,
) -> Result<Timestamp, AppError> {
    let t = timestamp(field, value)?;
    if t.duration_since(now) > MAX_FUTURE {
        return Err(AppError::invalid(
            field,
            format!("more than {} h in the future", MAX_FUTURE.as_hours()),
        ));
    }
    Ok(t)
}

pub(crate) fn required_f64(field: &str, value: Option<f64>) -> Result<f64, AppError> {
    let v = value.ok_or_else(|| AppError::invalid(field, "required"))?;
    if !v.is_finite() {
        return Err(AppError::invalid(field, "must be a finite number"));
    }
    Ok(v)
}

pub(crate) fn in_range(field: &str, v: f64, lo: f64, hi: f64) -> Result<f64, AppError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::invalid(
            field,
            format!("must be between {lo} and {hi}, got {v}"),
        ))
    }
}

pub(crate) fn bounded_str(field: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.len() > max || value.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("must be at most {max} bytes without control characters"),
        ));
    }
    Ok(())
}

/// A receive-time range `[from, to)`.
pub fn time_range(
    from: Option<prost_types::Timestamp>,
    to: Option<prost_types::Timestamp>,
) -> Result<(Timestamp, Timestamp), AppError> {
    let from = timestamp("from", from)?;
    let to = timestamp("to", to)?;
    if to <= from {
        return Err(AppError::invalid("to", "must be after from"));
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
        cursor.at.as_microsecond(),
        cursor.seq
    ))
}

pub fn decode_punch_cursor(token: &str) -> Result<Option<PunchCursor>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::invalid("page_token", "not a page token from this call");
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
        at: Timestamp::from_microsecond(us).map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    }))
}

pub fn encode_site_cursor(after: &SiteId) -> String {
    URL_SAFE_NO_PAD.encode(format!("s1:{after}"))
}

pub fn decode_site_cursor(token: &str) -> Result<Option<SiteId>, AppError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::invalid("page_token", "not a page token from this call");
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let id = text.strip_prefix("s1:").ok_or_else(bad)?;
    SiteId::new(id).map(Some).map_err(|_| bad())
}

pub fn ibeacon_to_pb(id: &IBeaconId) -> pb::IBeaconId {
    pb::IBeaconId {
        uuid: id.uuid.to_string(),
        major: u32::from(id.major),
        minor: u32::from(id.minor),
    }
}

/// An iBeacon id, its parts named under `field`.
pub(crate) fn ibeacon_from_pb(field: &str, id: pb::IBeaconId) -> Result<IBeaconId, AppError> {
    let uuid = uuid::Uuid::parse_str(&id.uuid)
        .map_err(|_| AppError::invalid(format!("{field}.uuid"), "must be a UUID"))?;
    let part = |name: &str, v: u32| {
        u16::try_from(v)
            .map_err(|_| AppError::invalid(format!("{field}.{name}"), "must be 0..65535"))
    };
    Ok(IBeaconId {
        uuid,
        major: part("major", id.major)?,
        minor: part("minor", id.minor)?,
    })
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

pub(crate) fn action_to_pb(a: Action) -> pb::Action {
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
        LocationMethod::Beacon => pb::LocationMethod::Beacon,
        LocationMethod::Correction => pb::LocationMethod::Correction,
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
        device_assurance: match v.assurance {
            crate::engine::Assurance::Reported => pb::DeviceAssurance::Reported,
            crate::engine::Assurance::Attested { .. } => pb::DeviceAssurance::Attested,
        }
        .into(),
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
        distance_bucket: row
            .distance_bucket
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        evidence_kept: row.evidence_kept,
        review: row.review.as_ref().map(|r| pb::PunchReview {
            approved: r.approved,
            reason: r.reason.clone(),
            reviewer: r.reviewer.clone(),
            time: Some(timestamp_to_pb(r.at)),
        }),
        evidence: None,
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
        wifi_bssids: site
            .access_points
            .iter()
            .map(|ap| ap.bssid.to_string())
            .collect(),
        ibeacons: site
            .beacons
            .iter()
            .filter_map(|b| match b {
                SiteBeacon::IBeacon { id, .. } => Some(ibeacon_to_pb(id)),
                SiteBeacon::Eid { .. } => None,
            })
            .collect(),
        eid_beacons: site
            .beacons
            .iter()
            .filter(|b| matches!(b, SiteBeacon::Eid { .. }))
            .count() as u32,
        access_points: site
            .access_points
            .iter()
            .map(|ap| pb::SiteAccessPoint {
                bssid: ap.bssid.to_string(),
                ssid: ap.ssid.clone(),
            })
            .collect(),
        requires: site
            .requires
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

pub fn device_to_pb(d: &crate::store::DeviceBinding) -> pb::Device {
    pb::Device {
        employee_id: d.employee.as_str().to_owned(),
        device_id: d.device.as_str().to_owned(),
        bound_time: Some(timestamp_to_pb(d.bound_at)),
        revoked_time: d.revoked_at.map(timestamp_to_pb),
        attestation: None,
    }
}

pub fn listed_device_to_pb(
    employee: &EmployeeId,
    d: &crate::app::devices::ListedDevice,
) -> pb::Device {
    let mut device = match &d.binding {
        Some(binding) => device_to_pb(binding),
        None => pb::Device {
            employee_id: employee.as_str().to_owned(),
            device_id: d.device.as_str().to_owned(),
            ..Default::default()
        },
    };
    device.attestation = d
        .enrolled
        .as_ref()
        .map(|(e, codes)| attestation::attested_device_to_pb(e, codes));
    device
}

pub fn employee_id(value: String) -> Result<EmployeeId, AppError> {
    EmployeeId::new(value).map_err(|e| AppError::invalid("employee_id", e))
}

pub fn device_id(value: String) -> Result<DeviceId, AppError> {
    DeviceId::new(value).map_err(|e| AppError::invalid("device_id", e))
}

/// Decodes `bytes` as each request message that carries data to validate
/// and runs the validation the service runs, discarding the outcome. For
/// fuzzing and property tests: whatever the bytes, this must return, with
/// no panic and no allocation beyond the message's own bounds.
pub fn validate_arbitrary_requests(bytes: &[u8]) {
    use prost::Message;
    let org = crate::engine::OrgId::new("fuzz").expect("a valid id");
    let employee = EmployeeId::new("fuzz").expect("a valid id");
    let now = Timestamp::from_second(1_790_000_000).expect("a valid instant");
    if let Ok(m) = pb::SubmitPunchRequest::decode(bytes) {
        let _ = punch(m, &org, &employee, now);
    }
    if let Ok(m) = pb::PutPolicyRequest::decode(bytes) {
        let _ = policy_from_pb(m.policy);
    }
    if let Ok(m) = pb::PutSignaturesRequest::decode(bytes) {
        let _ = signatures_from_pb(m.signatures);
    }
    if let Ok(m) = pb::PutSiteAccessPointsRequest::decode(bytes) {
        let _ = site_access_points_from_pb(m.access_points);
    }
    if let Ok(m) = pb::PutSiteBeaconsRequest::decode(bytes) {
        let _ = site_beacons_from_pb(m.beacons);
    }
    if let Ok(m) = pb::PutRetentionRequest::decode(bytes) {
        let _ = retention_from_pb(m.retention);
    }
    if let Ok(m) = pb::PutScheduleRequest::decode(bytes) {
        let _ = schedule_from_pb(m.schedule).map(|s| s.check());
    }
    if let Ok(m) = pb::ListPunchesRequest::decode(bytes) {
        let _ = time_range(m.from, m.to);
        let _ = decode_punch_cursor(&m.page_token);
    }
    if let Ok(m) = pb::GetDailyResultsRequest::decode(bytes)
        && let (Ok(from), Ok(to)) = (date("from_date", &m.from_date), date("to_date", &m.to_date))
    {
        let _ = crate::attendance::dates(from, to);
    }
    if let Ok(m) = pb::ListSitesRequest::decode(bytes) {
        let _ = decode_site_cursor(&m.page_token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Policy;

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
        let cursor = PunchCursor { at: now(), seq: 42 };
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
