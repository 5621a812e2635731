//! `punchguard demo`: the whole service in one command.
//!
//! Starts the real server on a free loopback port with an SQLite file,
//! creates a demo organisation whose 2,171 sites are real building footprints
//! in Kotka, Finland (© OpenStreetMap contributors, ODbL), replays genuine and
//! cheating punches through real gRPC calls, and prints every verdict the
//! server returned, then what the HR system sees.
//!
//! The demo uses the engine only to *choose* telling places (a point inside a
//! building, one just outside an edge); every verdict shown comes from the
//! server over gRPC.

mod attested;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use geo::{Distance, Haversine, InteriorPoint, Point};
use jiff::{SignedDuration, Timestamp};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

use crate::app::tokens::{self, NewToken};
use crate::app::{Actor, App};
use crate::auth::Role;
use crate::engine::fence::FenceGeometry;
use crate::engine::sites::parse_sites_geojson;
use crate::engine::{EmployeeId, OrgId, OrgSnapshot, Policy};
use crate::proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use crate::proto::v1::{
    attendance_service_client::AttendanceServiceClient, punch_service_client::PunchServiceClient,
};
use crate::{server, service::convert::timestamp_to_pb};

/// The demo organisation's sites: every building of the Kotka sample.
pub const KOTKA_GEOJSON: &str = include_str!("../../data/kotka-buildings.geojson");
const ORG: &str = "kotka-demo";

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Keep the database here instead of in a temporary directory.
    #[arg(long)]
    pub database: Option<PathBuf>,
}

/// One scripted punch: who, what they tried, and the request their phone sends.
struct Scene {
    employee: &'static str,
    story: &'static str,
    request: pb::SubmitPunchRequest,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temp = tempfile::TempDir::new()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| temp.path().join("demo.db"));
    let app = server::open_sqlite(&database).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    // The demo's phones attest under a root of the demo's own, which this
    // server (and only this one) is told to trust.
    let staging_root = crate::synthetic_device::TestRoot::generate("punchguard demo staging root");
    let serving = tokio::spawn(server::run(
        app.clone(),
        listener,
        server::Options {
            extra_attestation_roots: vec![staging_root.der().to_vec()],
            ..server::Options::local(std::time::Duration::from_secs(5))
        },
        shutdown.clone().cancelled_owned(),
    ));
    println!(
        "punchguard demo: server on {addr}, database {}",
        database.display()
    );

    let org = OrgId::new(ORG).map_err(anyhow::Error::msg)?;
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [("admin", Role::Admin), ("hr", Role::Hr)] {
        tokens.insert(name, create_token(&app, &org, role, None).await?);
    }
    for employee in [
        "aino", "eero", "mikko", "liisa", "sanna", "pekka", "juha", "kaisa", "timo", "hanna",
        "ville", "noora", "olli",
    ] {
        tokens.insert(
            employee,
            create_token(&app, &org, Role::Device, Some(employee)).await?,
        );
    }

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let started = Instant::now();
    let mut admin = AdminServiceClient::new(channel.clone()).max_encoding_message_size(16 << 20);
    let imported = admin
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: ORG.into(),
                geojson: KOTKA_GEOJSON.into(),
            },
            &tokens["admin"],
        ))
        .await
        .context("importing the Kotka sites")?
        .into_inner();
    admin
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: ORG.into(),
                geojson: office_wifi_geojson()?,
            },
            &tokens["admin"],
        ))
        .await
        .context("adding the office WiFi")?;
    admin
        .put_schedule(authed(
            pb::PutScheduleRequest {
                org_id: ORG.into(),
                schedule: Some(demo_schedule(Timestamp::now())),
            },
            &tokens["admin"],
        ))
        .await
        .context("putting the schedule")?;
    println!(
        "imported {} sites (real building footprints in Kotka, © OpenStreetMap contributors) in {} ms;\n\
         building {OFFICE} is the office, with two WiFi access points\n",
        imported.sites.len(),
        started.elapsed().as_millis()
    );

    let scenes = script(Timestamp::now())?;
    let mut punches = PunchServiceClient::new(channel.clone());
    let mut table = verdict_table();
    // Indexed by pb::Decision; refusals (gRPC errors) are counted apart.
    let mut tally = [0usize; 4];
    let mut refused = 0;
    let started = Instant::now();
    for (i, scene) in scenes.into_iter().enumerate() {
        let request = authed(scene.request.clone(), &tokens[scene.employee]);
        let row = match punches.submit_punch(request).await {
            Ok(response) => {
                let response = response.into_inner();
                let verdict = response.verdict.unwrap_or_default();
                tally[verdict.decision as usize] += 1;
                verdict_row(i + 1, &scene, &verdict, response.duplicate)
            }
            Err(status) => {
                refused += 1;
                vec![
                    Cell::new(i + 1),
                    Cell::new(scene.employee),
                    Cell::new(scene.story),
                    Cell::new("REFUSED")
                        .fg(Color::Magenta)
                        .add_attribute(Attribute::Bold),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new(format!("{:?}: {}", status.code(), status.message())),
                ]
            }
        };
        table.add_row(row);
    }
    let took = started.elapsed();
    println!("{table}");

    println!("\nAttested phones: keys in secure hardware, punches signed over their exact bytes\n");
    let (rows, decisions) = attested::act(
        channel.clone(),
        &tokens,
        &staging_root,
        office_point()?,
        Timestamp::now(),
    )
    .await?;
    let mut attested_table = verdict_table();
    attested_table.set_header([
        "#",
        "employee",
        "what happened",
        "verdict",
        "site",
        "distance",
        "findings",
        "device evidence",
    ]);
    for row in rows {
        attested_table.add_row(row);
    }
    for decision in decisions {
        tally[decision as usize] += 1;
    }
    println!("{attested_table}");

    let now = Timestamp::now();
    let listed = AttendanceServiceClient::new(channel)
        .list_punches(authed(
            pb::ListPunchesRequest {
                org_id: ORG.into(),
                from: Some(timestamp_to_pb(now - SignedDuration::from_hours(1))),
                to: Some(timestamp_to_pb(now + SignedDuration::from_hours(1))),
                page_size: 1000,
                page_token: String::new(),
            },
            &tokens["hr"],
        ))
        .await?
        .into_inner();
    println!(
        "\n{} punches sent in {} ms, each acknowledged only once durable in SQLite:",
        tally.iter().sum::<usize>() + refused,
        took.as_millis()
    );
    println!(
        "  accepted {}   review {}   rejected {}   refused as bad input {}",
        tally[pb::Decision::Accepted as usize],
        tally[pb::Decision::Review as usize],
        tally[pb::Decision::Rejected as usize],
        refused,
    );
    println!(
        "  the HR system's ListPunches returns {} records (the retry is stored once, the bad input not at all)",
        listed.punches.len()
    );

    shutdown.cancel();
    serving.await??;
    if args.database.is_some() {
        println!("  database kept at {}", database.display());
    }
    Ok(())
}

async fn create_token(
    app: &App,
    org: &OrgId,
    role: Role,
    employee: Option<&str>,
) -> anyhow::Result<String> {
    let employee = employee
        .map(EmployeeId::new)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let new = NewToken {
        role,
        employee,
        expires_in_days: None,
    };
    let operator = Actor::cli(org.clone(), tokens::ROLE);
    Ok(tokens::create(app, &operator, new).await?.token)
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Building 10, "the office", again: now with its WiFi access points.
const OFFICE: usize = 10;
const OFFICE_WIFI: [&str; 2] = ["f0:9f:c2:10:00:01", "f0:9f:c2:10:00:02"];
const OFFICE_SSID: &str = "Kotka-Office";

/// The office feature from the Kotka set with its access points added.
fn office_wifi_geojson() -> anyhow::Result<String> {
    let mut kotka: serde_json::Value = serde_json::from_str(KOTKA_GEOJSON)?;
    let mut office = kotka["features"][OFFICE].take();
    office["properties"]["wifi"] = serde_json::Value::Array(
        OFFICE_WIFI
            .iter()
            .map(|b| serde_json::json!({"bssid": b, "ssid": OFFICE_SSID}))
            .collect(),
    );
    Ok(serde_json::json!({"type": "FeatureCollection", "features": [office]}).to_string())
}

/// A punch from an up-to-date client: a good fix, the phone's facts, and a
/// motion summary of a phone that was carried in.
fn punch(
    id: &str,
    kind: pb::PunchKind,
    device: &str,
    at: Point<f64>,
    accuracy_m: f64,
    now: Timestamp,
) -> pb::SubmitPunchRequest {
    pb::SubmitPunchRequest {
        punch_id: id.into(),
        kind: kind.into(),
        client_time: Some(timestamp_to_pb(now)),
        gps: Some(pb::GpsFix {
            latitude: Some(at.y()),
            longitude: Some(at.x()),
            accuracy_m: Some(accuracy_m),
            fix_time: Some(timestamp_to_pb(now - SignedDuration::from_secs(4))),
            ..Default::default()
        }),
        device: Some(pb::DeviceFacts {
            device_id: device.into(),
            platform: pb::Platform::Android.into(),
            integrity: pb::IntegrityVerdict::Passed.into(),
            ..Default::default()
        }),
        motion: Some(pb::MotionSummary {
            sensors: vec![
                sensor(pb::SensorType::Accelerometer, 9.81, 0.8),
                sensor(pb::SensorType::Gyroscope, 0.3, 0.02),
            ],
            step_delta: Some(9),
            window_ms: 5000,
        }),
        nonce: format!("nonce-{id}"),
        ..Default::default()
    }
}

fn sensor(kind: pb::SensorType, mean_magnitude: f64, variance: f64) -> pb::SensorStats {
    pb::SensorStats {
        r#type: kind.into(),
        sample_count: 250,
        mean_magnitude,
        variance,
    }
}

fn edit_gps(
    mut request: pb::SubmitPunchRequest,
    edit: impl FnOnce(&mut pb::GpsFix),
) -> pb::SubmitPunchRequest {
    if let Some(gps) = request.gps.as_mut() {
        edit(gps);
    }
    request
}

fn wifi(bssid: &str, ssid: &str, rssi_dbm: i32) -> pb::WifiAccessPoint {
    pb::WifiAccessPoint {
        bssid: bssid.into(),
        ssid: ssid.into(),
        rssi_dbm,
    }
}

/// The scripted morning: genuine punches and the cheats punchguard catches.
/// Each person punches from their own phone unless the scene says otherwise.
/// A point inside the office building.
fn office_point() -> anyhow::Result<Point<f64>> {
    let sites = parse_sites_geojson(KOTKA_GEOJSON).map_err(|e| anyhow::anyhow!("{e}"))?;
    match &sites[OFFICE].fences[0] {
        FenceGeometry::Polygon(mp) => mp.interior_point().context("the office has an interior"),
        FenceGeometry::Circle { center, .. } => Ok(*center),
    }
}

fn script(now: Timestamp) -> anyhow::Result<Vec<Scene>> {
    use pb::PunchKind::{In, Out};
    let sites = parse_sites_geojson(KOTKA_GEOJSON).map_err(|e| anyhow::anyhow!("{e}"))?;
    let inside = |i: usize| match &sites[i].fences[0] {
        FenceGeometry::Polygon(mp) => mp.interior_point().unwrap_or(Point::new(0.0, 0.0)),
        FenceGeometry::Circle { center, .. } => *center,
    };
    let snapshot = OrgSnapshot::build(
        OrgId::new(ORG).map_err(anyhow::Error::msg)?,
        0,
        sites.clone(),
        Policy::default(),
    );
    // A point ~15 m outside a building's wall, clear of every other building.
    let near_edge = (0..sites.len())
        .find_map(|i| {
            let FenceGeometry::Polygon(mp) = &sites[i].fences[0] else {
                return None;
            };
            let centre = inside(i);
            let vertex = mp.0.first()?.exterior().0.first().copied()?;
            let dir = Point::new(vertex.x - centre.x(), vertex.y - centre.y());
            let len = (dir.x().powi(2) + dir.y().powi(2)).sqrt();
            // ~15 m beyond the corner, along the line from the interior point.
            let step = 15.0 / 111_000.0 / len;
            let p = Point::new(vertex.x + dir.x() * step, vertex.y + dir.y() * step);
            let (_, d) = snapshot.index.nearest(p)?;
            (snapshot.index.covering(p).is_none() && (8.0..25.0).contains(&d)).then_some(p)
        })
        .context("no building with a clear edge")?;
    let office = inside(OFFICE);
    let warehouse = inside(200);
    let depot = inside(1000);
    // The building furthest from the office: a fix there seconds after one at
    // the office is a teleport.
    let far_side = (0..sites.len())
        .map(inside)
        .max_by(|a, b| {
            Haversine
                .distance(office, *a)
                .total_cmp(&Haversine.distance(office, *b))
        })
        .context("no buildings")?;
    let home = Point::new(office.x() + 0.01, office.y() - 0.018); // ~2 km from the office
    let ago = |minutes: i64| Some(timestamp_to_pb(now - SignedDuration::from_mins(minutes)));

    let scene = |employee, story, request| Scene {
        employee,
        story,
        request,
    };
    let scenes = vec![
        scene(
            "aino",
            "clocks in at the office",
            punch("aino-in", In, "aino-phone", office, 8.0, now),
        ),
        scene(
            "aino",
            "her app retries the same clock-in",
            punch("aino-in", In, "aino-phone", office, 8.0, now),
        ),
        scene(
            "eero",
            "clocks in at the warehouse",
            punch("eero-in", In, "eero-phone", warehouse, 12.0, now),
        ),
        scene(
            "mikko",
            "clocks in from home across town",
            punch("mikko-in", In, "mikko-phone", home, 15.0, now),
        ),
        scene(
            "liisa",
            "at a building's edge, GPS drifting",
            punch("liisa-in", In, "liisa-phone", near_edge, 30.0, now),
        ),
        scene(
            "sanna",
            "indoors: no fix, the office WiFi in range",
            pb::SubmitPunchRequest {
                gps: None,
                wifi: vec![
                    wifi(OFFICE_WIFI[1], OFFICE_SSID, -58),
                    wifi("5c:49:79:00:00:07", "Cafe", -83),
                ],
                ..punch("sanna-in", In, "sanna-phone", office, 0.0, now)
            },
        ),
        scene(
            "pekka",
            "indoors: only a cell-tower fix",
            punch("pekka-in", In, "pekka-phone", depot, 450.0, now),
        ),
        scene(
            "juha",
            "app replays a fix from 10 min ago",
            edit_gps(punch("juha-in", In, "juha-phone", depot, 10.0, now), |g| {
                g.fix_time = ago(10)
            }),
        ),
        scene("kaisa", "set her phone clock back 40 min", {
            let r = punch(
                "kaisa-in",
                In,
                "kaisa-phone",
                office,
                9.0,
                now - SignedDuration::from_mins(40),
            );
            let punched_at = r.client_time;
            edit_gps(r, |g| g.fix_time = punched_at)
        }),
        scene(
            "timo",
            "fake-GPS app, mock flag showing",
            pb::SubmitPunchRequest {
                installed_packages: vec!["com.android.chrome".into(), "com.lexa.fakegps".into()],
                ..edit_gps(
                    punch("timo-in", In, "timo-phone", warehouse, 3.0, now),
                    |g| g.mock_location = true,
                )
            },
        ),
        scene(
            "hanna",
            "fake-GPS app found by her phone, flag hidden",
            pb::SubmitPunchRequest {
                matched_signature_ids: vec!["vl-rosteam-gpsemulator".into()],
                ..punch("hanna-in", In, "hanna-phone", warehouse, 4.0, now)
            },
        ),
        scene("ville", "punches from an emulator", {
            let mut r = punch("ville-in", In, "ville-emu", office, 5.0, now);
            if let Some(d) = r.device.as_mut() {
                d.emulator = true;
            }
            if let Some(m) = r.motion.as_mut() {
                m.sensors.iter_mut().for_each(|s| s.variance = 0.0);
                m.step_delta = Some(0);
            }
            r
        }),
        scene(
            "noora",
            "at home, hotspot named like the office WiFi",
            pb::SubmitPunchRequest {
                wifi: vec![wifi("02:1a:11:f0:00:09", OFFICE_SSID, -35)],
                ..punch("noora-in", In, "noora-phone", home, 10.0, now)
            },
        ),
        scene("olli", "clocks in at the office (sent a bit late)", {
            let mut r = punch(
                "olli-in",
                In,
                "olli-phone",
                office,
                8.0,
                now - SignedDuration::from_secs(15),
            );
            r.sent_time = Some(timestamp_to_pb(now));
            r.queued_offline = true;
            r
        }),
        scene(
            "olli",
            "15 s later, a spoofed fix across town",
            punch("olli-in-2", In, "olli-phone", far_side, 5.0, now),
        ),
        scene(
            "eero",
            "buggy client sends latitude 123",
            edit_gps(punch("eero-bug", In, "eero-phone", office, 5.0, now), |g| {
                g.latitude = Some(123.0)
            }),
        ),
        scene(
            "eero",
            "clocks out at the warehouse",
            punch("eero-out", Out, "eero-phone", warehouse, 6.0, now),
        ),
        scene(
            "mikko",
            "borrows eero's phone to punch",
            punch("mikko-in-2", In, "eero-phone", warehouse, 7.0, now),
        ),
    ];
    Ok(scenes)
}

fn verdict_table() -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "#",
            "employee",
            "what happened",
            "verdict",
            "site",
            "distance",
            "findings",
        ]);
    table
}

fn verdict_row(n: usize, scene: &Scene, verdict: &pb::Verdict, duplicate: bool) -> Vec<Cell> {
    let (label, color) = match verdict.decision() {
        pb::Decision::Accepted => ("ACCEPTED", Color::Green),
        pb::Decision::Review => ("REVIEW", Color::Yellow),
        pb::Decision::Rejected => ("REJECTED", Color::Red),
        pb::Decision::Unspecified => ("?", Color::Grey),
    };
    let mut findings: Vec<String> = verdict
        .findings
        .iter()
        .map(|f| {
            let code = f
                .code()
                .as_str_name()
                .trim_start_matches("FINDING_CODE_")
                .to_owned();
            format!("{code}: {}", f.message)
        })
        .collect();
    if duplicate {
        findings.push("resubmitted punch id: the first verdict, nothing stored".into());
    }
    let site = if verdict.site_id.is_empty() {
        "-".to_owned()
    } else {
        verdict.site_id.clone()
    };
    let distance = verdict
        .distance_m
        .map_or("-".to_owned(), |d| format!("{d:.0} m"));
    vec![
        Cell::new(n),
        Cell::new(scene.employee),
        Cell::new(scene.story),
        Cell::new(label).fg(color).add_attribute(Attribute::Bold),
        Cell::new(site),
        Cell::new(distance),
        Cell::new(findings.join("\n")),
    ]
}

/// Everyone works an eight-hour shift starting five minutes from now (local
/// Helsinki time), every day, so that the morning's punches have results:
/// today's, so in the last minutes of a day it starts at 23:59 (a punch
/// then is still within the late grace).
fn demo_schedule(now: Timestamp) -> pb::Schedule {
    let tz = jiff::tz::TimeZone::get("Europe/Helsinki").unwrap_or(jiff::tz::TimeZone::UTC);
    let local_now = tz.to_datetime(now);
    let soon = tz.to_datetime(now + SignedDuration::from_mins(5));
    let start = if soon.date() == local_now.date() {
        soon
    } else {
        local_now.date().at(23, 59, 0, 0)
    };
    let end = start + SignedDuration::from_hours(8);
    use pb::Weekday::*;
    pb::Schedule {
        time_zone: "Europe/Helsinki".into(),
        shifts: vec![pb::ShiftDefinition {
            shift_id: "day".into(),
            start: start.strftime("%H:%M").to_string(),
            end: end.strftime("%H:%M").to_string(),
            late_grace_min: 5,
            early_grace_min: 5,
            serious_late_min: 30,
            flexible_start_min: 0,
        }],
        assignments: [
            "aino", "eero", "mikko", "liisa", "sanna", "pekka", "juha", "kaisa", "timo", "hanna",
            "ville", "noora", "olli",
        ]
        .into_iter()
        .map(|employee| pb::ShiftAssignment {
            employee_id: employee.into(),
            weekdays: [
                Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
            ]
            .map(Into::into)
            .to_vec(),
            shift_id: "day".into(),
        })
        .collect(),
    }
}
