//! The transport: one thin adapter per gRPC service. Each handler
//! authenticates, converts the request into validated domain types once,
//! calls the engine or the store, and converts the answer back. Errors
//! become statuses in one place (`error`).

pub mod admin;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod convert;
pub mod error;
pub mod limits;
pub mod privacy;
pub mod punch;

use std::sync::Arc;

use crate::snapshots::Snapshots;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub snapshots: Arc<Snapshots>,
    pub employee_locks: Arc<punch::EmployeeLocks>,
    /// The seq of the latest punch recorded through this process: live
    /// feeds wait on it instead of polling the store.
    pub feed: Arc<tokio::sync::watch::Sender<i64>>,
    /// Cancelled when the server begins to shut down: live feeds end (the
    /// client resumes elsewhere with its cursor) instead of holding it open.
    pub closing: tokio_util::sync::CancellationToken,
    pub token_uses: Arc<auth::TokenUses>,
    /// Mutual TLS is on: admin, hr and privacy calls need a client
    /// certificate signed by the configured CA.
    pub require_client_certificates: bool,
    pub rate_limits: Arc<limits::RateLimits>,
}

impl App {
    pub fn new(store: Arc<dyn Store>) -> Self {
        App {
            store,
            snapshots: Arc::new(Snapshots::default()),
            employee_locks: Arc::new(punch::EmployeeLocks::default()),
            feed: Arc::new(tokio::sync::watch::Sender::new(0)),
            closing: tokio_util::sync::CancellationToken::new(),
            token_uses: Arc::new(auth::TokenUses::default()),
            require_client_certificates: false,
            rate_limits: Arc::new(limits::RateLimits::new(limits::LimitSettings::default())),
        }
    }
}
