//! Configuration: defaults, overridden by an optional TOML file, overridden
//! by command-line flags (and their environment variables).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::app::limits::LimitSettings;
use crate::edge::EdgeSettings;
use crate::store::Database;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
pub const DEFAULT_DATABASE: &str = "punchguard.db";
pub const DEFAULT_SNAPSHOT_REFRESH_SECS: u64 = 5;
pub const DEFAULT_RETENTION_SWEEP_SECS: u64 = 3600;

/// `punchguard serve` flags. Every flag also has a key in the TOML file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file; flags override its values.
    #[arg(long, env = "PUNCHGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// gRPC listen address [default: 127.0.0.1:50051].
    #[arg(long, env = "PUNCHGUARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Prometheus /metrics listen address [default: 127.0.0.1:9464].
    #[arg(long, env = "PUNCHGUARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Do not serve /metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Serve the web console (review queue, day view, sites, devices) on
    /// this address [default: off]. Plaintext on loopback only, as gRPC;
    /// with --tls-cert it is served over TLS.
    #[arg(long, env = "PUNCHGUARD_CONSOLE_LISTEN")]
    pub console_listen: Option<SocketAddr>,
    /// SQLite database file, created if missing [default: punchguard.db];
    /// or a postgres:// URL, for several replicas on one database.
    #[arg(long, visible_alias = "db", env = "PUNCHGUARD_DATABASE")]
    pub database: Option<Database>,
    /// Listen on a non-loopback address WITHOUT TLS: tokens and
    /// whereabouts cross the network in clear. For a trusted network or a
    /// TLS-terminating proxy only.
    #[arg(long)]
    pub insecure_allow_remote_plaintext: bool,
    /// TLS certificate chain, PEM (with --tls-key).
    #[arg(long, env = "PUNCHGUARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key, PEM.
    #[arg(long, env = "PUNCHGUARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA of client certificates (mutual TLS): admin, hr and privacy calls
    /// must then present a certificate it signed.
    #[arg(long, env = "PUNCHGUARD_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Punches (and bundle fetches) one device token may make a minute [default: 30].
    #[arg(long)]
    pub device_punches_per_minute: Option<u32>,
    /// Punches one organisation may make a second [default: 5000].
    #[arg(long)]
    pub org_punches_per_second: Option<u32>,
    /// Punches handled at once; more are shed [default: 2048].
    #[arg(long)]
    pub max_punches_in_flight: Option<usize>,
    /// Seconds between checks for fence changes made by other processes [default: 5].
    #[arg(long)]
    pub snapshot_refresh_secs: Option<u64>,
    /// Seconds between retention sweeps [default: 3600].
    #[arg(long)]
    pub retention_sweep_secs: Option<u64>,
    /// Connections held at once; past it the oldest silent one is cut [default: 10000].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Seconds a new connection has to begin its handshake [default: 10].
    #[arg(long)]
    pub handshake_timeout_secs: Option<u64>,
    /// Seconds a shutdown waits for calls in flight before cutting the rest [default: 10].
    #[arg(long)]
    pub drain_deadline_secs: Option<u64>,
    /// PEM file of attestation roots to trust besides Google's and Apple's:
    /// devices whose attestations chain to them pass as genuine hardware.
    /// For staging with synthetic devices (demo, loadgen); never in production.
    #[arg(long)]
    pub extra_attestation_roots: Option<PathBuf>,
}

/// The TOML file. Unknown keys are an error, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub metrics: Option<bool>,
    pub console_listen: Option<SocketAddr>,
    pub database: Option<Database>,
    pub insecure_allow_remote_plaintext: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub device_punches_per_minute: Option<u32>,
    pub org_punches_per_second: Option<u32>,
    pub max_punches_in_flight: Option<usize>,
    pub snapshot_refresh_secs: Option<u64>,
    pub retention_sweep_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub handshake_timeout_secs: Option<u64>,
    pub drain_deadline_secs: Option<u64>,
    pub extra_attestation_roots: Option<PathBuf>,
}

/// The resolved configuration of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None` when metrics are off.
    pub metrics_listen: Option<SocketAddr>,
    /// The metrics address was asked for (flag or file), not the default:
    /// failing to bind it is then an error rather than a warning.
    pub metrics_listen_explicit: bool,
    /// `None`: no console (the default).
    pub console_listen: Option<SocketAddr>,
    pub database: Database,
    pub snapshot_refresh: Duration,
    pub retention_sweep: Duration,
    pub tls: Option<TlsPaths>,
    pub limits: LimitSettings,
    pub edge: EdgeSettings,
    pub drain_deadline: Duration,
    /// See [`ServeArgs::extra_attestation_roots`].
    pub extra_attestation_roots: Option<PathBuf>,
}

/// Where the TLS material is (read at start; a change needs a restart).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl Config {
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
        let metrics_on = !args.no_metrics && file.metrics.unwrap_or(true);
        let metrics_listen = metrics_on.then(|| {
            args.metrics_listen
                .or(file.metrics_listen)
                .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.parse().expect("valid default"))
        });
        let insecure = args.insecure_allow_remote_plaintext
            || file.insecure_allow_remote_plaintext.unwrap_or(false);
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsPaths {
                cert,
                key,
                client_ca: args.tls_client_ca.clone().or(file.tls_client_ca),
            }),
            (None, None) => None,
            _ => bail!("tls_cert and tls_key go together"),
        };
        // Without TLS, tokens and whereabouts would cross the network in
        // clear; /metrics is always plain HTTP.
        let console_listen = args.console_listen.or(file.console_listen);
        let grpc_plain = tls.is_none().then_some(listen);
        let console_plain = console_listen.filter(|_| tls.is_none());
        for addr in [grpc_plain, console_plain, metrics_listen]
            .into_iter()
            .flatten()
        {
            if !addr.ip().is_loopback() && !insecure {
                bail!(
                    "refusing to listen on {addr} without TLS; use a loopback address, \
                     give --tls-cert and --tls-key, or pass --insecure-allow-remote-plaintext"
                );
            }
        }
        let defaults = LimitSettings::default();
        let limits = LimitSettings {
            device_per_minute: args
                .device_punches_per_minute
                .or(file.device_punches_per_minute)
                .unwrap_or(defaults.device_per_minute),
            org_per_second: args
                .org_punches_per_second
                .or(file.org_punches_per_second)
                .unwrap_or(defaults.org_per_second),
            max_in_flight: args
                .max_punches_in_flight
                .or(file.max_punches_in_flight)
                .unwrap_or(defaults.max_in_flight),
        };
        if limits.device_per_minute == 0 || limits.org_per_second == 0 || limits.max_in_flight == 0
        {
            bail!("rate limits and max_punches_in_flight must be at least 1");
        }
        let refresh_secs = args
            .snapshot_refresh_secs
            .or(file.snapshot_refresh_secs)
            .unwrap_or(DEFAULT_SNAPSHOT_REFRESH_SECS);
        if refresh_secs == 0 {
            bail!("snapshot_refresh_secs must be at least 1");
        }
        let sweep_secs = args
            .retention_sweep_secs
            .or(file.retention_sweep_secs)
            .unwrap_or(DEFAULT_RETENTION_SWEEP_SECS);
        if sweep_secs == 0 {
            bail!("retention_sweep_secs must be at least 1");
        }
        let edge_defaults = EdgeSettings::default();
        let edge = EdgeSettings {
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(edge_defaults.max_connections),
            handshake_timeout: args
                .handshake_timeout_secs
                .or(file.handshake_timeout_secs)
                .map_or(edge_defaults.handshake_timeout, Duration::from_secs),
        };
        if edge.max_connections == 0 || edge.handshake_timeout.is_zero() {
            bail!("max_connections and handshake_timeout_secs must be at least 1");
        }
        let drain_deadline = args
            .drain_deadline_secs
            .or(file.drain_deadline_secs)
            .map_or(crate::server::DRAIN_DEADLINE, Duration::from_secs);
        Ok(Self {
            listen,
            metrics_listen,
            metrics_listen_explicit: args.metrics_listen.or(file.metrics_listen).is_some(),
            console_listen,
            database: args
                .database
                .clone()
                .or(file.database)
                .unwrap_or_else(|| Database::Sqlite(DEFAULT_DATABASE.into())),
            snapshot_refresh: Duration::from_secs(refresh_secs),
            retention_sweep: Duration::from_secs(sweep_secs),
            tls,
            limits,
            edge,
            drain_deadline,
            extra_attestation_roots: args
                .extra_attestation_roots
                .clone()
                .or(file.extra_attestation_roots),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("punchguard.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:7000\"\ndatabase = \"from-file.db\"\nmetrics = false\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            database: Some(Database::Sqlite("from-flag.db".into())),
            ..Default::default()
        };
        let config = Config::resolve(&args).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.database, Database::Sqlite("from-flag.db".into()));
        assert_eq!(config.metrics_listen, None);
        assert_eq!(config.snapshot_refresh, Duration::from_secs(5));

        let defaults = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(defaults.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(
            defaults.metrics_listen,
            Some(DEFAULT_METRICS_LISTEN.parse().unwrap())
        );
    }

    #[test]
    fn refuses_remote_without_tls_unless_told() {
        let args = ServeArgs {
            listen: Some("0.0.0.0:50051".parse().unwrap()),
            ..Default::default()
        };
        assert!(Config::resolve(&args).is_err());
        let insecure = ServeArgs {
            insecure_allow_remote_plaintext: true,
            ..args.clone()
        };
        assert!(Config::resolve(&insecure).is_ok());
        let tls = ServeArgs {
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            no_metrics: true,
            ..args
        };
        assert!(Config::resolve(&tls).unwrap().tls.is_some());
    }

    #[test]
    fn the_console_is_off_by_default_and_plaintext_only_on_loopback() {
        assert_eq!(
            Config::resolve(&ServeArgs::default())
                .unwrap()
                .console_listen,
            None
        );
        let remote = ServeArgs {
            console_listen: Some("0.0.0.0:8080".parse().unwrap()),
            ..Default::default()
        };
        assert!(Config::resolve(&remote).is_err());
        let with_tls = ServeArgs {
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..remote
        };
        assert!(Config::resolve(&with_tls).is_ok());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(Config::resolve(&args).is_err());
    }
}
