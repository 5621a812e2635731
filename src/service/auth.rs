//! Authentication and authorisation of each call: a bearer token in the
//! `authorization` metadata, of the role the call needs, for the organisation
//! the call names.

use tonic::metadata::MetadataMap;

use super::error::ApiError;
use crate::auth::{Role, TokenHash};
use crate::engine::{EmployeeId, OrgId};
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

/// Checks the bearer token in `metadata` and that it has `role`.
pub async fn authenticate(
    store: &dyn Store,
    metadata: &MetadataMap,
    role: Role,
) -> Result<Caller, ApiError> {
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
    let grant = store
        .find_token(&hash)
        .await?
        .ok_or(ApiError::Unauthenticated("unknown token"))?;
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
        token_id: hash.0[..12].to_owned(),
    })
}

/// Checks the token as [`authenticate`] does and that the organisation the
/// request names (`requested_org`, empty for the token's own) is the token's.
pub async fn authorize_org(
    store: &dyn Store,
    metadata: &MetadataMap,
    role: Role,
    requested_org: &str,
) -> Result<Caller, ApiError> {
    let caller = authenticate(store, metadata, role).await?;
    caller.org_scope(requested_org)?;
    Ok(caller)
}
