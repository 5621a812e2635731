//! The embedded default backend: one SQLite file in WAL mode with
//! `synchronous=FULL`, so a committed transaction survives power loss.
//!
//! Writes go through one writer thread that commits in groups: whatever is
//! queued when it becomes free shares one transaction (each job in its own
//! savepoint, so one failing job does not sink the others), and every caller
//! is answered only after that transaction has committed. One fsync then
//! covers hundreds of punches at 9:00. Reads use a small pool of separate
//! connections, which WAL lets run beside the writer.

mod attendance;
mod attestation;
mod codec;
mod privacy;
mod reader;
mod tokens;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};

use self::reader::HotReader;
use self::writer::Writer;
use super::encoding::{self, to_us};
use super::prelude::*;
use super::recent::{DEVICE_MEMORY, DeviceRecent, EmployeeRecent, RecentHistory};
use super::{
    AuditEntry, AuditQuery, AuditRecord, Audited, CalendarChange, ConsentRecord, Delivery,
    DeviceBinding, EmployeeData, ErasureCounts, HistoryQuery, PunchCursor, PunchQuery, PunchRow,
    Recorded, Result, Review, ReviewOutcome, SiteRadios, Store, StoreError, StoredEvidence,
    StoredWebhook, TokenGrant, TokenRecord, WebhookConfig, WebhookCursors,
};
use crate::attendance::{CalendarEntry, Schedule};
use crate::auth::TokenHash;
use crate::engine::beacons::SiteBeacon;
use crate::engine::signatures::SignatureList;
use crate::engine::sites::{SiteDefinition, fence_from_stored, fence_to_stored};
use crate::engine::wifi::{AccessPoint, Bssid};
use crate::engine::{
    ConsentPurpose, DeviceId, EmployeeId, History, OrgId, Policy, Punch, PunchId, SiteId, Verdict,
};
use crate::retention::{Cutoffs, RetentionPolicy, SweepCounts};
use crate::store::{EmployeeLease, Failure, policy_json};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run. Append only: never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_init.sql"),
    include_str!("0002_device_evidence.sql"),
    include_str!("0003_history.sql"),
    include_str!("0004_policy.sql"),
    include_str!("0005_consents.sql"),
    include_str!("0006_signatures.sql"),
    include_str!("0007_beacons.sql"),
    include_str!("0008_site_requirements.sql"),
    include_str!("0009_retention.sql"),
    include_str!("0010_attendance.sql"),
    include_str!("0011_token_lifecycle.sql"),
    include_str!("0012_attestation.sql"),
    include_str!("0013_punched_day.sql"),
    include_str!("0014_calendar.sql"),
    include_str!("0015_webhooks.sql"),
    include_str!("0016_fewer_pages.sql"),
];

/// Employees (and devices) whose recent history is kept in memory.
const RECENT_CAPACITY: usize = 500_000;

/// WAL frames between the writer's checkpoints (~16 MB of 4 KiB pages).
const WAL_CHECKPOINT_PAGES: i64 = 4_000;

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    /// Answers the reads every punch makes: its token, its history (see
    /// [`reader`]).
    hot_reader: HotReader,
    /// This process is the file's only writer of punches, devices and
    /// consents, so it may keep their recent history in memory.
    recent: RecentHistory,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut conn = connect(&path)?;
        migrate(&mut conn)?;
        // The writer checkpoints every WAL_CHECKPOINT_PAGES frames instead
        // of SQLite's 1,000: a page punches touch again and again (an index
        // leaf, the table's last page) is copied into the database once per
        // checkpoint, so fewer checkpoints write fewer bytes per punch.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        // Each job runs in a savepoint, whose journal (the original of every
        // page the job changes) SQLite spills to a temporary file beyond
        // 64 KiB: a write() per page and twice the bytes per punch. Keep it in
        // memory; the writer never sorts large results, the readers do.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let hot_reader = HotReader::start(connect(&path)?);
        Ok(Self {
            writer: Writer::start(conn),
            hot_reader,
            readers: Arc::new(Readers {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            recent: RecentHistory::new(RECENT_CAPACITY),
        })
    }

    /// Makes the writer thread panic, as a bug in a write would: for the
    /// test that a dead writer is loud (NOT_SERVING, a non-zero exit) and
    /// loses nothing acknowledged. Never called by punchguard itself.
    #[doc(hidden)]
    pub async fn crash_writer_for_test(&self) -> Result<()> {
        self.writer
            .write(|_| -> Result<()> { panic!("injected by a test") })
            .await
    }

    /// How many transactions the writer has committed, and how many writes
    /// they carried: the ratio is the group-commit factor.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }

    /// Copies the WAL into the database and truncates it, so that pages
    /// holding deleted rows leave the log too (secure_delete has already
    /// zeroed them in the database). Waits for readers and the writer
    /// between transactions, a few times, then reports failure.
    async fn scrub_wal(&self) -> Result<()> {
        let path = self.readers.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = connect(&path)?;
            for _ in 0..50 {
                let (busy, _, _): (i64, i64, i64) =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
                if busy == 0 {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(StoreError::Commit(
                "could not truncate the write-ahead log: the database stayed busy".into(),
            ))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("checkpoint task failed: {e}")))?
    }

    /// A write that changes what the history cache holds about one
    /// employee (devices, consent): the cached entry goes once it commits.
    async fn write_about<T, F>(&self, org: &OrgId, employee: &EmployeeId, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let written = self.writer.write(work).await?;
        self.recent.forget_employee(org, employee);
        Ok(written)
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = readers.take()?;
            let result = f(&mut conn);
            readers.give(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is
    // fsynced before it returns, which is what "acknowledged" promises.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows are overwritten, not left in free pages: coarsened
    // evidence and erased people must be gone from the file itself.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // The CLI may write while a server runs; wait for its lock, don't fail.
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_through(conn, MIGRATIONS.len())
}

/// Applies the migrations not yet applied among the first `through`: the
/// schema of that version (older versions only for the upgrade tests).
fn migrate_through(conn: &mut Connection, through: usize) -> Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if applied > supported {
        return Err(StoreError::SchemaTooNew {
            found: applied,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS[..through]
        .iter()
        .enumerate()
        .skip(applied as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

/// Which parts of a punch's history the cache could not answer.
#[derive(Debug, Clone, Copy)]
struct MissingHistory {
    employee: bool,
    device: bool,
    nonce: bool,
    attested: bool,
}

#[derive(Debug, Default)]
struct LoadedHistory {
    employee: Option<EmployeeRecent>,
    device: Option<DeviceRecent>,
    nonce_seen: bool,
    attested: Option<crate::engine::attestation::AttestedDevice>,
}

impl MissingHistory {
    fn read(self, conn: &mut Connection, q: &HistoryQuery) -> Result<LoadedHistory> {
        // One read transaction: the parts are one consistent snapshot.
        let tx = conn.transaction()?;
        let since = Timestamp::now() - DEVICE_MEMORY;
        Ok(LoadedHistory {
            employee: self
                .employee
                .then(|| codec::employee_recent(&tx, &q.org, &q.employee))
                .transpose()?,
            device: match (&q.device, self.device) {
                (Some(device), true) => Some(codec::device_recent(&tx, &q.org, device, since)?),
                _ => None,
            },
            nonce_seen: match (&q.nonce, self.nonce) {
                (Some(nonce), true) => codec::nonce_seen(&tx, q, nonce)?,
                _ => false,
            },
            // Never cached: an enrolment or a revocation counts at once.
            attested: match (&q.device, self.attested) {
                (Some(device), true) => {
                    attestation::attested_device(&tx, &q.org, &q.employee, device)?
                }
                _ => None,
            },
        })
    }
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> Result<Connection> {
        // The lock is held only to pop or push, never across a query.
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.path),
        }
    }

    fn give(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Runs to its end, on this thread, a future that never waits: a SQLite
/// side of an algorithm written once for both backends (see
/// [`crate::retention::sweep_batch`]), whose steps are synchronous.
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("a SQLite step never waits"),
    }
}

/// `work`, followed in its transaction by its audit entry when it changed
/// something (see [`Audited`]).
fn audited<T, F>(
    org: OrgId,
    audit: AuditEntry,
    work: F,
) -> impl FnOnce(&Connection) -> Result<T> + Send + 'static
where
    T: Audited,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    move |tx| {
        let outcome = work(tx)?;
        if outcome.happened() {
            privacy::append_audit(tx, &org, &audit)?;
        }
        Ok(outcome)
    }
}

fn ensure_org(conn: &Connection, org: &OrgId) -> Result<()> {
    conn.execute(
        "INSERT INTO orgs (org_id, created_us) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![org.as_str(), to_us(Timestamp::now())],
    )?;
    Ok(())
}

/// Moves the organisation's configuration version on: snapshots everywhere
/// (this process, the CLI's effect on a server, other replicas) rebuild.
fn bump_version(tx: &Connection, org: &OrgId) -> Result<u64> {
    let version: i64 = tx.query_row(
        "UPDATE orgs SET sites_version = sites_version + 1 WHERE org_id = ?1 RETURNING sites_version",
        [org.as_str()],
        |r| r.get(0),
    )?;
    Ok(version as u64)
}

fn load_site(conn: &Connection, org: &OrgId, site: &str) -> Result<SiteDefinition> {
    let mut stmt = conn.prepare_cached(
        "SELECT geometry, radius_m FROM fences WHERE org_id = ?1 AND site_id = ?2 ORDER BY fence_no",
    )?;
    let fences = stmt
        .query_map(params![org.as_str(), site], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<f64>>(1)?))
        })?
        .map(|row| {
            let (geometry, radius) = row?;
            fence_from_stored(&geometry, radius).map_err(StoreError::Corrupt)
        })
        .collect::<Result<Vec<_>>>()?;
    let access_points = conn
        .prepare_cached(
            "SELECT bssid, ssid FROM site_access_points WHERE org_id = ?1 AND site_id = ?2 ORDER BY rowid",
        )?
        .query_map(params![org.as_str(), site], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .map(|row| {
            let (bssid, ssid) = row?;
            Ok(AccessPoint { bssid: Bssid::parse(&bssid).map_err(StoreError::Corrupt)?, ssid })
        })
        .collect::<Result<Vec<_>>>()?;
    let beacons = conn
        .prepare_cached(
            "SELECT beacon FROM site_beacons WHERE org_id = ?1 AND site_id = ?2 ORDER BY beacon_no",
        )?
        .query_map(params![org.as_str(), site], |r| r.get::<_, String>(0))?
        .map(|row| encoding::beacon_from_json(&row?))
        .collect::<Result<Vec<_>>>()?;
    let requires: Option<String> = conn
        .prepare_cached("SELECT requires FROM sites WHERE org_id = ?1 AND site_id = ?2")?
        .query_row(params![org.as_str(), site], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(SiteDefinition {
        id: SiteId::new(site).map_err(StoreError::Corrupt)?,
        fences,
        access_points,
        beacons,
        requires: requires
            .as_deref()
            .map(encoding::requirement_from_text)
            .transpose()?,
    })
}

fn insert_access_points(
    tx: &Connection,
    org: &OrgId,
    site: &SiteId,
    access_points: &[AccessPoint],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO site_access_points (org_id, site_id, bssid, ssid) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for ap in access_points {
        insert.execute(params![
            org.as_str(),
            site.as_str(),
            ap.bssid.to_string(),
            ap.ssid
        ])?;
    }
    Ok(())
}

fn insert_beacons(
    tx: &Connection,
    org: &OrgId,
    site: &SiteId,
    beacons: &[SiteBeacon],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO site_beacons (org_id, site_id, beacon_no, beacon) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (no, beacon) in beacons.iter().enumerate() {
        insert.execute(params![
            org.as_str(),
            site.as_str(),
            no as i64,
            encoding::beacon_to_json(beacon)
        ])?;
    }
    Ok(())
}

fn load_site_page(
    conn: &Connection,
    org: &OrgId,
    after: Option<&SiteId>,
    limit: usize,
) -> Result<Vec<SiteDefinition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT site_id FROM sites WHERE org_id = ?1 AND site_id > ?2 ORDER BY site_id LIMIT ?3",
    )?;
    let ids = stmt
        .query_map(
            params![org.as_str(), after.map_or("", SiteId::as_str), limit as i64],
            |r| r.get::<_, String>(0),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    ids.iter().map(|id| load_site(conn, org, id)).collect()
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(
        &self,
        hash: TokenHash,
        grant: TokenGrant,
        audit: AuditEntry,
    ) -> Result<TokenRecord> {
        let org = grant.org.clone();
        self.writer
            .write(audited(org, audit, move |tx| {
                tokens::insert(tx, &hash, &grant)?;
                tokens::by_hash(tx, &hash)?
                    .ok_or_else(|| StoreError::Corrupt("token vanished".into()))
            }))
            .await
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        let hash = hash.clone();
        // Every call authenticates: a point read on the hot path's reader.
        self.hot_reader
            .read(move |conn| tokens::by_hash(conn, &hash))
            .await
    }

    async fn list_tokens(&self, org: &OrgId) -> Result<Vec<TokenRecord>> {
        let org = org.clone();
        self.read(move |conn| tokens::list(conn, &org)).await
    }

    async fn revoke_token(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                tokens::revoke(tx, &org, &id)
            }))
            .await
    }

    async fn rotate_token(
        &self,
        org: &OrgId,
        id: &str,
        new: TokenHash,
        grace_until: Timestamp,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                tokens::rotate(tx, &org, &id, &new, grace_until)
            }))
            .await
    }

    async fn touch_tokens(&self, used: Vec<(String, Timestamp)>) -> Result<()> {
        self.writer.write(move |tx| tokens::touch(tx, &used)).await
    }
}

#[async_trait]
impl ConfigStore for SqliteStore {
    async fn ensure_org(&self, org: &OrgId) -> Result<()> {
        let org = org.clone();
        self.writer.write(move |tx| ensure_org(tx, &org)).await
    }

    async fn put_sites(
        &self,
        org: &OrgId,
        sites: Vec<SiteDefinition>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                let now = to_us(Timestamp::now());
                for site in &sites {
                    tx.execute(
                        "DELETE FROM sites WHERE org_id = ?1 AND site_id = ?2",
                        params![org.as_str(), site.id.as_str()],
                    )?;
                    tx.execute(
                        "INSERT INTO sites (org_id, site_id, updated_us, requires)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            org.as_str(),
                            site.id.as_str(),
                            now,
                            site.requires.as_ref().map(ToString::to_string)
                        ],
                    )?;
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO fences (org_id, site_id, fence_no, geometry, radius_m)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for (no, fence) in site.fences.iter().enumerate() {
                        let (geometry, radius) = fence_to_stored(fence);
                        insert.execute(params![
                            org.as_str(),
                            site.id.as_str(),
                            no as i64,
                            geometry,
                            radius
                        ])?;
                    }
                    insert_access_points(tx, &org, &site.id, &site.access_points)?;
                    insert_beacons(tx, &org, &site.id, &site.beacons)?;
                }
                bump_version(tx, &org)
            }))
            .await
    }

    async fn put_site_radios(
        &self,
        org: &OrgId,
        site: &SiteId,
        radios: SiteRadios,
        audit: AuditEntry,
    ) -> Result<Option<(u64, SiteDefinition)>> {
        let (org, site) = (org.clone(), site.clone());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM sites WHERE org_id = ?1 AND site_id = ?2")?
                    .exists(params![org.as_str(), site.as_str()])?;
                if !exists {
                    return Ok(None);
                }
                let keys = params![org.as_str(), site.as_str()];
                match &radios {
                    SiteRadios::AccessPoints(list) => {
                        tx.execute(
                            "DELETE FROM site_access_points WHERE org_id = ?1 AND site_id = ?2",
                            keys,
                        )?;
                        insert_access_points(tx, &org, &site, list)?;
                    }
                    SiteRadios::Beacons(list) => {
                        tx.execute(
                            "DELETE FROM site_beacons WHERE org_id = ?1 AND site_id = ?2",
                            keys,
                        )?;
                        insert_beacons(tx, &org, &site, list)?;
                    }
                }
                tx.execute(
                    "UPDATE sites SET updated_us = ?3 WHERE org_id = ?1 AND site_id = ?2",
                    params![org.as_str(), site.as_str(), to_us(Timestamp::now())],
                )?;
                let version = bump_version(tx, &org)?;
                Ok(Some((version, load_site(tx, &org, site.as_str())?)))
            }))
            .await
    }

    async fn load_sites(&self, org: &OrgId) -> Result<(u64, Vec<SiteDefinition>)> {
        let org = org.clone();
        self.read(move |conn| {
            // One read transaction: the version and the fences are one snapshot.
            let tx = conn.transaction()?;
            let version: Option<i64> = tx
                .query_row(
                    "SELECT sites_version FROM orgs WHERE org_id = ?1",
                    [org.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            let sites = load_site_page(&tx, &org, None, usize::MAX >> 1)?;
            Ok((version.unwrap_or(0) as u64, sites))
        })
        .await
    }

    async fn site(&self, org: &OrgId, id: &SiteId) -> Result<Option<SiteDefinition>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let known = tx
                .prepare_cached("SELECT 1 FROM sites WHERE org_id = ?1 AND site_id = ?2")?
                .exists(params![org.as_str(), id.as_str()])?;
            known.then(|| load_site(&tx, &org, id.as_str())).transpose()
        })
        .await
    }

    async fn list_sites(
        &self,
        org: &OrgId,
        after: Option<SiteId>,
        limit: usize,
    ) -> Result<Vec<SiteDefinition>> {
        let org = org.clone();
        self.read(move |conn| {
            let tx = conn.transaction()?;
            load_site_page(&tx, &org, after.as_ref(), limit)
        })
        .await
    }

    async fn put_policy(&self, org: &OrgId, policy: Policy, audit: AuditEntry) -> Result<u64> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                tx.execute(
                    "INSERT INTO org_policies (org_id, policy, updated_us) VALUES (?1, ?2, ?3)
                     ON CONFLICT (org_id) DO UPDATE SET policy = excluded.policy,
                         updated_us = excluded.updated_us",
                    params![
                        org.as_str(),
                        policy_json::to_json(&policy),
                        to_us(Timestamp::now())
                    ],
                )?;
                bump_version(tx, &org)
            }))
            .await
    }

    async fn load_policy(&self, org: &OrgId) -> Result<Policy> {
        let org = org.clone();
        self.read(move |conn| {
            let stored: Option<String> = conn
                .prepare_cached("SELECT policy FROM org_policies WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))
                .optional()?;
            stored.map_or_else(
                || Ok(Policy::default()),
                |text| policy_json::from_json(&text),
            )
        })
        .await
    }

    async fn put_signatures(
        &self,
        org: &OrgId,
        list: Option<SignatureList>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                match list {
                    Some(list) => tx.execute(
                        "INSERT INTO org_signatures (org_id, signatures, updated_us) VALUES (?1, ?2, ?3)
                         ON CONFLICT (org_id) DO UPDATE SET signatures = excluded.signatures,
                             updated_us = excluded.updated_us",
                        params![org.as_str(), list.to_json(), to_us(Timestamp::now())],
                    )?,
                    None => tx.execute("DELETE FROM org_signatures WHERE org_id = ?1", [org.as_str()])?,
                };
                bump_version(tx, &org)
            }))
            .await
    }

    async fn load_signatures(&self, org: &OrgId) -> Result<Option<SignatureList>> {
        let org = org.clone();
        self.read(move |conn| {
            let stored: Option<String> = conn
                .prepare_cached("SELECT signatures FROM org_signatures WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))
                .optional()?;
            stored
                .map(|text| SignatureList::from_json(&text).map_err(StoreError::Corrupt))
                .transpose()
        })
        .await
    }

    async fn org_versions(&self) -> Result<Vec<(OrgId, u64)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT org_id, sites_version FROM orgs")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .map(|row| {
                    let (org, version) = row?;
                    Ok((
                        OrgId::new(org).map_err(StoreError::Corrupt)?,
                        version as u64,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn put_retention(
        &self,
        org: &OrgId,
        retention: RetentionPolicy,
        audit: AuditEntry,
    ) -> Result<()> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                privacy::put_retention(tx, &org, &retention)
            }))
            .await
    }

    async fn load_retention(&self, org: &OrgId) -> Result<RetentionPolicy> {
        let org = org.clone();
        self.read(move |conn| privacy::load_retention(conn, &org))
            .await
    }

    async fn put_schedule(&self, org: &OrgId, schedule: Schedule, audit: AuditEntry) -> Result<()> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                attendance::put_schedule(tx, &org, &schedule)
            }))
            .await
    }

    async fn load_schedule(&self, org: &OrgId) -> Result<Option<Schedule>> {
        let org = org.clone();
        self.read(move |conn| attendance::load_schedule(conn, &org))
            .await
    }

    async fn swap_schedule(
        &self,
        org: &OrgId,
        expected: &Schedule,
        schedule: Schedule,
        audit: AuditEntry,
    ) -> Result<bool> {
        let (org, expected) = (org.clone(), expected.clone());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                // The writer is the only one: what it reads here stands.
                if attendance::load_schedule(tx, &org)?.as_ref() != Some(&expected) {
                    return Ok(None);
                }
                attendance::put_schedule(tx, &org, &schedule).map(Some)
            }))
            .await
            .map(|swapped| swapped.is_some())
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn put_webhook(
        &self,
        org: &OrgId,
        config: WebhookConfig,
        closed_through: Date,
        audit: AuditEntry,
    ) -> Result<StoredWebhook> {
        let org = org.clone();
        self.writer
            .write(move |tx| {
                ensure_org(tx, &org)?;
                let stored = webhooks::put_webhook(tx, &org, &config, closed_through)?;
                privacy::append_audit(tx, &org, &audit)?;
                Ok(stored)
            })
            .await
    }

    async fn delete_webhook(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<WebhookConfig>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                webhooks::delete_webhook(tx, &org, &id)
            }))
            .await
    }

    async fn webhooks(&self, org: Option<&OrgId>) -> Result<Vec<StoredWebhook>> {
        let org = org.cloned();
        self.read(move |conn| webhooks::webhooks(conn, org.as_ref()))
            .await
    }

    async fn advance_webhook(&self, org: &OrgId, id: &str, cursors: WebhookCursors) -> Result<()> {
        let (org, id) = (org.clone(), id.to_owned());
        self.writer
            .write(move |tx| webhooks::advance_webhook(tx, &org, &id, &cursors))
            .await
    }

    async fn reviews_after(
        &self,
        org: &OrgId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PunchRow)>> {
        let org = org.clone();
        self.read(move |conn| webhooks::reviews_after(conn, &org, after, limit))
            .await
    }

    async fn log_deliveries(&self, org: &OrgId, id: &str, deliveries: Vec<Delivery>) -> Result<()> {
        let (org, id) = (org.clone(), id.to_owned());
        self.writer
            .write(move |tx| webhooks::log_deliveries(tx, &org, &id, &deliveries))
            .await
    }

    async fn deliveries(&self, org: &OrgId, id: &str, limit: usize) -> Result<Vec<Delivery>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.read(move |conn| webhooks::deliveries(conn, &org, &id, limit))
            .await
    }

    /// One process serves a SQLite file: its sender is the only one.
    async fn claim_webhook(&self, _: &OrgId, _: &str) -> Result<Option<EmployeeLease>> {
        Ok(Some(EmployeeLease::local()))
    }
}

#[async_trait]
impl CalendarStore for SqliteStore {
    async fn change_calendar(
        &self,
        org: &OrgId,
        changes: Vec<CalendarChange>,
        audit: AuditEntry,
    ) -> Result<u64> {
        let org = org.clone();
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                ensure_org(tx, &org)?;
                attendance::change_calendar(tx, &org, &changes)
            }))
            .await
    }

    async fn load_calendar(
        &self,
        org: &OrgId,
        employee: Option<&EmployeeId>,
        from: Date,
        to: Date,
    ) -> Result<Vec<CalendarEntry>> {
        let (org, employee) = (org.clone(), employee.cloned());
        self.read(move |conn| attendance::load_calendar(conn, &org, employee.as_ref(), from, to))
            .await
    }
}

#[async_trait]
impl PunchStore for SqliteStore {
    /// One process writes a SQLite file's punches (the server; the CLI
    /// records none), and it serialises them itself.
    async fn lease_employee(&self, _: &OrgId, _: &EmployeeId) -> Result<EmployeeLease> {
        Ok(EmployeeLease::local())
    }

    async fn history(&self, query: HistoryQuery) -> Result<History> {
        let (org, employee) = (&query.org, &query.employee);
        let cached_employee = self.recent.employee(org, employee);
        let cached_device = query
            .device
            .as_ref()
            .map(|device| self.recent.device(org, device));
        // One database read for whatever the cache lacks; none at all for a
        // punch without a nonce whose employee and device are cached.
        let load = MissingHistory {
            employee: cached_employee.is_err(),
            device: matches!(cached_device, Some(Err(_))),
            nonce: query.nonce.is_some(),
            attested: query.attested && query.device.is_some(),
        };
        let loaded = if load.employee || load.device || load.nonce || load.attested {
            let query = query.clone();
            self.hot_reader
                .read(move |conn| load.read(conn, &query))
                .await?
        } else {
            LoadedHistory::default()
        };
        let employee_recent = match (cached_employee, loaded.employee) {
            (Ok(cached), _) => cached,
            (Err(epoch), Some(fresh)) => {
                self.recent
                    .insert_employee(org, employee, fresh.clone(), epoch);
                fresh
            }
            (Err(_), None) => unreachable!("a missing employee entry is loaded"),
        };
        let device_recent = match (cached_device, loaded.device, &query.device) {
            (Some(Ok(cached)), _, _) => cached,
            (Some(Err(epoch)), Some(fresh), Some(device)) => {
                self.recent.insert_device(org, device, fresh.clone(), epoch);
                fresh
            }
            _ => DeviceRecent::default(),
        };
        Ok(History {
            last_accepted: employee_recent.last_accepted,
            bound_devices: employee_recent.bound_devices,
            device_other_employees: device_recent.others_since(employee, query.shared_since),
            nonce_seen: loaded.nonce_seen,
            auto_punch_consent: employee_recent.auto_punch_consent,
            attested: loaded.attested,
        })
    }

    async fn record_punch(&self, punch: &Punch, verdict: &Verdict) -> Result<Recorded> {
        let (owned_punch, owned_verdict) = (punch.clone(), verdict.clone());
        let recorded = self
            .writer
            .write(move |tx| codec::insert_punch(tx, &owned_punch, &owned_verdict))
            .await?;
        if !recorded.duplicate {
            self.recent.punch_recorded(punch, verdict);
        }
        Ok(recorded)
    }

    async fn list_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<DeviceBinding>> {
        let (org, employee) = (org.clone(), employee.clone());
        self.read(move |conn| codec::devices(conn, &org, &employee, None))
            .await
    }

    async fn bind_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<DeviceBinding> {
        let owned = (org.clone(), employee.clone(), device.clone());
        self.write_about(org, employee, audited(org.clone(), audit, move |tx| {
            let (org, employee, device) = owned;
            ensure_org(tx, &org)?;
            tx.execute(
                "INSERT INTO devices (org_id, employee_id, device_id, bound_us) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET revoked_us = NULL",
                params![org.as_str(), employee.as_str(), device.as_str(), to_us(Timestamp::now())],
            )?;
            codec::devices(tx, &org, &employee, Some(&device))?
                .pop()
                .ok_or_else(|| StoreError::Corrupt("binding vanished".into()))
        }))
        .await
    }

    async fn revoke_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<Option<DeviceBinding>> {
        let owned = (org.clone(), employee.clone(), device.clone());
        self.write_about(
            org,
            employee,
            audited(org.clone(), audit, move |tx| {
                let (org, employee, device) = owned;
                let now = to_us(Timestamp::now());
                // Revoking a device unbinds its attested key too.
                let keys = tx.execute(
                    "DELETE FROM device_keys WHERE org_id = ?1 AND employee_id = ?2 AND device_id = ?3",
                    params![org.as_str(), employee.as_str(), device.as_str()],
                )?;
                if keys > 0 {
                    // Enrolled but never bound (it has not punched yet): it
                    // is recorded as revoked, so that its first punch does
                    // not bind it.
                    tx.execute(
                        "INSERT INTO devices (org_id, employee_id, device_id, bound_us, revoked_us)
                         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
                        params![org.as_str(), employee.as_str(), device.as_str(), now],
                    )?;
                }
                tx.execute(
                    "UPDATE devices SET revoked_us = coalesce(revoked_us, ?4)
                 WHERE org_id = ?1 AND employee_id = ?2 AND device_id = ?3",
                    params![org.as_str(), employee.as_str(), device.as_str(), now],
                )?;
                Ok(codec::devices(tx, &org, &employee, Some(&device))?.pop())
            }),
        )
        .await
    }

    async fn set_consent(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        purpose: ConsentPurpose,
        granted: bool,
        audit: AuditEntry,
    ) -> Result<ConsentRecord> {
        let owned = (org.clone(), employee.clone());
        self.write_about(org, employee, audited(org.clone(), audit, move |tx| {
            let (org, employee) = owned;
            ensure_org(tx, &org)?;
            tx.execute(
                "INSERT INTO consents (org_id, employee_id, purpose, granted, changed_us)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET granted = excluded.granted, changed_us = excluded.changed_us",
                params![org.as_str(), employee.as_str(), purpose.as_str(), granted, to_us(Timestamp::now())],
            )?;
            codec::consents(tx, &org, &employee)?
                .into_iter()
                .find(|c| c.purpose == purpose)
                .ok_or_else(|| StoreError::Corrupt("consent vanished".into()))
        }))
        .await
    }

    async fn list_consents(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
    ) -> Result<Vec<ConsentRecord>> {
        let (org, employee) = (org.clone(), employee.clone());
        self.read(move |conn| codec::consents(conn, &org, &employee))
            .await
    }
}

#[async_trait]
impl AttendanceStore for SqliteStore {
    async fn list_punches(&self, query: PunchQuery) -> Result<Vec<PunchRow>> {
        self.read(move |conn| {
            let after = query.after.unwrap_or(PunchCursor {
                at: query.from,
                seq: -1,
            });
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {columns} FROM punches
                 WHERE org_id = ?1 AND {at} >= ?2 AND {at} < ?3
                   AND ({at}, seq) > (?4, ?5)
                 ORDER BY {at}, seq LIMIT ?6",
                columns = codec::PUNCH_COLUMNS,
                at = query.clock.column(),
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        query.org.as_str(),
                        to_us(query.from),
                        to_us(query.to),
                        to_us(after.at),
                        after.seq,
                        query.limit as i64
                    ],
                    codec::punch_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().collect()
        })
        .await
    }

    async fn employee_punches(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PunchRow>> {
        let (org, employee) = (org.clone(), employee.clone());
        self.read(move |conn| attendance::employee_punches(conn, &org, &employee, from, to))
            .await
    }

    async fn review_queue(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>> {
        let org = org.clone();
        self.read(move |conn| attendance::review_queue(conn, &org, after_seq, limit))
            .await
    }

    async fn record_correction(
        &self,
        punch: &Punch,
        verdict: &Verdict,
        review: Review,
        audit: AuditEntry,
    ) -> Result<Option<PunchRow>> {
        let (owned_punch, owned_verdict) = (punch.clone(), verdict.clone());
        let recorded = self
            .writer
            .write(audited(punch.org.clone(), audit, move |tx| {
                attendance::record_correction(tx, &owned_punch, &owned_verdict, &review)
            }))
            .await?;
        if recorded.is_some() {
            self.recent.punch_recorded(punch, verdict);
        }
        Ok(recorded)
    }

    async fn review_punch(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        punch_id: &PunchId,
        review: Review,
        audit: AuditEntry,
    ) -> Result<ReviewOutcome> {
        let (org, employee, punch_id) = (org.clone(), employee.clone(), punch_id.clone());
        self.writer
            .write(audited(org.clone(), audit, move |tx| {
                attendance::review_punch(tx, &org, &employee, &punch_id, &review)
            }))
            .await
    }

    async fn punches_after(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>> {
        let org = org.clone();
        self.read(move |conn| attendance::punches_after(conn, &org, after_seq, limit))
            .await
    }

    async fn latest_seq(&self, org: &OrgId) -> Result<i64> {
        let org = org.clone();
        self.read(move |conn| {
            // Newest first by rowid: an active organisation is found at once.
            let seq: Option<i64> = conn
                .prepare_cached(
                    "SELECT seq FROM punches WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([org.as_str()], |r| r.get(0))
                .optional()?;
            Ok(seq.unwrap_or(0))
        })
        .await
    }

    async fn punch_evidence(
        &self,
        org: &OrgId,
        seqs: Vec<i64>,
    ) -> Result<Vec<(i64, StoredEvidence)>> {
        let org = org.clone();
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let mut found = Vec::new();
            for seq in seqs {
                let ours = tx
                    .prepare_cached("SELECT 1 FROM punches WHERE seq = ?1 AND org_id = ?2")?
                    .exists(params![seq, org.as_str()])?;
                if let Some(evidence) = ours
                    .then(|| privacy::evidence_of(&tx, seq))
                    .transpose()?
                    .flatten()
                {
                    found.push((seq, evidence));
                }
            }
            Ok(found)
        })
        .await
    }
}

#[async_trait]
impl PrivacyStore for SqliteStore {
    async fn sweep_batch(
        &self,
        org: &OrgId,
        cutoffs: &Cutoffs,
        limit: usize,
    ) -> Result<SweepCounts> {
        let (org, cutoffs) = (org.clone(), *cutoffs);
        let done = self
            .writer
            .write(move |tx| {
                let mut steps = privacy::Sweep { tx, org: &org };
                run_ready(crate::retention::sweep_batch(&mut steps, &cutoffs, limit))
            })
            .await?;
        if done.attendance_deleted + done.evidence_coarsened + done.flagged_evidence_coarsened > 0 {
            // Coarsened or deleted punches may hold an employee's last
            // accepted fix or a device's recent use.
            self.recent.clear();
        }
        Ok(done)
    }

    async fn sweep_preview(&self, org: &OrgId, cutoffs: &Cutoffs) -> Result<SweepCounts> {
        let (org, cutoffs) = (org.clone(), *cutoffs);
        self.read(move |conn| {
            let tx = conn.transaction()?;
            privacy::sweep_preview(&tx, &org, &cutoffs)
        })
        .await
    }

    async fn append_audit(&self, org: &OrgId, entry: AuditEntry) -> Result<()> {
        let org = org.clone();
        self.writer
            .write(move |tx| privacy::append_audit(tx, &org, &entry))
            .await
    }

    async fn list_audit(&self, query: AuditQuery) -> Result<Vec<AuditRecord>> {
        self.read(move |conn| privacy::list_audit(conn, &query))
            .await
    }

    async fn employee_data(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeData> {
        let (org, employee) = (org.clone(), employee.clone());
        self.read(move |conn| {
            let tx = conn.transaction()?;
            privacy::employee_data(&tx, &org, &employee)
        })
        .await
    }

    async fn erase_employee(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        audit: AuditEntry,
    ) -> Result<ErasureCounts> {
        let owned = (org.clone(), employee.clone());
        let counts = self
            .writer
            .write(audited(org.clone(), audit, move |tx| {
                privacy::erase_employee(tx, &owned.0, &owned.1)
            }))
            .await?;
        // Device entries name the employee among those a device punched for.
        self.recent.clear();
        self.scrub_wal().await?;
        Ok(counts)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) -> Result<()> {
        self.writer.close().await
    }

    fn failure(&self) -> Failure {
        self.writer.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schema 16 moves the nonces into a table of their own key: a database
    /// written by an older punchguard keeps every nonce, so a replay of one
    /// used before the upgrade is still seen, and the retention sweep still
    /// finds old ones by time.
    #[test]
    fn upgrading_to_schema_16_keeps_every_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let mut conn = connect(&path).unwrap();
        migrate_through(&mut conn, 15).unwrap();
        conn.execute(
            "INSERT INTO nonces (org_id, scope, nonce, seen_us) VALUES
                 ('acme', 'device:phone-1', 'n-1', 1000), ('acme', 'device:phone-1', 'n-2', 2000)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();

        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let query = HistoryQuery {
            org: OrgId::new("acme").unwrap(),
            employee: EmployeeId::new("e-1").unwrap(),
            device: Some(DeviceId::new("phone-1").unwrap()),
            nonce: Some("n-2".into()),
            shared_since: Timestamp::UNIX_EPOCH,
            attested: false,
        };
        assert!(codec::nonce_seen(&conn, &query, "n-2").unwrap());
        assert!(!codec::nonce_seen(&conn, &query, "n-3").unwrap());
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM nonces WHERE org_id = 'acme' AND seen_us < 1500"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM sqlite_schema WHERE name = 'punches_by_employee'"),
            0
        );
    }
}
