//! A real punchguard server on 127.0.0.1:0 with a real SQLite file, and
//! helpers to call it the way any gRPC client would.
#![allow(dead_code)]

pub mod postgres;
pub mod process;

use std::net::SocketAddr;
use std::path::PathBuf;

use geo::{InteriorPoint, Point};
use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

use punchguard::app::tokens::{self, NewToken};
use punchguard::app::{Actor, App};
use punchguard::auth::Role;
use punchguard::engine::fence::FenceGeometry;
use punchguard::engine::sites::{SiteDefinition, parse_sites_geojson};
use punchguard::engine::{EmployeeId, OrgId};
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::{
    admin_service_client::AdminServiceClient, attendance_service_client::AttendanceServiceClient,
    punch_service_client::PunchServiceClient,
};
use punchguard::server;

use punchguard::store::Database;

pub const KOTKA: &str = include_str!("../../data/kotka-buildings.geojson");
pub const COURTYARD: &str = include_str!("../../data/kotka-courtyard.geojson");

/// HR's tests' organisation: one circle site, 100 m round, in Helsinki's zone.
pub const HQ: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
    "properties":{"site":"hq","radius_m":100},
    "geometry":{"type":"Point","coordinates":[26.94,60.47]}}]}"#;
pub const ZONE: &str = "Europe/Helsinki";

/// 105 m from the centre with a 30 m fix: NEAR_FENCE, which the default
/// policy sends to review.
pub fn at_the_edge(id: &str) -> pb::SubmitPunchRequest {
    punch_at(id, geo::Point::new(26.94, 60.47 + 105.0 / 111_320.0), 30.0)
}

/// A shift starting `offset_min` minutes from now (local wall time), eight
/// hours long, and the local date it starts on.
pub fn shift_around_now(id: &str, offset_min: i64) -> (pb::ShiftDefinition, String) {
    let start = jiff::tz::TimeZone::get(ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() + jiff::SignedDuration::from_mins(offset_min));
    let end = start + jiff::SignedDuration::from_hours(8);
    (
        pb::ShiftDefinition {
            shift_id: id.into(),
            start: start.strftime("%H:%M").to_string(),
            end: end.strftime("%H:%M").to_string(),
            late_grace_min: 5,
            early_grace_min: 5,
            serious_late_min: 30,
            flexible_start_min: 0,
        },
        start.date().to_string(),
    )
}

pub fn every_day(employee: &str, shift: &str) -> pb::ShiftAssignment {
    use pb::Weekday::*;
    pb::ShiftAssignment {
        employee_id: employee.into(),
        weekdays: [
            Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday,
        ]
        .map(Into::into)
        .to_vec(),
        shift_id: shift.into(),
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub app: App,
    /// The SQLite file; empty for a server on PostgreSQL.
    pub database: PathBuf,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh database in a temporary directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_with(dir.path().join("punchguard.db"), Some(dir)).await
    }

    /// A server on the database at `database`, which outlives it.
    pub async fn start_at(database: PathBuf) -> Self {
        Self::start_with(database, None).await
    }

    /// A server on a PostgreSQL database (`url` names it and its schema).
    pub async fn start_postgres(url: &str) -> Self {
        Self::start_on(
            Database::Postgres(url.into()),
            PathBuf::new(),
            None,
            Vec::new(),
        )
        .await
    }

    async fn start_with(database: PathBuf, dir: Option<tempfile::TempDir>) -> Self {
        Self::start_on(
            Database::Sqlite(database.clone()),
            database,
            dir,
            Vec::new(),
        )
        .await
    }

    /// A server on a fresh SQLite database (or the PostgreSQL `url`) that
    /// also trusts `root` for device attestation (synthetic devices).
    pub async fn start_trusting(postgres_url: Option<&str>, root: &[u8]) -> Self {
        let roots = vec![root.to_vec()];
        match postgres_url {
            Some(url) => {
                Self::start_on(Database::Postgres(url.into()), PathBuf::new(), None, roots).await
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                let database = dir.path().join("punchguard.db");
                Self::start_on(
                    Database::Sqlite(database.clone()),
                    database,
                    Some(dir),
                    roots,
                )
                .await
            }
        }
    }

    async fn start_on(
        target: Database,
        database: PathBuf,
        dir: Option<tempfile::TempDir>,
        extra_attestation_roots: Vec<Vec<u8>>,
    ) -> Self {
        let app = server::open(&target).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server::run(
            app.clone(),
            listener,
            server::Options {
                // The tests drive many punches through few devices.
                limits: punchguard::app::limits::LimitSettings {
                    device_per_minute: 1_000_000,
                    org_per_second: 1_000_000,
                    max_in_flight: 100_000,
                },
                extra_attestation_roots,
                ..server::Options::local(std::time::Duration::from_secs(1))
            },
            shutdown.clone().cancelled_owned(),
        ));
        Self {
            addr,
            app,
            database,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// Creates a token the way `punchguard token create` does.
    pub async fn token(&self, org: &str, role: Role, employee: Option<&str>) -> String {
        let new = NewToken {
            role,
            employee: employee.map(|e| EmployeeId::new(e).unwrap()),
            expires_in_days: None,
        };
        let operator = Actor::cli(OrgId::new(org).unwrap(), tokens::ROLE);
        tokens::create(&self.app, &operator, new)
            .await
            .unwrap()
            .token
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn punch_client(&self) -> PunchServiceClient<Channel> {
        PunchServiceClient::new(self.channel().await)
    }

    pub async fn admin_client(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await).max_encoding_message_size(16 << 20)
    }

    pub async fn attendance_client(&self) -> AttendanceServiceClient<Channel> {
        AttendanceServiceClient::new(self.channel().await)
    }

    /// Imports `geojson` into the admin token's organisation.
    pub async fn import(&self, admin: &str, geojson: impl Into<String>) -> pb::ImportSitesResponse {
        let request = pb::ImportSitesRequest {
            org_id: String::new(),
            geojson: geojson.into(),
        };
        self.admin_client()
            .await
            .import_sites(authed(request, admin))
            .await
            .unwrap()
            .into_inner()
    }

    /// Puts the admin token's organisation's schedule (in Helsinki time).
    pub async fn put_schedule(
        &self,
        admin: &str,
        shifts: Vec<pb::ShiftDefinition>,
        assignments: Vec<pb::ShiftAssignment>,
    ) -> pb::Schedule {
        let request = pb::PutScheduleRequest {
            org_id: String::new(),
            schedule: Some(pb::Schedule {
                time_zone: ZONE.into(),
                shifts,
                assignments,
            }),
        };
        self.admin_client()
            .await
            .put_schedule(authed(request, admin))
            .await
            .unwrap()
            .into_inner()
    }

    /// An org with an admin token and the Kotka buildings imported.
    pub async fn kotka_org(&self, org: &str) -> String {
        let admin = self.token(org, Role::Admin, None).await;
        self.import(&admin, KOTKA).await;
        admin
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub fn ts(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

/// The Kotka sites, parsed once per test binary.
pub fn kotka_sites() -> &'static [SiteDefinition] {
    static SITES: std::sync::OnceLock<Vec<SiteDefinition>> = std::sync::OnceLock::new();
    SITES.get_or_init(|| parse_sites_geojson(KOTKA).unwrap())
}

/// A point inside building `i` of the Kotka set, as (lon, lat).
pub fn inside_building(i: usize) -> Point<f64> {
    match &kotka_sites()[i].fences[0] {
        FenceGeometry::Polygon(mp) => mp.interior_point().unwrap(),
        FenceGeometry::Circle { center, .. } => *center,
    }
}

/// A fresh, well-formed punch request at `p` with a good, recent fix.
pub fn punch_at(punch_id: &str, p: Point<f64>, accuracy_m: f64) -> pb::SubmitPunchRequest {
    let now = Timestamp::now();
    pb::SubmitPunchRequest {
        punch_id: punch_id.into(),
        kind: pb::PunchKind::In.into(),
        client_time: Some(ts(now)),
        gps: Some(pb::GpsFix {
            latitude: Some(p.y()),
            longitude: Some(p.x()),
            accuracy_m: Some(accuracy_m),
            fix_time: Some(ts(now - jiff::SignedDuration::from_secs(3))),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The (first) field named in a status's BadRequest detail.
pub fn violated_field(status: &tonic::Status) -> Option<String> {
    violated_fields(status).into_iter().next()
}

/// Every field a status's BadRequest detail names, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// An honest punch from a modern client inside building 10: good fix, a
/// phone that admits to nothing, sensors that show it was carried.
pub fn honest(id: &str) -> pb::SubmitPunchRequest {
    let mut request = punch_at(id, inside_building(10), 8.0);
    request.device = Some(pb::DeviceFacts {
        device_id: "device-aino-1".into(),
        platform: pb::Platform::Android.into(),
        os_version: "15".into(),
        app_version: "3.2.0".into(),
        integrity: pb::IntegrityVerdict::Passed.into(),
        ..Default::default()
    });
    request.motion = Some(pb::MotionSummary {
        sensors: vec![
            sensor(pb::SensorType::Accelerometer, 9.81, 0.3),
            sensor(pb::SensorType::Gyroscope, 0.2, 0.01),
        ],
        step_delta: Some(6),
        window_ms: 5000,
    });
    request.installed_packages = vec!["com.android.chrome".into(), "fi.vr.mobile".into()];
    request
}

pub fn sensor(kind: pb::SensorType, mean: f64, variance: f64) -> pb::SensorStats {
    pb::SensorStats {
        r#type: kind.into(),
        sample_count: 250,
        mean_magnitude: mean,
        variance,
    }
}

pub fn gps(r: &mut pb::SubmitPunchRequest) -> &mut pb::GpsFix {
    r.gps.as_mut().unwrap()
}

pub fn device(r: &mut pb::SubmitPunchRequest) -> &mut pb::DeviceFacts {
    r.device.as_mut().unwrap()
}

pub fn motion(r: &mut pb::SubmitPunchRequest) -> &mut pb::MotionSummary {
    r.motion.as_mut().unwrap()
}

/// The next event of a live feed; fails the test after 20 s of silence.
pub async fn next_event(feed: &mut tonic::Streaming<pb::PunchEvent>) -> pb::PunchEvent {
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio_stream::StreamExt::next(feed),
    )
    .await
    .expect("the feed went quiet")
    .unwrap()
    .unwrap()
}

/// The first of `names` that runs on this machine (`--version`); `None`,
/// with a SKIPPED line naming `purpose`, when none does. `.ci/run`
/// installs Debian's chromium and chromium-driver: under `CI=true` a
/// missing one fails the test instead.
pub fn installed(names: &[&'static str], purpose: &str) -> Option<&'static str> {
    let found = names.iter().copied().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok()
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but none of {names:?} is installed, for {purpose}"
        );
        eprintln!(
            "SKIPPED: none of {names:?} is installed, for {purpose} (apt install chromium chromium-driver)"
        );
    }
    found
}

/// Debian's chromium or a namesake.
pub const CHROMIUM: &[&str] = &["chromium", "chromium-browser", "google-chrome"];
