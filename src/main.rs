//! The `punchguard` binary: parses arguments, sets up logging, and hands
//! over to the library.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use punchguard::auth::{Role, generate_token};
use punchguard::config::{Config, DEFAULT_DATABASE, ServeArgs};
use punchguard::engine::{EmployeeId, OrgId};
use punchguard::service::admin::parse_geojson;
use punchguard::store::{self, Database, Store, TokenGrant};
use punchguard::{demo, retention, server, verify};

#[derive(Parser)]
#[command(
    name = "punchguard",
    version,
    about = "Decides whether an attendance punch is genuine."
)]
struct Cli {
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
    /// Answer data-subject requests through a running server (role privacy).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Export daily results or punches of a date range as CSV or JSON lines
    /// (columns in the README), streamed to a file or standard output.
    Export {
        /// What to export.
        #[arg(value_enum)]
        what: ExportWhat,
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        /// First local date, YYYY-MM-DD (the schedule's time zone, else UTC).
        #[arg(long)]
        from: jiff::civil::Date,
        /// Last local date, inclusive.
        #[arg(long)]
        to: jiff::civil::Date,
        #[arg(long, value_enum, default_value = "csv")]
        format: punchguard::reports::export::Format,
        /// Output file; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
    /// Write one self-contained HTML page for reviewers: the day's results
    /// and a map of each flagged punch (no external tiles or scripts).
    Report {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        /// Local date, YYYY-MM-DD.
        #[arg(long)]
        date: jiff::civil::Date,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
    /// Drive a running server with realistic punches (and a health-check
    /// baseline) over real gRPC; print throughput, errors and latency.
    Loadgen(punchguard::loadgen::LoadgenArgs),
    /// Re-judge punches from a JSON-lines file against an organisation's
    /// current fences and policy, recording nothing; verdicts as JSON lines.
    Verify {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        /// JSON-lines file of punches (see the README); `-` for standard input.
        #[arg(long)]
        input: PathBuf,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportWhat {
    /// Per employee per scheduled day (needs a schedule).
    Daily,
    /// Every punch received in the range.
    Punches,
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
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
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
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        #[arg(long, value_parser = ["admin", "hr", "device", "privacy"])]
        role: String,
        /// The employee a device token punches for (required for device tokens).
        #[arg(long)]
        employee: Option<String>,
        /// The token stops working this many days from now [default: never].
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
    /// List an organisation's tokens (ids, roles, expiry, last use; never secrets).
    List {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
    /// Revoke a token at once (a running server refuses it on its next call).
    Revoke {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        /// The token's id (see `token list`).
        #[arg(long)]
        id: String,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
    /// Issue a new token with the same grant; the old one keeps working for
    /// the grace period. Prints the new token once.
    Rotate {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        #[arg(long)]
        id: String,
        /// Minutes the old token keeps working.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u32,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Import sites from a GeoJSON FeatureCollection (see the README). A
    /// running server picks the change up within its refresh interval.
    Import {
        #[arg(long, value_parser = org_id)]
        org: OrgId,
        file: PathBuf,
        #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE", default_value = DEFAULT_DATABASE)]
        database: Database,
    },
}

/// `--org`, checked as an id when the arguments are parsed.
fn org_id(text: &str) -> Result<OrgId, String> {
    OrgId::new(text)
}

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging("info");
            serve(Config::resolve(&args)?).await
        }
        Command::Demo(args) => {
            init_logging("warn");
            demo::run(args).await
        }
        Command::Token(TokenCommand::Create {
            org,
            role,
            employee,
            expires_in_days,
            database,
        }) => {
            init_logging("warn");
            let role = Role::parse(&role).context("unknown role")?;
            let employee = employee
                .map(EmployeeId::new)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--employee: {e}"))?;
            if role == Role::Device && employee.is_none() {
                bail!("a device token needs --employee: it punches for one employee");
            }
            if role != Role::Device && employee.is_some() {
                bail!("--employee is only for device tokens");
            }
            let store = store::open(&database).await?;
            let (token, hash) = generate_token();
            store
                .create_token(
                    hash,
                    TokenGrant {
                        org,
                        role,
                        employee,
                        expires_at: expires_in_days.map(|days| {
                            jiff::Timestamp::now()
                                + jiff::SignedDuration::from_hours(24 * i64::from(days))
                        }),
                    },
                )
                .await?;
            store.close().await?;
            println!("{token}");
            Ok(())
        }
        Command::Token(TokenCommand::List { org, database }) => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let tokens = store.list_tokens(&org).await?;
            store.close().await?;
            let show = |t: Option<jiff::Timestamp>| t.map_or("-".to_string(), |t| t.to_string());
            println!("id            role     employee  created  expires  revoked  last used");
            for t in tokens {
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
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { org, id, database }) => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let revoked = store.revoke_token(&org, &id).await?;
            store.close().await?;
            match revoked {
                Some(_) => println!("revoked {id}"),
                None => bail!("no token {id} in {org}"),
            }
            Ok(())
        }
        Command::Token(TokenCommand::Rotate {
            org,
            id,
            grace_minutes,
            database,
        }) => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let (token, hash) = generate_token();
            let until =
                jiff::Timestamp::now() + jiff::SignedDuration::from_mins(i64::from(grace_minutes));
            let rotated = store.rotate_token(&org, &id, hash, until).await?;
            store.close().await?;
            match rotated {
                Some(_) => println!("{token}"),
                None => bail!("no live token {id} in {org}"),
            }
            Ok(())
        }
        Command::Verify {
            org,
            input,
            database,
        } => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let snapshots = punchguard::snapshots::Snapshots::default();
            let snapshot = snapshots.reload(store.as_ref(), &org).await?;
            store.close().await?;
            let stdout = std::io::stdout().lock();
            let (lines, errors) = if input.as_os_str() == "-" {
                verify::run(&snapshot, std::io::stdin().lock(), stdout)?
            } else {
                let file = std::fs::File::open(&input)
                    .with_context(|| format!("reading {}", input.display()))?;
                verify::run(&snapshot, std::io::BufReader::new(file), stdout)?
            };
            eprintln!("verified {lines} punches ({errors} refused as bad input); nothing recorded");
            Ok(())
        }
        Command::Retention(RetentionCommand::Run {
            dry_run,
            as_of,
            database,
        }) => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let now = as_of.unwrap_or_else(jiff::Timestamp::now);
            let report = if dry_run {
                retention::preview(store.as_ref(), now).await?
            } else {
                let mut done = Vec::new();
                for (org, _) in store.org_versions().await? {
                    let counts =
                        retention::sweep_org(store.as_ref(), &org, now, retention::DEFAULT_BATCH)
                            .await?;
                    done.push((org, counts));
                }
                done
            };
            store.close().await?;
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
        Command::Export {
            what,
            org,
            from,
            to,
            format,
            out,
            database,
        } => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let sink: Box<dyn std::io::Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let written = export(store.as_ref(), &org, what, from, to, format, sink).await;
            store.close().await?;
            let rows = written?;
            eprintln!("exported {rows} rows");
            Ok(())
        }
        Command::Report {
            org,
            date,
            out,
            database,
        } => {
            init_logging("warn");
            let store = store::open(&database).await?;
            let report = punchguard::reports::html::gather(store.as_ref(), &org, date).await;
            cli_audit(store.as_ref(), &org, "report", format!("{date}")).await?;
            store.close().await?;
            let report = report?;
            std::fs::write(&out, punchguard::reports::html::render(&report))
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {} ({} flagged punches)",
                out.display(),
                report.flagged.len()
            );
            Ok(())
        }
        Command::Loadgen(args) => {
            init_logging("warn");
            punchguard::loadgen::run(args).await?;
            Ok(())
        }
        Command::Privacy(command) => {
            init_logging("warn");
            privacy_request(command).await
        }
        Command::Site(SiteCommand::Import {
            org,
            file,
            database,
        }) => {
            init_logging("warn");
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let sites = parse_geojson(text).await?;
            let (count, fences) = (
                sites.len(),
                sites.iter().map(|s| s.fences.len()).sum::<usize>(),
            );
            let store = store::open(&database).await?;
            let version = store.put_sites(&org, sites).await?;
            store.close().await?;
            println!("imported {count} sites ({fences} fences); fence set version {version}");
            Ok(())
        }
    }
}

/// Records a CLI read of personal data in the audit log: the operator ran
/// it with direct access to the database, so the actor is `cli`.
async fn cli_audit(
    store: &dyn Store,
    org: &OrgId,
    action: &str,
    detail: String,
) -> anyhow::Result<()> {
    store
        .append_audit(
            org,
            punchguard::store::AuditEntry {
                at: jiff::Timestamp::now(),
                actor: "cli".into(),
                role: Role::Hr,
                action: action.into(),
                employee: None,
                detail,
            },
        )
        .await?;
    Ok(())
}

/// Streams the export; returns the rows written.
async fn export(
    store: &dyn Store,
    org: &OrgId,
    what: ExportWhat,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    format: punchguard::reports::export::Format,
    sink: Box<dyn std::io::Write>,
) -> anyhow::Result<u64> {
    use punchguard::reports::{self, export::*};
    let dates = punchguard::attendance::dates(from, to)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field, e.description))?;
    let schedule = reports::schedule(store, org).await?;
    cli_audit(store, org, "export", format!("{from}..={to}")).await?;
    let mut writer = RowWriter::new(format, sink);
    let mut rows = 0;
    match what {
        ExportWhat::Daily => {
            let schedule = schedule.context("the organisation has no schedule")?;
            let employees = schedule.employees();
            let progress =
                indicatif::ProgressBar::new(employees.len() as u64).with_message("employees");
            for employee in &employees {
                let days = reports::employee_days(store, org, &schedule, employee, &dates).await?;
                for r in &days.results {
                    writer.write(&DailyLine::new(r, &days))?;
                    rows += 1;
                }
                progress.inc(1);
            }
            progress.finish_and_clear();
        }
        ExportWhat::Punches => {
            let tz = schedule.map(|s| s.tz).unwrap_or(jiff::tz::TimeZone::UTC);
            let (start, end) = reports::local_span(&tz, from, to).context("dates out of range")?;
            let progress = indicatif::ProgressBar::new_spinner().with_message("punches");
            let mut after = None;
            loop {
                let page = store
                    .list_punches(punchguard::store::PunchQuery {
                        org: org.clone(),
                        from: start,
                        to: end,
                        after,
                        limit: 1000,
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(punchguard::store::PunchCursor {
                    received_at: last.received_at,
                    seq: last.seq,
                });
                for p in &page {
                    writer.write(&PunchLine::new(p))?;
                }
                rows += page.len() as u64;
                progress.inc(page.len() as u64);
            }
            progress.finish_and_clear();
        }
    }
    writer.finish()?;
    Ok(rows)
}

async fn privacy_request(command: PrivacyCommand) -> anyhow::Result<()> {
    use punchguard::proto::v1::{EmployeeRequest, privacy_service_client::PrivacyServiceClient};
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
            "erased {} punches, {} devices, {} consents, {} tokens, {} nonces; {} audit entries anonymised",
            erased.punches,
            erased.devices,
            erased.consents,
            erased.tokens,
            erased.nonces,
            erased.audit_entries_anonymised
        );
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

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
    server::run(
        app,
        listener,
        server::Options {
            snapshot_refresh: config.snapshot_refresh,
            retention_sweep: Some(config.retention_sweep),
            tls,
            limits: config.limits,
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
