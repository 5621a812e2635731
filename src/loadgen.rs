//! `punchguard loadgen`: drives a running server over real gRPC and reports
//! throughput, errors and latency percentiles. It sets up its own
//! organisation through the admin API (the Kotka buildings and one device
//! token per simulated phone), then sends a realistic mix: mostly genuine
//! punches inside a building, some cheats (far outside, mock location, a
//! spoofed jump). A baseline run calls the health check with the same
//! concurrency, so a verified, durable punch reads as a ratio to the
//! cheapest call the same server answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use geo::{InteriorPoint, Point};
use hdrhistogram::Histogram;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

use crate::engine::fence::FenceGeometry;
use crate::engine::sites::parse_sites_geojson;
use crate::proto::v1 as pb;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Verified, durable punches.
    Punch,
    /// The health check: the cheapest call.
    Health,
    /// Health first, then punches, and their ratio.
    Both,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoadgenArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// An admin token of the organisation the load runs in (its sites are
    /// replaced by the Kotka buildings unless --no-setup).
    #[arg(long, env = "PUNCHGUARD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    #[arg(long, value_enum, default_value = "both")]
    pub mode: Mode,
    /// HTTP/2 connections, shared round-robin by the workers.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long each measured phase runs, seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Fixed total rate, requests a second; unset: as fast as answered.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Simulated phones (each its own device token and employee).
    #[arg(long, default_value_t = 500)]
    pub devices: usize,
    /// Share of cheating punches, 0..1.
    #[arg(long, default_value_t = 0.1)]
    pub cheat_share: f64,
    /// Use the organisation's sites as they are.
    #[arg(long)]
    pub no_setup: bool,
}

/// What one phase measured.
pub struct PhaseResult {
    pub name: &'static str,
    pub ok: u64,
    pub errors: Vec<(String, u64)>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
}

impl PhaseResult {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn report(&self) -> String {
        let q = |p: f64| Duration::from_micros(self.latency.value_at_quantile(p));
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors
                .iter()
                .map(|(code, n)| format!("{code}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{:<6} {:>9} ok in {:>5.1} s = {:>8.0}/s | p50 {:>8.2?} p90 {:>8.2?} p99 {:>8.2?} p99.9 {:>8.2?} max {:>8.2?} | errors: {errors}",
            self.name,
            self.ok,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            Duration::from_micros(self.latency.max()),
        )
    }
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

async fn connect(server: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for _ in 0..n.max(1) {
        let channel = Endpoint::from_shared(server.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {server}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Imports the Kotka buildings and issues the device tokens; returns the
/// tokens and a point inside each building.
async fn setup(
    args: &LoadgenArgs,
    channel: Channel,
) -> anyhow::Result<(Vec<String>, Vec<Point<f64>>)> {
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel)
        .max_encoding_message_size(64 << 20);
    if !args.no_setup {
        admin
            .import_sites(with_token(
                pb::ImportSitesRequest {
                    org_id: String::new(),
                    geojson: crate::demo::KOTKA_GEOJSON.into(),
                },
                &args.admin_token,
            ))
            .await
            .context("importing the Kotka buildings")?;
    }
    let mut tokens = Vec::with_capacity(args.devices);
    for i in 0..args.devices.max(1) {
        let issued = admin
            .create_token(with_token(
                pb::CreateTokenRequest {
                    org_id: String::new(),
                    role: "device".into(),
                    employee_id: format!("load-{i:06}"),
                    expires_in_days: 1,
                },
                &args.admin_token,
            ))
            .await
            .context("issuing device tokens")?
            .into_inner();
        tokens.push(issued.token);
    }
    let sites = parse_sites_geojson(crate::demo::KOTKA_GEOJSON).map_err(anyhow::Error::msg)?;
    let inside = sites
        .iter()
        .filter_map(|s| match s.fences.first()? {
            FenceGeometry::Polygon(mp) => mp.interior_point(),
            FenceGeometry::Circle { center, .. } => Some(*center),
        })
        .collect();
    Ok((tokens, inside))
}

/// A punch from phone `device`, the `n`th of the run.
fn punch(n: u64, device: usize, inside: &[Point<f64>], cheat_share: f64) -> pb::SubmitPunchRequest {
    let now = Timestamp::now();
    // A cheap, deterministic spread: building, cheat or not, kind of cheat.
    let mix = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    let p = inside[(mix as usize) % inside.len()];
    let cheating = ((mix % 10_000) as f64) < cheat_share * 10_000.0;
    let mut gps = pb::GpsFix {
        latitude: Some(p.y()),
        longitude: Some(p.x()),
        accuracy_m: Some(8.0 + (mix % 20) as f64),
        fix_time: Some(timestamp(now - SignedDuration::from_secs(2))),
        ..Default::default()
    };
    if cheating {
        match mix % 3 {
            0 => gps.mock_location = true,
            1 => gps.latitude = Some(p.y() + 0.02), // ~2 km away
            _ => gps.accuracy_m = Some(900.0),
        }
    }
    pb::SubmitPunchRequest {
        punch_id: format!("load-{n:012}"),
        kind: pb::PunchKind::In.into(),
        client_time: Some(timestamp(now)),
        gps: Some(gps),
        device: Some(pb::DeviceFacts {
            device_id: format!("load-phone-{device:06}"),
            platform: pb::Platform::Android.into(),
            ..Default::default()
        }),
        nonce: format!("n-{n}"),
        ..Default::default()
    }
}

fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

struct Tally {
    latency: Histogram<u64>,
    errors: std::collections::BTreeMap<String, u64>,
}

/// Runs one phase: `call(worker, n)` as fast as allowed for `duration`.
async fn phase<F, Fut>(
    name: &'static str,
    args: &LoadgenArgs,
    call: F,
) -> anyhow::Result<PhaseResult>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
    let tally = Arc::new(Mutex::new(Tally {
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        errors: Default::default(),
    }));
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    // A fixed rate: each worker waits for its own slot.
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(args.concurrency as f64 / r.max(1) as f64));
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = done.load(Ordering::Relaxed);
                eprint!("\r{name}: {now} answered, {}/s   ", now - last);
                last = now;
            }
        })
    };
    let concurrency = args.concurrency.max(1);
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (call, tally, issued, done) =
                (call.clone(), tally.clone(), issued.clone(), done.clone());
            tokio::spawn(async move {
                let mut local =
                    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
                let mut errors = std::collections::BTreeMap::<String, u64>::new();
                // Staggered: the workers' slots spread evenly over the
                // interval, not a burst of all of them at once.
                let mut next_slot = Instant::now()
                    + interval.map_or(Duration::ZERO, |every| {
                        every.mul_f64(worker as f64 / concurrency as f64)
                    });
                while Instant::now() < deadline {
                    if let Some(every) = interval {
                        tokio::time::sleep_until(next_slot.into()).await;
                        next_slot += every;
                    }
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    match call(worker, n).await {
                        Ok(()) => {
                            let _ = local.record(sent.elapsed().as_micros().max(1) as u64);
                        }
                        Err(status) => {
                            *errors.entry(format!("{:?}", status.code())).or_default() += 1
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                let mut tally = tally.lock().await;
                let _ = tally.latency.add(&local);
                for (code, n) in errors {
                    *tally.errors.entry(code).or_default() += n;
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed();
    progress.abort();
    eprintln!();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still hold the tally"))?
        .into_inner();
    Ok(PhaseResult {
        name,
        ok: tally.latency.len(),
        errors: tally.errors.into_iter().collect(),
        elapsed,
        latency: tally.latency,
    })
}

/// Runs the load and prints the report.
pub async fn run(args: LoadgenArgs) -> anyhow::Result<Vec<PhaseResult>> {
    let channels = connect(&args.server, args.connections).await?;
    let mut results = Vec::new();
    if matches!(args.mode, Mode::Health | Mode::Both) {
        let channels = channels.clone();
        let result = phase("health", &args, move |worker, _| {
            let mut client = tonic_health::pb::health_client::HealthClient::new(
                channels[worker % channels.len()].clone(),
            );
            async move {
                client
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: "punchguard.v1.PunchService".into(),
                    })
                    .await
                    .map(|_| ())
            }
        })
        .await?;
        println!("{}", result.report());
        results.push(result);
    }
    if matches!(args.mode, Mode::Punch | Mode::Both) {
        let (tokens, inside) = setup(&args, channels[0].clone()).await?;
        let (tokens, inside) = (Arc::new(tokens), Arc::new(inside));
        let cheat_share = args.cheat_share;
        let channels = channels.clone();
        let result = phase("punch", &args, move |worker, n| {
            let mut client = pb::punch_service_client::PunchServiceClient::new(
                channels[worker % channels.len()].clone(),
            );
            let device = (n as usize) % tokens.len();
            let request = with_token(punch(n, device, &inside, cheat_share), &tokens[device]);
            async move { client.submit_punch(request).await.map(|_| ()) }
        })
        .await?;
        println!("{}", result.report());
        results.push(result);
    }
    if let [health, punch] = &results[..] {
        println!(
            "punch / health throughput: {:.2} ({:.0} / {:.0} per second, concurrency {})",
            punch.per_second() / health.per_second(),
            punch.per_second(),
            health.per_second(),
            args.concurrency
        );
    }
    Ok(results)
}
