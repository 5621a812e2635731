//! The hot path: a device's punch judged against its organisation's
//! snapshot and the employee's history, then recorded durably; and the
//! fence bundle phones pre-check with.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard};

use super::{Actor, App, AppError, Result};
use crate::auth::Role;
use crate::engine::policy::AttestationMode;
use crate::engine::{self, EmployeeId, OrgId, OrgSnapshot, Punch};
use crate::metrics as m;
use crate::store::{HistoryQuery, Recorded};

/// Punches come from device tokens, each bound to one employee.
pub const ROLE: Role = Role::Device;

/// Stripes of locks that serialise one employee's punches within this
/// process: the history a punch is judged on (last fix, bound devices,
/// nonces) must include the employee's previous punch, even when the two
/// arrive together. Employees hashing to the same stripe wait for each
/// other only for the few milliseconds of a group commit.
pub struct EmployeeLocks {
    stripes: Vec<Mutex<()>>,
    hasher: RandomState,
}

impl Default for EmployeeLocks {
    fn default() -> Self {
        Self {
            stripes: (0..256).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl EmployeeLocks {
    pub async fn lock(&self, org: &OrgId, employee: &EmployeeId) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one((org, employee)) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
    }
}

/// A device let in to punch: the right role, within its rate limits, and
/// bound to the employee it punches for. Checked before the request is
/// even read, so that a flood costs as little as possible.
pub struct Admitted {
    actor: Actor,
    employee: EmployeeId,
}

impl Admitted {
    pub fn org(&self) -> &OrgId {
        &self.actor.org
    }

    /// The one employee this device punches for.
    pub fn employee(&self) -> &EmployeeId {
        &self.employee
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Lets a device in to punch or fetch its bundle (see [`Admitted`]).
pub fn admit(app: &App, actor: Actor) -> Result<Admitted> {
    actor.require(ROLE)?;
    app.rate_limits.check(&actor.id, &actor.org)?;
    let employee = actor.employee.clone().ok_or_else(|| {
        AppError::PermissionDenied("this device token is not bound to an employee".into())
    })?;
    Ok(Admitted { actor, employee })
}

/// Judges `punch` (built for the admitted device's organisation and
/// employee) and records it durably: the answer comes after the commit.
pub async fn submit(app: &App, device: &Admitted, punch: Punch) -> Result<Recorded> {
    let started = Instant::now();
    if punch.org != *device.org() || punch.employee != device.employee {
        return Err(AppError::PermissionDenied(
            "a device punches only for its own employee".into(),
        ));
    }
    if let Some(signed) = &punch.signed {
        super::attestation::check_proof(&signed.proof)?;
        if punch.device.is_none() {
            return Err(AppError::invalid(
                "punch.device.device_id",
                "required in a signed punch: it names the enrolled device",
            ));
        }
    }
    let snapshot = app.snapshots.get(&punch.org);
    // Within this process first, then across replicas (see the store's lease).
    let _serialised = app.employee_locks.lock(&punch.org, &punch.employee).await;
    let _leased = app
        .store
        .lease_employee(&punch.org, &punch.employee)
        .await?;
    let shared_since = punch.received_at - snapshot.policy.device_share_window;
    let mut query = HistoryQuery::for_punch(&punch, shared_since);
    // The device's key is looked up only when it can matter: the punch is
    // signed, or the organisation attests devices (named its app).
    query.attested = snapshot.policy.attestation != AttestationMode::Off
        && (punch.signed.is_some() || !snapshot.attestation.app.is_empty());
    let history = app.store.history(query).await?;
    let engine_started = Instant::now();
    let verdict = engine::evaluate(&snapshot, &punch, &history);
    metrics::histogram!(m::ENGINE_SECONDS).record(engine_started.elapsed());

    let recorded = app.store.record_punch(&punch, &verdict).await?;
    if recorded.duplicate {
        metrics::counter!(m::PUNCH_DUPLICATES).increment(1);
    } else {
        app.feed.send_replace(recorded.row.seq);
        let verdict = &recorded.row.verdict;
        metrics::counter!(m::PUNCHES, "decision" => verdict.decision.as_str()).increment(1);
        for f in &verdict.findings {
            metrics::counter!(m::FINDINGS, "code" => f.code.as_str()).increment(1);
        }
    }
    metrics::histogram!(m::PUNCH_SECONDS).record(started.elapsed());
    tracing::debug!(
        employee = %crate::privacy::pseudonym(&punch.org, &punch.employee),
        decision = recorded.row.verdict.decision.as_str(),
        duplicate = recorded.duplicate,
        seq = recorded.row.seq,
        "punch recorded"
    );
    Ok(recorded)
}

/// What a phone needs to pre-check punches on the device.
pub enum Bundle {
    /// The phone's copy (this version) is current.
    NotModified(u64),
    Current(Arc<OrgSnapshot>),
}

/// The organisation's fences unless the phone's `known_version` is current.
pub fn fence_bundle(app: &App, device: &Admitted, known_version: u64) -> Bundle {
    let snapshot = app.snapshots.get(device.org());
    if known_version == snapshot.version && snapshot.version > 0 {
        return Bundle::NotModified(snapshot.version);
    }
    Bundle::Current(snapshot)
}
