//! Authentication at the transport: the bearer token from the
//! `authorization` metadata and whether the TLS connection carried a
//! verified client certificate, handed to `app::auth`, which decides.

use tonic::Request;

use crate::app::auth::{self, Actor, Presented};
use crate::app::{App, AppError};
use crate::auth::Role;
use crate::proto::v1 as pb;

/// The token of `Authorization: Bearer <token>`.
fn bearer<T>(request: &Request<T>) -> Result<&str, AppError> {
    let header = request
        .metadata()
        .get("authorization")
        .ok_or(AppError::Unauthenticated(
            "missing authorization: Bearer token",
        ))?
        .to_str()
        .map_err(|_| AppError::Unauthenticated("authorization header is not text"))?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthenticated(
            "authorization must be 'Bearer <token>'",
        ))
}

/// The actor of a request acting on `org` (empty: the token's own) in `role`.
async fn actor<T>(
    app: &App,
    request: &Request<T>,
    role: Role,
    org: &str,
) -> Result<Actor, AppError> {
    let presented = Presented {
        token: bearer(request)?,
        // Present only when the server asked for client certificates and
        // this one verified against the configured CA.
        client_certificate: request.peer_certs().is_some_and(|certs| !certs.is_empty()),
        org,
    };
    auth::authenticate(app, presented, role).await
}

/// The actor of a request that acts on the token's own organisation.
pub async fn authenticate<T>(
    app: &App,
    request: &Request<T>,
    role: Role,
) -> Result<Actor, AppError> {
    actor(app, request, role, "").await
}

/// A request that names the organisation it acts on: `org_id`, empty for
/// the token's own.
pub trait OrgScoped {
    fn org_id(&self) -> &str;
}

macro_rules! org_scoped {
    ($($message:ident),* $(,)?) => {
        $(impl OrgScoped for pb::$message {
            fn org_id(&self) -> &str {
                &self.org_id
            }
        })*
    };
}

org_scoped!(
    CancelLeaveRequest,
    CreateTokenRequest,
    DeleteWebhookRequest,
    GetCalendarRequest,
    ListWebhookDeliveriesRequest,
    ListWebhooksRequest,
    PutWebhookRequest,
    PutEmployeeShiftsRequest,
    PutHolidaysRequest,
    PutLeaveRequest,
    PutRosterDaysRequest,
    DeviceRequest,
    EmployeeRequest,
    GetAppIdentityRequest,
    GetDailyResultsRequest,
    GetPolicyRequest,
    GetRetentionRequest,
    GetScheduleRequest,
    GetSignaturesRequest,
    ImportSitesRequest,
    ListAuditEntriesRequest,
    ListConsentsRequest,
    ListDevicesRequest,
    ListPunchesRequest,
    ListReviewQueueRequest,
    ListSitesRequest,
    ListTokensRequest,
    PutAppIdentityRequest,
    PutPolicyRequest,
    PutRetentionRequest,
    PutRevocationListRequest,
    PutScheduleRequest,
    PutSignaturesRequest,
    PutSiteAccessPointsRequest,
    PutSiteBeaconsRequest,
    ReviewPunchRequest,
    RecordCorrectionRequest,
    RotateTokenRequest,
    SetConsentRequest,
    TokenIdRequest,
    WatchPunchesRequest,
);

/// The actor of a request of the token's own organisation (a stream,
/// whose messages cannot name one before it is authorised).
pub async fn authorize_own<T>(
    app: &App,
    request: &Request<T>,
    role: Role,
) -> Result<Actor, AppError> {
    actor(app, request, role, "").await
}

/// The actor of a request that names its organisation.
pub async fn authorize<T: OrgScoped>(
    app: &App,
    request: &Request<T>,
    role: Role,
) -> Result<Actor, AppError> {
    actor(app, request, role, request.get_ref().org_id()).await
}
