//! Wiring: the gRPC server with health and reflection, the metrics endpoint,
//! the snapshot refresher, and an orderly shutdown.
//!
//! Shutdown is a future passed in (as in mini-redis). When it resolves the
//! server stops accepting, lets in-flight calls finish, and then closes the
//! store, which commits whatever the writer still holds.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

use crate::app::App;
use crate::app::limits::{LimitSettings, RateLimits};
use crate::edge::{self, EdgeSettings};
use crate::engine::attestation::Anchors;
use crate::proto::v1::{
    FILE_DESCRIPTOR_SET, admin_service_server::AdminServiceServer,
    attendance_service_server::AttendanceServiceServer,
    attestation_service_server::AttestationServiceServer,
    privacy_service_server::PrivacyServiceServer, punch_service_server::PunchServiceServer,
};
use crate::retention;
use crate::service::limits::Shed;
use crate::service::status::RefinedErrors;
use crate::service::{
    admin::AdminApi, attendance::AttendanceApi, attestation::AttestationApi, privacy::PrivacyApi,
    punch::PunchApi,
};
use crate::store::{self, Database};
use crate::webhooks::dispatch::DispatchSettings;

/// Largest SubmitPunch message: what the contract's bounds allow at most
/// (2,000 package names of 256 bytes are ~520 KiB; a usual punch is a few
/// KiB), checked by a test that encodes the largest valid punch. A signed
/// punch wraps those bytes with a proof of at most 2 KiB, well within it.
pub const MAX_PUNCH_MESSAGE: usize = 640 * 1024;
/// Largest AttestationService message. Real artefacts are a few KiB; this
/// lets an oversized one reach the verifier, which names the field that is
/// too long, instead of failing in the transport.
const MAX_ATTESTATION_MESSAGE: usize = 12 * 1024 * 1024;
/// Largest admin message: a GeoJSON import plus framing.
const MAX_ADMIN_MESSAGE: usize = crate::app::sites::MAX_GEOJSON_BYTES + 64 * 1024;
/// A call taking longer than this is cut off. A punch cut off after its
/// commit is safe: the client retries with the same id and gets the record.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shutdown waits for calls in flight before it cuts the
/// connections left (idle ones, stalled readers): a supervisor's stop
/// timeout is usually 30 s, and a punch takes milliseconds.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// HTTP/2 pings on a quiet connection, and how long an answer may take.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest life of a connection, and the grace its calls get at the end.
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(30 * 60);
const MAX_CONNECTION_AGE_GRACE: Duration = Duration::from_secs(60);

/// Opens the SQLite store at `database` and loads every organisation's fences.
pub async fn open_sqlite(database: &Path) -> anyhow::Result<App> {
    open(&Database::Sqlite(database.to_path_buf())).await
}

/// Opens the store `database` names and loads every organisation's fences.
pub async fn open(database: &Database) -> anyhow::Result<App> {
    let store = store::open(database)
        .await
        .with_context(|| format!("opening database {database}"))?;
    let app = App::new(store);
    app.snapshots.refresh(app.store.as_ref()).await?;
    Ok(app)
}

/// Certificates for TLS, PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: Vec<u8>,
    pub key: Vec<u8>,
    /// Mutual TLS: client certificates signed by this CA are verified, and
    /// admin, hr and privacy calls must present one (phones need not).
    pub client_ca: Option<Vec<u8>>,
}

/// How the server runs besides its address.
#[derive(Debug, Clone)]
pub struct Options {
    /// Checks for fence changes made by other processes.
    pub snapshot_refresh: Duration,
    /// Retention sweeps; `None` runs none (tests that sweep themselves).
    pub retention_sweep: Option<Duration>,
    /// `None`: plaintext (the configuration allows that on loopback only).
    pub tls: Option<TlsFiles>,
    pub limits: LimitSettings,
    /// How long a shutdown waits for calls in flight (see [`DRAIN_DEADLINE`]).
    pub drain_deadline: Duration,
    pub edge: EdgeSettings,
    /// Roots trusted for enrolment besides Google's and Apple's (DER):
    /// for staging with synthetic devices only.
    pub extra_attestation_roots: Vec<Vec<u8>>,
    /// How webhooks are delivered (see `webhooks::dispatch`).
    pub webhooks: DispatchSettings,
}

impl Options {
    /// Defaults for tests and the demo: plaintext, no sweeps.
    pub fn local(snapshot_refresh: Duration) -> Self {
        Options {
            snapshot_refresh,
            retention_sweep: None,
            tls: None,
            limits: LimitSettings::default(),
            drain_deadline: DRAIN_DEADLINE,
            edge: EdgeSettings::default(),
            extra_attestation_roots: Vec::new(),
            // Quick retries: a test's receiver comes back in seconds. Small
            // batches: a test's few events still cross batch boundaries.
            webhooks: DispatchSettings {
                poll: Duration::from_millis(100),
                min_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                batch: 3,
                ..DispatchSettings::default()
            },
        }
    }
}

/// Serves gRPC on `listener` until `shutdown` resolves, then drains (for at
/// most the drain deadline) and closes the store.
///
/// If the store fails (its writer died) the server stops saying SERVING,
/// shuts down and answers an error, so that the process exits non-zero and
/// its supervisor restarts it.
pub async fn run(
    mut app: App,
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    app.rate_limits = Arc::new(RateLimits::new(options.limits));
    app.require_client_certificates = options.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    if !options.extra_attestation_roots.is_empty() {
        tracing::warn!(
            roots = options.extra_attestation_roots.len(),
            "trusting extra attestation roots: devices they sign for pass as genuine hardware (staging only)"
        );
        app.anchors = Arc::new(
            Anchors::shipped()
                .with_extra(&options.extra_attestation_roots)
                .map_err(anyhow::Error::msg)?,
        );
    }
    let every = &options;
    let failure = app.store.failure();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<PunchServiceServer<PunchApi>>()
        .await;
    health_reporter
        .set_serving::<AdminServiceServer<AdminApi>>()
        .await;
    health_reporter
        .set_serving::<AttendanceServiceServer<AttendanceApi>>()
        .await;
    health_reporter
        .set_serving::<AttestationServiceServer<AttestationApi>>()
        .await;
    health_reporter
        .set_serving::<PrivacyServiceServer<PrivacyApi>>()
        .await;
    // Reflection v1, and v1alpha beside it for older clients (grpcurl
    // before 1.9, Python's grpcio-reflection client).
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let (reflection_v1, reflection_v1alpha) =
        (reflection().build_v1()?, reflection().build_v1alpha()?);

    let background = CancellationToken::new();
    // Awaited at shutdown, so that none of them is left mid-transaction
    // when the store closes (or the process exits).
    let mut background_tasks = tokio::task::JoinSet::new();
    background_tasks.spawn(refresh_snapshots(
        app.clone(),
        every.snapshot_refresh,
        background.clone(),
    ));
    background_tasks.spawn(flush_token_uses(app.clone(), background.clone()));
    background_tasks.spawn(crate::webhooks::dispatch::run(
        app.store.clone(),
        options.webhooks,
        background.clone(),
    ));
    if let Some(interval) = every.retention_sweep {
        background_tasks.spawn(retention::run_sweeper(
            app.store.clone(),
            Arc::new(retention::SystemClock),
            interval,
            retention::DEFAULT_BATCH,
            background.clone(),
        ));
    }

    tracing::info!(addr = %listener.local_addr()?, "serving gRPC");
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &options.tls {
        let mut config = tonic::transport::ServerTlsConfig::new().identity(
            tonic::transport::Identity::from_pem(&tls.certificate, &tls.key),
        );
        if let Some(ca) = &tls.client_ca {
            // Optional at the handshake, so that phones without certificates
            // connect; required by role in service::auth.
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(ca))
                .client_auth_optional(true);
        }
        builder = builder
            .tls_config(config)
            .context("the TLS certificate or key")?;
    }
    let served = builder
        .timeout(REQUEST_TIMEOUT)
        // A peer that stops answering pings is gone: its connection closes.
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        // Long-lived connections end now and then (the feed resumes with
        // its cursor), so that a load balancer can spread them anew.
        .max_connection_age(MAX_CONNECTION_AGE)
        .max_connection_age_grace(MAX_CONNECTION_AGE_GRACE)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(RefinedErrors(Shed::new(
            PunchServiceServer::new(PunchApi(app.clone()))
                .max_decoding_message_size(MAX_PUNCH_MESSAGE),
            options.limits.max_in_flight,
        )))
        .add_service(RefinedErrors(
            AdminServiceServer::new(AdminApi(app.clone()))
                .max_decoding_message_size(MAX_ADMIN_MESSAGE),
        ))
        .add_service(RefinedErrors(
            AttestationServiceServer::new(AttestationApi(app.clone()))
                .max_decoding_message_size(MAX_ATTESTATION_MESSAGE),
        ))
        .add_service(RefinedErrors(AttendanceServiceServer::new(AttendanceApi(
            app.clone(),
        ))))
        .add_service(RefinedErrors(PrivacyServiceServer::new(PrivacyApi(
            app.clone(),
        ))))
        .serve_with_incoming_shutdown(
            // Accepting stops with the rest when shutdown begins.
            edge::incoming(listener, options.edge, app.closing.clone()),
            {
                let (closing, failure) = (app.closing.clone(), failure.clone());
                async move {
                    tokio::select! {
                        _ = shutdown => {}
                        why = failure.raised() => {
                            // Load balancers take the replica out before it goes.
                            for service in SERVICES {
                                health_reporter
                                    .set_service_status(service, ServingStatus::NotServing)
                                    .await;
                            }
                            tracing::error!(reason = %why, "the store failed; shutting down");
                        }
                    }
                    closing.cancel();
                }
            },
        );
    tokio::pin!(served);
    // Once shutdown begins, calls in flight get the drain deadline; then the
    // connections left (idle clients, stalled feeds) are cut.
    let served = tokio::select! {
        served = &mut served => served,
        () = async {
            app.closing.cancelled().await;
            tokio::time::sleep(options.drain_deadline).await;
        } => {
            tracing::warn!("drain deadline passed; cutting the connections left");
            Ok(())
        }
    };

    background.cancel();
    if tokio::time::timeout(options.drain_deadline, background_tasks.join_all())
        .await
        .is_err()
    {
        tracing::warn!("background work did not stop within the drain deadline");
    }
    tracing::info!("gRPC stopped; flushing the store");
    if let Err(e) = app.token_uses.flush(app.store.as_ref()).await {
        tracing::warn!(error = %e, "could not record the tokens' last use");
    }
    let closed = app.store.close().await;
    if let Some(why) = failure.reason() {
        anyhow::bail!("the store failed: {why}");
    }
    closed?;
    served?;
    Ok(())
}

/// Every service health reports on; "" is the server as a whole.
const SERVICES: [&str; 6] = [
    "",
    <PunchServiceServer<PunchApi> as tonic::server::NamedService>::NAME,
    <AdminServiceServer<AdminApi> as tonic::server::NamedService>::NAME,
    <AttendanceServiceServer<AttendanceApi> as tonic::server::NamedService>::NAME,
    <PrivacyServiceServer<PrivacyApi> as tonic::server::NamedService>::NAME,
    <AttestationServiceServer<AttestationApi> as tonic::server::NamedService>::NAME,
];

/// Writes when tokens were last used, once a minute.
async fn flush_token_uses(app: App, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                app.rate_limits.forget_idle();
                if let Err(e) = app.token_uses.flush(app.store.as_ref()).await {
                    tracing::warn!(error = %e, "could not record the tokens' last use");
                }
            }
        }
    }
}

/// Picks up fence changes made by other processes (the CLI, other replicas).
async fn refresh_snapshots(app: App, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A refresh in progress is abandoned at shutdown (it only reads).
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = async {
                tick.tick().await;
                if let Err(e) = app.snapshots.refresh(app.store.as_ref()).await {
                    tracing::warn!(error = %e, "snapshot refresh failed; keeping the current fences");
                }
            } => {}
        }
    }
}

/// Installs the global Prometheus recorder. Call once per process.
pub fn install_metrics_recorder() -> anyhow::Result<PrometheusHandle> {
    use crate::metrics as m;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            m::LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(m::GROUP_COMMIT_SIZE.into()),
            m::GROUP_SIZE_BUCKETS,
        )?
        .install_recorder()?;
    m::describe();
    Ok(handle)
}

/// Serves `GET /metrics` in the Prometheus text format until `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let upkeep = handle.clone();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    // Histograms need periodic upkeep to drain their buffers.
    let upkeep_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    upkeep_task.abort();
    Ok(served?)
}
