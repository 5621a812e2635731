//! The command line: one function per verb, each calling the same
//! application layer as gRPC (so a token issued here follows the same rules
//! and leaves the same audit entry), with the flags every verb shares
//! declared once.

mod attestation;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::tokens::{self, NewToken};
use crate::app::{self, Actor, App};
use crate::auth::Role;
use crate::config::{Config, DEFAULT_DATABASE, ServeArgs};
use crate::engine::{EmployeeId, OrgId};
use crate::store::{self, Clock, Database, Store};
use crate::{demo, retention, server, verify};

/// `--database`, shared by every verb that opens the store itself.
#[derive(clap::Args)]
struct DatabaseArg {
    /// SQLite database file, or a postgres:// URL.
    #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
    database: Database,
}

impl DatabaseArg {
    /// Opens the store for a verb that changes it (creating a new SQLite
    /// file is what a first `token create` does).
    async fn open(&self) -> anyhow::Result<App> {
        Ok(App::offline(store::open(&self.database).await?))
    }

    /// Opens the store for a verb that only reads, refusing a SQLite file
    /// that does not exist: a mistyped path must not create an empty
    /// database and answer from it.
    async fn open_existing(&self) -> anyhow::Result<App> {
        if let Database::Sqlite(path) = &self.database
            && !path.exists()
        {
            bail!(
                "no database at {} (a command that only reads never creates one)",
                path.display()
            );
        }
        self.open().await
    }
}

/// `--org`, checked as an id when the arguments are parsed.
#[derive(clap::Args)]
struct OrgArg {
    #[arg(long, value_parser = org_id)]
    org: OrgId,
}

impl OrgArg {
    /// The organisation, which must exist in the store: a mistyped `--org`
    /// on a read is an error, not an empty answer.
    async fn existing(&self, store: &dyn Store) -> anyhow::Result<OrgId> {
        let known = store.org_versions().await?;
        if !known.iter().any(|(org, _)| *org == self.org) {
            bail!("no organisation {} in the database", self.org);
        }
        Ok(self.org.clone())
    }
}

fn org_id(text: &str) -> Result<OrgId, String> {
    OrgId::new(text)
}

#[derive(Parser)]
#[command(
    name = "punchguard",
    version,
    about = "Decides whether an attendance punch is genuine."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server.
    Serve(ServeArgs),
    /// Start a server with a demo organisation on Kotka's buildings, replay
    /// genuine and cheating punches through gRPC, and print the verdicts.
    Demo(demo::DemoArgs),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage sites and their fences.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Enforce retention: coarsen and delete what is past its period (the
    /// server also does this on its own, hourly by default).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Device attestation: check an artefact offline, set the genuine app
    /// and the revocation list.
    #[command(subcommand)]
    Attestation(attestation::AttestationCommand),
    /// Answer data-subject requests through a running server (role privacy).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Export daily results or punches of a date range as CSV or JSON lines
    /// (columns in the README), streamed to a file or standard output.
    Export {
        /// What to export.
        #[arg(value_enum)]
        what: ExportWhat,
        #[command(flatten)]
        org: OrgArg,
        /// First local date, YYYY-MM-DD (the schedule's time zone, else UTC).
        #[arg(long)]
        from: jiff::civil::Date,
        /// Last local date, inclusive.
        #[arg(long)]
        to: jiff::civil::Date,
        #[arg(long, value_enum, default_value = "csv")]
        format: crate::reports::export::Format,
        /// Output file; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Write one self-contained HTML page for reviewers: the day's results
    /// and a map of each flagged punch (no external tiles or scripts).
    Report {
        #[command(flatten)]
        org: OrgArg,
        /// Local date, YYYY-MM-DD.
        #[arg(long)]
        date: jiff::civil::Date,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Drive a running server with realistic punches (and a health-check
    /// baseline) over real gRPC; print throughput, errors and latency.
    Loadgen(crate::loadgen::LoadgenArgs),
    /// Re-judge punches from a JSON-lines file against an organisation's
    /// current fences and policy, recording nothing; verdicts as JSON lines.
    Verify {
        #[command(flatten)]
        org: OrgArg,
        /// JSON-lines file of punches (see the README); `-` for standard input.
        #[arg(long)]
        input: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportWhat {
    /// Per employee per scheduled day (needs a schedule).
    Daily,
    /// Every punch punched in the range (its own day, by the phone's clock).
    Punches,
    /// Per employee over the range: days worked, late and early-leave days
    /// and minutes, absences, worked hours (a month's summary with --from
    /// the 1st and --to the last day).
    Summary,
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Sweep every organisation once, or with --dry-run show what would go.
    Run {
        /// Change nothing; print what a sweep would coarsen or delete.
        #[arg(long)]
        dry_run: bool,
        /// Judge ages as of this instant instead of now (RFC 3339), e.g. to
        /// see what will go by a date. Only with --dry-run.
        #[arg(long, requires = "dry_run")]
        as_of: Option<jiff::Timestamp>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// Where the server is and the privacy token to call it with.
#[derive(clap::Args)]
struct PrivacyTarget {
    /// The employee whose data is asked for.
    #[arg(long)]
    employee: String,
    /// The running server.
    #[arg(
        long,
        env = "PUNCHGUARD_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// A privacy token of the organisation.
    #[arg(long, env = "PUNCHGUARD_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// Print everything held about an employee (JSON, see the README).
    Export(PrivacyTarget),
    /// Erase an employee's data; prints what was removed.
    Erase(PrivacyTarget),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token (and the organisation, if new) and print it once.
    Create {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long, value_parser = ["admin", "hr", "device", "privacy"])]
        role: String,
        /// The employee a device token punches for (required for device tokens).
        #[arg(long)]
        employee: Option<String>,
        /// The token stops working this many days from now [default: never].
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// List an organisation's tokens (ids, roles, expiry, last use; never secrets).
    List {
        #[command(flatten)]
        org: OrgArg,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Revoke a token at once (a running server refuses it on its next call).
    Revoke {
        #[command(flatten)]
        org: OrgArg,
        /// The token's id (see `token list`).
        #[arg(long)]
        id: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Issue a new token with the same grant; the old one keeps working for
    /// the grace period. Prints the new token once.
    Rotate {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        id: String,
        /// Minutes the old token keeps working.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u32,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Import sites from a GeoJSON FeatureCollection (at most 32 MiB), or
    /// from GeoJSON lines (`.geojsonl`, `.geojsons`, `.jsonl`, `.ndjson`:
    /// one Feature a line, streamed, any size) (see the README). A running
    /// server picks the change up within its refresh interval.
    Import {
        #[command(flatten)]
        org: OrgArg,
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

impl Cli {
    /// The level of logging the verb wants when `RUST_LOG` says nothing:
    /// the server logs its work, a command only its warnings.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }

    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve(Config::resolve(&args)?).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Token(command) => token(command).await,
            Command::Site(SiteCommand::Import {
                org,
                file,
                database,
            }) => import_sites(org, file, database).await,
            Command::Retention(RetentionCommand::Run {
                dry_run,
                as_of,
                database,
            }) => retention_run(dry_run, as_of, database).await,
            Command::Privacy(command) => privacy_request(command).await,
            Command::Attestation(command) => attestation::run(command).await,
            Command::Export {
                what,
                org,
                from,
                to,
                format,
                out,
                database,
            } => {
                let app = database.open_existing().await?;
                let store = app.store.as_ref();
                let written = match org.existing(store).await {
                    Ok(org) => export(store, &org, what, from, to, format, out).await,
                    Err(e) => Err(e),
                };
                store.close().await?;
                eprintln!("exported {} rows", written?);
                Ok(())
            }
            Command::Report {
                org,
                date,
                out,
                database,
            } => report(org, date, out, database).await,
            Command::Loadgen(args) => crate::loadgen::run(args).await.map(drop),
            Command::Verify {
                org,
                input,
                database,
            } => verify_file(org, input, database).await,
        }
    }
}

/// Runs `verb` on the opened application and closes the store whatever it
/// answered, so that a SQLite writer always finishes.
async fn closing<T>(app: &App, verb: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let outcome = verb.await;
    app.store.close().await?;
    outcome
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            org,
            role,
            employee,
            expires_in_days,
            database,
        } => {
            let new = NewToken {
                role: Role::parse(&role).context("unknown role")?,
                employee: employee
                    .map(EmployeeId::new)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("--employee: {e}"))?,
                expires_in_days,
            };
            let app = database.open().await?;
            let operator = Actor::cli(org.org, tokens::ROLE);
            let issued = closing(&app, async {
                Ok(tokens::create(&app, &operator, new).await?)
            })
            .await?;
            println!("{}", issued.token);
        }
        TokenCommand::List { org, database } => {
            let app = database.open_existing().await?;
            let listed = closing(&app, async {
                let operator = Actor::cli(org.existing(app.store.as_ref()).await?, tokens::ROLE);
                Ok(tokens::list(&app, &operator).await?)
            })
            .await?;
            let show = |t: Option<jiff::Timestamp>| t.map_or("-".to_string(), |t| t.to_string());
            println!("id            role     employee  created  expires  revoked  last used");
            for t in listed {
                println!(
                    "{}  {:<8} {:<9} {}  {}  {}  {}",
                    t.id,
                    t.grant.role.as_str(),
                    t.grant.employee.as_ref().map_or("-", |e| e.as_str()),
                    t.created_at,
                    show(t.grant.expires_at),
                    show(t.revoked_at),
                    show(t.last_used_at)
                );
            }
        }
        TokenCommand::Revoke { org, id, database } => {
            let app = database.open_existing().await?;
            let operator = Actor::cli(org.org, tokens::ROLE);
            closing(&app, async {
                Ok(tokens::revoke(&app, &operator, &id).await?)
            })
            .await?;
            println!("revoked {id}");
        }
        TokenCommand::Rotate {
            org,
            id,
            grace_minutes,
            database,
        } => {
            let app = database.open_existing().await?;
            let operator = Actor::cli(org.org, tokens::ROLE);
            let issued = closing(&app, async {
                Ok(tokens::rotate(&app, &operator, &id, grace_minutes).await?)
            })
            .await?;
            println!("{}", issued.token);
        }
    }
    Ok(())
}

/// File names read as GeoJSON lines (one Feature a line), streamed.
const LINES_EXTENSIONS: [&str; 4] = ["geojsonl", "geojsons", "jsonl", "ndjson"];

async fn import_sites(org: OrgArg, file: PathBuf, database: DatabaseArg) -> anyhow::Result<()> {
    let lines = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| LINES_EXTENSIONS.contains(&e));
    let app = database.open().await?;
    let operator = Actor::cli(org.org, app::sites::ROLE);
    let summary = if lines {
        let input = std::io::BufReader::new(
            std::fs::File::open(&file).with_context(|| format!("reading {}", file.display()))?,
        );
        closing(&app, async {
            Ok(app::sites::import_lines(&app, &operator, input).await?)
        })
        .await?
    } else {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        closing(&app, async {
            Ok(app::sites::import(&app, &operator, text).await?)
        })
        .await?
        .summary()
    };
    println!(
        "imported {} sites ({} fences); fence set version {}",
        summary.sites, summary.fences, summary.version
    );
    Ok(())
}

async fn retention_run(
    dry_run: bool,
    as_of: Option<jiff::Timestamp>,
    database: DatabaseArg,
) -> anyhow::Result<()> {
    let app = match dry_run {
        true => database.open_existing().await?,
        false => database.open().await?,
    };
    let store = app.store.as_ref();
    let now = as_of.unwrap_or_else(jiff::Timestamp::now);
    let report = closing(&app, async {
        if dry_run {
            return Ok(retention::preview(store, now).await?);
        }
        let mut done = Vec::new();
        for (org, _) in store.org_versions().await? {
            let counts = retention::sweep_org(store, &org, now, retention::DEFAULT_BATCH).await?;
            done.push((org, counts));
        }
        Ok(done)
    })
    .await?;
    let verb = if dry_run { "would be" } else { "were" };
    let mut anything = false;
    for (org, counts) in report {
        for (category, action, n) in counts.rows() {
            if n > 0 {
                anything = true;
                println!("{org}: {category}: {n} rows {verb} {action}");
            }
        }
    }
    if !anything {
        println!("nothing is past its retention period");
    }
    Ok(())
}

async fn report(
    org: OrgArg,
    date: jiff::civil::Date,
    out: PathBuf,
    database: DatabaseArg,
) -> anyhow::Result<()> {
    let app = database.open_existing().await?;
    let store = app.store.as_ref();
    let report = closing(&app, async {
        let reader = Actor::cli(org.existing(store).await?, Role::Hr);
        app::audit::read(store, &reader, "Report", None, date.to_string()).await?;
        Ok(crate::reports::html::gather(store, &reader.org, date).await?)
    })
    .await?;
    std::fs::write(&out, crate::reports::html::render(&report))
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {} ({} flagged punches)",
        out.display(),
        report.flagged.len()
    );
    Ok(())
}

async fn verify_file(org: OrgArg, input: PathBuf, database: DatabaseArg) -> anyhow::Result<()> {
    let app = database.open_existing().await?;
    let snapshot = closing(&app, async {
        let org = org.existing(app.store.as_ref()).await?;
        Ok(app.snapshots.reload(app.store.as_ref(), &org).await?)
    })
    .await?;
    let stdout = std::io::stdout().lock();
    let (lines, errors) = if input.as_os_str() == "-" {
        verify::run(&snapshot, std::io::stdin().lock(), stdout)?
    } else {
        let file =
            std::fs::File::open(&input).with_context(|| format!("reading {}", input.display()))?;
        verify::run(&snapshot, std::io::BufReader::new(file), stdout)?
    };
    eprintln!("verified {lines} punches ({errors} refused as bad input); nothing recorded");
    Ok(())
}

/// Streams the export; returns the rows written.
async fn export(
    store: &dyn Store,
    org: &OrgId,
    what: ExportWhat,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    format: crate::reports::export::Format,
    out: Option<PathBuf>,
) -> anyhow::Result<u64> {
    use crate::reports::{self, export::*};
    let dates = crate::attendance::dates(from, to)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.description))?;
    let sink: Box<dyn std::io::Write> = match &out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let schedule = reports::schedule_for(store, org, from, to).await?;
    let tz = schedule
        .as_ref()
        .map_or(jiff::tz::TimeZone::UTC, |s| s.tz.clone());
    let reader = Actor::cli(org.clone(), Role::Hr);
    app::audit::read(store, &reader, "Export", None, format!("{from}..={to}")).await?;
    let mut rows = 0;
    // Progress on stderr: rows so far and their rate.
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec}, {elapsed})")
            .expect("a valid progress template"),
    );
    match what {
        ExportWhat::Daily => {
            progress.set_message("daily results");
            let schedule = schedule.context("the organisation has no schedule")?;
            let mut writer = RowWriter::new::<DailyLine>(format, sink)?;
            for employee in &schedule.employees() {
                let days = reports::employee_days(store, org, &schedule, employee, &dates).await?;
                for r in &days.results {
                    writer.write(&DailyLine::new(r, &days, &tz))?;
                    rows += 1;
                    progress.inc(1);
                }
            }
            writer.finish()?;
        }
        ExportWhat::Summary => {
            progress.set_message("employees summarised");
            let schedule = schedule.context("the organisation has no schedule")?;
            let mut writer = RowWriter::new::<SummaryLine>(format, sink)?;
            for employee in &schedule.employees() {
                let days = reports::employee_days(store, org, &schedule, employee, &dates).await?;
                writer.write(&SummaryLine::new(employee, from, to, &days))?;
                rows += 1;
                progress.inc(1);
            }
            writer.finish()?;
        }
        ExportWhat::Punches => {
            progress.set_message("punches");
            let (start, end) = reports::local_span(&tz, from, to).context("dates out of range")?;
            let mut writer = RowWriter::new::<PunchLine>(format, sink)?;
            let mut after = None;
            loop {
                let page = store
                    .list_punches(crate::store::PunchQuery {
                        org: org.clone(),
                        clock: Clock::Punched,
                        from: start,
                        to: end,
                        after,
                        limit: 1000,
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(crate::store::PunchCursor::of(last, Clock::Punched));
                for p in &page {
                    writer.write(&PunchLine::new(p, &tz))?;
                }
                rows += page.len() as u64;
                progress.inc(page.len() as u64);
            }
            writer.finish()?;
        }
    }
    progress.finish_and_clear();
    Ok(rows)
}

async fn privacy_request(command: PrivacyCommand) -> anyhow::Result<()> {
    use crate::proto::v1::{EmployeeRequest, privacy_service_client::PrivacyServiceClient};
    let (target, export) = match command {
        PrivacyCommand::Export(t) => (t, true),
        PrivacyCommand::Erase(t) => (t, false),
    };
    let channel = tonic::transport::Channel::from_shared(target.server.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", target.server))?;
    let mut client = PrivacyServiceClient::new(channel);
    let mut request = tonic::Request::new(EmployeeRequest {
        org_id: String::new(),
        employee_id: target.employee,
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", target.token)
            .parse()
            .context("the token is not valid header text")?,
    );
    if export {
        let answer = client.export_employee(request).await?.into_inner();
        println!("{}", answer.json);
    } else {
        let erased = client.erase_employee(request).await?.into_inner();
        println!(
            "erased {} punches, {} devices, {} consents, {} tokens, {} nonces; {} audit entries anonymised; {} settings rewritten",
            erased.punches,
            erased.devices,
            erased.consents,
            erased.tokens,
            erased.nonces,
            erased.audit_entries_anonymised,
            erased.settings
        );
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let tls = match &config.tls {
        Some(paths) => Some(server::TlsFiles {
            certificate: read(&paths.cert)?,
            key: read(&paths.key)?,
            client_ca: paths.client_ca.as_ref().map(read).transpose()?,
        }),
        None => None,
    };
    let app = server::open(&config.database).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    // A stable first line for scripts and tests that start the server on port 0.
    println!("listening on {}", listener.local_addr()?);
    if let Some(addr) = config.metrics_listen {
        let handle = server::install_metrics_recorder()?;
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                println!("metrics on http://{}/metrics", listener.local_addr()?);
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) =
                        server::serve_metrics(listener, handle, stop.cancelled_owned()).await
                    {
                        tracing::error!(error = %e, "metrics endpoint failed");
                    }
                });
            }
            Err(e) if config.metrics_listen_explicit => {
                return Err(e).with_context(|| format!("binding metrics address {addr}"));
            }
            // The default port taken (a second server on one machine) must
            // not stop punches from being served.
            Err(e) => {
                tracing::warn!(%addr, error = %e, "default metrics address unavailable; serving without /metrics")
            }
        }
    }

    if let Some(addr) = config.console_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding console address {addr}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("console on {scheme}://{}/", listener.local_addr()?);
        let (app, tls, stop) = (app.clone(), tls.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::console::serve(listener, app, tls, stop.cancelled_owned()).await
            {
                tracing::error!(error = %e, "console failed");
            }
        });
    }

    server::run(
        app,
        listener,
        server::Options {
            snapshot_refresh: config.snapshot_refresh,
            retention_sweep: Some(config.retention_sweep),
            tls,
            limits: config.limits,
            drain_deadline: config.drain_deadline,
            edge: config.edge,
            extra_attestation_roots: match &config.extra_attestation_roots {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    crate::engine::attestation::Anchors::pem_roots(&text)
                        .map_err(anyhow::Error::msg)
                        .with_context(|| format!("reading {}", path.display()))?
                }
                None => Vec::new(),
            },
            webhooks: Default::default(),
        },
        shutdown.cancelled_owned(),
    )
    .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
    token.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_flags_are_well_formed() {
        super::Cli::command().debug_assert();
    }
}
