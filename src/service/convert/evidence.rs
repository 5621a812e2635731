//! A punch request becomes a validated [`Punch`]: every piece of evidence
//! checked against its bounds, every problem named by its field.

use jiff::Timestamp;

use super::{bounded_str, device_time, ibeacon_from_pb, in_range, required_f64};
use crate::app::AppError;
use crate::engine::beacons::BeaconSighting;
use crate::engine::coords::CoordinateSystem;
use crate::engine::wifi::{Bssid, MAX_SSID_LEN, WifiSighting};
use crate::engine::{
    AppEvidence, DeviceFacts, DeviceId, EmployeeId, GpsFix, InstalledPackages, Integrity,
    MotionSummary, OrgId, Platform, Punch, PunchId, PunchKind, SensorKind, SensorStats,
};
use crate::proto::v1 as pb;

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
pub const MAX_BEACONS: usize = 32;

fn gps_fix(gps: pb::GpsFix, now: Timestamp) -> Result<GpsFix, AppError> {
    let system = match pb::CoordinateSystem::try_from(gps.coordinate_system) {
        Ok(pb::CoordinateSystem::Unspecified | pb::CoordinateSystem::Wgs84) => {
            CoordinateSystem::Wgs84
        }
        Ok(pb::CoordinateSystem::Gcj02) => CoordinateSystem::Gcj02,
        Ok(pb::CoordinateSystem::Bd09) => CoordinateSystem::Bd09,
        Err(_) => {
            return Err(AppError::invalid(
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
        return Err(AppError::invalid(
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

fn wifi_scan(scan: Vec<pb::WifiAccessPoint>) -> Result<Vec<WifiSighting>, AppError> {
    if scan.len() > MAX_WIFI_APS {
        return Err(AppError::invalid(
            "wifi",
            format!("at most {MAX_WIFI_APS} access points, got {}", scan.len()),
        ));
    }
    scan.into_iter()
        .enumerate()
        .map(|(i, ap)| {
            let bssid = Bssid::parse(&ap.bssid)
                .map_err(|e| AppError::invalid(format!("wifi[{i}].bssid"), e))?;
            bounded_str(&format!("wifi[{i}].ssid"), &ap.ssid, MAX_SSID_LEN)?;
            if !(-127..=0).contains(&ap.rssi_dbm) {
                return Err(AppError::invalid(
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

fn beacon_sightings(heard: Vec<pb::BeaconSighting>) -> Result<Vec<BeaconSighting>, AppError> {
    if heard.len() > MAX_BEACONS {
        return Err(AppError::invalid(
            "beacons",
            format!("at most {MAX_BEACONS} beacons, got {}", heard.len()),
        ));
    }
    heard
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let field = |name: &str| format!("beacons[{i}].{name}");
            if !(-127..=0).contains(&b.rssi_dbm) {
                return Err(AppError::invalid(
                    field("rssi_dbm"),
                    "must be between -127 and 0",
                ));
            }
            match b.id {
                Some(pb::beacon_sighting::Id::Ibeacon(id)) => Ok(BeaconSighting::IBeacon {
                    id: ibeacon_from_pb(&field("ibeacon"), id)?,
                    rssi_dbm: b.rssi_dbm,
                }),
                Some(pb::beacon_sighting::Id::Eid(eid)) => {
                    let eid: [u8; 8] = hex::decode(&eid)
                        .ok()
                        .and_then(|e| e.try_into().ok())
                        .ok_or_else(|| AppError::invalid(field("eid"), "must be 16 hex digits"))?;
                    Ok(BeaconSighting::Eid {
                        eid,
                        rssi_dbm: b.rssi_dbm,
                    })
                }
                None => Err(AppError::invalid(field("id"), "required: ibeacon or eid")),
            }
        })
        .collect()
}

fn device_facts(device: Option<pb::DeviceFacts>) -> Result<Option<DeviceFacts>, AppError> {
    let Some(d) = device else { return Ok(None) };
    let device_id =
        DeviceId::new(d.device_id).map_err(|e| AppError::invalid("device.device_id", e))?;
    bounded_str("device.os_version", &d.os_version, MAX_VERSION_LEN)?;
    bounded_str("device.app_version", &d.app_version, MAX_VERSION_LEN)?;
    let platform = match pb::Platform::try_from(d.platform) {
        Ok(pb::Platform::Unspecified) => Platform::Unknown,
        Ok(pb::Platform::Android) => Platform::Android,
        Ok(pb::Platform::Ios) => Platform::Ios,
        Ok(pb::Platform::Other) => Platform::Other,
        Err(_) => return Err(AppError::invalid("device.platform", "unknown platform")),
    };
    let integrity = match pb::IntegrityVerdict::try_from(d.integrity) {
        Ok(pb::IntegrityVerdict::Unspecified) => Integrity::NotChecked,
        Ok(pb::IntegrityVerdict::Passed) => Integrity::Passed,
        Ok(pb::IntegrityVerdict::Failed) => Integrity::Failed,
        Err(_) => {
            return Err(AppError::invalid(
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

fn motion_summary(motion: Option<pb::MotionSummary>) -> Result<Option<MotionSummary>, AppError> {
    let Some(m) = motion else { return Ok(None) };
    let mut sensors: Vec<SensorStats> = Vec::with_capacity(m.sensors.len());
    for (i, s) in m.sensors.into_iter().enumerate() {
        let field = |name: &str| format!("motion.sensors[{i}].{name}");
        let kind = match pb::SensorType::try_from(s.r#type) {
            Ok(pb::SensorType::Accelerometer) => SensorKind::Accelerometer,
            Ok(pb::SensorType::Gyroscope) => SensorKind::Gyroscope,
            Ok(pb::SensorType::RotationVector) => SensorKind::RotationVector,
            Ok(pb::SensorType::Unspecified) | Err(_) => {
                return Err(AppError::invalid(
                    field("type"),
                    "required: a known sensor type",
                ));
            }
        };
        if sensors.iter().any(|seen| seen.kind == kind) {
            return Err(AppError::invalid(
                field("type"),
                "each sensor type at most once",
            ));
        }
        for (name, v) in [
            ("mean_magnitude", s.mean_magnitude),
            ("variance", s.variance),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(AppError::invalid(
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
            u32::try_from(n).map_err(|_| AppError::invalid("motion.step_delta", "must be >= 0"))
        })
        .transpose()?;
    Ok(Some(MotionSummary {
        sensors,
        step_delta,
    }))
}

/// Cheat-software evidence. Errors name the position of a bad package name,
/// never the name: the list is the employee's, not ours to echo.
fn app_evidence(ids: Vec<String>, packages: Vec<String>) -> Result<AppEvidence, AppError> {
    if ids.len() > MAX_SIGNATURE_IDS {
        return Err(AppError::invalid(
            "matched_signature_ids",
            format!("at most {MAX_SIGNATURE_IDS} ids, got {}", ids.len()),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        crate::engine::check_id(id)
            .map_err(|e| AppError::invalid(format!("matched_signature_ids[{i}]"), e))?;
    }
    if packages.len() > MAX_PACKAGES {
        return Err(AppError::invalid(
            "installed_packages",
            format!("at most {MAX_PACKAGES} names, got {}", packages.len()),
        ));
    }
    for (i, p) in packages.iter().enumerate() {
        if p.is_empty() || p.len() > MAX_PACKAGE_LEN || p.chars().any(char::is_control) {
            return Err(AppError::invalid(
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

/// Validates a punch of `employee` of `org`, received at `now`.
pub fn punch(
    request: pb::SubmitPunchRequest,
    org: &OrgId,
    employee: &EmployeeId,
    now: Timestamp,
) -> Result<Punch, AppError> {
    let punch_id = PunchId::new(request.punch_id).map_err(|d| AppError::invalid("punch_id", d))?;
    let kind = match pb::PunchKind::try_from(request.kind) {
        Ok(pb::PunchKind::In) => PunchKind::In,
        Ok(pb::PunchKind::Out) => PunchKind::Out,
        Ok(pb::PunchKind::Auto) => PunchKind::Auto,
        Ok(pb::PunchKind::Unspecified) | Err(_) => {
            return Err(AppError::invalid(
                "kind",
                "required: PUNCH_KIND_IN, PUNCH_KIND_OUT or PUNCH_KIND_AUTO",
            ));
        }
    };
    let client_time = device_time("client_time", request.client_time, now)?;
    let wifi = wifi_scan(request.wifi)?;
    let beacons = beacon_sightings(request.beacons)?;
    let gps = match request.gps {
        Some(gps) => Some(gps_fix(gps, now)?),
        None if !wifi.is_empty() || !beacons.is_empty() => None,
        None => {
            return Err(AppError::invalid(
                "gps",
                "required unless a wifi scan or beacons are sent",
            ));
        }
    };
    Ok(Punch {
        org: org.clone(),
        employee: employee.clone(),
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
                crate::engine::check_id(&n).map_err(|e| AppError::invalid("nonce", e))?;
                Some(n)
            }
        },
        gps,
        wifi,
        beacons,
        device: device_facts(request.device)?,
        motion: motion_summary(request.motion)?,
        apps: app_evidence(request.matched_signature_ids, request.installed_packages)?,
        signed: None,
    })
}
