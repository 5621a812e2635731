//! The real binary as an operator runs it: CLI tokens and site import,
//! `serve` on port 0, health, reflection, /metrics, a crash (SIGKILL) and a
//! graceful stop (SIGTERM). Acknowledged punches survive both.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

use common::process::*;
use common::*;
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::{
    attendance_service_client::AttendanceServiceClient, punch_service_client::PunchServiceClient,
};

/// A device token for `employee` of org `kotka`, made by the CLI.
fn device_token(database: &Path, employee: &str) -> String {
    cli(
        &[
            "token",
            "create",
            "--org",
            "kotka",
            "--role",
            "device",
            "--employee",
            employee,
        ],
        database,
    )
}

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn listed_ids(addr: &str, hr: &str) -> Vec<String> {
    let now = Timestamp::now();
    let mut client = AttendanceServiceClient::new(channel(addr).await);
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_punches(authed(
                pb::ListPunchesRequest {
                    org_id: String::new(),
                    from: Some(ts(now - SignedDuration::from_hours(1))),
                    to: Some(ts(now + SignedDuration::from_hours(1))),
                    page_size: 1000,
                    page_token,
                },
                hr,
            ))
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.punches.into_iter().map(|p| p.punch_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

/// Submits `n` punches at once; returns the ids that were acknowledged.
async fn submit_many(addr: &str, device: &str, prefix: &str, n: usize) -> Vec<String> {
    let client = PunchServiceClient::new(channel(addr).await);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let mut client = client.clone();
            let id = format!("{prefix}-{i}");
            let request = authed(punch_at(&id, inside_building(i % 50), 8.0), device);
            tokio::spawn(async move { client.submit_punch(request).await.map(|_| id) })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for t in tasks {
        if let Ok(id) = t.await.unwrap() {
            acknowledged.push(id);
        }
    }
    acknowledged
}

async fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_punches_survive_a_crash_and_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    let device = device_token(&db, "emp-1");
    let hr = cli(&["token", "create", "--org", "kotka", "--role", "hr"], &db);
    let imported = cli(
        &[
            "site",
            "import",
            "--org",
            "kotka",
            "data/kotka-buildings.geojson",
        ],
        &db,
    );
    assert!(imported.starts_with("imported 2171 sites"), "{imported}");

    // Health, reflection, and punches acknowledged before a SIGKILL.
    let mut served = serve(&db);
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(channel(&served.grpc).await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "punchguard.v1.PunchService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    let services = reflected_services(&served.grpc).await;
    for name in [
        "punchguard.v1.PunchService",
        "punchguard.v1.AdminService",
        "punchguard.v1.AttendanceService",
    ] {
        assert!(
            services.iter().any(|s| s == name),
            "{name} not in {services:?}"
        );
    }

    let before_crash = submit_many(&served.grpc, &device, "crash", 60).await;
    assert_eq!(before_crash.len(), 60);

    let metrics = http_get(&served.metrics).await;
    assert!(
        metrics.contains("punchguard_punches_total{decision=\"accepted\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("emp-1") && !metrics.contains(&device),
        "personal data in metrics"
    );

    served.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    served.child.wait().unwrap();

    // Restart: every acknowledged punch is there. Then stop gracefully while
    // punches are in flight: every acknowledged one is kept.
    let mut served = serve(&db);
    let listed = listed_ids(&served.grpc, &hr).await;
    for id in &before_crash {
        assert!(
            listed.contains(id),
            "acknowledged punch {id} lost in the crash"
        );
    }
    let addr = served.grpc.clone();
    let device2 = device.clone();
    let in_flight = tokio::spawn(async move { submit_many(&addr, &device2, "term", 200).await });
    // Let the first punches land, so the stop meets work in flight.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let term = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let acknowledged = in_flight.await.unwrap();
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exited with {exit}");

    let served = serve(&db);
    let listed = listed_ids(&served.grpc, &hr).await;
    for id in acknowledged.iter().chain(&before_crash) {
        assert!(
            listed.contains(id),
            "acknowledged punch {id} lost in the graceful stop"
        );
    }
    drop(served); // killed
}

/// The services reflection lists (itself aside), asked in v1 and in
/// v1alpha (older clients); both must give the same list.
async fn reflected_services(addr: &str) -> Vec<String> {
    // The same shape in both versions' generated modules.
    macro_rules! list_services {
        ($version:ident) => {{
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest,
                server_reflection_response::MessageResponse,
            };
            let mut client = ServerReflectionClient::new(channel(addr).await);
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut responses = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap()
                .into_inner();
            let response = responses.message().await.unwrap().unwrap();
            match response.message_response {
                Some(MessageResponse::ListServicesResponse(list)) => {
                    list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
                }
                other => panic!("unexpected reflection answer {other:?}"),
            }
        }};
    }
    // Each version lists itself as the reflection service.
    let ours = |mut names: Vec<String>| {
        names.retain(|n| !n.starts_with("grpc.reflection."));
        names
    };
    let v1 = ours(list_services!(v1));
    let v1alpha = ours(list_services!(v1alpha));
    assert_eq!(v1, v1alpha, "reflection v1 and v1alpha disagree");
    v1
}

#[test]
fn demo_prints_its_verdict_table() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "imported 2171 sites",
        "ACCEPTED",
        "REJECTED",
        "REVIEW",
        "OUTSIDE_FENCE",
        "NEAR_FENCE",
        "LOW_ACCURACY",
        "STALE_FIX",
        "CLOCK_SKEW",
        "MOCK_LOCATION",
        "CHEAT_APP_INSTALLED",
        "EMULATOR",
        "SENSOR_FLAT",
        "WIFI_SSID_ONLY",
        "IMPOSSIBLE_TRAVEL",
        "DEVICE_SHARED",
        "resubmitted punch id",
        "gps.latitude",
        // The attested phones' act: signed, altered on the way, replayed.
        "SIGNATURE_INVALID",
        "ASSERTION_REPLAYED",
        "attested",
        "ListPunches returns 20 records",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
}

/// An older client's installed-package list is matched in memory and then
/// gone: a unique harmless package name sent with punches (and with a bad
/// request) appears nowhere in the database files, the logs or the metrics,
/// while the cheat app's signature id that matched is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_package_lists_leave_no_trace() {
    let marker = "org.example.harmless.pg7c1d94e2";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    let device = device_token(&db, "emp-1");
    cli(
        &[
            "site",
            "import",
            "--org",
            "kotka",
            "data/kotka-buildings.geojson",
        ],
        &db,
    );
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut served = serve_logging(&db, "debug,punchguard=trace", Stdio::from(log));

    let mut client = PunchServiceClient::new(channel(&served.grpc).await);
    for i in 0..5 {
        let mut request = punch_at(&format!("pkg-{i}"), inside_building(i), 8.0);
        request.installed_packages = vec![marker.into(), "com.lexa.fakegps".into()];
        let verdict = client
            .submit_punch(authed(request, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap();
        assert_eq!(verdict.cheat_matches[0].signature_id, "vl-lexa-fakegps");
    }
    let mut bad = punch_at("pkg-bad", inside_building(1), 8.0);
    bad.installed_packages = vec![format!("{marker}{}", "x".repeat(300))];
    let status = client.submit_punch(authed(bad, &device)).await.unwrap_err();
    assert!(!status.message().contains(marker));

    let metrics = http_get(&served.metrics).await;
    assert!(
        metrics.contains("punchguard_findings_total{code=\"CHEAT_APP_INSTALLED\"} 5"),
        "{metrics}"
    );
    let term = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(served.child.wait().unwrap().success());

    let mut stored = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = dir.path().join(format!("punchguard.db{suffix}"));
        if let Ok(bytes) = std::fs::read(&path) {
            stored.extend(bytes);
        }
    }
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(
        contains(&stored, "vl-lexa-fakegps"),
        "control: the signature id must be stored"
    );
    assert!(
        !contains(&stored, marker),
        "the package list reached the database"
    );
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("punch recorded"),
        "control: debug logs were written"
    );
    assert!(!logs.contains(marker), "the package list reached the logs");
    assert!(
        !metrics.contains(marker),
        "the package list reached the metrics"
    );
}

/// `punchguard verify` re-judges punches from a file with the org's current
/// fences and policy, history included, and records nothing.
#[test]
fn verify_rejudges_a_file_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    cli(
        &[
            "site",
            "import",
            "--org",
            "kotka",
            "data/kotka-buildings.geojson",
        ],
        &db,
    );
    let office = inside_building(10);
    let line = |employee: &str, id: &str, lon: f64, lat: f64, at: &str| {
        format!(
            r#"{{"employee_id":"{employee}","punch_id":"{id}","kind":"in","client_time":"{at}",
               "gps":{{"latitude":{lat},"longitude":{lon},"accuracy_m":8,"fix_time":"{at}"}},
               "device":{{"device_id":"{employee}-phone"}}}}"#
        )
        .replace('\n', "")
    };
    let input = [
        line("aino", "p1", office.x(), office.y(), "2026-11-30T08:00:00Z"),
        line(
            "eero",
            "p2",
            office.x(),
            office.y() - 0.02,
            "2026-11-30T08:00:00Z",
        ),
        r#"{"employee_id":"aino","punch_id":"p3","kind":"sideways"}"#.to_string(),
        line(
            "aino",
            "p4",
            office.x(),
            office.y() - 0.02,
            "2026-11-30T08:00:30Z",
        ),
    ]
    .join("\n");
    let path = dir.path().join("punches.jsonl");
    std::fs::write(&path, input).unwrap();
    let out = Command::new(BIN)
        .args(["verify", "--org", "kotka", "--input"])
        .arg(&path)
        .arg("--database")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), 4);
    assert_eq!(verdicts[0]["decision"], "accepted");
    assert_eq!(verdicts[0]["site_id"], "kotka-bldg-0010");
    assert_eq!(verdicts[1]["decision"], "rejected");
    assert_eq!(verdicts[1]["findings"][0]["code"], "OUTSIDE_FENCE");
    assert!(
        verdicts[2]["error"]
            .as_str()
            .unwrap()
            .contains("not a punch"),
        "{}",
        verdicts[2]
    );
    // Aino 2.2 km away 30 s after her accepted punch: a teleport.
    let codes: Vec<_> = verdicts[3]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].clone())
        .collect();
    assert!(
        codes.contains(&serde_json::json!("IMPOSSIBLE_TRAVEL")),
        "{}",
        verdicts[3]
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let recorded: i64 = conn
        .query_row("SELECT count(*) FROM punches", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, 0, "verify must record nothing");
}

/// A run with every role at work leaves none of the personal values it
/// handled in the info-level logs or in /metrics; at debug level, employees
/// appear only as pseudonyms. The CLI answers a data request end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_metrics_carry_no_personal_data() {
    let employee = "emp-logcheck-5b1e";
    let device_id = "device-logcheck-77a0";
    let bssid = "02:7a:19:c4:e0:5d";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    cli(
        &[
            "site",
            "import",
            "--org",
            "kotka",
            "data/kotka-buildings.geojson",
        ],
        &db,
    );
    let device = device_token(&db, employee);
    let token = |role: &str| cli(&["token", "create", "--org", "kotka", "--role", role], &db);
    let (admin, hr, privacy) = (token("admin"), token("hr"), token("privacy"));

    for (level, phase) in [("info", "info"), ("warn,punchguard=debug", "debug")] {
        let log_path = dir.path().join(format!("{phase}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut served = serve_logging(&db, level, Stdio::from(log));
        let mut client = PunchServiceClient::new(channel(&served.grpc).await);
        let point = inside_building(3);
        for i in 0..3 {
            let mut request = punch_at(&format!("{phase}-{i}"), point, 8.0);
            request.wifi = vec![pb::WifiAccessPoint {
                bssid: bssid.into(),
                ssid: "LogcheckNet".into(),
                rssi_dbm: -60,
            }];
            request.device = Some(pb::DeviceFacts {
                device_id: device_id.into(),
                ..Default::default()
            });
            client.submit_punch(authed(request, &device)).await.unwrap();
        }
        // A bad request, whose error names the field but not the value.
        let mut bad = punch_at(&format!("{phase}-bad"), point, 8.0);
        bad.wifi = vec![pb::WifiAccessPoint {
            bssid: format!("{bssid}:zz"),
            ..Default::default()
        }];
        let status = client.submit_punch(authed(bad, &device)).await.unwrap_err();
        assert!(!status.message().contains(bssid));
        let mut admin_client =
            pb::admin_service_client::AdminServiceClient::new(channel(&served.grpc).await);
        admin_client
            .bind_device(authed(
                pb::DeviceRequest {
                    org_id: String::new(),
                    employee_id: employee.into(),
                    device_id: device_id.into(),
                },
                &admin,
            ))
            .await
            .unwrap();
        listed_ids(&served.grpc, &hr).await;
        let export = Command::new(BIN)
            .args(["privacy", "export", "--employee", employee])
            .args(["--server", &format!("http://{}", served.grpc)])
            .env("PUNCHGUARD_TOKEN", &privacy)
            .output()
            .unwrap();
        assert!(export.status.success(), "{export:?}");
        let exported = String::from_utf8(export.stdout).unwrap();
        assert!(
            exported.contains(device_id),
            "control: the export holds the data"
        );

        let metrics = http_get(&served.metrics).await;
        assert!(
            metrics.contains("punchguard_audit_entries_total"),
            "{metrics}"
        );
        let term = Command::new("kill")
            .args(["-TERM", &served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        assert!(served.child.wait().unwrap().success());
        let logs = std::fs::read_to_string(&log_path).unwrap();
        assert!(logs.contains("shut down cleanly") || phase == "debug");
        let lat = format!("{:.4}", point.y());
        let lon = format!("{:.4}", point.x());
        let personal = [
            employee,
            device_id,
            bssid,
            "LogcheckNet",
            &device,
            &admin,
            &hr,
            &privacy,
            &lat,
            &lon,
        ];
        for value in personal {
            assert!(!logs.contains(value), "{phase} logs hold {value}:\n{logs}");
            assert!(!metrics.contains(value), "metrics hold {value}");
        }
        if phase == "debug" {
            assert!(
                logs.contains("employee=emp~"),
                "debug logs name a pseudonym:\n{logs}"
            );
        }
    }
}

/// After a demo run: the CSV and JSON-lines exports hold the day's results
/// and punches, and the HTML report is one self-contained file (nothing to
/// fetch) that headless Chromium renders, when it is installed.
#[test]
fn a_demo_day_exports_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = Command::new(BIN)
        .args(["demo", "--database"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let today = jiff::tz::TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_datetime(Timestamp::now())
        .date()
        .to_string();
    let daily = cli(
        &[
            "export",
            "daily",
            "--org",
            "kotka-demo",
            "--from",
            &today,
            "--to",
            &today,
        ],
        &db,
    );
    let mut reader = csv::Reader::from_reader(daily.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..3], ["employee_id", "date", "shift_id"]);
    assert!(header.contains(&"time_result".to_string()));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 13, "one row per demo employee:\n{daily}");
    let aino = rows.iter().find(|r| &r[0] == "aino").unwrap();
    assert_eq!(&aino[5], "aino-in");

    // The month so far, one row per employee, in the declared columns.
    let first = &format!("{}-01", &today[..7]);
    let summary = cli(
        &[
            "export",
            "summary",
            "--org",
            "kotka-demo",
            "--from",
            first,
            "--to",
            &today,
        ],
        &db,
    );
    let mut reader = csv::Reader::from_reader(summary.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[..4], ["employee_id", "from", "to", "scheduled_days"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 13, "one row per demo employee:\n{summary}");
    let aino = rows.iter().find(|r| &r[0] == "aino").unwrap();
    let worked_days: u32 = aino[4].parse().unwrap();
    assert!(worked_days >= 1, "aino clocked in today: {summary}");

    // The demo's punches go back 40 minutes (an earlier fix for impossible
    // travel): from the date an hour ago, which is yesterday just after
    // midnight.
    let an_hour_ago = jiff::tz::TimeZone::get("Europe/Helsinki")
        .unwrap()
        .to_datetime(Timestamp::now() - SignedDuration::from_hours(1))
        .date()
        .to_string();
    let punches = cli(
        &[
            "export",
            "punches",
            "--org",
            "kotka-demo",
            "--from",
            &an_hour_ago,
            "--to",
            &today,
            "--format",
            "jsonl",
        ],
        &db,
    );
    let lines: Vec<serde_json::Value> = punches
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 16 scripted punches and the attested phones' 4.
    assert_eq!(lines.len(), 20, "the punches ListPunches returns");
    assert!(lines.iter().any(|l| l["decision"] == "rejected"));

    let report = dir.path().join("report.html");
    let written = Command::new(BIN)
        .args(["report", "--org", "kotka-demo", "--date", &today, "--out"])
        .arg(&report)
        .arg("--database")
        .arg(&db)
        .output()
        .unwrap();
    assert!(written.status.success());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("NEAR_FENCE"));
    assert!(html.contains("Month to date"));
    for external in ["http://", "https://", "<script", "src=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the report would fetch {external}"
        );
    }
    let Some(chromium) = installed(CHROMIUM, "the report's screenshot") else {
        return;
    };
    let png = dir.path().join("report.png");
    let shot = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,1800",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let image = std::fs::read(&png).unwrap();
    assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
    assert!(image.len() > 20_000, "a blank page is smaller than this");
}

/// The server under concurrent load, killed with SIGKILL at seeded random
/// moments and restarted on the same database, again and again: every punch
/// that was acknowledged is there exactly once, and the database passes its
/// integrity check. `PUNCHGUARD_KILL_ROUNDS` (default 20) and
/// `PUNCHGUARD_KILL_SEED` set the count and the moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_punches_survive_repeated_kill_9() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env("PUNCHGUARD_KILL_ROUNDS", 20);
    let mut seed = env("PUNCHGUARD_KILL_SEED", 0x5eed_1234_abcd) | 1;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    let device = device_token(&db, "emp-1");
    let hr = cli(&["token", "create", "--org", "kotka", "--role", "hr"], &db);

    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..rounds {
        let mut served = serve(&db);
        let client = PunchServiceClient::new(channel(&served.grpc).await);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (mut client, device, stop) = (client.clone(), device.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut ok = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let id = format!("r{round}-w{w}-{n}");
                        let request = authed(punch_at(&id, inside_building(n % 10), 8.0), &device);
                        match client.submit_punch(request).await {
                            Ok(_) => ok.push(id),
                            Err(_) => break,
                        }
                    }
                    ok
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30 + next(250))).await;
        served.child.kill().unwrap(); // SIGKILL: no drain, no flush
        served.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            acknowledged.extend(w.await.unwrap());
        }
    }
    assert!(
        acknowledged.len() as u64 > rounds,
        "the load was real: {} punches acknowledged",
        acknowledged.len()
    );

    eprintln!(
        "{rounds} SIGKILLs; {} punches acknowledged",
        acknowledged.len()
    );
    let mut served = serve(&db);
    let listed = listed_ids(&served.grpc, &hr).await;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let mut counts = std::collections::HashMap::new();
    for id in &listed {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    for id in &acknowledged {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "acknowledged {id} not there exactly once"
        );
    }
    assert!(counts.values().all(|n| *n == 1), "a punch recorded twice");
    let integrity: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// `serve --console-listen` prints where the console is, third, and serves
/// its sign-in page there; `serve` alone has no console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_the_console_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    let served = serve_with(
        &db,
        "warn",
        std::process::Stdio::inherit(),
        &["--console-listen", "127.0.0.1:0"],
    );
    let url = served.console.clone().expect("a console line");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let page = http_get(&format!("{url}sign-in")).await;
    assert!(
        page.contains("<form method=\"post\" action=\"/sign-in\""),
        "{page}"
    );
    assert!(serve(&db).console.is_none());
}

/// The CLI imports GeoJSON lines streamed (any size), and says the same as
/// for the FeatureCollection they came from.
#[test]
fn the_cli_imports_geojson_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("punchguard.db");
    let collection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("data/kotka-buildings.geojson").unwrap())
            .unwrap();
    let lines: String = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::to_string(f).unwrap() + "\n")
        .collect();
    let file = dir.path().join("kotka.geojsonl");
    std::fs::write(&file, lines).unwrap();
    let imported = cli(
        &["site", "import", "--org", "kotka", file.to_str().unwrap()],
        &db,
    );
    assert!(imported.starts_with("imported 2171 sites"), "{imported}");
    // A bad line is refused with its feature's index, and nothing stored.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"type\":\"Feature\",\"geometry\":null}\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["site", "import", "--org", "other", bad.to_str().unwrap()])
        .arg("--database")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("geojson.features[0]"), "{stderr}");
}
