//! Admin-facing conversions: the organisation's policy (with its bounds)
//! and the fence bundle phones download.

use jiff::SignedDuration;

use std::collections::HashSet;

use super::{action_to_pb, bounded_str, ibeacon_from_pb, in_range, required_f64};
use crate::app::AppError;
use crate::app::webhooks::WebhookSpec;
use crate::engine::beacons::{
    DEFAULT_MIN_RSSI_DBM, MAX_CLOCK_OFFSET_S, MAX_ROTATION_EXPONENT, SiteBeacon,
};
use crate::engine::policy::AttestationMode;
use crate::engine::signatures::{CheatCategory, Signature, SignatureList};
use crate::engine::sites::MAX_ACCESS_POINTS;
use crate::engine::wifi::{AccessPoint, Bssid, MAX_SSID_LEN};
use crate::engine::{Action, EmployeeId, Policy};
use crate::proto::v1 as pb;
use crate::retention::RetentionPolicy;
use crate::store::{Delivery, WebhookConfig};
use crate::webhooks::EventKind;

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
                .clone()
                .flat_map(|f| match &snapshot.index.fence(f).geometry {
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
            ibeacons: snapshot
                .beacons
                .ibeacons_of(site)
                .iter()
                .map(super::ibeacon_to_pb)
                .collect(),
        })
        .collect();
    pb::GetFenceBundleResponse {
        version: snapshot.version,
        not_modified: false,
        sites,
        signatures: snapshot.signatures.iter().map(signature_to_pb).collect(),
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
        attestation: match p.attestation {
            AttestationMode::Off => pb::AttestationMode::Off,
            AttestationMode::Observe => pb::AttestationMode::Observe,
            AttestationMode::Require => pb::AttestationMode::Require,
        }
        .into(),
    }
}

/// A policy from an admin, every value within its documented bounds.
pub fn policy_from_pb(p: Option<pb::OrgPolicy>) -> Result<Policy, AppError> {
    let p = p.ok_or_else(|| AppError::invalid("policy", "required"))?;
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
                AppError::invalid(field("code"), "not a finding code punchguard raises")
            })?;
        let action = match pb::Action::try_from(a.action) {
            Ok(pb::Action::Ignore) => Action::Ignore,
            Ok(pb::Action::Review) => Action::Review,
            Ok(pb::Action::Reject) => Action::Reject,
            Ok(pb::Action::Unspecified) | Err(_) => {
                return Err(AppError::invalid(
                    field("action"),
                    "required: ACTION_IGNORE, ACTION_REVIEW or ACTION_REJECT",
                ));
            }
        };
        if actions.insert(code, action).is_some() {
            return Err(AppError::invalid(field("code"), "each code at most once"));
        }
    }
    if p.field_staff.len() > MAX_FIELD_STAFF {
        return Err(AppError::invalid(
            "policy.field_staff",
            format!("at most {MAX_FIELD_STAFF} employees"),
        ));
    }
    let field_staff = p
        .field_staff
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            EmployeeId::new(e).map_err(|d| AppError::invalid(format!("policy.field_staff[{i}]"), d))
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
        attestation: match pb::AttestationMode::try_from(p.attestation) {
            Ok(pb::AttestationMode::Off) => AttestationMode::Off,
            Ok(pb::AttestationMode::Observe | pb::AttestationMode::Unspecified) => {
                AttestationMode::Observe
            }
            Ok(pb::AttestationMode::Require) => AttestationMode::Require,
            Err(_) => {
                return Err(AppError::invalid(
                    "policy.attestation",
                    "ATTESTATION_MODE_OFF, _OBSERVE or _REQUIRE",
                ));
            }
        },
    })
}

/// Most signatures one organisation's list may hold.
pub const MAX_SIGNATURES: usize = 5_000;

pub fn signature_to_pb(s: &Signature) -> pb::CheatSignature {
    pb::CheatSignature {
        id: s.id.clone(),
        package: s.package.clone(),
        cert_sha256: s.cert_sha256.clone().unwrap_or_default(),
        category: s.category.as_str().to_owned(),
        name: s.name.clone(),
    }
}

/// An admin's signature list: bounded, ids unique, hashes well-formed.
pub fn signatures_from_pb(list: Vec<pb::CheatSignature>) -> Result<SignatureList, AppError> {
    if list.len() > MAX_SIGNATURES {
        return Err(AppError::invalid(
            "signatures",
            format!("at most {MAX_SIGNATURES} signatures"),
        ));
    }
    let signatures = list
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let field = |name: &str| format!("signatures[{i}].{name}");
            crate::engine::check_id(&s.id).map_err(|e| AppError::invalid(field("id"), e))?;
            if s.package.is_empty()
                || s.package.len() > super::MAX_PACKAGE_LEN
                || s.package.chars().any(char::is_control)
            {
                return Err(AppError::invalid(
                    field("package"),
                    "must be 1..256 bytes without control characters",
                ));
            }
            let cert_sha256 = match s.cert_sha256.as_str() {
                "" => None,
                hash if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Some(hash.to_ascii_lowercase())
                }
                _ => {
                    return Err(AppError::invalid(
                        field("cert_sha256"),
                        "must be 64 hex digits (SHA-256) or empty",
                    ));
                }
            };
            let category = CheatCategory::parse(&s.category).ok_or_else(|| {
                AppError::invalid(
                    field("category"),
                    "virtual_location, app_cloner, hook_framework or auto_clicker",
                )
            })?;
            super::bounded_str(&field("name"), &s.name, 128)?;
            Ok(Signature {
                id: s.id,
                package: s.package,
                cert_sha256,
                category,
                name: s.name,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    SignatureList::new(signatures).map_err(|e| AppError::invalid("signatures", e))
}

/// A site's access points from an admin: bounded, BSSIDs well-formed and unique.
pub fn site_access_points_from_pb(
    list: Vec<pb::SiteAccessPoint>,
) -> Result<Vec<AccessPoint>, AppError> {
    if list.len() > MAX_ACCESS_POINTS {
        return Err(AppError::invalid(
            "access_points",
            format!("at most {MAX_ACCESS_POINTS} access points"),
        ));
    }
    let mut seen = HashSet::new();
    list.into_iter()
        .enumerate()
        .map(|(i, ap)| {
            let field = |name: &str| format!("access_points[{i}].{name}");
            let bssid =
                Bssid::parse(&ap.bssid).map_err(|e| AppError::invalid(field("bssid"), e))?;
            if !seen.insert(bssid) {
                return Err(AppError::invalid(field("bssid"), "listed twice"));
            }
            bounded_str(&field("ssid"), &ap.ssid, MAX_SSID_LEN)?;
            Ok(AccessPoint {
                bssid,
                ssid: ap.ssid,
            })
        })
        .collect()
}

/// A site's beacons from an admin, checked as the GeoJSON import checks them.
pub fn site_beacons_from_pb(list: Vec<pb::SiteBeacon>) -> Result<Vec<SiteBeacon>, AppError> {
    if list.len() > MAX_ACCESS_POINTS {
        return Err(AppError::invalid(
            "beacons",
            format!("at most {MAX_ACCESS_POINTS} beacons"),
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, b)| {
            let field = |name: &str| format!("beacons[{i}].{name}");
            let min_rssi_dbm = match b.min_rssi_dbm {
                None => DEFAULT_MIN_RSSI_DBM,
                Some(v) if (-127..=0).contains(&v) => v,
                Some(_) => {
                    return Err(AppError::invalid(
                        field("min_rssi_dbm"),
                        "must be between -127 and 0",
                    ));
                }
            };
            match b.kind {
                Some(pb::site_beacon::Kind::Ibeacon(id)) => Ok(SiteBeacon::IBeacon {
                    id: ibeacon_from_pb(&field("ibeacon"), id)?,
                    min_rssi_dbm,
                }),
                Some(pb::site_beacon::Kind::Eid(eid)) => {
                    let identity_key: [u8; 16] = eid.identity_key.try_into().map_err(|_| {
                        AppError::invalid(field("eid.identity_key"), "must be 16 bytes")
                    })?;
                    let rotation_exponent = u8::try_from(eid.rotation_exponent)
                        .ok()
                        .filter(|k| *k <= MAX_ROTATION_EXPONENT)
                        .ok_or_else(|| {
                            AppError::invalid(
                                field("eid.rotation_exponent"),
                                format!("must be 0..{MAX_ROTATION_EXPONENT}"),
                            )
                        })?;
                    if eid.clock_offset_s.unsigned_abs() > MAX_CLOCK_OFFSET_S {
                        return Err(AppError::invalid(
                            field("eid.clock_offset_s"),
                            format!("must be within ±{MAX_CLOCK_OFFSET_S}"),
                        ));
                    }
                    Ok(SiteBeacon::Eid {
                        identity_key,
                        rotation_exponent,
                        clock_offset_s: eid.clock_offset_s,
                        min_rssi_dbm,
                    })
                }
                None => Err(AppError::invalid(field("kind"), "required: ibeacon or eid")),
            }
        })
        .collect()
}

pub fn retention_to_pb(r: &RetentionPolicy) -> pb::RetentionPolicy {
    pb::RetentionPolicy {
        evidence_days: r.evidence_days,
        flagged_evidence_days: r.flagged_evidence_days,
        cheat_findings_days: r.cheat_findings_days,
        attendance_days: r.attendance_days,
        audit_days: r.audit_days,
    }
}

/// An admin's retention periods, each within its documented bounds.
pub fn retention_from_pb(r: Option<pb::RetentionPolicy>) -> Result<RetentionPolicy, AppError> {
    let r = r.ok_or_else(|| AppError::invalid("retention", "required"))?;
    let retention = RetentionPolicy {
        evidence_days: r.evidence_days,
        flagged_evidence_days: r.flagged_evidence_days,
        cheat_findings_days: r.cheat_findings_days,
        attendance_days: r.attendance_days,
        audit_days: r.audit_days,
    };
    retention.check().map_err(|(field, description)| {
        AppError::invalid(format!("retention.{field}"), description)
    })?;
    Ok(retention)
}

fn event_from_pb(field: &str, value: i32) -> Result<EventKind, AppError> {
    match pb::WebhookEvent::try_from(value) {
        Ok(pb::WebhookEvent::PunchRecorded) => Ok(EventKind::PunchRecorded),
        Ok(pb::WebhookEvent::PunchReviewed) => Ok(EventKind::PunchReviewed),
        Ok(pb::WebhookEvent::DayClosed) => Ok(EventKind::DayClosed),
        _ => Err(AppError::invalid(field, "not a webhook event")),
    }
}

fn event_to_pb(kind: EventKind) -> pb::WebhookEvent {
    match kind {
        EventKind::PunchRecorded => pb::WebhookEvent::PunchRecorded,
        EventKind::PunchReviewed => pb::WebhookEvent::PunchReviewed,
        EventKind::DayClosed => pb::WebhookEvent::DayClosed,
    }
}

pub fn webhook_from_pb(w: Option<pb::Webhook>) -> Result<WebhookSpec, AppError> {
    let w = w.ok_or_else(|| AppError::invalid("webhook", "required"))?;
    Ok(WebhookSpec {
        events: w
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| event_from_pb(&format!("webhook.events[{i}]"), *e))
            .collect::<Result<_, _>>()?,
        id: w.webhook_id,
        url: w.url,
    })
}

pub fn webhook_to_pb(w: &WebhookConfig) -> pb::Webhook {
    pb::Webhook {
        webhook_id: w.id.clone(),
        url: w.url.clone(),
        events: w.events.iter().map(|e| event_to_pb(*e).into()).collect(),
        created_time: Some(super::timestamp_to_pb(w.created_at)),
    }
}

pub fn delivery_to_pb(d: &Delivery) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        event_id: d.event_id.clone(),
        event: event_to_pb(d.kind).into(),
        attempt: d.attempt,
        time: Some(super::timestamp_to_pb(d.at)),
        status: d.status.map_or(0, u32::from),
        error: d.error.clone().unwrap_or_default(),
        duration_ms: d.duration_ms,
    }
}
