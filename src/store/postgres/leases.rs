//! Employee leases across replicas: while one replica judges and records an
//! employee's punch, no other replica judges one of theirs, so that both
//! never read the same history (a replayed nonce, a second device or a
//! teleport would pass).
//!
//! A lease is a session advisory lock taken with `pg_try_advisory_lock` on
//! one dedicated connection per process, so that thousands of leases a
//! second cost no pooled connection each: the lock and unlock statements
//! are pipelined on it. The lock is re-entrant within that session, which is
//! why the application first serialises an employee's punches inside the
//! process (`app::punches::EmployeeLocks`); the lease then excludes the
//! other replicas. A lease held by another replica is retried with a short
//! backoff, as long as a punch may reasonably wait.
//!
//! If the lease connection is lost, its locks go with it; the next lease
//! opens a new connection. A punch whose lease was lost mid-way is recorded
//! unprotected, a window of one connection failure.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, Statement};

use super::Tls;
use crate::engine::{EmployeeId, OrgId};
use crate::store::{EmployeeLease, Result, StoreError};

/// The first key of every employee lease: the two-key advisory lock space
/// is separate from the one-key space of the feed and migration locks.
const LEASE_CLASS: i32 = 7_240_519;
/// The first key of a webhook's dispatch claim (see [`Leases::try_claim`]).
const WEBHOOK_CLASS: i32 = 7_240_520;
/// Longest a punch waits for another replica's lease on its employee.
const LEASE_WAIT: Duration = Duration::from_secs(5);
/// Longest pause between two tries.
const MAX_BACKOFF: Duration = Duration::from_millis(20);

/// The lease connection and its prepared statements.
struct Session {
    client: Client,
    lock: Statement,
    unlock: Statement,
}

pub struct Leases {
    config: tokio_postgres::Config,
    tls: Tls,
    session: Mutex<Option<Arc<Session>>>,
}

impl Leases {
    pub fn new(config: tokio_postgres::Config, tls: Tls) -> Self {
        Leases {
            config,
            tls,
            session: Mutex::new(None),
        }
    }

    /// The live lease session, connecting anew when there is none.
    async fn session(&self) -> Result<Arc<Session>> {
        let mut current = self.session.lock().await;
        if let Some(session) = current.as_ref().filter(|s| !s.client.is_closed()) {
            return Ok(session.clone());
        }
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "employee lease connection lost");
            }
        });
        // hashtext: a stable 32-bit hash of the key, the same on every replica.
        let lock = client
            .prepare("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .await?;
        let unlock = client
            .prepare("SELECT pg_advisory_unlock($1, hashtext($2))")
            .await?;
        let session = Arc::new(Session {
            client,
            lock,
            unlock,
        });
        *current = Some(session.clone());
        Ok(session)
    }

    /// Takes the lease on `employee`, waiting while another replica holds it.
    pub async fn lease(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeLease> {
        // The unit separator cannot occur in an id.
        let key = format!("{org}\u{1f}{employee}");
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        let mut backoff = Duration::from_millis(1);
        loop {
            let session = self.session().await?;
            let row = session
                .client
                .query_one(&session.lock, &[&LEASE_CLASS, &key])
                .await?;
            if row.try_get::<_, bool>(0)? {
                return Ok(EmployeeLease::new(move || release(session, key)));
            }
            if tokio::time::Instant::now() + backoff > deadline {
                return Err(StoreError::Unavailable(
                    "another replica has held the employee's punches too long".into(),
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

impl Leases {
    /// Claims the sending of webhook `id` for this replica, if no other
    /// replica has it: one sender a webhook, so that replicas do not each
    /// deliver every event. `None` when another holds it (try again later:
    /// its claim goes with its connection).
    pub async fn try_claim_webhook(&self, org: &OrgId, id: &str) -> Result<Option<EmployeeLease>> {
        let key = format!("{org}\u{1f}{id}");
        let session = self.session().await?;
        let row = session
            .client
            .query_one(&session.lock, &[&WEBHOOK_CLASS, &key])
            .await?;
        Ok(row
            .try_get::<_, bool>(0)?
            .then(|| EmployeeLease::new(move || release_class(session, WEBHOOK_CLASS, key))))
    }
}

/// Releases a lease once its punch is recorded (or failed).
fn release(session: Arc<Session>, key: String) {
    release_class(session, LEASE_CLASS, key)
}

fn release_class(session: Arc<Session>, class: i32, key: String) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let unlocked = session
            .client
            .query_one(&session.unlock, &[&class, &key])
            .await
            .and_then(|row| row.try_get::<_, bool>(0));
        // Not released means the session is gone, and its locks with it.
        if !matches!(unlocked, Ok(true)) {
            tracing::warn!(?unlocked, "an employee lease was not released");
        }
    });
}
