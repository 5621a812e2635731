//! Bearer tokens: issued, listed, revoked and rotated by an organisation's
//! admin (over gRPC) or by the operator (the CLI), with the same rules and
//! the same audit entries either way.

use jiff::{SignedDuration, Timestamp};

use super::{Actor, App, AppError, Result, audit};
use crate::auth::{Role, TokenHash, generate_token};
use crate::engine::EmployeeId;
use crate::store::{TokenGrant, TokenRecord};

/// Tokens are an admin's business.
pub const ROLE: Role = Role::Admin;
/// Longest life of a token: ten years.
pub const MAX_TOKEN_DAYS: u32 = 3650;
/// Longest grace a rotated token keeps working: a week.
pub const MAX_ROTATION_GRACE_MIN: u32 = 7 * 24 * 60;

/// What to issue.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub role: Role,
    /// Required for device tokens, refused for the others.
    pub employee: Option<EmployeeId>,
    /// `None`: the token does not expire.
    pub expires_in_days: Option<u32>,
}

/// A token just issued: the secret, shown once, and its record.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub record: TokenRecord,
}

pub async fn create(app: &App, actor: &Actor, new: NewToken) -> Result<Issued> {
    actor.require(ROLE)?;
    match (new.role, &new.employee) {
        (Role::Device, None) => {
            return Err(AppError::invalid(
                "employee_id",
                "required for device tokens: a device punches for one employee",
            ));
        }
        (Role::Device, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(AppError::invalid("employee_id", "only for device tokens")),
    }
    let expires_at = match new.expires_in_days {
        None => None,
        Some(days) if days == 0 || days > MAX_TOKEN_DAYS => {
            return Err(AppError::invalid(
                "expires_in_days",
                format!("1..={MAX_TOKEN_DAYS}, or none for a token that does not expire"),
            ));
        }
        Some(days) => Some(Timestamp::now() + SignedDuration::from_hours(24 * i64::from(days))),
    };
    let (token, hash) = generate_token();
    let grant = TokenGrant {
        org: actor.org.clone(),
        role: new.role,
        employee: new.employee,
        expires_at,
    };
    let entry = audit::entry(actor, "CreateToken", grant.employee.as_ref(), hash.id());
    let record = app.store.create_token(hash, grant, entry).await?;
    Ok(Issued { token, record })
}

/// The organisation's tokens, newest first (never their secrets).
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<TokenRecord>> {
    actor.require(ROLE)?;
    Ok(app.store.list_tokens(&actor.org).await?)
}

/// Revokes a token at once; a running server refuses it on its next call.
pub async fn revoke(app: &App, actor: &Actor, id: &str) -> Result<TokenRecord> {
    actor.require(ROLE)?;
    let entry = audit::entry(actor, "RevokeToken", None, id);
    app.store
        .revoke_token(&actor.org, id, entry)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no token {id} in the organisation")))
}

/// Issues a new token with the old one's grant and lifetime (see
/// [`TokenRecord::rotation`]); the old one works for `grace_minutes` more.
pub async fn rotate(app: &App, actor: &Actor, id: &str, grace_minutes: u32) -> Result<Issued> {
    actor.require(ROLE)?;
    if grace_minutes > MAX_ROTATION_GRACE_MIN {
        return Err(AppError::invalid(
            "grace_minutes",
            format!("at most {MAX_ROTATION_GRACE_MIN}"),
        ));
    }
    let grace_until = Timestamp::now() + SignedDuration::from_mins(i64::from(grace_minutes));
    let (token, hash) = generate_token();
    let entry = audit::entry(
        actor,
        "RotateToken",
        None,
        format!("{id} -> {}", TokenHash::id(&hash)),
    );
    let record = app
        .store
        .rotate_token(&actor.org, id, hash, grace_until, entry)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no live token {id} in the organisation")))?;
    Ok(Issued { token, record })
}
