//! `punchguard.v1.PunchService`: the hot path's adapter.

use tonic::{Request, Response, Status};

use super::status::respond;
use super::{auth, convert};
use crate::app::punches::{self, Bundle};
use crate::app::{App, AppError};
use crate::engine::{EmployeeId, OrgId, Punch};
use crate::proto::v1::{self as pb, punch_service_server::PunchService};
use jiff::Timestamp;

pub struct PunchApi(pub App);

impl PunchApi {
    /// Admits the calling device, builds the punch from its request with
    /// `to_punch` (plain or signed), then judges and records it.
    async fn record<T>(
        &self,
        request: Request<T>,
        to_punch: impl FnOnce(T, &OrgId, &EmployeeId, Timestamp) -> Result<Punch, AppError>,
    ) -> Result<pb::SubmitPunchResponse, AppError> {
        let app = &self.0;
        let actor = auth::authenticate(app, &request, punches::ROLE).await?;
        let device = punches::admit(app, actor)?;
        let punch = to_punch(
            request.into_inner(),
            device.org(),
            device.employee(),
            convert::now(),
        )?;
        let recorded = punches::submit(app, &device, punch).await?;
        Ok(convert::submit_response(&recorded))
    }

    async fn bundle(
        &self,
        request: Request<pb::GetFenceBundleRequest>,
    ) -> Result<pb::GetFenceBundleResponse, AppError> {
        let app = &self.0;
        let actor = auth::authenticate(app, &request, punches::ROLE).await?;
        let device = punches::admit(app, actor)?;
        match punches::fence_bundle(app, &device, request.get_ref().known_version) {
            Bundle::NotModified(version) => Ok(pb::GetFenceBundleResponse {
                version,
                not_modified: true,
                ..Default::default()
            }),
            // Simplifying thousands of polygons is CPU work: off the async workers.
            Bundle::Current(snapshot) => {
                tokio::task::spawn_blocking(move || convert::fence_bundle(&snapshot))
                    .await
                    .map_err(|e| AppError::task("fence bundle", e))
            }
        }
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
        respond("SubmitPunch", self.record(request, convert::punch).await)
    }

    async fn submit_signed_punch(
        &self,
        request: Request<pb::SubmitSignedPunchRequest>,
    ) -> Result<Response<pb::SubmitPunchResponse>, Status> {
        respond(
            "SubmitSignedPunch",
            self.record(request, convert::attestation::signed_punch)
                .await,
        )
    }
}
