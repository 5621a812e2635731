//! The PostgreSQL backend, for several `punchguard serve` replicas sharing
//! one database (`--database postgres://…`).
//!
//! What differs from SQLite, and why:
//! - Punches are committed in groups by one task per process (see
//!   [`punches::Batcher`]): each group is a handful of multi-row statements
//!   (`unnest` of arrays) and one commit, so durability costs one round trip
//!   and one WAL flush per group, not per punch.
//! - Every other write is its own transaction on a pooled connection;
//!   PostgreSQL takes concurrent writers, so there is no single writer.
//! - There is no in-memory history cache: another replica may have written
//!   since, so the history rules read the database on every punch.
//! - Configuration changes reach other replicas through the organisation's
//!   version, which every replica polls (`--snapshot-refresh-secs`).
//! - Erased rows are gone from every query at commit; their bytes leave the
//!   table files at the next VACUUM and page reuse, and the WAL at its
//!   recycling (PostgreSQL has no `secure_delete`; see the README).

mod attestation;
mod leases;
mod privacy;
mod punches;
mod tls;
mod webhooks;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use jiff::Timestamp;
use jiff::civil::Date;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use self::punches::Batcher;
use super::encoding::{self, from_us, to_us};
use super::prelude::*;
use super::{
    AuditEntry, AuditQuery, AuditRecord, Audited, CalendarChange, ConsentRecord, Delivery,
    DeviceBinding, EmployeeData, EmployeeLease, ErasureCounts, Failure, HistoryQuery, PunchCursor,
    PunchQuery, PunchRow, Recorded, Result, Review, ReviewOutcome, SiteRadios, Store, StoreError,
    StoredEvidence, StoredWebhook, TokenGrant, TokenRecord, WebhookConfig, WebhookCursors,
};
use crate::attendance::{CalendarEntry, Schedule};
use crate::auth::{Role, TokenHash};
use crate::engine::beacons::SiteBeacon;
use crate::engine::signatures::SignatureList;
use crate::engine::sites::{SiteDefinition, fence_from_stored, fence_to_stored};
use crate::engine::wifi::{AccessPoint, Bssid};
use crate::engine::{
    ConsentPurpose, DeviceId, EmployeeId, History, OrgId, Policy, Punch, PunchId, SiteId, Verdict,
};
use crate::retention::{Cutoffs, RetentionPolicy, SweepCounts};
use crate::store::policy_json;

/// Schema migrations, applied in order; `schema_migrations` records them.
/// Append only: never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_init.sql"),
    include_str!("0002_attestation.sql"),
    include_str!("0003_punched_day.sql"),
    include_str!("0004_calendar.sql"),
    include_str!("0005_webhooks.sql"),
];

/// Connections per process. Punch groups use one at a time; the rest serve
/// history reads, admin writes and HR queries.
const POOL_SIZE: usize = 16;

/// How long a request waits for a free or new connection before it fails
/// with UNAVAILABLE (the database is down or unreachable).
const CONNECT_WAIT: Duration = Duration::from_secs(5);

pub struct PostgresStore {
    pool: Pool,
    batcher: Batcher,
    leases: leases::Leases,
}

use tls::Tls;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Postgres(e)
        }
    }
}

/// Whether the connection or the server is gone, so that the request may be
/// retried (a punch by its id) elsewhere: SQLSTATE class 08 or 57P, or no
/// SQLSTATE and a fault of the connection itself (I/O, closed, timeout,
/// TLS). Anything else without a SQLSTATE (a column that does not decode, a
/// wrong parameter count) is a bug of ours: retrying would not help.
fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P");
    }
    if e.is_closed() {
        return true;
    }
    // tokio-postgres keeps its error kinds private; its messages name them.
    const CONNECTION_FAULTS: [&str; 4] = [
        "error communicating with the server",
        "error connecting to server",
        "timeout waiting for server",
        "error performing TLS handshake",
    ];
    let message = e.to_string();
    CONNECTION_FAULTS
        .iter()
        .any(|fault| message.starts_with(fault))
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            deadpool_postgres::PoolError::Closed => StoreError::Closed,
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (a libpq-style `postgres://` URL; a
    /// `?options=-c%20search_path%3D…` parameter selects a schema) and
    /// applies migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let (config, tls) = tls::connect_settings(url)?;
        let leases = leases::Leases::new(config.clone(), tls.clone());
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_WAIT))
            .create_timeout(Some(CONNECT_WAIT))
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        migrate(&pool).await?;
        Ok(Self {
            batcher: Batcher::start(pool.clone()),
            pool,
            leases,
        })
    }

    /// How many groups the punch batcher has committed, and how many punches
    /// they carried.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.batcher.stats()
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

async fn migrate(pool: &Pool) -> Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Replicas starting together: one migrates, the others wait here and
    // then find nothing left to do.
    tx.execute("SELECT pg_advisory_xact_lock(7240517)", &[])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_us BIGINT NOT NULL
         )",
    )
    .await?;
    let applied: i64 = tx
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await?
        .try_get(0)?;
    let supported = MIGRATIONS.len() as i64;
    if applied > supported {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_us) VALUES ($1, $2)",
            &[&(i as i32 + 1), &to_us(Timestamp::now())],
        )
        .await?;
        tracing::info!(version = i + 1, "applied PostgreSQL schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// A page size as a SQL `LIMIT` (BIGINT).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Rows of a statement, prepared once per connection.
async fn query(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

async fn query_opt(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

async fn query_one(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<Row> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

async fn execute(c: &impl GenericClient, sql: &str, params: Params<'_>) -> Result<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

fn corrupt(e: String) -> StoreError {
    StoreError::Corrupt(e)
}

async fn ensure_org(c: &impl GenericClient, org: &OrgId) -> Result<()> {
    execute(
        c,
        "INSERT INTO orgs (org_id, created_us) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&org.as_str(), &to_us(Timestamp::now())],
    )
    .await?;
    Ok(())
}

/// Moves the organisation's configuration version on: every replica's
/// snapshot refresher notices and rebuilds.
async fn bump_version(c: &impl GenericClient, org: &OrgId) -> Result<u64> {
    let row = query_opt(
        c,
        "UPDATE orgs SET sites_version = sites_version + 1 WHERE org_id = $1 RETURNING sites_version",
        &[&org.as_str()],
    )
    .await?
    .ok_or_else(|| corrupt(format!("organisation {org} vanished")))?;
    Ok(row.try_get::<_, i64>(0)? as u64)
}

async fn load_site(c: &impl GenericClient, org: &OrgId, site: &str) -> Result<SiteDefinition> {
    let o = org.as_str();
    let fences = query(
        c,
        "SELECT geometry, radius_m FROM fences WHERE org_id = $1 AND site_id = $2 ORDER BY fence_no",
        &[&o, &site],
    )
    .await?
    .iter()
    .map(|r| fence_from_stored(r.try_get(0)?, r.try_get(1)?).map_err(corrupt))
    .collect::<Result<Vec<_>>>()?;
    let access_points = query(
        c,
        "SELECT bssid, ssid FROM site_access_points WHERE org_id = $1 AND site_id = $2 ORDER BY ap_no",
        &[&o, &site],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(AccessPoint {
            bssid: Bssid::parse(r.try_get(0)?).map_err(corrupt)?,
            ssid: r.try_get(1)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let beacons = query(
        c,
        "SELECT beacon FROM site_beacons WHERE org_id = $1 AND site_id = $2 ORDER BY beacon_no",
        &[&o, &site],
    )
    .await?
    .iter()
    .map(|r| encoding::beacon_from_json(r.try_get(0)?))
    .collect::<Result<Vec<_>>>()?;
    let requires: Option<String> = query_opt(
        c,
        "SELECT requires FROM sites WHERE org_id = $1 AND site_id = $2",
        &[&o, &site],
    )
    .await?
    .map(|r| r.try_get::<_, Option<String>>(0))
    .transpose()?
    .flatten();
    Ok(SiteDefinition {
        id: SiteId::new(site).map_err(corrupt)?,
        fences,
        access_points,
        beacons,
        requires: requires
            .as_deref()
            .map(encoding::requirement_from_text)
            .transpose()?,
    })
}

async fn load_site_page(
    c: &impl GenericClient,
    org: &OrgId,
    after: Option<&SiteId>,
    limit: usize,
) -> Result<Vec<SiteDefinition>> {
    let ids = query(
        c,
        "SELECT site_id FROM sites WHERE org_id = $1 AND site_id > $2 ORDER BY site_id LIMIT $3",
        &[
            &org.as_str(),
            &after.map_or("", SiteId::as_str),
            &sql_limit(limit),
        ],
    )
    .await?;
    let mut sites = Vec::with_capacity(ids.len());
    for row in &ids {
        sites.push(load_site(c, org, row.try_get(0)?).await?);
    }
    Ok(sites)
}

async fn insert_access_points(
    c: &impl GenericClient,
    org: &OrgId,
    site: &SiteId,
    access_points: &[AccessPoint],
) -> Result<()> {
    let bssids: Vec<String> = access_points.iter().map(|a| a.bssid.to_string()).collect();
    let ssids: Vec<&str> = access_points.iter().map(|a| a.ssid.as_str()).collect();
    execute(
        c,
        "INSERT INTO site_access_points (org_id, site_id, ap_no, bssid, ssid)
         SELECT $1, $2, n - 1, b, s FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t (b, s, n)",
        &[&org.as_str(), &site.as_str(), &bssids, &ssids],
    )
    .await?;
    Ok(())
}

async fn insert_beacons(
    c: &impl GenericClient,
    org: &OrgId,
    site: &SiteId,
    beacons: &[SiteBeacon],
) -> Result<()> {
    let stored: Vec<String> = beacons.iter().map(encoding::beacon_to_json).collect();
    execute(
        c,
        "INSERT INTO site_beacons (org_id, site_id, beacon_no, beacon)
         SELECT $1, $2, n - 1, b FROM unnest($3::text[]) WITH ORDINALITY AS t (b, n)",
        &[&org.as_str(), &site.as_str(), &stored],
    )
    .await?;
    Ok(())
}

async fn devices(
    c: &impl GenericClient,
    org: &OrgId,
    employee: &EmployeeId,
    device: Option<&DeviceId>,
) -> Result<Vec<DeviceBinding>> {
    query(
        c,
        "SELECT device_id, bound_us, revoked_us FROM devices
         WHERE org_id = $1 AND employee_id = $2 AND ($3::text IS NULL OR device_id = $3)
         ORDER BY bound_us, device_id",
        &[
            &org.as_str(),
            &employee.as_str(),
            &device.map(DeviceId::as_str),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(DeviceBinding {
            employee: employee.clone(),
            device: DeviceId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
            bound_at: from_us(r.try_get(1)?)?,
            revoked_at: r.try_get::<_, Option<i64>>(2)?.map(from_us).transpose()?,
        })
    })
    .collect()
}

async fn consents(
    c: &impl GenericClient,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<Vec<ConsentRecord>> {
    query(
        c,
        "SELECT purpose, granted, changed_us FROM consents
         WHERE org_id = $1 AND employee_id = $2 ORDER BY purpose",
        &[&org.as_str(), &employee.as_str()],
    )
    .await?
    .iter()
    .map(|r| {
        let purpose: &str = r.try_get(0)?;
        Ok(ConsentRecord {
            employee: employee.clone(),
            purpose: ConsentPurpose::parse(purpose)
                .ok_or_else(|| encoding::corrupt("consent purpose", purpose))?,
            granted: r.try_get(1)?,
            changed_at: from_us(r.try_get(2)?)?,
        })
    })
    .collect()
}

const TOKEN_COLUMNS: &str =
    "token_id, org_id, role, employee_id, created_us, expires_us, revoked_us, last_used_us";

fn token_record(r: &Row) -> Result<TokenRecord> {
    let role: &str = r.try_get(2)?;
    let at = |i: usize| r.try_get::<_, Option<i64>>(i)?.map(from_us).transpose();
    Ok(TokenRecord {
        id: r.try_get(0)?,
        grant: TokenGrant {
            org: OrgId::new(r.try_get::<_, String>(1)?).map_err(corrupt)?,
            role: Role::parse(role).ok_or_else(|| encoding::corrupt("role", role))?,
            employee: r
                .get::<_, Option<String>>(3)
                .map(EmployeeId::new)
                .transpose()
                .map_err(corrupt)?,
            expires_at: at(5)?,
        },
        created_at: from_us(r.try_get(4)?)?,
        revoked_at: at(6)?,
        last_used_at: at(7)?,
    })
}

async fn insert_token(c: &impl GenericClient, hash: &TokenHash, grant: &TokenGrant) -> Result<()> {
    ensure_org(c, &grant.org).await?;
    execute(
        c,
        "INSERT INTO tokens (token_hash, token_id, org_id, role, employee_id, created_us, expires_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &hash.0,
            &hash.id(),
            &grant.org.as_str(),
            &grant.role.as_str(),
            &grant.employee.as_ref().map(EmployeeId::as_str),
            &to_us(Timestamp::now()),
            &grant.expires_at.map(to_us),
        ],
    )
    .await?;
    Ok(())
}

async fn token_by_hash(c: &impl GenericClient, hash: &TokenHash) -> Result<Option<TokenRecord>> {
    query_opt(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1"),
        &[&hash.0],
    )
    .await?
    .as_ref()
    .map(token_record)
    .transpose()
}

async fn token_by_id(c: &impl GenericClient, org: &OrgId, id: &str) -> Result<Option<TokenRecord>> {
    query_opt(
        c,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = $1 AND org_id = $2"),
        &[&id, &org.as_str()],
    )
    .await?
    .as_ref()
    .map(token_record)
    .transpose()
}

/// Commits `tx`, with `audit` written in it when `outcome` changed
/// something (see [`Audited`]).
/// Stores `review` as the decision on the punch `seq`.
async fn insert_review(tx: &impl GenericClient, seq: i64, review: &Review) -> Result<()> {
    execute(
        tx,
        // Under the organisation's feed lock (the caller's): the sequence
        // gives its reviews in commit order.
        "INSERT INTO punch_reviews (seq, approved, reason, reviewer, reviewed_us, review_order)
         VALUES ($1, $2, $3, $4, $5, nextval('review_order_seq'))",
        &[
            &seq,
            &review.approved,
            &review.reason,
            &review.reviewer,
            &to_us(review.at),
        ],
    )
    .await?;
    // Retention counts a flagged punch's evidence period from its review.
    execute(
        tx,
        "UPDATE punches SET reviewed_us = $2 WHERE seq = $1",
        &[&seq, &to_us(review.at)],
    )
    .await?;
    Ok(())
}

async fn commit_audited<T: Audited>(
    tx: deadpool_postgres::Transaction<'_>,
    org: &OrgId,
    audit: AuditEntry,
    outcome: T,
) -> Result<T> {
    if outcome.happened() {
        privacy::append_audit(&tx, org, &audit).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// A JSON-text setting of an organisation (policy, signatures, retention,
/// schedule), one row per organisation in `table`.
async fn load_setting(
    c: &impl GenericClient,
    table: &str,
    column: &str,
    org: &OrgId,
) -> Result<Option<String>> {
    Ok(query_opt(
        c,
        &format!("SELECT {column} FROM {table} WHERE org_id = $1"),
        &[&org.as_str()],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?)
}

async fn put_setting(
    c: &impl GenericClient,
    table: &str,
    column: &str,
    org: &OrgId,
    text: &str,
) -> Result<()> {
    ensure_org(c, org).await?;
    execute(
        c,
        &format!(
            "INSERT INTO {table} (org_id, {column}, updated_us) VALUES ($1, $2, $3)
             ON CONFLICT (org_id) DO UPDATE SET {column} = excluded.{column},
                 updated_us = excluded.updated_us"
        ),
        &[&org.as_str(), &text, &to_us(Timestamp::now())],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn create_token(
        &self,
        hash: TokenHash,
        grant: TokenGrant,
        audit: AuditEntry,
    ) -> Result<TokenRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        insert_token(&tx, &hash, &grant).await?;
        let record = token_by_hash(&tx, &hash)
            .await?
            .ok_or_else(|| corrupt("token vanished".into()))?;
        commit_audited(tx, &grant.org, audit, record).await
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        token_by_hash(&self.client().await?, hash).await
    }

    async fn list_tokens(&self, org: &OrgId) -> Result<Vec<TokenRecord>> {
        query(
            &self.client().await?,
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE org_id = $1 ORDER BY created_us DESC, token_id"
            ),
            &[&org.as_str()],
        )
        .await?
        .iter()
        .map(token_record)
        .collect()
    }

    async fn revoke_token(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            "UPDATE tokens SET revoked_us = coalesce(revoked_us, $3) WHERE token_id = $1 AND org_id = $2",
            &[&id, &org.as_str(), &to_us(Timestamp::now())],
        )
        .await?;
        let revoked = token_by_id(&tx, org, id).await?;
        commit_audited(tx, org, audit, revoked).await
    }

    async fn rotate_token(
        &self,
        org: &OrgId,
        id: &str,
        new: TokenHash,
        grace_until: Timestamp,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locks the old token's row: two rotations of one token queue here.
        let old = query_opt(
            &tx,
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = $1 AND org_id = $2 FOR UPDATE"
            ),
            &[&id, &org.as_str()],
        )
        .await?
        .as_ref()
        .map(token_record)
        .transpose()?;
        let Some(rotation) = old.and_then(|old| old.rotation(Timestamp::now(), grace_until)) else {
            return Ok(None);
        };
        insert_token(&tx, &new, &rotation.grant).await?;
        execute(
            &tx,
            "UPDATE tokens SET expires_us = $2 WHERE token_id = $1",
            &[&id, &to_us(rotation.old_expires_at)],
        )
        .await?;
        let issued = token_by_hash(&tx, &new).await?;
        commit_audited(tx, org, audit, issued).await
    }

    async fn touch_tokens(&self, used: Vec<(String, Timestamp)>) -> Result<()> {
        let (ids, ats): (Vec<String>, Vec<i64>) =
            used.into_iter().map(|(id, at)| (id, to_us(at))).unzip();
        execute(
            &self.client().await?,
            "UPDATE tokens t SET last_used_us = greatest(coalesce(t.last_used_us, 0), u.at)
             FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::int8[]) AS x (id, at)
                   GROUP BY id) u
             WHERE t.token_id = u.id",
            &[&ids, &ats],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ConfigStore for PostgresStore {
    async fn ensure_org(&self, org: &OrgId) -> Result<()> {
        ensure_org(&self.client().await?, org).await
    }

    async fn put_sites(
        &self,
        org: &OrgId,
        sites: Vec<SiteDefinition>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        let now = to_us(Timestamp::now());
        for site in &sites {
            let keys: Params = &[&org.as_str(), &site.id.as_str()];
            execute(
                &tx,
                "DELETE FROM sites WHERE org_id = $1 AND site_id = $2",
                keys,
            )
            .await?;
            execute(
                &tx,
                "INSERT INTO sites (org_id, site_id, updated_us, requires) VALUES ($1, $2, $3, $4)",
                &[
                    &org.as_str(),
                    &site.id.as_str(),
                    &now,
                    &site.requires.as_ref().map(ToString::to_string),
                ],
            )
            .await?;
            let (geometries, radii): (Vec<String>, Vec<Option<f64>>) =
                site.fences.iter().map(fence_to_stored).unzip();
            execute(
                &tx,
                "INSERT INTO fences (org_id, site_id, fence_no, geometry, radius_m)
                 SELECT $1, $2, n - 1, g, r
                 FROM unnest($3::text[], $4::float8[]) WITH ORDINALITY AS t (g, r, n)",
                &[&org.as_str(), &site.id.as_str(), &geometries, &radii],
            )
            .await?;
            insert_access_points(&tx, org, &site.id, &site.access_points).await?;
            insert_beacons(&tx, org, &site.id, &site.beacons).await?;
        }
        let version = bump_version(&tx, org).await?;
        commit_audited(tx, org, audit, version).await
    }

    async fn put_site_radios(
        &self,
        org: &OrgId,
        site: &SiteId,
        radios: SiteRadios,
        audit: AuditEntry,
    ) -> Result<Option<(u64, SiteDefinition)>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let keys: Params = &[&org.as_str(), &site.as_str()];
        let exists = query_opt(
            &tx,
            "SELECT 1 FROM sites WHERE org_id = $1 AND site_id = $2 FOR UPDATE",
            keys,
        )
        .await?
        .is_some();
        if !exists {
            return Ok(None);
        }
        match &radios {
            SiteRadios::AccessPoints(list) => {
                execute(
                    &tx,
                    "DELETE FROM site_access_points WHERE org_id = $1 AND site_id = $2",
                    keys,
                )
                .await?;
                insert_access_points(&tx, org, site, list).await?;
            }
            SiteRadios::Beacons(list) => {
                execute(
                    &tx,
                    "DELETE FROM site_beacons WHERE org_id = $1 AND site_id = $2",
                    keys,
                )
                .await?;
                insert_beacons(&tx, org, site, list).await?;
            }
        }
        execute(
            &tx,
            "UPDATE sites SET updated_us = $3 WHERE org_id = $1 AND site_id = $2",
            &[&org.as_str(), &site.as_str(), &to_us(Timestamp::now())],
        )
        .await?;
        let version = bump_version(&tx, org).await?;
        let loaded = load_site(&tx, org, site.as_str()).await?;
        commit_audited(tx, org, audit, Some((version, loaded))).await
    }

    async fn load_sites(&self, org: &OrgId) -> Result<(u64, Vec<SiteDefinition>)> {
        let mut client = self.client().await?;
        // One snapshot: the version and the fences belong together.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let version = query_opt(
            &tx,
            "SELECT sites_version FROM orgs WHERE org_id = $1",
            &[&org.as_str()],
        )
        .await?
        .map_or(Ok(0), |r| r.try_get::<_, i64>(0))?;
        let sites = load_site_page(&tx, org, None, usize::MAX >> 1).await?;
        tx.commit().await?;
        Ok((version as u64, sites))
    }

    async fn site(&self, org: &OrgId, id: &SiteId) -> Result<Option<SiteDefinition>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let known = query(
            &tx,
            "SELECT 1 FROM sites WHERE org_id = $1 AND site_id = $2",
            &[&org.as_str(), &id.as_str()],
        )
        .await?;
        if known.is_empty() {
            return Ok(None);
        }
        Ok(Some(load_site(&tx, org, id.as_str()).await?))
    }

    async fn list_sites(
        &self,
        org: &OrgId,
        after: Option<SiteId>,
        limit: usize,
    ) -> Result<Vec<SiteDefinition>> {
        load_site_page(&self.client().await?, org, after.as_ref(), limit).await
    }

    async fn put_policy(&self, org: &OrgId, policy: Policy, audit: AuditEntry) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        put_setting(
            &tx,
            "org_policies",
            "policy",
            org,
            &policy_json::to_json(&policy),
        )
        .await?;
        let version = bump_version(&tx, org).await?;
        commit_audited(tx, org, audit, version).await
    }

    async fn load_policy(&self, org: &OrgId) -> Result<Policy> {
        load_setting(&self.client().await?, "org_policies", "policy", org)
            .await?
            .map_or_else(|| Ok(Policy::default()), |t| policy_json::from_json(&t))
    }

    async fn put_signatures(
        &self,
        org: &OrgId,
        list: Option<SignatureList>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        match list {
            Some(list) => {
                put_setting(&tx, "org_signatures", "signatures", org, &list.to_json()).await?
            }
            None => {
                ensure_org(&tx, org).await?;
                execute(
                    &tx,
                    "DELETE FROM org_signatures WHERE org_id = $1",
                    &[&org.as_str()],
                )
                .await?;
            }
        }
        let version = bump_version(&tx, org).await?;
        commit_audited(tx, org, audit, version).await
    }

    async fn load_signatures(&self, org: &OrgId) -> Result<Option<SignatureList>> {
        load_setting(&self.client().await?, "org_signatures", "signatures", org)
            .await?
            .map(|t| SignatureList::from_json(&t).map_err(corrupt))
            .transpose()
    }

    async fn org_versions(&self) -> Result<Vec<(OrgId, u64)>> {
        query(
            &self.client().await?,
            "SELECT org_id, sites_version FROM orgs",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok((
                OrgId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
                r.try_get::<_, i64>(1)? as u64,
            ))
        })
        .collect()
    }

    async fn put_retention(
        &self,
        org: &OrgId,
        retention: RetentionPolicy,
        audit: AuditEntry,
    ) -> Result<()> {
        let text = encoding::retention_to_json(&retention);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        put_setting(&tx, "org_retention", "retention", org, &text).await?;
        commit_audited(tx, org, audit, ()).await
    }

    async fn load_retention(&self, org: &OrgId) -> Result<RetentionPolicy> {
        load_setting(&self.client().await?, "org_retention", "retention", org)
            .await?
            .map_or_else(
                || Ok(RetentionPolicy::default()),
                |t| encoding::retention_from_json(&t),
            )
    }

    async fn put_schedule(&self, org: &OrgId, schedule: Schedule, audit: AuditEntry) -> Result<()> {
        let text = encoding::schedule_to_json(&schedule);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        put_setting(&tx, "org_schedules", "schedule", org, &text).await?;
        commit_audited(tx, org, audit, ()).await
    }

    async fn load_schedule(&self, org: &OrgId) -> Result<Option<Schedule>> {
        load_setting(&self.client().await?, "org_schedules", "schedule", org)
            .await?
            .as_deref()
            .map(encoding::schedule_from_json)
            .transpose()
    }

    async fn swap_schedule(
        &self,
        org: &OrgId,
        expected: &Schedule,
        schedule: Schedule,
        audit: AuditEntry,
    ) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row locked: a concurrent swap waits here, then sees this one.
        let stored = query_opt(
            &tx,
            "SELECT schedule FROM org_schedules WHERE org_id = $1 FOR UPDATE",
            &[&org.as_str()],
        )
        .await?
        .map(|r| r.try_get::<_, String>(0))
        .transpose()?;
        let current = stored
            .as_deref()
            .map(encoding::schedule_from_json)
            .transpose()?;
        if current.as_ref() != Some(expected) {
            return Ok(false);
        }
        let text = encoding::schedule_to_json(&schedule);
        put_setting(&tx, "org_schedules", "schedule", org, &text).await?;
        commit_audited(tx, org, audit, ()).await?;
        Ok(true)
    }
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn put_webhook(
        &self,
        org: &OrgId,
        config: WebhookConfig,
        closed_through: Date,
        audit: AuditEntry,
    ) -> Result<StoredWebhook> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        let o = org.as_str();
        execute(
            &tx,
            "INSERT INTO webhooks (org_id, webhook_id, url, events, secret, created_us,
                 punch_cursor, review_cursor, closed_through)
             VALUES ($1, $2, $3, $4, $5, $6,
                 (SELECT COALESCE(MAX(seq), 0) FROM punches WHERE org_id = $1),
                 (SELECT COALESCE(MAX(r.review_order), 0) FROM punch_reviews r
                    JOIN punches p ON p.seq = r.seq WHERE p.org_id = $1),
                 $7)
             ON CONFLICT (org_id, webhook_id) DO UPDATE SET
                 url = excluded.url, events = excluded.events, secret = excluded.secret",
            &[
                &o,
                &config.id,
                &config.url,
                &webhooks::events_to_text(&config.events),
                &config.secret,
                &to_us(config.created_at),
                &closed_through.to_string(),
            ],
        )
        .await?;
        let row = query(
            &tx,
            &format!(
                "SELECT {} FROM webhooks WHERE org_id = $1 AND webhook_id = $2",
                webhooks::COLUMNS
            ),
            &[&o, &config.id],
        )
        .await?;
        let stored = webhooks::stored(&row[0])?;
        privacy::append_audit(&tx, org, &audit).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn delete_webhook(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<WebhookConfig>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = query(
            &tx,
            &format!(
                "DELETE FROM webhooks WHERE org_id = $1 AND webhook_id = $2 RETURNING {}",
                webhooks::COLUMNS
            ),
            &[&org.as_str(), &id],
        )
        .await?;
        execute(
            &tx,
            "DELETE FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2",
            &[&org.as_str(), &id],
        )
        .await?;
        let deleted = rows
            .first()
            .map(|r| webhooks::stored(r).map(|w| w.config))
            .transpose()?;
        commit_audited(tx, org, audit, deleted).await
    }

    async fn webhooks(&self, org: Option<&OrgId>) -> Result<Vec<StoredWebhook>> {
        query(
            &self.client().await?,
            &format!(
                "SELECT {} FROM webhooks WHERE $1::text IS NULL OR org_id = $1
                 ORDER BY org_id, webhook_id",
                webhooks::COLUMNS
            ),
            &[&org.map(OrgId::as_str)],
        )
        .await?
        .iter()
        .map(webhooks::stored)
        .collect()
    }

    async fn advance_webhook(&self, org: &OrgId, id: &str, cursors: WebhookCursors) -> Result<()> {
        execute(
            &self.client().await?,
            "UPDATE webhooks SET punch_cursor = $3, review_cursor = $4, closed_through = $5,
                 closing_after = $6
             WHERE org_id = $1 AND webhook_id = $2",
            &[
                &org.as_str(),
                &id,
                &cursors.punches,
                &cursors.reviews,
                &cursors.closed_through.to_string(),
                &cursors.closing_after.as_ref().map(EmployeeId::as_str),
            ],
        )
        .await?;
        Ok(())
    }

    async fn reviews_after(
        &self,
        org: &OrgId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PunchRow)>> {
        let client = self.client().await?;
        let order: Vec<(i64, i64)> = query(
            &client,
            "SELECT r.seq, r.review_order FROM punch_reviews r JOIN punches p ON p.seq = r.seq
             WHERE p.org_id = $1 AND r.review_order > $2 ORDER BY r.review_order LIMIT $3",
            &[&org.as_str(), &after, &sql_limit(limit)],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
        let seqs: Vec<i64> = order.iter().map(|(seq, _)| *seq).collect();
        let mut rows: std::collections::HashMap<i64, PunchRow> =
            punches::rows(&client, "WHERE seq = ANY($1)", &[&seqs])
                .await?
                .into_iter()
                .map(|r| (r.seq, r))
                .collect();
        order
            .into_iter()
            .map(|(seq, review_order)| {
                rows.remove(&seq)
                    .map(|row| (review_order, row))
                    .ok_or_else(|| corrupt("a reviewed punch vanished".into()))
            })
            .collect()
    }

    async fn log_deliveries(&self, org: &OrgId, id: &str, deliveries: Vec<Delivery>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for d in &deliveries {
            execute(
                &tx,
                "INSERT INTO webhook_deliveries (org_id, webhook_id, event_id, event_kind,
                     attempt, at_us, status, error, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &org.as_str(),
                    &id,
                    &d.event_id,
                    &d.kind.as_str(),
                    &(d.attempt as i32),
                    &to_us(d.at),
                    &d.status.map(i32::from),
                    &d.error,
                    &(d.duration_ms as i32),
                ],
            )
            .await?;
        }
        execute(
            &tx,
            "DELETE FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2 AND id <=
                 (SELECT id FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2
                  ORDER BY id DESC LIMIT 1 OFFSET $3)",
            &[&org.as_str(), &id, &crate::store::MAX_DELIVERIES_KEPT],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(&self, org: &OrgId, id: &str, limit: usize) -> Result<Vec<Delivery>> {
        query(
            &self.client().await?,
            "SELECT event_id, event_kind, attempt, at_us, status, error, duration_ms
             FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2
             ORDER BY id DESC LIMIT $3",
            &[&org.as_str(), &id, &sql_limit(limit)],
        )
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.try_get(1)?;
            Ok(Delivery {
                event_id: r.try_get(0)?,
                kind: crate::webhooks::EventKind::parse(&kind)
                    .ok_or_else(|| corrupt(format!("event kind {kind}")))?,
                attempt: r.try_get::<_, i32>(2)? as u32,
                at: from_us(r.try_get(3)?)?,
                status: r.try_get::<_, Option<i32>>(4)?.map(|s| s as u16),
                error: r.try_get(5)?,
                duration_ms: r.try_get::<_, i32>(6)? as u32,
            })
        })
        .collect()
    }

    async fn claim_webhook(&self, org: &OrgId, id: &str) -> Result<Option<EmployeeLease>> {
        self.leases.try_claim_webhook(org, id).await
    }
}

#[async_trait]
impl CalendarStore for PostgresStore {
    async fn change_calendar(
        &self,
        org: &OrgId,
        changes: Vec<CalendarChange>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        let o = org.as_str();
        let mut changed = 0;
        for change in &changes {
            changed += match change {
                CalendarChange::Put(entry) => {
                    let (first, last) = entry.days();
                    execute(
                        &tx,
                        "INSERT INTO calendar_entries
                             (org_id, entry_key, kind, employee_id, first_day, last_day, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (org_id, entry_key) DO UPDATE SET
                             kind = excluded.kind, employee_id = excluded.employee_id,
                             first_day = excluded.first_day, last_day = excluded.last_day,
                             body = excluded.body",
                        &[
                            &o,
                            &entry.key(),
                            &entry.kind(),
                            &entry.employee().map(|e| e.as_str()),
                            &first.to_string(),
                            &last.to_string(),
                            &encoding::calendar_entry_to_json(entry),
                        ],
                    )
                    .await?
                }
                CalendarChange::Remove(key) => {
                    execute(
                        &tx,
                        "DELETE FROM calendar_entries WHERE org_id = $1 AND entry_key = $2",
                        &[&o, key],
                    )
                    .await?
                }
                CalendarChange::ClearHolidays { from, to } => {
                    execute(
                        &tx,
                        "DELETE FROM calendar_entries WHERE org_id = $1 AND kind = 'holiday'
                         AND first_day >= $2 AND first_day <= $3",
                        &[&o, &from.to_string(), &to.to_string()],
                    )
                    .await?
                }
            };
        }
        commit_audited(tx, org, audit, changed).await
    }

    async fn load_calendar(
        &self,
        org: &OrgId,
        employee: Option<&EmployeeId>,
        from: Date,
        to: Date,
    ) -> Result<Vec<CalendarEntry>> {
        calendar_rows(
            &query(
                &self.client().await?,
                "SELECT kind, body FROM calendar_entries
                 WHERE org_id = $1 AND first_day <= $3 AND last_day >= $2
                   AND ($4::text IS NULL OR employee_id IS NULL OR employee_id = $4)",
                &[
                    &org.as_str(),
                    &from.to_string(),
                    &to.to_string(),
                    &employee.map(|e| e.as_str()),
                ],
            )
            .await?,
        )
    }
}

/// Calendar entries from `SELECT kind, body` rows.
fn calendar_rows(rows: &[Row]) -> Result<Vec<CalendarEntry>> {
    rows.iter()
        .map(|r| encoding::calendar_entry_from_json(r.try_get(0)?, r.try_get(1)?))
        .collect()
}

#[async_trait]
impl PunchStore for PostgresStore {
    async fn lease_employee(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeLease> {
        self.leases.lease(org, employee).await
    }

    async fn history(&self, query: HistoryQuery) -> Result<History> {
        punches::history(&self.client().await?, &query).await
    }

    async fn record_punch(&self, punch: &Punch, verdict: &Verdict) -> Result<Recorded> {
        self.batcher.record(punch.clone(), verdict.clone()).await
    }

    async fn list_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<DeviceBinding>> {
        devices(&self.client().await?, org, employee, None).await
    }

    async fn bind_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<DeviceBinding> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        execute(
            &tx,
            "INSERT INTO devices (org_id, employee_id, device_id, bound_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, employee_id, device_id) DO UPDATE SET revoked_us = NULL",
            &[
                &org.as_str(),
                &employee.as_str(),
                &device.as_str(),
                &to_us(Timestamp::now()),
            ],
        )
        .await?;
        let binding = devices(&tx, org, employee, Some(device))
            .await?
            .pop()
            .ok_or_else(|| corrupt("binding vanished".into()))?;
        commit_audited(tx, org, audit, binding).await
    }

    async fn revoke_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<Option<DeviceBinding>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = to_us(Timestamp::now());
        // Revoking a device unbinds its attested key too.
        let keys = execute(
            &tx,
            "DELETE FROM device_keys WHERE org_id = $1 AND employee_id = $2 AND device_id = $3",
            &[&org.as_str(), &employee.as_str(), &device.as_str()],
        )
        .await?;
        if keys > 0 {
            // Enrolled but never bound (it has not punched yet): it is
            // recorded as revoked, so that its first punch does not bind it.
            execute(
                &tx,
                "INSERT INTO devices (org_id, employee_id, device_id, bound_us, revoked_us)
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
                &[&org.as_str(), &employee.as_str(), &device.as_str(), &now],
            )
            .await?;
        }
        execute(
            &tx,
            "UPDATE devices SET revoked_us = coalesce(revoked_us, $4)
             WHERE org_id = $1 AND employee_id = $2 AND device_id = $3",
            &[&org.as_str(), &employee.as_str(), &device.as_str(), &now],
        )
        .await?;
        let revoked = devices(&tx, org, employee, Some(device)).await?.pop();
        commit_audited(tx, org, audit, revoked).await
    }

    async fn set_consent(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        purpose: ConsentPurpose,
        granted: bool,
        audit: AuditEntry,
    ) -> Result<ConsentRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        ensure_org(&tx, org).await?;
        execute(
            &tx,
            "INSERT INTO consents (org_id, employee_id, purpose, granted, changed_us)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id, employee_id, purpose)
             DO UPDATE SET granted = excluded.granted, changed_us = excluded.changed_us",
            &[
                &org.as_str(),
                &employee.as_str(),
                &purpose.as_str(),
                &granted,
                &to_us(Timestamp::now()),
            ],
        )
        .await?;
        let record = consents(&tx, org, employee)
            .await?
            .into_iter()
            .find(|c| c.purpose == purpose)
            .ok_or_else(|| corrupt("consent vanished".into()))?;
        commit_audited(tx, org, audit, record).await
    }

    async fn list_consents(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
    ) -> Result<Vec<ConsentRecord>> {
        consents(&self.client().await?, org, employee).await
    }
}

#[async_trait]
impl AttendanceStore for PostgresStore {
    async fn list_punches(&self, q: PunchQuery) -> Result<Vec<PunchRow>> {
        let after = q.after.unwrap_or(PunchCursor {
            at: q.from,
            seq: -1,
        });
        let at = q.clock.column();
        punches::rows(
            &self.client().await?,
            &format!(
                "WHERE org_id = $1 AND {at} >= $2 AND {at} < $3
                   AND ({at}, seq) > ($4, $5)
                 ORDER BY {at}, seq LIMIT $6"
            ),
            &[
                &q.org.as_str(),
                &to_us(q.from),
                &to_us(q.to),
                &to_us(after.at),
                &after.seq,
                &sql_limit(q.limit),
            ],
        )
        .await
    }

    async fn employee_punches(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PunchRow>> {
        punches::rows(
            &self.client().await?,
            "WHERE org_id = $1 AND employee_id = $2 AND client_us >= $3 AND client_us < $4
             ORDER BY client_us, seq",
            &[&org.as_str(), &employee.as_str(), &to_us(from), &to_us(to)],
        )
        .await
    }

    async fn review_queue(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>> {
        punches::rows(
            &self.client().await?,
            "WHERE org_id = $1 AND decision = 'review' AND seq > $2
               AND NOT EXISTS (SELECT 1 FROM punch_reviews r WHERE r.seq = punches.seq)
             ORDER BY seq LIMIT $3",
            &[&org.as_str(), &after_seq, &sql_limit(limit)],
        )
        .await
    }

    async fn record_correction(
        &self,
        punch: &Punch,
        verdict: &Verdict,
        review: Review,
        audit: AuditEntry,
    ) -> Result<Option<PunchRow>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(seq) = punches::insert_one(&tx, punch, verdict).await? else {
            return Ok(None);
        };
        insert_review(&tx, seq, &review).await?;
        let row = punches::rows(&tx, "WHERE seq = $1", &[&seq])
            .await?
            .pop()
            .ok_or_else(|| corrupt("a corrected punch vanished".into()))?;
        commit_audited(tx, &punch.org, audit, Some(row)).await
    }

    async fn review_punch(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        punch_id: &PunchId,
        review: Review,
        audit: AuditEntry,
    ) -> Result<ReviewOutcome> {
        const BY_ID: &str = "WHERE org_id = $1 AND employee_id = $2 AND punch_id = $3";
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let keys: Params = &[&org.as_str(), &employee.as_str(), &punch_id.as_str()];
        // The feed lock first, as punch groups take it, then the punch.
        punches::lock_feed(&tx, org).await?;
        // Locks the punch: of two reviewers deciding at once, the second
        // waits here and then finds the first decision.
        execute(
            &tx,
            &format!("SELECT 1 FROM punches {BY_ID} FOR UPDATE"),
            keys,
        )
        .await?;
        let row = match ReviewOutcome::precondition(punches::rows(&tx, BY_ID, keys).await?.pop()) {
            Ok(row) => row,
            Err(refused) => return Ok(refused),
        };
        insert_review(&tx, row.seq, &review).await?;
        let reviewed = punches::rows(&tx, BY_ID, keys)
            .await?
            .pop()
            .ok_or_else(|| corrupt("reviewed punch vanished".into()))?;
        commit_audited(tx, org, audit, ReviewOutcome::Reviewed(Box::new(reviewed))).await
    }

    async fn punches_after(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>> {
        punches::rows(
            &self.client().await?,
            "WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&org.as_str(), &after_seq, &sql_limit(limit)],
        )
        .await
    }

    async fn latest_seq(&self, org: &OrgId) -> Result<i64> {
        Ok(query_opt(
            &self.client().await?,
            "SELECT max(seq) FROM punches WHERE org_id = $1",
            &[&org.as_str()],
        )
        .await?
        .map(|r| r.try_get::<_, Option<i64>>(0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
    }

    async fn punch_evidence(
        &self,
        org: &OrgId,
        seqs: Vec<i64>,
    ) -> Result<Vec<(i64, StoredEvidence)>> {
        privacy::evidence_of(&self.client().await?, org, &seqs).await
    }
}

#[async_trait]
impl PrivacyStore for PostgresStore {
    async fn sweep_batch(
        &self,
        org: &OrgId,
        cutoffs: &Cutoffs,
        limit: usize,
    ) -> Result<SweepCounts> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut steps = privacy::Sweep { tx: &tx, org };
        let done = crate::retention::sweep_batch(&mut steps, cutoffs, limit).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn sweep_preview(&self, org: &OrgId, cutoffs: &Cutoffs) -> Result<SweepCounts> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let counts = privacy::sweep_preview(&tx, org, cutoffs).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn append_audit(&self, org: &OrgId, entry: AuditEntry) -> Result<()> {
        privacy::append_audit(&self.client().await?, org, &entry).await
    }

    async fn list_audit(&self, query: AuditQuery) -> Result<Vec<AuditRecord>> {
        privacy::list_audit(&self.client().await?, &query).await
    }

    async fn employee_data(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeData> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let data = EmployeeData {
            punches: privacy::punches_with_evidence(&tx, org, employee).await?,
            devices: devices(&tx, org, employee, None).await?,
            consents: consents(&tx, org, employee).await?,
            audit: privacy::list_audit(
                &tx,
                &AuditQuery {
                    org: org.clone(),
                    employee: Some(employee.clone()),
                    after_id: 0,
                    limit: i64::MAX as usize,
                },
            )
            .await?,
            calendar: calendar_rows(
                &query(
                    &tx,
                    "SELECT kind, body FROM calendar_entries WHERE org_id = $1 AND employee_id = $2
                     ORDER BY first_day, entry_key",
                    &[&org.as_str(), &employee.as_str()],
                )
                .await?,
            )?,
        };
        tx.commit().await?;
        Ok(data)
    }

    async fn erase_employee(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        audit: AuditEntry,
    ) -> Result<ErasureCounts> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let counts = privacy::erase_employee(&tx, org, employee).await?;
        commit_audited(tx, org, audit, counts).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn close(&self) -> Result<()> {
        self.batcher.close().await;
        self.pool.close();
        Ok(())
    }

    fn failure(&self) -> Failure {
        self.batcher.failure()
    }
}

/// `url` with its connections' `search_path` set to `schema`: every table
/// punchguard creates and reads is then in that schema.
pub fn url_with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Creates `schema` (a plain identifier) if it does not exist and returns
/// the URL that uses it: one database can hold several punchguard
/// installations, or a test run each.
pub async fn create_schema(url: &str, schema: &str) -> Result<String> {
    admin_statement(
        url,
        &format!("CREATE SCHEMA IF NOT EXISTS {}", identifier(schema)?),
    )
    .await?;
    Ok(url_with_schema(url, schema))
}

/// Drops `schema` and everything in it.
pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    admin_statement(
        url,
        &format!("DROP SCHEMA IF EXISTS {} CASCADE", identifier(schema)?),
    )
    .await
}

fn identifier(name: &str) -> Result<&str> {
    let plain = !name.is_empty()
        && name.len() < 64
        && !name.starts_with("pg_")
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    plain.then_some(name).ok_or_else(|| {
        StoreError::Config(format!(
            "schema name {name:?}: use a-z, 0-9 and _, not starting pg_"
        ))
    })
}

async fn admin_statement(url: &str, sql: &str) -> Result<()> {
    let (config, tls) = tls::connect_settings(url)?;
    let (client, connection) = config.connect(tls).await?;
    let driver = tokio::spawn(connection);
    let outcome = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    Ok(outcome?)
}
