//! Data-subject rights over gRPC: export, erasure, the audit log, retention
//! settings, and the refusals around them.

mod common;

use tonic::Code;

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::privacy_service_client::PrivacyServiceClient;

/// A depot with a 150 m circle fence and one access point.
const DEPOT: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
    "properties":{"site":"depot","radius_m":150,
                  "wifi":[{"bssid":"02:5e:11:aa:00:07","ssid":"Depot"}]},
    "geometry":{"type":"Point","coordinates":[26.9412345,60.4712345]}}]}"#;

/// Coordinates no one else uses, so that a search of the files for them is
/// meaningful.
const LAT: f64 = 60.471_298_7;
const LON: f64 = 26.941_276_3;

/// A schedule with one all-day shift every day for `employees`.
fn schedule_for(employees: &[&str]) -> pb::Schedule {
    use pb::Weekday::*;
    let days = [
        Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
    ];
    pb::Schedule {
        time_zone: "Europe/Helsinki".into(),
        shifts: vec![pb::ShiftDefinition {
            shift_id: "day".into(),
            start: "08:00".into(),
            end: "16:00".into(),
            late_grace_min: 5,
            early_grace_min: 5,
            serious_late_min: 30,
            flexible_start_min: 0,
        }],
        assignments: employees
            .iter()
            .map(|e| pb::ShiftAssignment {
                employee_id: (*e).into(),
                weekdays: days.map(Into::into).to_vec(),
                shift_id: "day".into(),
            })
            .collect(),
    }
}

fn punch(id: &str, device: &str) -> pb::SubmitPunchRequest {
    let mut request = punch_at(id, geo::Point::new(LON, LAT), 9.5);
    request.wifi = vec![pb::WifiAccessPoint {
        bssid: "02:5E:11:AA:00:07".into(),
        ssid: "Depot".into(),
        rssi_dbm: -58,
    }];
    request.device = Some(pb::DeviceFacts {
        device_id: device.into(),
        platform: pb::Platform::Android.into(),
        ..Default::default()
    });
    request.nonce = format!("nonce-{id}");
    request
}

struct Org {
    server: TestServer,
    admin: String,
    hr: String,
    privacy: String,
}

async fn org_with_punches(employee: &str, device: &str) -> Org {
    let server = TestServer::start().await;
    let admin = server.token("depot-co", Role::Admin, None).await;
    server.import(&admin, DEPOT).await;
    let hr = server.token("depot-co", Role::Hr, None).await;
    let privacy = server.token("depot-co", Role::Privacy, None).await;
    let token = server.token("depot-co", Role::Device, Some(employee)).await;
    let mut client = server.punch_client().await;
    for i in 0..3 {
        let verdict = client
            .submit_punch(authed(punch(&format!("{employee}-p{i}"), device), &token))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap();
        assert_eq!(verdict.decision(), pb::Decision::Accepted);
    }
    Org {
        server,
        admin,
        hr,
        privacy,
    }
}

async fn privacy_client(server: &TestServer) -> PrivacyServiceClient<tonic::transport::Channel> {
    PrivacyServiceClient::new(server.channel().await)
}

fn employee(org_id: &str, employee_id: &str) -> pb::EmployeeRequest {
    pb::EmployeeRequest {
        org_id: org_id.into(),
        employee_id: employee_id.into(),
    }
}

#[tokio::test]
async fn an_export_holds_what_was_submitted_and_who_read_it() {
    let org = org_with_punches("aino-3f9", "phone-aino").await;
    let server = &org.server;
    let mut admin = server.admin_client().await;
    admin
        .list_devices(authed(
            pb::ListDevicesRequest {
                org_id: String::new(),
                employee_id: "aino-3f9".into(),
            },
            &org.admin,
        ))
        .await
        .unwrap();
    admin
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: String::new(),
                schedule: Some(schedule_for(&["aino-3f9", "someone-else"])),
            },
            &org.admin,
        ))
        .await
        .unwrap();
    let mut privacy = privacy_client(server).await;
    privacy
        .set_consent(authed(
            pb::SetConsentRequest {
                org_id: String::new(),
                employee_id: "aino-3f9".into(),
                purpose: pb::ConsentPurpose::AutoPunch.into(),
                granted: true,
            },
            &org.privacy,
        ))
        .await
        .unwrap();

    let json = privacy
        .export_employee(authed(employee("", "aino-3f9"), &org.privacy))
        .await
        .unwrap()
        .into_inner()
        .json;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["format"], "punchguard.employee-export.v1");
    assert_eq!(doc["employee_id"], "aino-3f9");
    let punches = doc["punches"].as_array().unwrap();
    assert_eq!(punches.len(), 3);
    for (i, p) in punches.iter().enumerate() {
        assert_eq!(p["punch_id"], format!("aino-3f9-p{i}"));
        assert_eq!(p["decision"], "accepted");
        assert_eq!(p["site_id"], "depot");
        assert_eq!(p["evidence"]["latitude"], LAT);
        assert_eq!(p["evidence"]["longitude"], LON);
        assert_eq!(p["evidence"]["accuracy_m"], 9.5);
        assert_eq!(p["evidence"]["device_id"], "phone-aino");
        assert_eq!(p["wifi_bssids"][0], "02:5e:11:aa:00:07");
    }
    assert_eq!(doc["devices"][0]["device_id"], "phone-aino");
    assert_eq!(doc["consents"][0]["purpose"], "auto_punch");
    assert_eq!(doc["consents"][0]["granted"], true);
    // Her place in the schedule, and only hers.
    let shifts = doc["shift_assignments"].as_array().unwrap();
    assert_eq!(shifts.len(), 1, "{shifts:?}");
    assert_eq!(shifts[0]["shift_id"], "day");
    assert_eq!(
        (&shifts[0]["start"], &shifts[0]["end"]),
        (&"08:00".into(), &"16:00".into())
    );
    assert_eq!(shifts[0]["weekdays"].as_array().unwrap().len(), 7);
    // HR's results about her: from the day of her first punch to today.
    let daily = doc["daily_results"].as_array().unwrap();
    let today = jiff::tz::TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_datetime(jiff::Timestamp::now())
        .date()
        .to_string();
    let last = daily.last().expect("today's result at least");
    assert_eq!(last["date"], today, "{daily:?}");
    for day in daily {
        assert_eq!(day["employee_id"], "aino-3f9");
        assert_eq!(day["shift_id"], "day");
    }
    let actions: Vec<&str> = doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    // The device token was issued the way `punchguard token create` does,
    // which is audited like CreateToken over gRPC.
    assert_eq!(
        actions,
        ["CreateToken", "ListDevices", "SetConsent", "ExportEmployee"]
    );
    assert_eq!(doc["audit"][0]["actor"], "cli");
    assert_eq!(doc["audit"][1]["role"], "admin");
    assert_eq!(doc["audit"][3]["role"], "privacy");

    // The privacy role reads the whole log, HR's reads included.
    let mut attendance = server.attendance_client().await;
    attendance
        .list_punches(authed(
            pb::ListPunchesRequest {
                from: Some(ts(
                    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)
                )),
                to: Some(ts(
                    jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)
                )),
                ..Default::default()
            },
            &org.hr,
        ))
        .await
        .unwrap();
    let log = privacy
        .list_audit_entries(authed(pb::ListAuditEntriesRequest::default(), &org.privacy))
        .await
        .unwrap()
        .into_inner();
    let hr_read = log
        .entries
        .iter()
        .find(|e| e.action == "ListPunches")
        .unwrap();
    assert_eq!((hr_read.role.as_str(), hr_read.actor.len()), ("hr", 12));
    assert!(log.entries.iter().any(|e| e.action == "ImportSites"));
    org.server.stop().await;
}

#[tokio::test]
async fn erasure_leaves_nothing_that_links_to_the_employee() {
    let org = org_with_punches("onni-7c2e51", "phone-onni-88d1").await;
    let server = &org.server;
    // A colleague whose data must survive.
    let colleague = server.token("depot-co", Role::Device, Some("kerttu")).await;
    let mut punches = server.punch_client().await;
    let mut p = punch("kerttu-p0", "phone-kerttu");
    let fix = p.gps.as_mut().unwrap();
    (fix.latitude, fix.longitude) = (Some(60.4713), Some(26.9413));
    punches.submit_punch(authed(p, &colleague)).await.unwrap();
    // Both are in the schedule and among the policy's field staff.
    let mut admin = server.admin_client().await;
    admin
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: String::new(),
                schedule: Some(schedule_for(&["onni-7c2e51", "kerttu"])),
            },
            &org.admin,
        ))
        .await
        .unwrap();
    let mut policy = admin
        .get_policy(authed(pb::GetPolicyRequest::default(), &org.admin))
        .await
        .unwrap()
        .into_inner();
    policy.field_staff = vec!["onni-7c2e51".into(), "kerttu".into()];
    admin
        .put_policy(authed(
            pb::PutPolicyRequest {
                org_id: String::new(),
                policy: Some(policy),
            },
            &org.admin,
        ))
        .await
        .unwrap();
    // HR's calendar names them: a roster day and a leave period.
    let hr = server.token("depot-co", Role::Hr, None).await;
    let mut attendance = server.attendance_client().await;
    attendance
        .put_roster_days(authed(
            pb::PutRosterDaysRequest {
                org_id: String::new(),
                days: vec![pb::RosterDay {
                    employee_id: "onni-7c2e51".into(),
                    date: "2026-12-24".into(),
                    plan: pb::RosterPlan::Rest.into(),
                    shift_id: String::new(),
                }],
            },
            &hr,
        ))
        .await
        .unwrap();
    attendance
        .put_leave(authed(
            pb::PutLeaveRequest {
                org_id: String::new(),
                leave: vec![pb::LeavePeriod {
                    leave_id: "leave-onni-0042".into(),
                    employee_id: "onni-7c2e51".into(),
                    leave_type: "parental".into(),
                    start_time: Some(ts("2026-12-01T00:00:00Z".parse().unwrap())),
                    end_time: Some(ts("2026-12-05T00:00:00Z".parse().unwrap())),
                }],
            },
            &hr,
        ))
        .await
        .unwrap();
    let mut privacy = privacy_client(server).await;
    privacy
        .set_consent(authed(
            pb::SetConsentRequest {
                org_id: String::new(),
                employee_id: "onni-7c2e51".into(),
                purpose: pb::ConsentPurpose::AutoPunch.into(),
                granted: true,
            },
            &org.privacy,
        ))
        .await
        .unwrap();
    // Their export holds the calendar entries.
    let export = privacy
        .export_employee(authed(employee("", "onni-7c2e51"), &org.privacy))
        .await
        .unwrap()
        .into_inner()
        .json;
    assert!(export.contains("leave-onni-0042") && export.contains("2026-12-24"));

    let erased = privacy
        .erase_employee(authed(employee("", "onni-7c2e51"), &org.privacy))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.punches, 3);
    assert_eq!(erased.devices, 1);
    assert_eq!(erased.consents, 1);
    assert_eq!(erased.tokens, 1);
    assert_eq!(erased.nonces, 3);
    // SetConsent, the issue of the device token, PutRosterDays, PutLeave
    // and ExportEmployee.
    assert_eq!(erased.audit_entries_anonymised, 5);
    assert_eq!(erased.settings, 2, "the schedule and the policy");
    assert_eq!(erased.calendar_entries, 2, "the roster day and the leave");
    // The colleague keeps their assignment and their field-staff place.
    let schedule = admin
        .get_schedule(authed(pb::GetScheduleRequest::default(), &org.admin))
        .await
        .unwrap()
        .into_inner();
    let assigned: Vec<_> = schedule
        .assignments
        .iter()
        .map(|a| a.employee_id.as_str())
        .collect();
    assert_eq!(assigned, ["kerttu"]);
    let policy = admin
        .get_policy(authed(pb::GetPolicyRequest::default(), &org.admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(policy.field_staff, ["kerttu"]);
    // Asking after the erased person, in the audit log or for an export,
    // writes nothing that names them.
    privacy
        .list_audit_entries(authed(
            pb::ListAuditEntriesRequest {
                employee_id: "onni-7c2e51".into(),
                ..Default::default()
            },
            &org.privacy,
        ))
        .await
        .unwrap();
    let refused = privacy
        .export_employee(authed(employee("", "onni-7c2e51"), &org.privacy))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    // The CLI's exports, written now, hold the colleague and not them.
    let exports = tempfile::tempdir().unwrap();
    let today = jiff::tz::TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_datetime(jiff::Timestamp::now())
        .date();
    let (from, to) = (
        today.yesterday().unwrap().to_string(),
        today.tomorrow().unwrap().to_string(),
    );
    let mut exported = Vec::new();
    for what in ["punches", "daily", "summary"] {
        let out = exports.path().join(format!("{what}.csv"));
        let status = std::process::Command::new(common::process::BIN)
            .args([
                "export", what, "--org", "depot-co", "--from", &from, "--to", &to,
            ])
            .arg("--out")
            .arg(&out)
            .arg("--database")
            .arg(&server.database)
            .status()
            .unwrap();
        assert!(status.success(), "export {what}");
        exported.extend(std::fs::read(&out).unwrap());
    }
    assert!(
        String::from_utf8_lossy(&exported).contains("kerttu"),
        "control: the exports hold the colleague"
    );

    // Nothing in any table, nor anywhere in the files (WAL and the CLI's
    // exports included).
    let db = std::fs::read(&server.database).unwrap();
    let mut files = db.clone();
    for suffix in ["-wal", "-shm"] {
        let path = format!("{}{suffix}", server.database.display());
        files.extend(std::fs::read(path).unwrap_or_default());
    }
    files.extend(exported);
    let holds = |needle: &[u8]| files.windows(needle.len()).any(|w| w == needle);
    assert!(holds(b"kerttu"), "control: the colleague's data is there");
    assert!(
        holds(&60.4713f64.to_be_bytes()),
        "control: REAL is stored big-endian"
    );
    for needle in [
        "onni-7c2e51",
        "phone-onni-88d1",
        "nonce-onni-7c2e51",
        "leave-onni-0042",
    ] {
        assert!(!holds(needle.as_bytes()), "{needle} is still in the files");
    }
    assert!(!holds(&LAT.to_be_bytes()) && !holds(&LON.to_be_bytes()));
    assert!(!holds(LAT.to_string().as_bytes()));

    // Erased is erased: a second erasure or an export finds nothing.
    for status in [
        privacy
            .erase_employee(authed(employee("", "onni-7c2e51"), &org.privacy))
            .await
            .unwrap_err(),
        privacy
            .export_employee(authed(employee("", "onni-7c2e51"), &org.privacy))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound);
    }
    // The old device token went with the employee; with a new one, an old
    // punch id is a new punch, not the erased record brought back.
    let old_token_refused = punches
        .submit_punch(authed(punch("onni-7c2e51-p0", "phone-onni-88d1"), "pgt_x"))
        .await
        .unwrap_err();
    assert_eq!(old_token_refused.code(), Code::Unauthenticated);
    let token = server
        .token("depot-co", Role::Device, Some("onni-7c2e51"))
        .await;
    let again = punches
        .submit_punch(authed(punch("onni-7c2e51-p0", "phone-onni-88d1"), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !again.duplicate,
        "the erased punch came back from the store"
    );
    org.server.stop().await;
}

#[tokio::test]
async fn data_requests_are_refused_for_the_wrong_caller_or_employee() {
    let org = org_with_punches("aino", "phone-aino").await;
    let server = &org.server;
    let other = server.token("other-co", Role::Privacy, None).await;
    let mut privacy = privacy_client(server).await;
    let cases = [
        (employee("", "nobody"), org.privacy.clone(), Code::NotFound),
        // Another organisation's privacy officer: not their employee.
        (employee("", "aino"), other.clone(), Code::NotFound),
        (employee("depot-co", "aino"), other, Code::PermissionDenied),
        (employee("", "aino"), org.hr.clone(), Code::PermissionDenied),
        (
            employee("", "aino"),
            org.admin.clone(),
            Code::PermissionDenied,
        ),
        (employee("", ""), org.privacy.clone(), Code::InvalidArgument),
    ];
    for (request, token, code) in cases {
        let export = privacy
            .export_employee(authed(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(export.code(), code, "export {request:?}");
        let erase = privacy
            .erase_employee(authed(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(erase.code(), code, "erase {request:?}");
    }
    // None of that touched aino's data.
    let json = privacy
        .export_employee(authed(employee("", "aino"), &org.privacy))
        .await
        .unwrap()
        .into_inner()
        .json;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["punches"].as_array().unwrap().len(), 3);
    org.server.stop().await;
}

#[tokio::test]
async fn retention_periods_have_defaults_and_bounds() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let mut client = server.admin_client().await;
    let defaults = client
        .get_retention(authed(pb::GetRetentionRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            defaults.evidence_days,
            defaults.flagged_evidence_days,
            defaults.cheat_findings_days,
            defaults.attendance_days,
            defaults.audit_days
        ),
        (30, 90, 180, 1095, 1095)
    );
    let put = |retention: pb::RetentionPolicy| pb::PutRetentionRequest {
        org_id: String::new(),
        retention: Some(retention),
    };
    let shorter = pb::RetentionPolicy {
        evidence_days: 7,
        ..defaults
    };
    client
        .put_retention(authed(put(shorter), &admin))
        .await
        .unwrap();
    let bad = [
        (
            pb::RetentionPolicy {
                evidence_days: 91,
                ..defaults
            },
            "retention.evidence_days",
        ),
        (
            pb::RetentionPolicy {
                evidence_days: 0,
                ..defaults
            },
            "retention.evidence_days",
        ),
        (
            pb::RetentionPolicy {
                attendance_days: 4000,
                ..defaults
            },
            "retention.attendance_days",
        ),
        (
            pb::RetentionPolicy {
                audit_days: 30,
                ..defaults
            },
            "retention.audit_days",
        ),
    ];
    for (retention, field) in bad {
        let status = client
            .put_retention(authed(put(retention), &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    let stored = client
        .get_retention(authed(pb::GetRetentionRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored, shorter, "refused changes changed nothing");
    server.stop().await;
}
