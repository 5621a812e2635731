//! `punchguard.v1.PunchService`: the hot path.

use std::time::Instant;

use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, auth, convert};
use crate::auth::Role;
use crate::engine;
use crate::metrics as m;
use crate::proto::v1::{self as pb, punch_service_server::PunchService};

pub struct PunchApi(pub App);

impl PunchApi {
    async fn submit(
        &self,
        request: Request<pb::SubmitPunchRequest>,
    ) -> Result<pb::SubmitPunchResponse, ApiError> {
        let started = Instant::now();
        let app = &self.0;
        let caller =
            auth::authenticate(app.store.as_ref(), request.metadata(), Role::Device).await?;
        let punch = convert::punch(request.into_inner(), &caller, convert::now())?;

        let snapshot = app.snapshots.get(&punch.org);
        let engine_started = Instant::now();
        let verdict = engine::evaluate(&snapshot, &punch);
        metrics::histogram!(m::ENGINE_SECONDS).record(engine_started.elapsed());

        let recorded = app.store.record_punch(&punch, &verdict).await?;
        if recorded.duplicate {
            metrics::counter!(m::PUNCH_DUPLICATES).increment(1);
        } else {
            let verdict = &recorded.row.verdict;
            metrics::counter!(m::PUNCHES, "decision" => verdict.decision.as_str()).increment(1);
            for f in &verdict.findings {
                metrics::counter!(m::FINDINGS, "code" => f.code.as_str()).increment(1);
            }
        }
        metrics::histogram!(m::PUNCH_SECONDS).record(started.elapsed());
        tracing::debug!(
            decision = recorded.row.verdict.decision.as_str(),
            duplicate = recorded.duplicate,
            seq = recorded.row.seq,
            "punch recorded"
        );
        Ok(convert::submit_response(&recorded))
    }
}

#[tonic::async_trait]
impl PunchService for PunchApi {
    async fn submit_punch(
        &self,
        request: Request<pb::SubmitPunchRequest>,
    ) -> Result<Response<pb::SubmitPunchResponse>, Status> {
        respond("SubmitPunch", self.submit(request).await)
    }
}
