//! Authentication and authorisation of each call: a bearer token in the
//! `authorization` metadata, of the role the call needs, for the organisation
//! the call names.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;
use tonic::Request;
use tonic::metadata::MetadataMap;

use super::App;
use super::error::ApiError;
use crate::auth::{Role, TokenHash};
use crate::engine::{EmployeeId, OrgId};
use crate::proto::v1 as pb;
use crate::store::Store;

/// Who is calling, once their token checked out.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrgId,
    pub role: Role,
    pub employee: Option<EmployeeId>,
    /// Names the token in the audit log without revealing it: the first 12
    /// hex digits of its SHA-256.
    pub token_id: String,
}

impl Caller {
    /// The organisation a request acts on: the token's own when the request
    /// leaves `org_id` empty; any other organisation is refused.
    pub fn org_scope(&self, requested: &str) -> Result<OrgId, ApiError> {
        if requested.is_empty() || requested == self.org.as_str() {
            Ok(self.org.clone())
        } else {
            Err(ApiError::PermissionDenied(
                "the token does not grant access to that organisation".into(),
            ))
        }
    }
}

/// When each token was last used, written to the store in batches at most
/// once a minute per token, so that authentication adds no write to a call.
#[derive(Default)]
pub struct TokenUses {
    pending: Mutex<HashMap<String, Timestamp>>,
}

/// Tokens whose use waits to be written; beyond this, uses wait for the
/// next flush (the newest time of a token always wins).
const MAX_PENDING_USES: usize = 100_000;

impl TokenUses {
    fn note(&self, id: &str, at: Timestamp) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() < MAX_PENDING_USES || pending.contains_key(id) {
            pending.insert(id.to_owned(), at);
        }
    }

    /// Writes the uses noted since the last flush.
    pub async fn flush(&self, store: &dyn Store) -> Result<(), ApiError> {
        let used: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if !used.is_empty() {
            store.touch_tokens(used).await?;
        }
        Ok(())
    }
}

/// What a call presents: its metadata (the bearer token) and whether its
/// TLS connection carried a client certificate the server verified.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    metadata: &'a MetadataMap,
    client_certificate: bool,
}

impl<'a> Credentials<'a> {
    pub fn of<T>(request: &'a Request<T>) -> Self {
        Credentials {
            metadata: request.metadata(),
            // Present only when the server asked for client certificates
            // and this one verified against the configured CA.
            client_certificate: request.peer_certs().is_some_and(|certs| !certs.is_empty()),
        }
    }
}

/// Checks the bearer token and that it has `role`; with mutual TLS on,
/// that a role other than device came with a verified client certificate.
pub async fn authenticate(
    app: &App,
    credentials: Credentials<'_>,
    role: Role,
) -> Result<Caller, ApiError> {
    let store = app.store.as_ref();
    let metadata = credentials.metadata;
    let header = metadata
        .get("authorization")
        .ok_or(ApiError::Unauthenticated(
            "missing authorization: Bearer token",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("authorization header is not text"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthenticated(
            "authorization must be 'Bearer <token>'",
        ))?;
    let hash = TokenHash::of(token);
    // Found by its SHA-256: the secret is never compared byte by byte, so
    // response times say nothing about how close a guess was.
    let record = store
        .find_token(&hash)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown token"))?;
    if let Some(why) = record.refusal(Timestamp::now()) {
        return Err(ApiError::Unauthenticated(why));
    }
    let grant = record.grant;
    if app.require_client_certificates
        && grant.role != Role::Device
        && !credentials.client_certificate
    {
        return Err(ApiError::Unauthenticated(
            "this server requires a client certificate for admin, hr and privacy tokens",
        ));
    }
    app.token_uses.note(&record.id, Timestamp::now());
    if grant.role != role {
        return Err(ApiError::PermissionDenied(format!(
            "this call needs a {} token, not a {} token",
            role.as_str(),
            grant.role.as_str()
        )));
    }
    Ok(Caller {
        org: grant.org,
        role: grant.role,
        employee: grant.employee,
        token_id: record.id,
    })
}

/// Checks the token as [`authenticate`] does and that the organisation the
/// request names (`requested_org`, empty for the token's own) is the token's.
async fn authorize_org(
    app: &App,
    credentials: Credentials<'_>,
    role: Role,
    requested_org: &str,
) -> Result<Caller, ApiError> {
    let caller = authenticate(app, credentials, role).await?;
    caller.org_scope(requested_org)?;
    Ok(caller)
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
    CreateTokenRequest,
    DeviceRequest,
    EmployeeRequest,
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
    PutPolicyRequest,
    PutRetentionRequest,
    PutScheduleRequest,
    PutSignaturesRequest,
    PutSiteAccessPointsRequest,
    PutSiteBeaconsRequest,
    ReviewPunchRequest,
    RotateTokenRequest,
    SetConsentRequest,
    TokenIdRequest,
    WatchPunchesRequest,
);

/// [`authorize_org`] for a request that names its organisation.
pub async fn authorize<T: OrgScoped>(
    app: &App,
    request: &Request<T>,
    role: Role,
) -> Result<Caller, ApiError> {
    authorize_org(
        app,
        Credentials::of(request),
        role,
        request.get_ref().org_id(),
    )
    .await
}
