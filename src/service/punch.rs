//! `punchguard.v1.PunchService`: the hot path.

use std::hash::{BuildHasher, RandomState};
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard};
use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, auth, convert};
use crate::auth::Role;
use crate::engine;
use crate::engine::{EmployeeId, OrgId};
use crate::metrics as m;
use crate::proto::v1::{self as pb, punch_service_server::PunchService};
use crate::store::HistoryQuery;

pub struct PunchApi(pub App);

/// Stripes of locks that serialise one employee's punches: the history a
/// punch is judged on (last fix, bound devices, nonces) must include the
/// employee's previous punch, even when the two arrive together. Employees
/// hashing to the same stripe wait for each other only for the few
/// milliseconds of a group commit.
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

impl PunchApi {
    async fn submit(
        &self,
        request: Request<pb::SubmitPunchRequest>,
    ) -> Result<pb::SubmitPunchResponse, ApiError> {
        let started = Instant::now();
        let app = &self.0;
        let caller = auth::authenticate(app, auth::Credentials::of(&request), Role::Device).await?;
        app.rate_limits.check(&caller.token_id, &caller.org)?;
        let punch = convert::punch(request.into_inner(), &caller, convert::now())?;

        let snapshot = app.snapshots.get(&punch.org);
        let _serialised = app.employee_locks.lock(&punch.org, &punch.employee).await;
        let shared_since = punch.received_at - snapshot.policy.device_share_window;
        let history = app
            .store
            .history(HistoryQuery::for_punch(&punch, shared_since))
            .await?;
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
        Ok(convert::submit_response(&recorded))
    }
}

impl PunchApi {
    async fn bundle(
        &self,
        request: Request<pb::GetFenceBundleRequest>,
    ) -> Result<pb::GetFenceBundleResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authenticate(app, auth::Credentials::of(&request), Role::Device).await?;
        app.rate_limits.check(&caller.token_id, &caller.org)?;
        let snapshot = app.snapshots.get(&caller.org);
        if request.get_ref().known_version == snapshot.version && snapshot.version > 0 {
            return Ok(pb::GetFenceBundleResponse {
                version: snapshot.version,
                not_modified: true,
                ..Default::default()
            });
        }
        // Simplifying thousands of polygons is CPU work: off the async workers.
        tokio::task::spawn_blocking(move || convert::fence_bundle(&snapshot))
            .await
            .map_err(|e| ApiError::Store(crate::store::StoreError::Corrupt(e.to_string())))
    }
}

#[tonic::async_trait]
impl PunchService for PunchApi {
    async fn get_fence_bundle(
        &self,
        request: Request<pb::GetFenceBundleRequest>,
    ) -> Result<Response<pb::GetFenceBundleResponse>, Status> {
        respond("GetFenceBundle", self.bundle(request).await)
    }

    async fn submit_punch(
        &self,
        request: Request<pb::SubmitPunchRequest>,
    ) -> Result<Response<pb::SubmitPunchResponse>, Status> {
        respond("SubmitPunch", self.submit(request).await)
    }
}
