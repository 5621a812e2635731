//! `punchguard.v1.PrivacyService`: consent for optional purposes,
//! data-subject export and erasure, the audit log.

use tonic::{Request, Response, Status};

use super::status::respond;
use super::{auth, convert};
use crate::app::{App, AppError, privacy};
use crate::engine::ConsentPurpose;
use crate::proto::v1::{self as pb, privacy_service_server::PrivacyService};
use crate::store::ConsentRecord;

pub struct PrivacyApi(pub App);

fn purpose(value: i32) -> Result<ConsentPurpose, AppError> {
    match pb::ConsentPurpose::try_from(value) {
        Ok(pb::ConsentPurpose::AutoPunch) => Ok(ConsentPurpose::AutoPunch),
        Ok(pb::ConsentPurpose::Unspecified) | Err(_) => Err(AppError::invalid(
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
    ) -> Result<pb::Consent, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, privacy::ROLE).await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let purpose = purpose(request.purpose)?;
        let record = privacy::set_consent(app, &actor, &employee, purpose, request.granted).await?;
        Ok(consent_to_pb(&record))
    }

    async fn list_consents_inner(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<pb::ListConsentsResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, privacy::ROLE).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        let records = privacy::consents(app, &actor, &employee).await?;
        Ok(pb::ListConsentsResponse {
            consents: records.iter().map(consent_to_pb).collect(),
        })
    }

    async fn export_inner(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<pb::ExportEmployeeResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, privacy::ROLE).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        Ok(pb::ExportEmployeeResponse {
            json: privacy::export(app, &actor, &employee).await?,
        })
    }

    async fn erase_inner(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<pb::EraseEmployeeResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, privacy::ROLE).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        let erased = privacy::erase(app, &actor, &employee).await?;
        Ok(pb::EraseEmployeeResponse {
            punches: erased.punches,
            devices: erased.devices,
            consents: erased.consents,
            tokens: erased.tokens,
            nonces: erased.nonces,
            audit_entries_anonymised: erased.audit_anonymised,
            settings: erased.settings,
            calendar_entries: erased.calendar,
        })
    }

    async fn list_audit_inner(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<pb::ListAuditEntriesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, privacy::ROLE).await?;
        let request = request.into_inner();
        let employee = match request.employee_id.as_str() {
            "" => None,
            _ => Some(convert::employee_id(request.employee_id)?),
        };
        let after_id = match request.page_token.as_str() {
            "" => 0,
            token => token
                .parse::<i64>()
                .ok()
                .filter(|id| *id >= 0)
                .ok_or_else(|| AppError::invalid("page_token", "not a token this server issued"))?,
        };
        let limit = convert::page_size(request.page_size);
        let mut records = privacy::audit_log(app, &actor, employee, after_id, limit + 1).await?;
        let next_page_token = convert::paginate(&mut records, limit, |r| r.id.to_string());
        Ok(pb::ListAuditEntriesResponse {
            entries: records
                .iter()
                .map(|r| pb::AuditEntry {
                    time: Some(convert::timestamp_to_pb(r.entry.at)),
                    actor: r.entry.actor.clone(),
                    role: r.entry.role.as_str().to_owned(),
                    action: r.entry.action.clone(),
                    employee_id: r
                        .entry
                        .employee
                        .as_ref()
                        .map(|e| e.as_str().to_owned())
                        .unwrap_or_default(),
                    detail: r.entry.detail.clone(),
                })
                .collect(),
            next_page_token,
        })
    }
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn export_employee(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<Response<pb::ExportEmployeeResponse>, Status> {
        respond("ExportEmployee", self.export_inner(request).await)
    }

    async fn erase_employee(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<Response<pb::EraseEmployeeResponse>, Status> {
        respond("EraseEmployee", self.erase_inner(request).await)
    }

    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        respond("ListAuditEntries", self.list_audit_inner(request).await)
    }

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
