//! `punchguard.v1.PrivacyService`: consent for optional purposes.

use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, auth, convert};
use crate::auth::Role;
use crate::engine::ConsentPurpose;
use crate::proto::v1::{self as pb, privacy_service_server::PrivacyService};
use crate::store::ConsentRecord;

pub struct PrivacyApi(pub App);

fn purpose(value: i32) -> Result<ConsentPurpose, ApiError> {
    match pb::ConsentPurpose::try_from(value) {
        Ok(pb::ConsentPurpose::AutoPunch) => Ok(ConsentPurpose::AutoPunch),
        Ok(pb::ConsentPurpose::Unspecified) | Err(_) => Err(ApiError::invalid(
            "purpose",
            "required: CONSENT_PURPOSE_AUTO_PUNCH",
        )),
    }
}

fn consent_to_pb(c: &ConsentRecord) -> pb::Consent {
    pb::Consent {
        employee_id: c.employee.as_str().to_owned(),
        purpose: match c.purpose {
            ConsentPurpose::AutoPunch => pb::ConsentPurpose::AutoPunch.into(),
        },
        granted: c.granted,
        changed_time: Some(convert::timestamp_to_pb(c.changed_at)),
    }
}

impl PrivacyApi {
    async fn set_consent_inner(
        &self,
        request: Request<pb::SetConsentRequest>,
    ) -> Result<pb::Consent, ApiError> {
        let app = &self.0;
        let org = auth::authorize_org(
            app.store.as_ref(),
            request.metadata(),
            Role::Privacy,
            &request.get_ref().org_id,
        )
        .await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let purpose = purpose(request.purpose)?;
        let record = app
            .store
            .set_consent(&org, &employee, purpose, request.granted)
            .await?;
        tracing::info!(org = %org, purpose = purpose.as_str(), granted = request.granted, "consent changed");
        Ok(consent_to_pb(&record))
    }

    async fn list_consents_inner(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<pb::ListConsentsResponse, ApiError> {
        let app = &self.0;
        let org = auth::authorize_org(
            app.store.as_ref(),
            request.metadata(),
            Role::Privacy,
            &request.get_ref().org_id,
        )
        .await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let records = app.store.list_consents(&org, &employee).await?;
        Ok(pb::ListConsentsResponse {
            consents: records.iter().map(consent_to_pb).collect(),
        })
    }
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn set_consent(
        &self,
        request: Request<pb::SetConsentRequest>,
    ) -> Result<Response<pb::Consent>, Status> {
        respond("SetConsent", self.set_consent_inner(request).await)
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        respond("ListConsents", self.list_consents_inner(request).await)
    }
}
