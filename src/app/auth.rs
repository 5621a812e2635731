//! Who is acting: a bearer token checked against the store (its life, its
//! role, its organisation, the client certificate mutual TLS asks for), or
//! the operator at the command line.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

use super::{App, AppError, Result};
use crate::auth::{Role, TokenHash};
use crate::engine::{EmployeeId, OrgId};
use crate::store::Store;

/// Who is acting, once their token checked out.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org: OrgId,
    pub role: Role,
    /// Set for device tokens: the one employee the device punches for.
    pub employee: Option<EmployeeId>,
    /// Names the actor in the audit log without revealing a secret: the
    /// token's id (the first 12 hex digits of its SHA-256), or [`CLI_ACTOR`].
    pub id: String,
}

/// The audit log's name for the operator at the command line, who has the
/// database itself in hand and so acts with every role of the organisation.
pub const CLI_ACTOR: &str = "cli";

impl Actor {
    /// The operator running a CLI command on `org` in `role`.
    pub fn cli(org: OrgId, role: Role) -> Self {
        Actor {
            org,
            role,
            employee: None,
            id: CLI_ACTOR.to_owned(),
        }
    }

    /// Refuses an actor without `role`: the check each use case starts with.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role == role {
            return Ok(());
        }
        Err(AppError::PermissionDenied(format!(
            "this call needs a {} token, not a {} token",
            role.as_str(),
            self.role.as_str()
        )))
    }

    /// The organisation a request acts on: the actor's own when the request
    /// leaves it empty; any other organisation is refused.
    pub fn org_scope(&self, requested: &str) -> Result<OrgId> {
        if requested.is_empty() || requested == self.org.as_str() {
            Ok(self.org.clone())
        } else {
            Err(AppError::PermissionDenied(
                "the token does not grant access to that organisation".into(),
            ))
        }
    }
}

/// What a caller presents, as the door found it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The bearer token.
    pub token: &'a str,
    /// The TLS connection carried a client certificate the server verified.
    pub client_certificate: bool,
    /// The organisation the request names; empty for the token's own.
    pub org: &'a str,
}

/// Checks the token, that it has `role` (with mutual TLS on, that a role
/// other than device came with a verified client certificate) and that the
/// organisation asked for is the token's.
pub async fn authenticate(app: &App, presented: Presented<'_>, role: Role) -> Result<Actor> {
    let actor = identify(
        app,
        &TokenHash::of(presented.token),
        presented.client_certificate,
    )
    .await?;
    actor.require(role)?;
    actor.org_scope(presented.org)?;
    Ok(actor)
}

/// Who holds the token whose hash is `hash`, whatever their role, if it is
/// known, live, and (with mutual TLS on, for a role other than device) came
/// with a verified client certificate. The console keeps only the hash of
/// the token a person signed in with and asks again on every request, so
/// that a revoked or expired token ends its sessions at once.
pub async fn identify(app: &App, hash: &TokenHash, client_certificate: bool) -> Result<Actor> {
    // Found by its SHA-256: the secret is never compared byte by byte, so
    // response times say nothing about how close a guess was.
    let record = app
        .store
        .find_token(hash)
        .await?
        .ok_or(AppError::Unauthenticated("unknown token"))?;
    if let Some(why) = record.refusal(Timestamp::now()) {
        return Err(AppError::Unauthenticated(why));
    }
    let grant = record.grant;
    if app.require_client_certificates && grant.role != Role::Device && !client_certificate {
        return Err(AppError::Unauthenticated(
            "this server requires a client certificate for admin, hr and privacy tokens",
        ));
    }
    app.token_uses.note(&record.id, Timestamp::now());
    Ok(Actor {
        org: grant.org,
        role: grant.role,
        employee: grant.employee,
        id: record.id,
    })
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
    pub async fn flush(&self, store: &dyn Store) -> Result<()> {
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
