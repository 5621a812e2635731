//! `punchguard.v1.AdminService`: sites, fences, settings, devices and
//! tokens. Each handler authenticates, converts the request, calls its use
//! case in `app` and converts the answer back.

use tonic::{Request, Response, Status};

use super::status::respond;
use super::{auth, convert};
use crate::app::tokens::NewToken;
use crate::app::{App, AppError, devices, settings, sites, tokens, webhooks};
use crate::auth::Role;
use crate::engine::SiteId;
use crate::engine::signatures::SignatureList;
use crate::proto::v1::{self as pb, admin_service_server::AdminService};
use crate::store::{SiteRadios, TokenRecord};

pub struct AdminApi(pub App);

impl AdminApi {
    async fn import_sites_inner(
        &self,
        request: Request<pb::ImportSitesRequest>,
    ) -> Result<pb::ImportSitesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, sites::ROLE).await?;
        let imported = sites::import(app, &actor, request.into_inner().geojson).await?;
        Ok(pb::ImportSitesResponse {
            sites: imported.sites.iter().map(convert::site_to_pb).collect(),
            sites_version: imported.version,
        })
    }

    async fn list_sites_inner(
        &self,
        request: Request<pb::ListSitesRequest>,
    ) -> Result<pb::ListSitesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, sites::ROLE).await?;
        let request = request.into_inner();
        let after = convert::decode_site_cursor(&request.page_token)?;
        let limit = convert::page_size(request.page_size);
        let mut listed = sites::list(app, &actor, after, limit + 1).await?;
        let next_page_token =
            convert::paginate(&mut listed, limit, |s| convert::encode_site_cursor(&s.id));
        Ok(pb::ListSitesResponse {
            sites: listed.iter().map(convert::site_to_pb).collect(),
            next_page_token,
        })
    }

    /// Replaces one kind of a site's radio evidence.
    async fn put_site_radios<T: auth::OrgScoped>(
        &self,
        request: &Request<T>,
        site_id: String,
        radios: impl FnOnce() -> Result<SiteRadios, AppError>,
    ) -> Result<pb::Site, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, request, sites::ROLE).await?;
        let site = SiteId::new(site_id).map_err(|e| AppError::invalid("site_id", e))?;
        let stored = sites::put_radios(app, &actor, &site, radios()?).await?;
        Ok(convert::site_to_pb(&stored))
    }
}

impl AdminApi {
    async fn get_policy_inner(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<pb::OrgPolicy, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        Ok(convert::policy_to_pb(&settings::policy(app, &actor).await?))
    }

    async fn put_policy_inner(
        &self,
        request: Request<pb::PutPolicyRequest>,
    ) -> Result<pb::OrgPolicy, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let policy = convert::policy_from_pb(request.into_inner().policy)?;
        let stored = settings::put_policy(app, &actor, policy).await?;
        Ok(convert::policy_to_pb(&stored))
    }

    async fn get_signatures_inner(
        &self,
        request: Request<pb::GetSignaturesRequest>,
    ) -> Result<pb::SignatureList, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let own = settings::signatures(app, &actor).await?;
        Ok(signature_list_to_pb(own.as_ref()))
    }

    async fn put_signatures_inner(
        &self,
        request: Request<pb::PutSignaturesRequest>,
    ) -> Result<pb::SignatureList, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let request = request.into_inner();
        let own = match request.use_builtin {
            true => None,
            false => Some(convert::signatures_from_pb(request.signatures)?),
        };
        let stored = settings::put_signatures(app, &actor, own).await?;
        Ok(signature_list_to_pb(stored.as_ref()))
    }

    async fn get_retention_inner(
        &self,
        request: Request<pb::GetRetentionRequest>,
    ) -> Result<pb::RetentionPolicy, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        Ok(convert::retention_to_pb(
            &settings::retention(app, &actor).await?,
        ))
    }

    async fn put_retention_inner(
        &self,
        request: Request<pb::PutRetentionRequest>,
    ) -> Result<pb::RetentionPolicy, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let retention = convert::retention_from_pb(request.into_inner().retention)?;
        let stored = settings::put_retention(app, &actor, retention).await?;
        Ok(convert::retention_to_pb(&stored))
    }

    async fn get_schedule_inner(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> Result<pb::Schedule, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        Ok(convert::schedule_to_pb(
            &settings::schedule(app, &actor).await?,
        ))
    }

    async fn put_schedule_inner(
        &self,
        request: Request<pb::PutScheduleRequest>,
    ) -> Result<pb::Schedule, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let schedule = convert::schedule_from_pb(request.into_inner().schedule)?;
        let stored = settings::put_schedule(app, &actor, schedule).await?;
        Ok(convert::schedule_to_pb(&stored))
    }

    async fn import_sites_stream_inner(
        &self,
        request: Request<tonic::Streaming<pb::ImportSitesChunk>>,
    ) -> Result<pb::ImportSitesSummary, AppError> {
        use tokio_stream::StreamExt;
        let app = &self.0;
        let actor = auth::authorize_own(app, &request, sites::ROLE).await?;
        // The chunks as one byte stream, read synchronously by the parser.
        let chunks = request.into_inner().map(|chunk| {
            chunk
                .map(|c| axum::body::Bytes::from(c.geojson_lines))
                .map_err(std::io::Error::other)
        });
        let input = std::io::BufReader::new(tokio_util::io::SyncIoBridge::new(
            tokio_util::io::StreamReader::new(chunks),
        ));
        let summary = sites::import_lines(app, &actor, input).await?;
        Ok(pb::ImportSitesSummary {
            sites: summary.sites as u32,
            fences: summary.fences as u32,
            version: summary.version,
        })
    }

    async fn put_webhook_inner(
        &self,
        request: Request<pb::PutWebhookRequest>,
    ) -> Result<pb::WebhookAnswer, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, webhooks::ROLE).await?;
        let request = request.into_inner();
        let spec = convert::webhook_from_pb(request.webhook)?;
        let (stored, secret) = webhooks::put(app, &actor, spec, request.rotate_secret).await?;
        Ok(pb::WebhookAnswer {
            webhook: Some(convert::webhook_to_pb(&stored.config)),
            secret: secret.unwrap_or_default(),
        })
    }

    async fn list_webhooks_inner(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<pb::ListWebhooksResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, webhooks::ROLE).await?;
        Ok(pb::ListWebhooksResponse {
            webhooks: webhooks::list(app, &actor)
                .await?
                .iter()
                .map(|w| convert::webhook_to_pb(&w.config))
                .collect(),
        })
    }

    async fn delete_webhook_inner(
        &self,
        request: Request<pb::DeleteWebhookRequest>,
    ) -> Result<pb::Webhook, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, webhooks::ROLE).await?;
        let deleted = webhooks::delete(app, &actor, &request.get_ref().webhook_id).await?;
        Ok(convert::webhook_to_pb(&deleted))
    }

    async fn list_webhook_deliveries_inner(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<pb::ListWebhookDeliveriesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, webhooks::ROLE).await?;
        let request = request.into_inner();
        let limit = convert::page_size(request.page_size);
        let deliveries = webhooks::deliveries(app, &actor, &request.webhook_id, limit).await?;
        Ok(pb::ListWebhookDeliveriesResponse {
            deliveries: deliveries.iter().map(convert::delivery_to_pb).collect(),
        })
    }

    async fn put_employee_shifts_inner(
        &self,
        request: Request<pb::PutEmployeeShiftsRequest>,
    ) -> Result<pb::Schedule, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, settings::ROLE).await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        if request.assignments.len() > 7 {
            return Err(AppError::invalid(
                "assignments",
                "at most 7 (one a weekday)",
            ));
        }
        let assignments = request
            .assignments
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                convert::assignment_from_pb(&format!("assignments[{i}]"), a, Some(&employee))
            })
            .collect::<Result<_, _>>()?;
        let stored = settings::put_employee_shifts(app, &actor, &employee, assignments).await?;
        Ok(convert::schedule_to_pb(&stored))
    }
}

impl AdminApi {
    async fn list_devices_inner(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<pb::ListDevicesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, devices::ROLE).await?;
        let employee = convert::employee_id(request.into_inner().employee_id)?;
        let listed = devices::list(app, &actor, &employee).await?;
        Ok(pb::ListDevicesResponse {
            devices: listed
                .iter()
                .map(|d| convert::listed_device_to_pb(&employee, d))
                .collect(),
        })
    }

    async fn change_device(
        &self,
        request: Request<pb::DeviceRequest>,
        bind: bool,
    ) -> Result<pb::Device, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, devices::ROLE).await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let device = convert::device_id(request.device_id)?;
        let binding = match bind {
            true => devices::bind(app, &actor, &employee, &device).await?,
            false => devices::revoke(app, &actor, &employee, &device).await?,
        };
        Ok(convert::device_to_pb(&binding))
    }
}

fn token_to_pb(t: &TokenRecord) -> pb::TokenInfo {
    pb::TokenInfo {
        token_id: t.id.clone(),
        role: t.grant.role.as_str().to_owned(),
        employee_id: t
            .grant
            .employee
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        created_time: Some(convert::timestamp_to_pb(t.created_at)),
        expires_time: t.grant.expires_at.map(convert::timestamp_to_pb),
        revoked_time: t.revoked_at.map(convert::timestamp_to_pb),
        last_used_time: t.last_used_at.map(convert::timestamp_to_pb),
    }
}

fn issued_to_pb(issued: tokens::Issued) -> pb::IssuedToken {
    pb::IssuedToken {
        info: Some(token_to_pb(&issued.record)),
        token: issued.token,
    }
}

impl AdminApi {
    async fn create_token_inner(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<pb::IssuedToken, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, tokens::ROLE).await?;
        let request = request.into_inner();
        let new = NewToken {
            role: Role::parse(&request.role)
                .ok_or_else(|| AppError::invalid("role", "admin, hr, device or privacy"))?,
            employee: match request.employee_id.is_empty() {
                true => None,
                false => Some(convert::employee_id(request.employee_id)?),
            },
            // The proto's zero: no expiry.
            expires_in_days: (request.expires_in_days > 0).then_some(request.expires_in_days),
        };
        Ok(issued_to_pb(tokens::create(app, &actor, new).await?))
    }

    async fn list_tokens_inner(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<pb::ListTokensResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, tokens::ROLE).await?;
        Ok(pb::ListTokensResponse {
            tokens: tokens::list(app, &actor)
                .await?
                .iter()
                .map(token_to_pb)
                .collect(),
        })
    }

    async fn revoke_token_inner(
        &self,
        request: Request<pb::TokenIdRequest>,
    ) -> Result<pb::TokenInfo, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, tokens::ROLE).await?;
        let revoked = tokens::revoke(app, &actor, &request.into_inner().token_id).await?;
        Ok(token_to_pb(&revoked))
    }

    async fn rotate_token_inner(
        &self,
        request: Request<pb::RotateTokenRequest>,
    ) -> Result<pb::IssuedToken, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, tokens::ROLE).await?;
        let request = request.into_inner();
        let issued = tokens::rotate(app, &actor, &request.token_id, request.grace_minutes).await?;
        Ok(issued_to_pb(issued))
    }
}

/// The organisation's own list, or the shipped one when it has none.
fn signature_list_to_pb(own: Option<&SignatureList>) -> pb::SignatureList {
    let builtin = SignatureList::builtin();
    let list = own.unwrap_or(&builtin);
    pb::SignatureList {
        signatures: list.iter().map(convert::signature_to_pb).collect(),
        builtin: own.is_none(),
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::IssuedToken>, Status> {
        respond("CreateToken", self.create_token_inner(request).await)
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        respond("ListTokens", self.list_tokens_inner(request).await)
    }

    async fn revoke_token(
        &self,
        request: Request<pb::TokenIdRequest>,
    ) -> Result<Response<pb::TokenInfo>, Status> {
        respond("RevokeToken", self.revoke_token_inner(request).await)
    }

    async fn rotate_token(
        &self,
        request: Request<pb::RotateTokenRequest>,
    ) -> Result<Response<pb::IssuedToken>, Status> {
        respond("RotateToken", self.rotate_token_inner(request).await)
    }

    async fn get_schedule(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        respond("GetSchedule", self.get_schedule_inner(request).await)
    }

    async fn put_schedule(
        &self,
        request: Request<pb::PutScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        respond("PutSchedule", self.put_schedule_inner(request).await)
    }

    async fn import_sites_stream(
        &self,
        request: Request<tonic::Streaming<pb::ImportSitesChunk>>,
    ) -> Result<Response<pb::ImportSitesSummary>, Status> {
        respond(
            "ImportSitesStream",
            self.import_sites_stream_inner(request).await,
        )
    }

    async fn put_webhook(
        &self,
        request: Request<pb::PutWebhookRequest>,
    ) -> Result<Response<pb::WebhookAnswer>, Status> {
        respond("PutWebhook", self.put_webhook_inner(request).await)
    }

    async fn list_webhooks(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        respond("ListWebhooks", self.list_webhooks_inner(request).await)
    }

    async fn delete_webhook(
        &self,
        request: Request<pb::DeleteWebhookRequest>,
    ) -> Result<Response<pb::Webhook>, Status> {
        respond("DeleteWebhook", self.delete_webhook_inner(request).await)
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        respond(
            "ListWebhookDeliveries",
            self.list_webhook_deliveries_inner(request).await,
        )
    }

    async fn put_employee_shifts(
        &self,
        request: Request<pb::PutEmployeeShiftsRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        respond(
            "PutEmployeeShifts",
            self.put_employee_shifts_inner(request).await,
        )
    }

    async fn get_retention(
        &self,
        request: Request<pb::GetRetentionRequest>,
    ) -> Result<Response<pb::RetentionPolicy>, Status> {
        respond("GetRetention", self.get_retention_inner(request).await)
    }

    async fn put_retention(
        &self,
        request: Request<pb::PutRetentionRequest>,
    ) -> Result<Response<pb::RetentionPolicy>, Status> {
        respond("PutRetention", self.put_retention_inner(request).await)
    }

    async fn put_site_access_points(
        &self,
        request: Request<pb::PutSiteAccessPointsRequest>,
    ) -> Result<Response<pb::Site>, Status> {
        const ACTION: &str = "PutSiteAccessPoints";
        let message = request.get_ref();
        let answer = self
            .put_site_radios(&request, message.site_id.clone(), || {
                convert::site_access_points_from_pb(message.access_points.clone())
                    .map(SiteRadios::AccessPoints)
            })
            .await;
        respond(ACTION, answer)
    }

    async fn put_site_beacons(
        &self,
        request: Request<pb::PutSiteBeaconsRequest>,
    ) -> Result<Response<pb::Site>, Status> {
        const ACTION: &str = "PutSiteBeacons";
        let message = request.get_ref();
        let answer = self
            .put_site_radios(&request, message.site_id.clone(), || {
                convert::site_beacons_from_pb(message.beacons.clone()).map(SiteRadios::Beacons)
            })
            .await;
        respond(ACTION, answer)
    }

    async fn get_signatures(
        &self,
        request: Request<pb::GetSignaturesRequest>,
    ) -> Result<Response<pb::SignatureList>, Status> {
        respond("GetSignatures", self.get_signatures_inner(request).await)
    }

    async fn put_signatures(
        &self,
        request: Request<pb::PutSignaturesRequest>,
    ) -> Result<Response<pb::SignatureList>, Status> {
        respond("PutSignatures", self.put_signatures_inner(request).await)
    }

    async fn list_devices(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        respond("ListDevices", self.list_devices_inner(request).await)
    }

    async fn bind_device(
        &self,
        request: Request<pb::DeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        respond("BindDevice", self.change_device(request, true).await)
    }

    async fn revoke_device(
        &self,
        request: Request<pb::DeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        respond("RevokeDevice", self.change_device(request, false).await)
    }

    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::OrgPolicy>, Status> {
        respond("GetPolicy", self.get_policy_inner(request).await)
    }

    async fn put_policy(
        &self,
        request: Request<pb::PutPolicyRequest>,
    ) -> Result<Response<pb::OrgPolicy>, Status> {
        respond("PutPolicy", self.put_policy_inner(request).await)
    }

    async fn import_sites(
        &self,
        request: Request<pb::ImportSitesRequest>,
    ) -> Result<Response<pb::ImportSitesResponse>, Status> {
        respond("ImportSites", self.import_sites_inner(request).await)
    }

    async fn list_sites(
        &self,
        request: Request<pb::ListSitesRequest>,
    ) -> Result<Response<pb::ListSitesResponse>, Status> {
        respond("ListSites", self.list_sites_inner(request).await)
    }
}
