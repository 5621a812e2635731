//! `punchguard.v1.PrivacyService`: consent for optional purposes,
//! data-subject export and erasure, the audit log.

use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use jiff::Timestamp;

use super::{App, audit, auth, convert};
use crate::auth::Role;
use crate::engine::ConsentPurpose;
use crate::proto::v1::{self as pb, privacy_service_server::PrivacyService};
use crate::store::{AuditQuery, ConsentRecord};

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
        let caller = auth::authorize(app, &request, Role::Privacy).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let purpose = purpose(request.purpose)?;
        let record = app
            .store
            .set_consent(&org, &employee, purpose, request.granted)
            .await?;
        audit::record(
            app,
            &caller,
            "SetConsent",
            Some(&employee),
            format!("{} granted={}", purpose.as_str(), request.granted),
        )
        .await?;
        tracing::info!(org = %org, purpose = purpose.as_str(), granted = request.granted, "consent changed");
        Ok(consent_to_pb(&record))
    }

    async fn list_consents_inner(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<pb::ListConsentsResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Privacy).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        audit::record(app, &caller, "ListConsents", Some(&employee), "").await?;
        let records = app.store.list_consents(&org, &employee).await?;
        Ok(pb::ListConsentsResponse {
            consents: records.iter().map(consent_to_pb).collect(),
        })
    }
}

impl PrivacyApi {
    async fn export_inner(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<pb::ExportEmployeeResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Privacy).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        let data = app.store.employee_data(&caller.org, &employee).await?;
        if data.is_empty() {
            return Err(no_data());
        }
        audit::record(app, &caller, "ExportEmployee", Some(&employee), "").await?;
        // Read again so that the export lists its own audit entry too.
        let data = app.store.employee_data(&caller.org, &employee).await?;
        Ok(pb::ExportEmployeeResponse {
            json: crate::privacy::export_json(&caller.org, &employee, &data, Timestamp::now()),
        })
    }

    async fn erase_inner(
        &self,
        request: Request<pb::EmployeeRequest>,
    ) -> Result<pb::EraseEmployeeResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Privacy).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        // Serialised with the employee's punches: none can slip in half-way.
        let _serialised = app.employee_locks.lock(&caller.org, &employee).await;
        let erased = app.store.erase_employee(&caller.org, &employee).await?;
        if erased.is_empty() {
            return Err(no_data());
        }
        // The entry names no one: after erasure nothing may link to the id.
        audit::record(
            app,
            &caller,
            "EraseEmployee",
            None,
            format!("{} punches", erased.punches),
        )
        .await?;
        tracing::info!(org = %caller.org, punches = erased.punches, "employee erased");
        Ok(pb::EraseEmployeeResponse {
            punches: erased.punches,
            devices: erased.devices,
            consents: erased.consents,
            tokens: erased.tokens,
            nonces: erased.nonces,
            audit_entries_anonymised: erased.audit_anonymised,
        })
    }

    async fn list_audit_inner(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<pb::ListAuditEntriesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Privacy).await?;
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
                .ok_or_else(|| ApiError::invalid("page_token", "not a token this server issued"))?,
        };
        audit::record(app, &caller, "ListAuditEntries", employee.as_ref(), "").await?;
        let limit = convert::page_size(request.page_size);
        let mut records = app
            .store
            .list_audit(AuditQuery {
                org: caller.org.clone(),
                employee,
                after_id,
                limit: limit + 1,
            })
            .await?;
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

fn no_data() -> ApiError {
    ApiError::NotFound("no data is held about that employee in the organisation".into())
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
