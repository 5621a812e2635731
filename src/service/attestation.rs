//! `punchguard.v1.AttestationService`: device enrolment and the admin's
//! attestation settings.

use tonic::{Request, Response, Status};

use super::convert::{self, attestation as conv};
use super::status::respond;
use crate::app::attestation::{self as use_case};
use crate::app::{App, AppError, punches};
use crate::proto::v1::{self as pb, attestation_service_server::AttestationService};

pub struct AttestationApi(pub App);

impl AttestationApi {
    async fn challenge(
        &self,
        request: Request<pb::CreateEnrolmentChallengeRequest>,
    ) -> Result<pb::EnrolmentChallenge, AppError> {
        let app = &self.0;
        let actor = super::auth::authenticate(app, &request, punches::ROLE).await?;
        let device = punches::admit(app, actor)?;
        let device_id = convert::device_id(request.into_inner().device_id)?;
        let challenge = use_case::challenge(app, &device, device_id).await?;
        Ok(pb::EnrolmentChallenge {
            challenge: challenge.bytes,
            expire_time: Some(convert::timestamp_to_pb(challenge.expires_at)),
        })
    }

    async fn enrol(
        &self,
        request: Request<pb::EnrolDeviceRequest>,
    ) -> Result<pb::EnrolDeviceResponse, AppError> {
        let app = &self.0;
        let actor = super::auth::authenticate(app, &request, punches::ROLE).await?;
        let device = punches::admit(app, actor)?;
        let request = request.into_inner();
        let device_id = convert::device_id(request.device_id)?;
        let artefact = conv::artefact(request.attestation)?;
        let enrolled =
            use_case::enrol(app, &device, device_id, &request.challenge, artefact).await?;
        Ok(conv::enrolled_to_pb(&enrolled))
    }

    async fn get_identity(
        &self,
        request: Request<pb::GetAppIdentityRequest>,
    ) -> Result<pb::AppIdentity, AppError> {
        let app = &self.0;
        let actor = super::auth::authorize(app, &request, use_case::ROLE).await?;
        Ok(conv::app_identity_to_pb(
            &use_case::app_identity(app, &actor).await?,
        ))
    }

    async fn put_identity(
        &self,
        request: Request<pb::PutAppIdentityRequest>,
    ) -> Result<pb::AppIdentity, AppError> {
        let app = &self.0;
        let actor = super::auth::authorize(app, &request, use_case::ROLE).await?;
        let identity = conv::app_identity_from_pb(request.into_inner().identity)?;
        Ok(conv::app_identity_to_pb(
            &use_case::put_app_identity(app, &actor, identity).await?,
        ))
    }

    async fn put_revocations(
        &self,
        request: Request<pb::PutRevocationListRequest>,
    ) -> Result<pb::PutRevocationListResponse, AppError> {
        let app = &self.0;
        let actor = super::auth::authorize(app, &request, use_case::ROLE).await?;
        let json = request.into_inner().status_json;
        let json = (!json.is_empty()).then_some(json);
        let entries = use_case::put_revocations(app, &actor, json).await?;
        Ok(pb::PutRevocationListResponse {
            entries: entries as u32,
        })
    }
}

#[tonic::async_trait]
impl AttestationService for AttestationApi {
    async fn create_enrolment_challenge(
        &self,
        request: Request<pb::CreateEnrolmentChallengeRequest>,
    ) -> Result<Response<pb::EnrolmentChallenge>, Status> {
        respond("CreateEnrolmentChallenge", self.challenge(request).await)
    }

    async fn enrol_device(
        &self,
        request: Request<pb::EnrolDeviceRequest>,
    ) -> Result<Response<pb::EnrolDeviceResponse>, Status> {
        respond("EnrolDevice", self.enrol(request).await)
    }

    async fn get_app_identity(
        &self,
        request: Request<pb::GetAppIdentityRequest>,
    ) -> Result<Response<pb::AppIdentity>, Status> {
        respond("GetAppIdentity", self.get_identity(request).await)
    }

    async fn put_app_identity(
        &self,
        request: Request<pb::PutAppIdentityRequest>,
    ) -> Result<Response<pb::AppIdentity>, Status> {
        respond("PutAppIdentity", self.put_identity(request).await)
    }

    async fn put_revocation_list(
        &self,
        request: Request<pb::PutRevocationListRequest>,
    ) -> Result<Response<pb::PutRevocationListResponse>, Status> {
        respond("PutRevocationList", self.put_revocations(request).await)
    }
}
