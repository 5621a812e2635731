//! Backend-neutral encodings: how domain values are written into columns
//! (JSON texts, microsecond times) and read back, shared by every store so
//! that the SQLite file and the PostgreSQL tables hold the same formats.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::attendance::{Assignment, CalendarEntry, Holiday, Leave, RosterDay, Schedule, Shift};
use crate::engine::Assurance;
use crate::engine::attestation::{AppIdentity, AttestedDevice, AttestedFacts, DeviceKey};
use crate::engine::beacons::{IBeaconId, SiteBeacon};
use crate::engine::signatures::CheatCategory;
use crate::engine::sites::Requirement;
use crate::engine::wifi::Bssid;
use crate::engine::{
    Action, CheatMatch, Decision, DistanceBucket, EmployeeId, Finding, FindingCode, LocationMethod,
    OrgId, PunchId, PunchKind, SiteId, Verdict,
};
use crate::retention::RetentionPolicy;
use crate::store::{PunchRow, Result, Review, StoreError};
use crate::webhooks::EventKind;
use jiff::civil::{Date, Time, Weekday};

pub fn to_us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_us(us: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A finding as stored in the `findings` JSON column.
#[derive(Serialize, Deserialize)]
struct StoredFinding {
    code: String,
    action: String,
    message: String,
}

pub fn findings_to_json(findings: &[Finding]) -> String {
    let stored: Vec<StoredFinding> = findings
        .iter()
        .map(|f| StoredFinding {
            code: f.code.as_str().to_owned(),
            action: f.action.as_str().to_owned(),
            message: f.message.clone(),
        })
        .collect();
    serde_json::to_string(&stored).expect("findings always serialise")
}

fn findings_from_json(text: &str) -> Result<Vec<Finding>> {
    let stored: Vec<StoredFinding> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    stored
        .into_iter()
        .map(|f| {
            Ok(Finding {
                code: FindingCode::parse(&f.code)
                    .ok_or_else(|| corrupt("finding code", &f.code))?,
                action: Action::parse(&f.action).ok_or_else(|| corrupt("action", &f.action))?,
                message: f.message,
            })
        })
        .collect()
}

/// A cheat match as `PUNCH_COLUMNS` aggregates it from `punch_cheat_matches`.
#[derive(Deserialize)]
struct StoredMatch {
    id: String,
    category: String,
}

fn matches_from_json(text: &str) -> Result<Vec<CheatMatch>> {
    let stored: Vec<StoredMatch> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    stored
        .into_iter()
        .map(|m| {
            Ok(CheatMatch {
                category: CheatCategory::parse(&m.category)
                    .ok_or_else(|| corrupt("cheat category", &m.category))?,
                signature_id: m.id,
            })
        })
        .collect()
}

fn bssids_from_json(text: &str) -> Result<Vec<Bssid>> {
    let stored: Vec<String> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    stored
        .iter()
        .map(|b| Bssid::parse(b).map_err(StoreError::Corrupt))
        .collect()
}

/// A device's enrolled key as stored: its key and facts as JSON.
pub fn attested_device(key: &str, facts: &str, counter: i64) -> Result<AttestedDevice> {
    Ok(AttestedDevice {
        key: serde_json::from_str(key).map_err(|e| corrupt("device key", &e.to_string()))?,
        facts: serde_json::from_str(facts)
            .map_err(|e| corrupt("attested facts", &e.to_string()))?,
        counter: u32::try_from(counter)
            .map_err(|_| corrupt("assertion counter", &counter.to_string()))?,
    })
}

pub fn key_to_json(key: &DeviceKey) -> String {
    serde_json::to_string(key).expect("a key always serialises")
}

pub fn facts_to_json(facts: &AttestedFacts) -> String {
    serde_json::to_string(facts).expect("facts always serialise")
}

pub fn app_identity_to_json(app: &AppIdentity) -> String {
    serde_json::to_string(app).expect("an app identity always serialises")
}

pub fn app_identity_from_json(text: &str) -> Result<AppIdentity> {
    serde_json::from_str(text).map_err(|e| corrupt("app identity", &e.to_string()))
}

pub fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

#[derive(Deserialize)]
struct StoredReview {
    approved: bool,
    reason: String,
    reviewer: String,
    at: i64,
}

fn review_from_json(text: &str) -> Result<Review> {
    let r: StoredReview =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Review {
        approved: r.approved,
        reason: r.reason,
        reviewer: r.reviewer,
        at: from_us(r.at)?,
    })
}

/// A site beacon as stored in `site_beacons.beacon`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredBeacon {
    Ibeacon {
        uuid: uuid::Uuid,
        major: u16,
        minor: u16,
        min_rssi_dbm: i32,
    },
    Eid {
        identity_key: String,
        rotation_exponent: u8,
        clock_offset_s: i64,
        min_rssi_dbm: i32,
    },
}

pub fn beacon_to_json(beacon: &SiteBeacon) -> String {
    let stored = match *beacon {
        SiteBeacon::IBeacon { id, min_rssi_dbm } => StoredBeacon::Ibeacon {
            uuid: id.uuid,
            major: id.major,
            minor: id.minor,
            min_rssi_dbm,
        },
        SiteBeacon::Eid {
            identity_key,
            rotation_exponent,
            clock_offset_s,
            min_rssi_dbm,
        } => StoredBeacon::Eid {
            identity_key: hex::encode(identity_key),
            rotation_exponent,
            clock_offset_s,
            min_rssi_dbm,
        },
    };
    serde_json::to_string(&stored).expect("a beacon always serialises")
}

pub fn beacon_from_json(text: &str) -> Result<SiteBeacon> {
    let stored: StoredBeacon =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(match stored {
        StoredBeacon::Ibeacon {
            uuid,
            major,
            minor,
            min_rssi_dbm,
        } => SiteBeacon::IBeacon {
            id: IBeaconId { uuid, major, minor },
            min_rssi_dbm,
        },
        StoredBeacon::Eid {
            identity_key,
            rotation_exponent,
            clock_offset_s,
            min_rssi_dbm,
        } => SiteBeacon::Eid {
            identity_key: hex::decode(&identity_key)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| corrupt("beacon identity key", &identity_key))?,
            rotation_exponent,
            clock_offset_s,
            min_rssi_dbm,
        },
    })
}

pub fn requirement_from_text(text: &str) -> Result<Requirement> {
    Requirement::parse(text).ok_or_else(|| corrupt("site requirement", text))
}

/// A punch row's columns as read, before their values are checked: every
/// backend selects these (see each backend's `PUNCH_COLUMNS`).
pub struct RawPunchRow {
    pub seq: i64,
    pub org: String,
    pub employee: String,
    pub punch_id: String,
    pub kind: String,
    pub client_us: i64,
    pub received_us: i64,
    pub decision: String,
    pub site: Option<String>,
    pub method: String,
    pub distance_m: Option<f64>,
    pub nearest_site: Option<String>,
    /// JSON array of findings.
    pub findings: String,
    /// JSON array of `{"id", "category"}`, by signature id.
    pub cheat_matches: String,
    /// JSON array of BSSIDs, in the order recorded.
    pub wifi_bssids: String,
    pub distance_bucket: Option<String>,
    pub evidence_kept: bool,
    /// JSON object `{"approved", "reason", "reviewer", "at"}`.
    pub review: Option<String>,
    /// Signed by the device's attested key.
    pub attested: bool,
}

impl RawPunchRow {
    /// Checks the stored values and builds the domain row.
    pub fn decode(self) -> Result<PunchRow> {
        let RawPunchRow {
            seq,
            org,
            employee,
            punch_id,
            kind,
            client_us,
            received_us,
            decision,
            site,
            method,
            distance_m,
            nearest_site,
            findings,
            cheat_matches,
            wifi_bssids,
            distance_bucket,
            evidence_kept,
            review,
            attested,
        } = self;
        let site_id =
            |s: Option<String>| s.map(SiteId::new).transpose().map_err(StoreError::Corrupt);
        Ok(PunchRow {
            seq,
            org: OrgId::new(org).map_err(StoreError::Corrupt)?,
            employee: EmployeeId::new(employee).map_err(StoreError::Corrupt)?,
            punch_id: PunchId::new(punch_id).map_err(StoreError::Corrupt)?,
            kind: PunchKind::parse(&kind).ok_or_else(|| corrupt("punch kind", &kind))?,
            client_time: from_us(client_us)?,
            received_at: from_us(received_us)?,
            verdict: Verdict {
                decision: Decision::parse(&decision)
                    .ok_or_else(|| corrupt("decision", &decision))?,
                findings: findings_from_json(&findings)?,
                site: site_id(site)?,
                method: LocationMethod::parse(&method).ok_or_else(|| corrupt("method", &method))?,
                distance_m,
                nearest_site: site_id(nearest_site)?,
                cheat_matches: matches_from_json(&cheat_matches)?,
                wifi_bssids: bssids_from_json(&wifi_bssids)?,
                assurance: if attested {
                    Assurance::Attested { counter: None }
                } else {
                    Assurance::Reported
                },
            },
            distance_bucket: distance_bucket
                .map(|b| DistanceBucket::parse(&b).ok_or_else(|| corrupt("distance bucket", &b)))
                .transpose()?,
            evidence_kept,
            review: review.as_deref().map(review_from_json).transpose()?,
        })
    }
}

/// The schedule as stored: JSON with plain strings, so that the format is
/// this file's and not a library's.
#[derive(Serialize, Deserialize)]
struct StoredSchedule {
    time_zone: String,
    shifts: Vec<StoredShift>,
    assignments: Vec<StoredAssignment>,
}

#[derive(Serialize, Deserialize)]
struct StoredShift {
    id: String,
    start: String,
    end: String,
    late_grace_min: u32,
    early_grace_min: u32,
    serious_late_min: u32,
    flexible_start_min: u32,
}

#[derive(Serialize, Deserialize)]
struct StoredAssignment {
    employee: String,
    /// ISO weekday numbers, Monday = 1.
    weekdays: Vec<i8>,
    shift: String,
}

pub fn schedule_to_json(s: &Schedule) -> String {
    let stored = StoredSchedule {
        time_zone: s.time_zone.clone(),
        shifts: s
            .shifts
            .iter()
            .map(|d| StoredShift {
                id: d.id.clone(),
                start: d.start.to_string(),
                end: d.end.to_string(),
                late_grace_min: d.late_grace_min,
                early_grace_min: d.early_grace_min,
                serious_late_min: d.serious_late_min,
                flexible_start_min: d.flexible_start_min,
            })
            .collect(),
        assignments: s
            .assignments
            .iter()
            .map(|a| StoredAssignment {
                employee: a.employee.as_str().to_owned(),
                weekdays: a
                    .weekdays
                    .iter()
                    .map(|d| d.to_monday_one_offset())
                    .collect(),
                shift: a.shift.clone(),
            })
            .collect(),
    };
    serde_json::to_string(&stored).expect("a schedule always serialises")
}

pub fn schedule_from_json(text: &str) -> Result<Schedule> {
    let corrupt = |e: String| StoreError::Corrupt(format!("stored schedule: {e}"));
    let s: StoredSchedule = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let time = |t: &str| t.parse::<Time>().map_err(|e| corrupt(e.to_string()));
    Ok(Schedule {
        time_zone: s.time_zone,
        shifts: s
            .shifts
            .into_iter()
            .map(|d| {
                Ok(Shift {
                    start: time(&d.start)?,
                    end: time(&d.end)?,
                    id: d.id,
                    late_grace_min: d.late_grace_min,
                    early_grace_min: d.early_grace_min,
                    serious_late_min: d.serious_late_min,
                    flexible_start_min: d.flexible_start_min,
                })
            })
            .collect::<Result<_>>()?,
        assignments: s
            .assignments
            .into_iter()
            .map(|a| {
                Ok(Assignment {
                    employee: EmployeeId::new(a.employee).map_err(corrupt)?,
                    weekdays: a
                        .weekdays
                        .into_iter()
                        .map(|d| {
                            Weekday::from_monday_one_offset(d).map_err(|e| corrupt(e.to_string()))
                        })
                        .collect::<Result<_>>()?,
                    shift: a.shift,
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// The schedule (as stored) without `employee`'s shift assignments; `None`
/// when it had none. Part of an erasure: every backend rewrites the stored
/// schedule with this.
pub fn schedule_without(text: &str, employee: &EmployeeId) -> Result<Option<String>> {
    let mut schedule = schedule_from_json(text)?;
    let before = schedule.assignments.len();
    schedule.assignments.retain(|a| a.employee != *employee);
    Ok((schedule.assignments.len() < before).then(|| schedule_to_json(&schedule)))
}

/// The policy (as stored) without `employee` among its field staff; `None`
/// when it did not name them. Part of an erasure, as [`schedule_without`].
pub fn policy_without(text: &str, employee: &EmployeeId) -> Result<Option<String>> {
    let mut policy = super::policy_json::from_json(text)?;
    Ok(policy
        .field_staff
        .remove(employee)
        .then(|| super::policy_json::to_json(&policy)))
}

pub fn retention_to_json(retention: &RetentionPolicy) -> String {
    serde_json::to_string(retention).expect("retention periods always serialise")
}

pub fn retention_from_json(text: &str) -> Result<RetentionPolicy> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A calendar entry as stored: its kind beside it, its fields as JSON.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredCalendarEntry {
    Holiday {
        date: Date,
        name: String,
    },
    Roster {
        employee: String,
        date: Date,
        shift: Option<String>,
    },
    Leave {
        id: String,
        employee: String,
        kind: String,
        start: Timestamp,
        end: Timestamp,
    },
}

pub fn calendar_entry_to_json(entry: &CalendarEntry) -> String {
    let stored = match entry.clone() {
        CalendarEntry::Holiday(h) => StoredCalendarEntry::Holiday {
            date: h.date,
            name: h.name,
        },
        CalendarEntry::Roster(r) => StoredCalendarEntry::Roster {
            employee: r.employee.as_str().to_owned(),
            date: r.date,
            shift: r.shift,
        },
        CalendarEntry::Leave(l) => StoredCalendarEntry::Leave {
            id: l.id,
            employee: l.employee.as_str().to_owned(),
            kind: l.kind,
            start: l.start,
            end: l.end,
        },
    };
    serde_json::to_string(&stored).expect("a calendar entry always serialises")
}

/// The entry stored as `kind` (see [`CalendarEntry::kind`]) with `text`.
pub fn calendar_entry_from_json(kind: &str, text: &str) -> Result<CalendarEntry> {
    let corrupt = |e: String| StoreError::Corrupt(format!("stored calendar entry: {e}"));
    let stored: StoredCalendarEntry =
        serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let entry = match stored {
        StoredCalendarEntry::Holiday { date, name } => {
            CalendarEntry::Holiday(Holiday { date, name })
        }
        StoredCalendarEntry::Roster {
            employee,
            date,
            shift,
        } => CalendarEntry::Roster(RosterDay {
            employee: EmployeeId::new(employee).map_err(corrupt)?,
            date,
            shift,
        }),
        StoredCalendarEntry::Leave {
            id,
            employee,
            kind,
            start,
            end,
        } => CalendarEntry::Leave(Leave {
            id,
            employee: EmployeeId::new(employee).map_err(corrupt)?,
            kind,
            start,
            end,
        }),
    };
    if entry.kind() != kind {
        return Err(corrupt(format!("a {} stored as a {kind}", entry.kind())));
    }
    Ok(entry)
}

/// A webhook's event kinds as stored: comma-separated.
pub fn events_to_text(events: &[EventKind]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn events_from_text(text: &str) -> Result<Vec<EventKind>> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            EventKind::parse(t)
                .ok_or_else(|| StoreError::Corrupt(format!("stored webhook: event kind {t}")))
        })
        .collect()
}
