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

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use geo::{InteriorPoint, Point};
use jiff::{SignedDuration, Timestamp};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

use crate::auth::{Role, generate_token};
use crate::engine::fence::FenceGeometry;
use crate::engine::sites::parse_sites_geojson;
use crate::engine::{EmployeeId, OrgId, OrgSnapshot, Policy};
use crate::proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use crate::proto::v1::{
    attendance_service_client::AttendanceServiceClient, punch_service_client::PunchServiceClient,
};
use crate::store::TokenGrant;
use crate::{server, service::convert::timestamp_to_pb};

/// The demo organisation's sites: every building of the Kotka sample.
pub const KOTKA_GEOJSON: &str = include_str!("../data/kotka-buildings.geojson");
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
    let serving = tokio::spawn(server::run(
        app.clone(),
        listener,
        std::time::Duration::from_secs(5),
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
    for employee in ["aino", "eero", "liisa", "mikko"] {
        tokens.insert(
            employee,
            create_token(&app, &org, Role::Device, Some(employee)).await?,
        );
    }

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let started = Instant::now();
    let imported = AdminServiceClient::new(channel.clone())
        .max_encoding_message_size(16 << 20)
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
    println!(
        "imported {} sites (real building footprints in Kotka, © OpenStreetMap contributors) in {} ms\n",
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
    app: &crate::service::App,
    org: &OrgId,
    role: Role,
    employee: Option<&str>,
) -> anyhow::Result<String> {
    let (token, hash) = generate_token();
    let employee = employee
        .map(EmployeeId::new)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    app.store
        .create_token(
            hash,
            TokenGrant {
                org: org.clone(),
                role,
                employee,
            },
        )
        .await?;
    Ok(token)
}

fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn punch(
    id: &str,
    kind: pb::PunchKind,
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
        ..Default::default()
    }
}

/// The scripted morning: genuine punches and the cheats punchguard catches.
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
    let office = inside(10);
    let warehouse = inside(200);
    let home = Point::new(office.x() + 0.01, office.y() - 0.018); // ~2 km from the office

    let mut stale = punch("liisa-in-1", In, inside(1000), 10.0, now);
    if let Some(gps) = stale.gps.as_mut() {
        gps.fix_time = Some(timestamp_to_pb(now - SignedDuration::from_mins(10)));
    }
    let mut backdated = punch(
        "aino-out-1",
        Out,
        office,
        9.0,
        now - SignedDuration::from_mins(40),
    );
    if let Some(gps) = backdated.gps.as_mut() {
        gps.fix_time = backdated.client_time;
    }
    let mut mocked = punch("mikko-in-2", In, warehouse, 3.0, now);
    if let Some(gps) = mocked.gps.as_mut() {
        gps.mock_location = true;
    }
    let mut broken = punch("eero-in-9", In, office, 5.0, now);
    if let Some(gps) = broken.gps.as_mut() {
        gps.latitude = Some(123.0);
    }

    Ok(vec![
        Scene {
            employee: "aino",
            story: "clocks in at her office",
            request: punch("aino-in-1", In, office, 8.0, now),
        },
        Scene {
            employee: "eero",
            story: "clocks in at the warehouse",
            request: punch("eero-in-1", In, warehouse, 12.0, now),
        },
        Scene {
            employee: "aino",
            story: "her app retries the same clock-in",
            request: punch("aino-in-1", In, office, 8.0, now),
        },
        Scene {
            employee: "mikko",
            story: "clocks in from home across town",
            request: punch("mikko-in-1", In, home, 15.0, now),
        },
        Scene {
            employee: "eero",
            story: "at a building's edge, GPS drifting",
            request: punch("eero-in-2", In, near_edge, 30.0, now),
        },
        Scene {
            employee: "liisa",
            story: "indoors: only a cell-tower fix",
            request: punch("liisa-in-0", In, inside(1000), 450.0, now),
        },
        Scene {
            employee: "liisa",
            story: "app replays a fix from 10 min ago",
            request: stale,
        },
        Scene {
            employee: "aino",
            story: "set her phone clock back 40 min",
            request: backdated,
        },
        Scene {
            employee: "mikko",
            story: "fake-GPS app, mock flag showing",
            request: mocked,
        },
        Scene {
            employee: "eero",
            story: "buggy client sends latitude 123",
            request: broken,
        },
        Scene {
            employee: "eero",
            story: "clocks out at the warehouse",
            request: punch("eero-out-1", Out, warehouse, 6.0, now),
        },
    ])
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
