//! `punchguard.v1.AdminService`: sites and fences.

use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, audit, auth, convert};
use jiff::{SignedDuration, Timestamp};

use crate::auth::{Role, generate_token};
use crate::engine::SiteId;
use crate::engine::signatures::SignatureList;
use crate::engine::sites::{SiteDefinition, parse_sites_geojson};
use crate::proto::v1::{self as pb, admin_service_server::AdminService};
use crate::store::{SiteRadios, StoreError, TokenGrant, TokenRecord};

/// Largest GeoJSON text one import may carry.
pub const MAX_GEOJSON_BYTES: usize = 32 * 1024 * 1024;

pub struct AdminApi(pub App);

/// Parses GeoJSON off the async workers (a large file takes a while).
pub async fn parse_geojson(text: String) -> Result<Vec<SiteDefinition>, ApiError> {
    if text.len() > MAX_GEOJSON_BYTES {
        return Err(ApiError::invalid(
            "geojson",
            format!("at most {MAX_GEOJSON_BYTES} bytes, got {}", text.len()),
        ));
    }
    tokio::task::spawn_blocking(move || parse_sites_geojson(&text))
        .await
        .map_err(|e| ApiError::Store(crate::store::StoreError::Corrupt(e.to_string())))?
        .map_err(|e| {
            // Import paths are relative to the file; in the request they sit under `geojson`.
            let field = if e.field == "geojson" {
                e.field
            } else {
                format!("geojson.{}", e.field)
            };
            ApiError::invalid(field, e.description)
        })
}

impl AdminApi {
    async fn import_sites_inner(
        &self,
        request: Request<pb::ImportSitesRequest>,
    ) -> Result<pb::ImportSitesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let sites = parse_geojson(request.geojson).await?;
        let summaries: Vec<_> = sites.iter().map(convert::site_to_pb).collect();
        let version = app.store.put_sites(&org, sites).await?;
        // Effective for the next punch: rebuild and swap before answering.
        app.snapshots.reload(app.store.as_ref(), &org).await?;
        audit::record(
            app,
            &caller,
            "ImportSites",
            None,
            format!("{} sites", summaries.len()),
        )
        .await?;
        tracing::info!(org = %org, version, "sites imported");
        Ok(pb::ImportSitesResponse {
            sites: summaries,
            sites_version: version,
        })
    }

    async fn list_sites_inner(
        &self,
        request: Request<pb::ListSitesRequest>,
    ) -> Result<pb::ListSitesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let after = convert::decode_site_cursor(&request.page_token)?;
        let limit = convert::page_size(request.page_size);
        let mut sites = app.store.list_sites(&org, after, limit + 1).await?;
        let next_page_token =
            convert::paginate(&mut sites, limit, |s| convert::encode_site_cursor(&s.id));
        Ok(pb::ListSitesResponse {
            sites: sites.iter().map(convert::site_to_pb).collect(),
            next_page_token,
        })
    }

    async fn get_policy_inner(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<pb::OrgPolicy, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        Ok(convert::policy_to_pb(&app.store.load_policy(&org).await?))
    }

    async fn put_policy_inner(
        &self,
        request: Request<pb::PutPolicyRequest>,
    ) -> Result<pb::OrgPolicy, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let policy = convert::policy_from_pb(request.policy)?;
        let answer = convert::policy_to_pb(&policy);
        let version = app.store.put_policy(&org, policy).await?;
        app.snapshots.reload(app.store.as_ref(), &org).await?;
        audit::record(app, &caller, "PutPolicy", None, "").await?;
        tracing::info!(org = %org, version, "policy changed");
        Ok(answer)
    }

    async fn list_devices_inner(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<pb::ListDevicesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        audit::record(app, &caller, "ListDevices", Some(&employee), "").await?;
        let devices = app.store.list_devices(&org, &employee).await?;
        Ok(pb::ListDevicesResponse {
            devices: devices.iter().map(convert::device_to_pb).collect(),
        })
    }

    async fn change_device(
        &self,
        request: Request<pb::DeviceRequest>,
        bind: bool,
    ) -> Result<pb::Device, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let device = convert::device_id(request.device_id)?;
        let binding = if bind {
            app.store.bind_device(&org, &employee, &device).await?
        } else {
            app.store
                .revoke_device(&org, &employee, &device)
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound("the device was never bound to the employee".into())
                })?
        };
        let action = if bind { "BindDevice" } else { "RevokeDevice" };
        audit::record(app, &caller, action, Some(&employee), "").await?;
        tracing::info!(org = %org, bind, "device binding changed");
        Ok(convert::device_to_pb(&binding))
    }

    async fn get_signatures_inner(
        &self,
        request: Request<pb::GetSignaturesRequest>,
    ) -> Result<pb::SignatureList, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        Ok(signature_list_to_pb(
            app.store.load_signatures(&org).await?.as_ref(),
        ))
    }

    async fn put_signatures_inner(
        &self,
        request: Request<pb::PutSignaturesRequest>,
    ) -> Result<pb::SignatureList, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let own = match request.use_builtin {
            true => None,
            false => Some(convert::signatures_from_pb(request.signatures)?),
        };
        let answer = signature_list_to_pb(own.as_ref());
        let version = app.store.put_signatures(&org, own).await?;
        app.snapshots.reload(app.store.as_ref(), &org).await?;
        audit::record(app, &caller, "PutSignatures", None, "").await?;
        tracing::info!(org = %org, version, "signature list changed");
        Ok(answer)
    }
}

impl AdminApi {
    /// Replaces one kind of a site's radio evidence and makes it effective.
    async fn put_site_radios<T: auth::OrgScoped>(
        &self,
        request: &Request<T>,
        action: &str,
        site_id: String,
        radios: impl FnOnce() -> Result<SiteRadios, ApiError>,
    ) -> Result<pb::Site, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, request, Role::Admin).await?;
        let org = caller.org.clone();
        let site = SiteId::new(site_id).map_err(|e| ApiError::invalid("site_id", e))?;
        let radios = radios()?;
        let (version, stored) = app
            .store
            .put_site_radios(&org, &site, radios)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no site {site} in the organisation")))?;
        app.snapshots.reload(app.store.as_ref(), &org).await?;
        audit::record(app, &caller, action, None, format!("site {site}")).await?;
        tracing::info!(org = %org, version, "site radio evidence changed");
        Ok(convert::site_to_pb(&stored))
    }
}

impl AdminApi {
    async fn get_retention_inner(
        &self,
        request: Request<pb::GetRetentionRequest>,
    ) -> Result<pb::RetentionPolicy, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        Ok(convert::retention_to_pb(
            &app.store.load_retention(&caller.org).await?,
        ))
    }

    async fn put_retention_inner(
        &self,
        request: Request<pb::PutRetentionRequest>,
    ) -> Result<pb::RetentionPolicy, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let retention = convert::retention_from_pb(request.into_inner().retention)?;
        app.store.put_retention(&caller.org, retention).await?;
        audit::record(app, &caller, "PutRetention", None, "").await?;
        tracing::info!(org = %caller.org, "retention changed");
        Ok(convert::retention_to_pb(&retention))
    }
}

impl AdminApi {
    async fn get_schedule_inner(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> Result<pb::Schedule, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let schedule = app
            .store
            .load_schedule(&caller.org)
            .await?
            .ok_or_else(|| ApiError::NotFound("the organisation has no schedule yet".into()))?;
        Ok(convert::schedule_to_pb(&schedule))
    }

    async fn put_schedule_inner(
        &self,
        request: Request<pb::PutScheduleRequest>,
    ) -> Result<pb::Schedule, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let schedule = convert::schedule_from_pb(request.into_inner().schedule)?;
        let checked = schedule.check().map_err(convert::schedule_error)?;
        let answer = convert::schedule_to_pb(&checked.schedule);
        app.store
            .put_schedule(&caller.org, checked.schedule)
            .await?;
        audit::record(app, &caller, "PutSchedule", None, "").await?;
        tracing::info!(org = %caller.org, "schedule changed");
        Ok(answer)
    }
}

/// Longest grace a rotated token keeps working: a week.
const MAX_ROTATION_GRACE_MIN: u32 = 7 * 24 * 60;
/// Longest life of a token an admin creates: ten years.
const MAX_TOKEN_DAYS: u32 = 3650;

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

impl AdminApi {
    async fn create_token_inner(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<pb::IssuedToken, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let request = request.into_inner();
        let role = Role::parse(&request.role)
            .ok_or_else(|| ApiError::invalid("role", "admin, hr, device or privacy"))?;
        let employee = match (role, request.employee_id.is_empty()) {
            (Role::Device, false) => Some(convert::employee_id(request.employee_id)?),
            (Role::Device, true) => {
                return Err(ApiError::invalid(
                    "employee_id",
                    "required for device tokens",
                ));
            }
            (_, true) => None,
            (_, false) => {
                return Err(ApiError::invalid("employee_id", "only for device tokens"));
            }
        };
        if request.expires_in_days > MAX_TOKEN_DAYS {
            return Err(ApiError::invalid(
                "expires_in_days",
                format!("at most {MAX_TOKEN_DAYS}"),
            ));
        }
        let expires_at = (request.expires_in_days > 0).then(|| {
            Timestamp::now() + SignedDuration::from_hours(24 * i64::from(request.expires_in_days))
        });
        let (token, hash) = generate_token();
        let grant = TokenGrant {
            org: caller.org.clone(),
            role,
            employee,
            expires_at,
        };
        app.store.create_token(hash.clone(), grant).await?;
        let info = app
            .store
            .find_token(&hash)
            .await?
            .ok_or_else(|| ApiError::Store(StoreError::Corrupt("token vanished".into())))?;
        audit::record(
            app,
            &caller,
            "CreateToken",
            info.grant.employee.as_ref(),
            info.id.clone(),
        )
        .await?;
        Ok(pb::IssuedToken {
            token,
            info: Some(token_to_pb(&info)),
        })
    }

    async fn list_tokens_inner(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<pb::ListTokensResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        Ok(pb::ListTokensResponse {
            tokens: app
                .store
                .list_tokens(&caller.org)
                .await?
                .iter()
                .map(token_to_pb)
                .collect(),
        })
    }

    async fn revoke_token_inner(
        &self,
        request: Request<pb::TokenIdRequest>,
    ) -> Result<pb::TokenInfo, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let id = request.into_inner().token_id;
        let revoked = app
            .store
            .revoke_token(&caller.org, &id)
            .await?
            .ok_or_else(|| ApiError::NotFound("no such token in the organisation".into()))?;
        audit::record(app, &caller, "RevokeToken", None, id).await?;
        Ok(token_to_pb(&revoked))
    }

    async fn rotate_token_inner(
        &self,
        request: Request<pb::RotateTokenRequest>,
    ) -> Result<pb::IssuedToken, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Admin).await?;
        let request = request.into_inner();
        if request.grace_minutes > MAX_ROTATION_GRACE_MIN {
            return Err(ApiError::invalid(
                "grace_minutes",
                format!("at most {MAX_ROTATION_GRACE_MIN}"),
            ));
        }
        let old_until =
            Timestamp::now() + SignedDuration::from_mins(i64::from(request.grace_minutes));
        let (token, hash) = generate_token();
        let info = app
            .store
            .rotate_token(&caller.org, &request.token_id, hash, old_until)
            .await?
            .ok_or_else(|| ApiError::NotFound("no such live token in the organisation".into()))?;
        audit::record(
            app,
            &caller,
            "RotateToken",
            None,
            format!("{} -> {}", request.token_id, info.id),
        )
        .await?;
        Ok(pb::IssuedToken {
            token,
            info: Some(token_to_pb(&info)),
        })
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
            .put_site_radios(&request, ACTION, message.site_id.clone(), || {
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
            .put_site_radios(&request, ACTION, message.site_id.clone(), || {
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
