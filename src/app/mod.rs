//! The application layer: one function per use case (submit a punch, rotate
//! a token, import sites, erase a person, review a punch …), under every
//! door (gRPC in `service`, the CLI, `verify`, `demo`, `loadgen`).
//!
//! A use case owns its rules: which role may call it, what its input may be,
//! per-employee serialisation, and the audit entry, which the store writes
//! in the same transaction as the change. It speaks domain types and answers
//! [`AppError`]; no proto, HTTP or flag reaches it, and each door converts
//! the error in one place.
//!
//! - [`auth`]: who is acting ([`Actor`]); bearer tokens checked.
//! - [`punches`]: the hot path and the fence bundle.
//! - [`tokens`]: issuing, listing, revoking and rotating tokens.
//! - [`sites`]: sites, fences and their radio evidence.
//! - [`settings`]: policy, signatures, retention and the schedule.
//! - [`devices`]: device bindings.
//! - [`attestation`]: device enrolment, the app identity, revocations.
//! - [`privacy`]: consent, data-subject export and erasure, the audit log.
//! - [`attendance`]: recorded punches, daily results, reviews, the live feed.
//! - [`calendar`]: holidays, roster days and leave beside the schedule.
//! - [`webhooks`]: where events go, and the log of their deliveries.
//! - [`audit`], [`limits`]: what several use cases share.

pub mod attendance;
pub mod attestation;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod devices;
mod error;
pub mod limits;
pub mod privacy;
pub mod punches;
pub mod settings;
pub mod sites;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

pub use auth::Actor;
pub use error::{AppError, Result};

use crate::snapshots::Snapshots;
use crate::store::Store;

/// What every use case shares.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub snapshots: Arc<Snapshots>,
    pub employee_locks: Arc<punches::EmployeeLocks>,
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
    /// The roots enrolment attestations must chain to: Google's and
    /// Apple's, plus any the operator added for synthetic devices.
    pub anchors: Arc<crate::engine::attestation::Anchors>,
    /// Serves punches from `snapshots`, so a configuration change rebuilds
    /// its organisation's snapshot before it is answered.
    keeps_snapshots: bool,
}

impl App {
    pub fn new(store: Arc<dyn Store>) -> Self {
        App {
            store,
            snapshots: Arc::new(Snapshots::default()),
            employee_locks: Arc::new(punches::EmployeeLocks::default()),
            feed: Arc::new(tokio::sync::watch::Sender::new(0)),
            closing: tokio_util::sync::CancellationToken::new(),
            token_uses: Arc::new(auth::TokenUses::default()),
            require_client_certificates: false,
            rate_limits: Arc::new(limits::RateLimits::new(limits::LimitSettings::default())),
            anchors: Arc::new(crate::engine::attestation::Anchors::shipped().clone()),
            keeps_snapshots: true,
        }
    }

    /// An application for one command of the CLI: no snapshots are kept
    /// (a running server picks changes up on its own refresh).
    pub fn offline(store: Arc<dyn Store>) -> Self {
        App {
            keeps_snapshots: false,
            ..App::new(store)
        }
    }

    /// Makes a configuration change of `org` effective for the next punch:
    /// rebuilds its snapshot and swaps it in before the change is answered.
    async fn reload(&self, org: &crate::engine::OrgId) -> Result<()> {
        if !self.keeps_snapshots {
            return Ok(());
        }
        self.snapshots.reload(self.store.as_ref(), org).await?;
        Ok(())
    }
}
