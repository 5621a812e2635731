//! `punchguard verify`: re-evaluates punches from a JSON-lines file against
//! an organisation's current fences and policy without recording anything.
//! For disputes ("would this punch pass now?") and to see what a policy or
//! fence change would do before making it.
//!
//! Input, one punch per line (times RFC 3339; every evidence part optional
//! as in `SubmitPunchRequest`, whose rules and bounds apply):
//!
//! ```json
//! {"employee_id": "emp-1", "punch_id": "p-1", "kind": "in",
//!  "client_time": "2026-11-30T08:58:12Z", "received_time": "2026-11-30T08:58:13Z",
//!  "gps": {"latitude": 60.5209, "longitude": 26.954, "accuracy_m": 8,
//!          "fix_time": "2026-11-30T08:58:09Z", "mock_location": false,
//!          "coordinate_system": "wgs84", "speed_mps": 0.3},
//!  "wifi": [{"bssid": "f0:9f:c2:10:00:01", "ssid": "Office", "rssi_dbm": -60}],
//!  "device": {"device_id": "phone-1", "rooted": false, "emulator": false},
//!  "nonce": "n-1", "matched_signature_ids": [], "installed_packages": []}
//! ```
//!
//! Output, one line per input line: the verdict, or the error that the
//! server would have answered. History rules see the file itself: each
//! line is judged after the lines before it, as if they had been recorded.
//! Consent is not judged (automatic punches are taken as consented).

use std::io::{BufRead, Write};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::engine::history::{History, HistoryDelta, LastFix, nonce_scope};
use crate::engine::{self, DeviceId, EmployeeId, OrgSnapshot, Punch};
use crate::proto::v1 as pb;
use crate::service::convert;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputPunch {
    employee_id: String,
    punch_id: String,
    kind: String,
    client_time: Timestamp,
    /// When the server received it; the client time when absent.
    received_time: Option<Timestamp>,
    sent_time: Option<Timestamp>,
    #[serde(default)]
    queued_offline: bool,
    gps: Option<InputGps>,
    #[serde(default)]
    wifi: Vec<InputWifi>,
    device: Option<InputDevice>,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    matched_signature_ids: Vec<String>,
    #[serde(default)]
    installed_packages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputGps {
    latitude: f64,
    longitude: f64,
    accuracy_m: f64,
    fix_time: Timestamp,
    #[serde(default)]
    mock_location: bool,
    #[serde(default)]
    coordinate_system: Option<String>,
    speed_mps: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputWifi {
    bssid: String,
    #[serde(default)]
    ssid: String,
    rssi_dbm: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDevice {
    device_id: String,
    #[serde(default)]
    rooted: bool,
    #[serde(default)]
    emulator: bool,
    #[serde(default)]
    integrity_failed: bool,
}

#[derive(Serialize)]
struct OutputLine {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    punch_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<OutputFinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct OutputFinding {
    code: &'static str,
    action: &'static str,
    message: String,
}

fn ts(t: Timestamp) -> Option<prost_types::Timestamp> {
    Some(convert::timestamp_to_pb(t))
}

/// The request the phone would have sent, so that the server's own
/// validation applies unchanged.
fn to_request(p: InputPunch) -> Result<(String, pb::SubmitPunchRequest, Timestamp), String> {
    let kind = match p.kind.as_str() {
        "in" => pb::PunchKind::In,
        "out" => pb::PunchKind::Out,
        "auto" => pb::PunchKind::Auto,
        other => return Err(format!("kind: must be in, out or auto, got {other:?}")),
    };
    let gps = p
        .gps
        .map(|g| {
            let system = match g
                .coordinate_system
                .as_deref()
                .map(engine::coords::CoordinateSystem::parse)
            {
                None | Some(Some(engine::coords::CoordinateSystem::Wgs84)) => {
                    pb::CoordinateSystem::Wgs84
                }
                Some(Some(engine::coords::CoordinateSystem::Gcj02)) => pb::CoordinateSystem::Gcj02,
                Some(Some(engine::coords::CoordinateSystem::Bd09)) => pb::CoordinateSystem::Bd09,
                Some(None) => {
                    return Err("gps.coordinate_system: must be wgs84, gcj02 or bd09".to_string());
                }
            };
            Ok(pb::GpsFix {
                latitude: Some(g.latitude),
                longitude: Some(g.longitude),
                accuracy_m: Some(g.accuracy_m),
                fix_time: ts(g.fix_time),
                mock_location: g.mock_location,
                coordinate_system: system.into(),
                speed_mps: g.speed_mps,
            })
        })
        .transpose()?;
    let request = pb::SubmitPunchRequest {
        punch_id: p.punch_id,
        kind: kind.into(),
        client_time: ts(p.client_time),
        gps,
        device: p.device.map(|d| pb::DeviceFacts {
            device_id: d.device_id,
            rooted: d.rooted,
            emulator: d.emulator,
            integrity: if d.integrity_failed {
                pb::IntegrityVerdict::Failed.into()
            } else {
                pb::IntegrityVerdict::Unspecified.into()
            },
            ..Default::default()
        }),
        matched_signature_ids: p.matched_signature_ids,
        installed_packages: p.installed_packages,
        sent_time: p.sent_time.and_then(ts),
        queued_offline: p.queued_offline,
        wifi: p
            .wifi
            .into_iter()
            .map(|w| pb::WifiAccessPoint {
                bssid: w.bssid,
                ssid: w.ssid,
                rssi_dbm: w.rssi_dbm,
            })
            .collect(),
        nonce: p.nonce,
        ..Default::default()
    };
    Ok((
        p.employee_id,
        request,
        p.received_time.unwrap_or(p.client_time),
    ))
}

/// What the lines judged so far have left behind, as the store would have.
#[derive(Default)]
struct RollingHistory {
    last_accepted: std::collections::HashMap<EmployeeId, LastFix>,
    devices: std::collections::HashMap<EmployeeId, Vec<DeviceId>>,
    /// Device → (employee, when) of its punches.
    device_use: std::collections::HashMap<DeviceId, Vec<(EmployeeId, Timestamp)>>,
    nonces: std::collections::HashSet<(String, String)>,
}

impl RollingHistory {
    fn for_punch(&self, punch: &Punch, snapshot: &OrgSnapshot) -> History {
        let device = punch.device.as_ref().map(|d| &d.device_id);
        let since = punch.received_at - snapshot.policy.device_share_window;
        let mut others: Vec<EmployeeId> = device
            .and_then(|d| self.device_use.get(d))
            .into_iter()
            .flatten()
            .filter(|(e, at)| *e != punch.employee && *at >= since)
            .map(|(e, _)| e.clone())
            .collect();
        others.sort();
        others.dedup();
        let nonce = punch
            .nonce
            .clone()
            .map(|n| (nonce_scope(&punch.employee, device), n));
        History {
            last_accepted: self.last_accepted.get(&punch.employee).copied(),
            bound_devices: self
                .devices
                .get(&punch.employee)
                .cloned()
                .unwrap_or_default(),
            device_other_employees: others,
            nonce_seen: nonce.is_some_and(|k| self.nonces.contains(&k)),
            // `verify` judges recorded evidence, not the device's signature.
            attested: None,
            // Consent is a person's record, not configuration: verify judges
            // automatic punches as if consent were on record.
            auto_punch_consent: true,
        }
    }

    /// What the store would add to the history on recording the punch.
    fn record(&mut self, punch: &Punch, verdict: &engine::Verdict) {
        let delta = HistoryDelta::of(punch, verdict);
        if let Some(fix) = delta.last_accepted {
            self.last_accepted.insert(punch.employee.clone(), fix);
        }
        if let Some(device) = delta.binds {
            let bound = self.devices.entry(punch.employee.clone()).or_default();
            if !bound.contains(device) {
                bound.push(device.clone());
            }
        }
        if let Some(device) = delta.device_used {
            self.device_use
                .entry(device.clone())
                .or_default()
                .push((punch.employee.clone(), punch.received_at));
        }
        if let Some((scope, nonce)) = delta.nonce {
            self.nonces.insert((scope, nonce.to_owned()));
        }
    }
}

/// Judges every line of `input` against `snapshot` and writes one JSON line
/// per input line to `output`. Returns (lines, errors).
pub fn run(
    snapshot: &OrgSnapshot,
    input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<(usize, usize)> {
    let mut history = RollingHistory::default();
    let (mut lines, mut errors) = (0, 0);
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let mut out = OutputLine {
            line: i + 1,
            punch_id: None,
            decision: None,
            findings: Vec::new(),
            site_id: None,
            method: None,
            distance_m: None,
            error: None,
        };
        let judged = serde_json::from_str::<InputPunch>(&line)
            .map_err(|e| format!("not a punch: {e}"))
            .and_then(to_request)
            .and_then(|(employee, request, received)| {
                out.punch_id = Some(request.punch_id.clone());
                let employee =
                    EmployeeId::new(employee).map_err(|e| format!("employee_id: {e}"))?;
                convert::punch(request, &snapshot.org, &employee, received)
                    .map_err(|e| e.to_string())
            });
        match judged {
            Ok(punch) => {
                let verdict =
                    engine::evaluate(snapshot, &punch, &history.for_punch(&punch, snapshot));
                history.record(&punch, &verdict);
                out.decision = Some(verdict.decision.as_str());
                out.findings = verdict
                    .findings
                    .iter()
                    .map(|f| OutputFinding {
                        code: f.code.as_str(),
                        action: f.action.as_str(),
                        message: f.message.clone(),
                    })
                    .collect();
                out.site_id = verdict.site.map(|s| s.as_str().to_owned());
                out.method = Some(verdict.method.as_str());
                out.distance_m = verdict.distance_m;
            }
            Err(e) => {
                errors += 1;
                out.error = Some(e);
            }
        }
        serde_json::to_writer(&mut output, &out)?;
        output.write_all(b"\n")?;
    }
    Ok((lines, errors))
}
