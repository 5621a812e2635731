//! Bearer tokens for the SQLite backend: stored by hash, found by hash or
//! by id, revoked, rotated, touched.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::ensure_org;
use crate::auth::{Role, TokenHash};
use crate::engine::{EmployeeId, OrgId};
use crate::store::encoding::{from_us, to_us};
use crate::store::{Result, StoreError, TokenGrant, TokenRecord};

const COLUMNS: &str =
    "token_id, org_id, role, employee_id, created_us, expires_us, revoked_us, last_used_us";

fn record(r: &Row<'_>) -> rusqlite::Result<Result<TokenRecord>> {
    let id: String = r.get(0)?;
    let org: String = r.get(1)?;
    let role: String = r.get(2)?;
    let employee: Option<String> = r.get(3)?;
    let created: i64 = r.get(4)?;
    let expires: Option<i64> = r.get(5)?;
    let revoked: Option<i64> = r.get(6)?;
    let used: Option<i64> = r.get(7)?;
    Ok((|| {
        Ok(TokenRecord {
            id,
            grant: TokenGrant {
                org: OrgId::new(org).map_err(StoreError::Corrupt)?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role}")))?,
                employee: employee
                    .map(EmployeeId::new)
                    .transpose()
                    .map_err(StoreError::Corrupt)?,
                expires_at: expires.map(from_us).transpose()?,
            },
            created_at: from_us(created)?,
            revoked_at: revoked.map(from_us).transpose()?,
            last_used_at: used.map(from_us).transpose()?,
        })
    })())
}

pub fn insert(tx: &Connection, hash: &TokenHash, grant: &TokenGrant) -> Result<()> {
    ensure_org(tx, &grant.org)?;
    tx.execute(
        "INSERT INTO tokens (token_hash, token_id, org_id, role, employee_id, created_us, expires_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            hash.0,
            hash.id(),
            grant.org.as_str(),
            grant.role.as_str(),
            grant.employee.as_ref().map(EmployeeId::as_str),
            to_us(Timestamp::now()),
            grant.expires_at.map(to_us)
        ],
    )?;
    Ok(())
}

pub fn by_hash(conn: &Connection, hash: &TokenHash) -> Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE token_hash = ?1"
    ))?
    .query_row([&hash.0], record)
    .optional()?
    .transpose()
}

fn by_id(conn: &Connection, org: &OrgId, id: &str) -> Result<Option<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE token_id = ?1 AND org_id = ?2"
    ))?
    .query_row(params![id, org.as_str()], record)
    .optional()?
    .transpose()
}

pub fn list(conn: &Connection, org: &OrgId) -> Result<Vec<TokenRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE org_id = ?1 ORDER BY created_us DESC, token_id"
    ))?
    .query_map([org.as_str()], record)?
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .collect()
}

pub fn revoke(tx: &Connection, org: &OrgId, id: &str) -> Result<Option<TokenRecord>> {
    tx.execute(
        "UPDATE tokens SET revoked_us = coalesce(revoked_us, ?3) WHERE token_id = ?1 AND org_id = ?2",
        params![id, org.as_str(), to_us(Timestamp::now())],
    )?;
    by_id(tx, org, id)
}

pub fn rotate(
    tx: &Connection,
    org: &OrgId,
    id: &str,
    new: &TokenHash,
    grace_until: Timestamp,
) -> Result<Option<TokenRecord>> {
    let rotation = by_id(tx, org, id)?.and_then(|old| old.rotation(Timestamp::now(), grace_until));
    let Some(rotation) = rotation else {
        return Ok(None);
    };
    insert(tx, new, &rotation.grant)?;
    tx.execute(
        "UPDATE tokens SET expires_us = ?2 WHERE token_id = ?1",
        params![id, to_us(rotation.old_expires_at)],
    )?;
    by_hash(tx, new)
}

pub fn touch(tx: &Connection, used: &[(String, Timestamp)]) -> Result<()> {
    let mut update = tx.prepare_cached(
        "UPDATE tokens SET last_used_us = max(coalesce(last_used_us, 0), ?2) WHERE token_id = ?1",
    )?;
    for (id, at) in used {
        update.execute(params![id, to_us(*at)])?;
    }
    Ok(())
}
