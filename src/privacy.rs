//! Personal data in the open: the data-subject export document, format
//! `punchguard.employee-export.v1` (everything punchguard holds about one
//! employee, as JSON, documented field by field in the README, "Privacy"),
//! and the pseudonyms that stand for employees in debug logs.

use std::sync::OnceLock;

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::attendance::{CalendarEntry, Schedule};
use crate::engine::{EmployeeId, OrgId};
use crate::store::{
    AuditRecord, ConsentRecord, DeviceBinding, EmployeeData, PunchRow, StoredEvidence,
};

use crate::reports::EmployeeDays;
use crate::reports::export::DailyLine;

pub const EXPORT_FORMAT: &str = "punchguard.employee-export.v1";

#[derive(Debug, Serialize)]
pub struct ExportDocument<'a> {
    pub format: &'static str,
    pub generated_at: Timestamp,
    pub org_id: &'a str,
    pub employee_id: &'a str,
    pub punches: Vec<ExportPunch<'a>>,
    pub devices: Vec<ExportDevice<'a>>,
    /// What each enrolled device's attestation proved (never an IMEI or
    /// serial: punchguard does not ask for them).
    pub attested_devices: Vec<ExportAttestedDevice<'a>>,
    pub consents: Vec<ExportConsent>,
    /// The shifts the organisation's schedule assigns the employee.
    pub shift_assignments: Vec<ExportAssignment<'a>>,
    /// Their roster days (a shift or rest on a date) and leave.
    pub calendar: Vec<ExportCalendarEntry<'a>>,
    /// HR's daily results about the employee, in the columns of
    /// `punchguard export daily`.
    pub daily_results: Vec<DailyLine<'a>>,
    pub audit: Vec<ExportAudit<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ExportCalendarEntry<'a> {
    /// `roster` or `leave`.
    pub kind: &'static str,
    /// A roster day's date.
    pub date: Option<jiff::civil::Date>,
    /// A roster day's shift; `null` for rest.
    pub shift_id: Option<&'a str>,
    pub leave_id: Option<&'a str>,
    pub leave_type: Option<&'a str>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

fn calendar_entry(entry: &CalendarEntry) -> ExportCalendarEntry<'_> {
    let mut line = ExportCalendarEntry {
        kind: entry.kind(),
        date: None,
        shift_id: None,
        leave_id: None,
        leave_type: None,
        start_time: None,
        end_time: None,
    };
    match entry {
        CalendarEntry::Holiday(h) => line.date = Some(h.date),
        CalendarEntry::Roster(r) => {
            line.date = Some(r.date);
            line.shift_id = r.shift.as_deref();
        }
        CalendarEntry::Leave(l) => {
            line.leave_id = Some(&l.id);
            line.leave_type = Some(&l.kind);
            line.start_time = Some(l.start);
            line.end_time = Some(l.end);
        }
    }
    line
}

#[derive(Debug, Serialize)]
pub struct ExportPunch<'a> {
    pub punch_id: &'a str,
    pub kind: &'static str,
    pub client_time: Timestamp,
    pub received_time: Timestamp,
    pub decision: &'static str,
    pub site_id: Option<&'a str>,
    pub method: &'static str,
    pub distance_m: Option<f64>,
    pub distance_bucket: Option<&'static str>,
    pub nearest_site_id: Option<&'a str>,
    pub findings: Vec<ExportFinding<'a>>,
    pub cheat_matches: Vec<ExportCheatMatch<'a>>,
    /// The site's access points the scan contained, while evidence is kept.
    pub wifi_bssids: Vec<String>,
    /// The raw evidence, while it is kept; `null` once coarsened.
    pub evidence: Option<ExportEvidence<'a>>,
    /// HR's decision on the punch, when it was flagged and reviewed.
    pub review: Option<ExportReview<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ExportFinding<'a> {
    pub code: &'static str,
    pub action: &'static str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ExportCheatMatch<'a> {
    pub signature_id: &'a str,
    pub category: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ExportEvidence<'a> {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub fix_time: Option<Timestamp>,
    pub mock_location: Option<bool>,
    pub speed_mps: Option<f64>,
    pub device_id: Option<&'a str>,
    pub rooted: Option<bool>,
    pub emulator: Option<bool>,
    pub integrity: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct ExportDevice<'a> {
    pub device_id: &'a str,
    pub bound_time: Timestamp,
    pub revoked_time: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
pub struct ExportAttestedDevice<'a> {
    pub device_id: &'a str,
    pub enrolled_time: Timestamp,
    /// SHA-256 of the device's public key.
    pub key_fingerprint: String,
    pub facts: &'a crate::engine::attestation::AttestedFacts,
}

#[derive(Debug, Serialize)]
pub struct ExportAssignment<'a> {
    pub shift_id: &'a str,
    /// Local start and end, HH:MM, in `time_zone`.
    pub start: String,
    pub end: String,
    pub time_zone: &'a str,
    /// The weekdays the shift starts on, Monday first.
    pub weekdays: Vec<String>,
}

/// The employee's shift assignments in `schedule`.
fn assignments<'a>(schedule: &'a Schedule, employee: &EmployeeId) -> Vec<ExportAssignment<'a>> {
    schedule
        .assignments
        .iter()
        .filter(|a| a.employee == *employee)
        .map(|a| {
            let shift = schedule.shifts.iter().find(|s| s.id == a.shift);
            let hhmm = |t: Option<jiff::civil::Time>| {
                t.map(|t| t.strftime("%H:%M").to_string())
                    .unwrap_or_default()
            };
            ExportAssignment {
                shift_id: &a.shift,
                start: hhmm(shift.map(|s| s.start)),
                end: hhmm(shift.map(|s| s.end)),
                time_zone: &schedule.time_zone,
                weekdays: a.weekdays.iter().map(|d| format!("{d:?}")).collect(),
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct ExportConsent {
    pub purpose: &'static str,
    pub granted: bool,
    pub changed_time: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct ExportAudit<'a> {
    pub time: Timestamp,
    pub actor: &'a str,
    pub role: &'static str,
    pub action: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ExportReview<'a> {
    pub approved: bool,
    pub reason: &'a str,
    /// The reviewer's token id.
    pub reviewer: &'a str,
    pub time: Timestamp,
}

fn punch<'a>(row: &'a PunchRow, evidence: Option<&'a StoredEvidence>) -> ExportPunch<'a> {
    let v = &row.verdict;
    ExportPunch {
        punch_id: row.punch_id.as_str(),
        kind: row.kind.as_str(),
        client_time: row.client_time,
        received_time: row.received_at,
        decision: v.decision.as_str(),
        site_id: v.site.as_ref().map(|s| s.as_str()),
        method: v.method.as_str(),
        distance_m: v.distance_m,
        distance_bucket: row.distance_bucket.map(|b| b.as_str()),
        nearest_site_id: v.nearest_site.as_ref().map(|s| s.as_str()),
        findings: v
            .findings
            .iter()
            .map(|f| ExportFinding {
                code: f.code.as_str(),
                action: f.action.as_str(),
                message: &f.message,
            })
            .collect(),
        cheat_matches: v
            .cheat_matches
            .iter()
            .map(|m| ExportCheatMatch {
                signature_id: &m.signature_id,
                category: m.category.as_str(),
            })
            .collect(),
        wifi_bssids: v.wifi_bssids.iter().map(ToString::to_string).collect(),
        evidence: evidence.map(|e| ExportEvidence {
            latitude: e.latitude,
            longitude: e.longitude,
            accuracy_m: e.accuracy_m,
            fix_time: e.fix_time,
            mock_location: e.mock_location,
            speed_mps: e.speed_mps,
            device_id: e.device_id.as_ref().map(|d| d.as_str()),
            rooted: e.rooted,
            emulator: e.emulator,
            integrity: e.integrity.as_deref(),
        }),
        review: row.review.as_ref().map(|r| ExportReview {
            approved: r.approved,
            reason: &r.reason,
            reviewer: &r.reviewer,
            time: r.at,
        }),
    }
}

fn device(d: &DeviceBinding) -> ExportDevice<'_> {
    ExportDevice {
        device_id: d.device.as_str(),
        bound_time: d.bound_at,
        revoked_time: d.revoked_at,
    }
}

fn consent(c: &ConsentRecord) -> ExportConsent {
    ExportConsent {
        purpose: c.purpose.as_str(),
        granted: c.granted,
        changed_time: c.changed_at,
    }
}

fn audit(a: &AuditRecord) -> ExportAudit<'_> {
    ExportAudit {
        time: a.entry.at,
        actor: &a.entry.actor,
        role: a.entry.role.as_str(),
        action: &a.entry.action,
        detail: &a.entry.detail,
    }
}

/// The export of `data`, of the employee's place in `schedule` and of
/// their daily results, pretty-printed JSON.
pub fn export_json(
    org: &OrgId,
    employee: &EmployeeId,
    data: &EmployeeData,
    enrolled: &[crate::store::Enrolment],
    schedule: Option<&Schedule>,
    daily: Option<(&EmployeeDays, &jiff::tz::TimeZone)>,
    generated_at: Timestamp,
) -> String {
    let document = ExportDocument {
        format: EXPORT_FORMAT,
        generated_at,
        org_id: org.as_str(),
        employee_id: employee.as_str(),
        punches: data
            .punches
            .iter()
            .map(|(row, evidence)| punch(row, evidence.as_ref()))
            .collect(),
        devices: data.devices.iter().map(device).collect(),
        attested_devices: enrolled
            .iter()
            .map(|e| ExportAttestedDevice {
                device_id: e.device.as_str(),
                enrolled_time: e.enrolled_at,
                key_fingerprint: e.key.fingerprint(),
                facts: &e.facts,
            })
            .collect(),
        consents: data.consents.iter().map(consent).collect(),
        shift_assignments: schedule.map_or_else(Vec::new, |s| assignments(s, employee)),
        calendar: data.calendar.iter().map(calendar_entry).collect(),
        daily_results: daily.map_or_else(Vec::new, |(days, tz)| {
            days.results
                .iter()
                .map(|r| DailyLine::new(r, days, tz))
                .collect()
        }),
        audit: data.audit.iter().map(audit).collect(),
    };
    serde_json::to_string_pretty(&document).expect("the export document always serialises")
}

/// A stand-in for an employee id in debug logs and in the audit entry of a
/// question about a person (who may have been erased): the same within one
/// run of the process (so a log can be followed), unlinkable to the id
/// without the process's random key, which is never written anywhere.
pub fn pseudonym(org: &OrgId, employee: &EmployeeId) -> String {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source works");
        key
    });
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update(org.as_str())
        .chain_update([0])
        .chain_update(employee.as_str())
        .finalize();
    format!("emp~{}", hex::encode(&digest[..6]))
}
