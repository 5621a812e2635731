//! `punchguard loadgen`: drives a running server over real gRPC and reports
//! throughput, errors and latency percentiles. It sets up its own
//! organisation through the admin API (the Kotka buildings and one device
//! token per simulated phone), then sends punches that behave like people:
//! each employee punches at their own workplace (a building of their own,
//! the same in every run) with their own phone, and exactly the stated
//! share of punches are cheats, of three kinds in turn (a mock-location
//! fix, a fix 2 km away, a fix too coarse to judge). Every punch id and
//! nonce carries the run's id, so no run re-sends another's punches: each
//! one is a new, verified, durable punch. The verdicts are summed up at the
//! end, so a run whose mix is not what it claims cannot pass unnoticed.
//! A baseline run calls the health check with the same concurrency, so a
//! punch reads as a ratio to the cheapest call the same server answers;
//! with `--server-pid`, the server's CPU time per punch is reported too.

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
    /// Punches as today's clients send them, then each phone enrols an
    /// attested key: signed punches, unsigned again (the organisation's app
    /// identity cleared), signed again; and the ratio of their rates. The
    /// server must trust `--staging-root-key`'s root (`serve
    /// --extra-attestation-roots`).
    Attested,
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
    /// Marks this run's punch ids and nonces [default: random].
    #[arg(long)]
    pub run_id: Option<String>,
    /// The server's process id, when it runs on this machine: its CPU time
    /// per punch is reported, and sharing cores with it is warned about.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// `--mode attested`: the staging root's private key (PKCS#8 PEM),
    /// created with its certificate beside it (`.pem`) when missing.
    #[arg(long, default_value = "punchguard-staging-root.key")]
    pub staging_root_key: std::path::PathBuf,
}

/// The staging root's name: a chain is anchored by the root's key and name.
const STAGING_ROOT: &str = "punchguard staging root";
/// The app the load generator's phones attest for.
const LOAD_PACKAGE: &str = "org.punchguard.loadgen";
const LOAD_SIGNING_CERT: [u8; 32] = [0x4c; 32];

/// The staging root of `--staging-root-key`, created (key and certificate)
/// when missing.
pub fn staging_root(
    key_path: &std::path::Path,
) -> anyhow::Result<crate::synthetic_device::TestRoot> {
    use crate::synthetic_device::TestRoot;
    let cert_path = key_path.with_extension("pem");
    if let Ok(pem) = std::fs::read_to_string(key_path) {
        let root = TestRoot::from_key_pem(STAGING_ROOT, &pem).map_err(anyhow::Error::msg)?;
        std::fs::write(&cert_path, root.pem())?;
        return Ok(root);
    }
    let root = TestRoot::generate(STAGING_ROOT);
    std::fs::write(key_path, root.key_pem())
        .with_context(|| format!("writing {}", key_path.display()))?;
    std::fs::write(&cert_path, root.pem())?;
    eprintln!(
        "created a staging root: start the server with --extra-attestation-roots {}",
        cert_path.display()
    );
    Ok(root)
}

/// How a cheating punch cheats; they come in turn.
const CHEATS: [&str; 3] = ["mock location", "2 km away", "accuracy 900 m"];

/// Whether the `n`th punch of a run cheats: exactly `share` of every
/// prefix of the run (rounded down), spread evenly.
fn cheats(n: u64, share: f64) -> bool {
    let share = share.clamp(0.0, 1.0);
    ((n + 1) as f64 * share).floor() > (n as f64 * share).floor()
}

/// The decisions and finding codes of a phase's punches.
#[derive(Debug, Default, Clone)]
pub struct Verdicts {
    pub decisions: std::collections::BTreeMap<String, u64>,
    pub findings: std::collections::BTreeMap<String, u64>,
    /// Punches the server had seen before (a collision of punch ids).
    pub duplicates: u64,
    /// Punches whose signature verified (device evidence attested).
    pub attested: u64,
}

impl Verdicts {
    fn note(&mut self, answer: &pb::SubmitPunchResponse) {
        if answer.duplicate {
            self.duplicates += 1;
        }
        if let Some(verdict) = &answer.verdict {
            if verdict.device_assurance() == pb::DeviceAssurance::Attested {
                self.attested += 1;
            }
            let decision = verdict
                .decision()
                .as_str_name()
                .trim_start_matches("DECISION_");
            *self.decisions.entry(decision.to_owned()).or_default() += 1;
            for finding in &verdict.findings {
                let code = finding
                    .code()
                    .as_str_name()
                    .trim_start_matches("FINDING_CODE_");
                *self.findings.entry(code.to_owned()).or_default() += 1;
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.decisions.values().sum()
    }

    /// The share of punches with `decision` (e.g. `ACCEPTED`).
    pub fn share(&self, decision: &str) -> f64 {
        let n = self.decisions.get(decision).copied().unwrap_or(0);
        n as f64 / self.total().max(1) as f64
    }

    pub fn report(&self) -> String {
        let total = self.total().max(1) as f64;
        let list = |counts: &std::collections::BTreeMap<String, u64>| {
            counts
                .iter()
                .map(|(k, n)| format!("{k} {n} ({:.1} %)", *n as f64 * 100.0 / total))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "verdicts: {}; findings: {}; duplicates: {}; attested: {}",
            list(&self.decisions),
            if self.findings.is_empty() {
                "none".into()
            } else {
                list(&self.findings)
            },
            self.duplicates,
            self.attested
        )
    }
}

/// What one phase measured.
pub struct PhaseResult {
    pub name: &'static str,
    pub ok: u64,
    pub errors: Vec<(String, u64)>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// What the server used during the phase, when its pid was given.
    pub server: Option<ServerUsage>,
}

/// A local server's CPU time and the bytes it wrote to storage (its WAL,
/// checkpoints and logs), from `/proc`: the cost of a phase is the
/// difference of two readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerUsage {
    pub cpu: Duration,
    /// `write_bytes` of `/proc/PID/io` (needs the server's user or root).
    pub bytes_written: Option<u64>,
}

impl ServerUsage {
    fn read(pid: u32) -> Option<Self> {
        Some(ServerUsage {
            cpu: cpu_time(pid)?,
            bytes_written: bytes_written(pid),
        })
    }

    fn since(self, before: Self) -> Self {
        ServerUsage {
            cpu: self.cpu.saturating_sub(before.cpu),
            bytes_written: self
                .bytes_written
                .zip(before.bytes_written)
                .map(|(after, before)| after.saturating_sub(before)),
        }
    }
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
    let buildings: Vec<Point<f64>> = sites
        .iter()
        .filter_map(|s| match s.fences.first()? {
            FenceGeometry::Polygon(mp) => mp.interior_point(),
            FenceGeometry::Circle { center, .. } => Some(*center),
        })
        .collect();
    // Each employee's workplace, the same in every run (a later run must
    // not find its employees teleported since the last one).
    let workplaces = (0..tokens.len())
        .map(|i| buildings[(i * 7919) % buildings.len()])
        .collect();
    Ok((tokens, workplaces))
}

/// The `n`th punch of run `run`, from the phone of employee `device`, at
/// their workplace unless it is one of the cheats.
fn punch(
    run: &str,
    n: u64,
    device: usize,
    workplace: Point<f64>,
    cheat_share: f64,
) -> pb::SubmitPunchRequest {
    let now = Timestamp::now();
    // Honest drift: a few decimetres around the workplace's inner point,
    // with the accuracy a phone indoors reports.
    let spread = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    let jitter = ((spread % 11) as f64 - 5.0) * 1e-6;
    let mut gps = pb::GpsFix {
        latitude: Some(workplace.y() + jitter),
        longitude: Some(workplace.x() - jitter),
        accuracy_m: Some(8.0 + (spread % 20) as f64),
        fix_time: Some(timestamp(now - SignedDuration::from_secs(2))),
        ..Default::default()
    };
    if cheats(n, cheat_share) {
        // The cheats in turn: the k-th cheat of the run is of kind k mod 3.
        let k = ((n as f64) * cheat_share.clamp(0.0, 1.0)).floor() as usize;
        match k % CHEATS.len() {
            0 => gps.mock_location = true,
            1 => gps.latitude = Some(workplace.y() + 0.018), // ~2 km north
            _ => gps.accuracy_m = Some(900.0),
        }
    }
    pb::SubmitPunchRequest {
        punch_id: format!("{run}-{n:012}"),
        kind: pb::PunchKind::In.into(),
        client_time: Some(timestamp(now)),
        gps: Some(gps),
        device: Some(pb::DeviceFacts {
            device_id: format!("load-phone-{device:06}"),
            platform: pb::Platform::Android.into(),
            ..Default::default()
        }),
        nonce: format!("{run}-n-{n}"),
        ..Default::default()
    }
}

/// CPU time the process has used, all its threads (from `/proc`).
fn cpu_time(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        // schedstat: nanoseconds on a CPU, waiting, timeslices.
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

/// Bytes the process has caused to be written to storage.
fn bytes_written(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The CPUs a process may run on (`Cpus_allowed_list`), as written.
fn allowed_cpus(pid: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|list| list.trim().to_owned())
}

/// Says so when the load generator competes with the server for cores:
/// every figure then includes the load generator's own cost.
fn warn_about_shared_cores(args: &LoadgenArgs) {
    match args.server_pid {
        Some(pid) => {
            let (ours, theirs) = (allowed_cpus("self"), allowed_cpus(&pid.to_string()));
            if let (Some(ours), Some(theirs)) = (ours, theirs)
                && ours == theirs
            {
                eprintln!(
                    "warning: loadgen and the server may both run on CPUs {ours}: the server's \
                     figures include competing with loadgen (pin them apart with taskset)"
                );
            }
        }
        None if args.server.contains("127.0.0.1") || args.server.contains("localhost") => {
            eprintln!(
                "warning: the server is on this machine and shares its cores with loadgen; \
                 give --server-pid to report its CPU per punch"
            );
        }
        None => {}
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
    let usage_before = args.server_pid.and_then(ServerUsage::read);
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
    let server = usage_before
        .zip(args.server_pid.and_then(ServerUsage::read))
        .map(|(before, after)| after.since(before));
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
        server,
    })
}

/// Runs the load and prints the report.
pub async fn run(args: LoadgenArgs) -> anyhow::Result<Report> {
    warn_about_shared_cores(&args);
    // Before connecting: a first run creates the root the server must trust.
    let root = match args.mode {
        Mode::Attested => Some(staging_root(&args.staging_root_key)?),
        _ => None,
    };
    let channels = connect(&args.server, args.connections).await?;
    let mut results = Vec::new();
    let mut last_verdicts = None;
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
    if matches!(args.mode, Mode::Punch | Mode::Both | Mode::Attested) {
        let (tokens, workplaces) = setup(&args, channels[0].clone()).await?;
        let (tokens, workplaces) = (Arc::new(tokens), Arc::new(workplaces));
        let run: Arc<str> = args.run_id.clone().unwrap_or_else(random_run_id).into();
        let (result, verdicts) = punch_phase(
            "punch",
            &args,
            &channels,
            &tokens,
            &workplaces,
            run.clone(),
            None,
        )
        .await?;
        results.push(result);
        last_verdicts = Some(verdicts);
        if let Some(root) = root {
            // Interleaved, so that neither kind runs only on the bigger
            // database: signed, unsigned again (the app identity cleared:
            // today's clients), signed again.
            let phones = Arc::new(enrol_phones(&root, channels[0].clone(), &args, &tokens).await?);
            let admin = channels[0].clone();
            for (round, signed) in [(1, true), (2, false), (3, true)] {
                put_identity(admin.clone(), &args, signed).await?;
                let (name, suffix) = if signed {
                    ("signed", "s")
                } else {
                    ("punch", "u")
                };
                let (result, verdicts) = punch_phase(
                    name,
                    &args,
                    &channels,
                    &tokens,
                    &workplaces,
                    format!("{run}-{suffix}{round}").into(),
                    signed.then(|| phones.clone()),
                )
                .await?;
                results.push(result);
                last_verdicts = Some(verdicts);
            }
        }
    }
    for result in &results {
        if let Some(usage) = result.server {
            let calls = result.ok.max(1) as f64;
            let written = usage
                .bytes_written
                .map(|b| format!(", wrote {:.0} bytes per call", b as f64 / calls))
                .unwrap_or_default();
            println!(
                "{}: server CPU {:.2} s for {} calls = {:.0} µs per call{written}",
                result.name,
                usage.cpu.as_secs_f64(),
                result.ok,
                usage.cpu.as_secs_f64() / calls * 1e6
            );
        }
    }
    let rate = |name: &str| {
        let (calls, secs) = results
            .iter()
            .filter(|r| r.name == name)
            .fold((0, 0.0), |(n, t), r| {
                (n + r.ok, t + r.elapsed.as_secs_f64())
            });
        calls as f64 / secs.max(f64::EPSILON)
    };
    if args.mode == Mode::Attested {
        println!(
            "signed / unsigned throughput, all phases: {:.2} ({:.0} / {:.0} per second, concurrency {})",
            rate("signed") / rate("punch"),
            rate("signed"),
            rate("punch"),
            args.concurrency
        );
    }
    match &results[..] {
        [health, punch] if health.name == "health" => println!(
            "punch / health throughput: {:.2} ({:.0} / {:.0} per second, concurrency {})",
            punch.per_second() / health.per_second(),
            punch.per_second(),
            health.per_second(),
            args.concurrency
        ),
        _ => {}
    }
    Ok(Report {
        phases: results,
        verdicts: last_verdicts,
    })
}

/// What a run measured: each phase, and the punches' verdicts.
pub struct Report {
    pub phases: Vec<PhaseResult>,
    pub verdicts: Option<Verdicts>,
}

/// Runs a phase of punches (signed by `phones` when given), prints its
/// report and verdicts, and warns when the verdicts are not the mix sent.
async fn punch_phase(
    name: &'static str,
    args: &LoadgenArgs,
    channels: &[Channel],
    tokens: &Arc<Vec<String>>,
    workplaces: &Arc<Vec<Point<f64>>>,
    run: Arc<str>,
    phones: Option<Arc<Vec<crate::synthetic_device::AndroidDevice>>>,
) -> anyhow::Result<(PhaseResult, Verdicts)> {
    let verdicts = Arc::new(std::sync::Mutex::new(Verdicts::default()));
    let cheat_share = args.cheat_share;
    let (channels, tally) = (channels.to_vec(), verdicts.clone());
    let (tokens, workplaces) = (tokens.clone(), workplaces.clone());
    let result = phase(name, args, move |worker, n| {
        let mut client = pb::punch_service_client::PunchServiceClient::new(
            channels[worker % channels.len()].clone(),
        );
        let device = (n as usize) % tokens.len();
        let request = punch(&run, n, device, workplaces[device], cheat_share);
        let signed = phones.as_ref().map(|phones| {
            // The phone signs the exact bytes it sends.
            let body = prost::Message::encode_to_vec(&request);
            let signature = phones[device].sign(&body);
            with_token(
                pb::SubmitSignedPunchRequest {
                    punch: body,
                    proof: Some(pb::submit_signed_punch_request::Proof::Signature(signature)),
                },
                &tokens[device],
            )
        });
        let request = with_token(request, &tokens[device]);
        let tally = tally.clone();
        async move {
            let answer = match signed {
                Some(signed) => client.submit_signed_punch(signed).await?,
                None => client.submit_punch(request).await?,
            }
            .into_inner();
            tally
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .note(&answer);
            Ok(())
        }
    })
    .await?;
    println!("{}", result.report());
    let verdicts = verdicts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    println!("{}", verdicts.report());
    // Honest punches are accepted; a run flagging many more than the
    // cheats it sent measured something else.
    let expected = 1.0 - cheat_share.clamp(0.0, 1.0);
    if verdicts.share("ACCEPTED") + 0.02 < expected || verdicts.duplicates > 0 {
        eprintln!(
            "warning: {:.1} % accepted where {:.1} % were honest, {} duplicates: \
             this run did not measure what it claims",
            verdicts.share("ACCEPTED") * 100.0,
            expected * 100.0,
            verdicts.duplicates
        );
    }
    Ok((result, verdicts))
}

/// Names the load generator's app as the organisation's (`attested`), or
/// names none: the organisation of today's clients, for whom attestation
/// costs nothing.
async fn put_identity(channel: Channel, args: &LoadgenArgs, attested: bool) -> anyhow::Result<()> {
    let android = attested.then(|| pb::AndroidAppIdentity {
        package_name: LOAD_PACKAGE.into(),
        signing_cert_sha256: vec![hex::encode(LOAD_SIGNING_CERT)],
    });
    pb::attestation_service_client::AttestationServiceClient::new(channel)
        .put_app_identity(with_token(
            pb::PutAppIdentityRequest {
                org_id: String::new(),
                identity: Some(pb::AppIdentity { android, ios: None }),
            },
            &args.admin_token,
        ))
        .await
        .context("setting the organisation's app identity")?;
    Ok(())
}

/// Names the load generator's app as the organisation's, then enrols one
/// attested phone per device token (a challenge, then its attestation).
async fn enrol_phones(
    root: &crate::synthetic_device::TestRoot,
    channel: Channel,
    args: &LoadgenArgs,
    tokens: &[String],
) -> anyhow::Result<Vec<crate::synthetic_device::AndroidDevice>> {
    use crate::synthetic_device::AndroidSpec;
    put_identity(channel.clone(), args, true).await?;
    let mut client = pb::attestation_service_client::AttestationServiceClient::new(channel);
    let started = Instant::now();
    let mut phones = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        let device_id = format!("load-phone-{i:06}");
        let challenge = client
            .create_enrolment_challenge(with_token(
                pb::CreateEnrolmentChallengeRequest {
                    device_id: device_id.clone(),
                },
                token,
            ))
            .await?
            .into_inner()
            .challenge;
        let phone = root.android(
            &AndroidSpec::genuine(LOAD_PACKAGE, LOAD_SIGNING_CERT),
            &challenge,
        );
        let enrolled = client
            .enrol_device(with_token(
                pb::EnrolDeviceRequest {
                    device_id,
                    challenge,
                    attestation: Some(pb::enrol_device_request::Attestation::Android(
                        pb::AndroidKeyAttestation {
                            certificate_chain: phone.chain.clone(),
                        },
                    )),
                },
                token,
            ))
            .await?
            .into_inner();
        if !enrolled.trusted {
            anyhow::bail!(
                "the server does not trust the staging root: start it with \
                 --extra-attestation-roots {}",
                args.staging_root_key.with_extension("pem").display()
            );
        }
        phones.push(phone);
    }
    eprintln!(
        "enrolled {} phones in {:.1} s",
        phones.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(phones)
}

/// A short random id for a run.
fn random_run_id() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("run{}", hex::encode(bytes))
}
