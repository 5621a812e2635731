//! Punches on PostgreSQL: the group commit, reading rows back, and the
//! history the rules read.
//!
//! One [`Batcher`] task per process takes every punch queued while the
//! previous group was committing and writes them with one statement per
//! table (arrays `unnest`ed into rows), then commits once. Before assigning
//! seqs a group takes each of its organisations' feed locks (transaction
//! advisory locks, in a fixed order); the lock is held until commit, so
//! within an organisation seq order is commit order across all replicas,
//! which is what lets a `WatchPunches` cursor resume without gaps.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::{GenericClient, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::Row;

use super::{Params, corrupt, execute, query, query_one};
use crate::engine::history::LastFix;
use crate::engine::{
    ConsentPurpose, DeviceId, DistanceBucket, EmployeeId, History, HistoryDelta, OrgId, Punch,
    PunchId, SiteId, Verdict,
};
use crate::store::encoding::{RawPunchRow, findings_to_json, from_us, to_us};
use crate::store::{Failure, HistoryQuery, PunchRow, Recorded, Result, StoreError};

/// The columns of a punch row, in [`RawPunchRow`]'s order.
const PUNCH_COLUMNS: &str = "seq, org_id, employee_id, punch_id, kind, client_us, received_us, \
     decision, site_id, method, distance_m, nearest_site_id, findings, \
     (SELECT coalesce(json_agg(json_build_object('id', m.signature_id, 'category', m.category) \
                               ORDER BY m.signature_id), '[]')::text \
        FROM punch_cheat_matches m WHERE m.seq = punches.seq), \
     (SELECT coalesce(json_agg(w.bssid ORDER BY w.pos), '[]')::text \
        FROM punch_wifi_evidence w WHERE w.seq = punches.seq), \
     distance_bucket, EXISTS (SELECT 1 FROM punch_evidence e WHERE e.seq = punches.seq), \
     (SELECT json_build_object('approved', r.approved, 'reason', r.reason, \
                               'reviewer', r.reviewer, 'at', r.reviewed_us)::text \
        FROM punch_reviews r WHERE r.seq = punches.seq), attested";

fn decode(r: &Row) -> Result<PunchRow> {
    RawPunchRow {
        seq: r.try_get(0)?,
        org: r.try_get(1)?,
        employee: r.try_get(2)?,
        punch_id: r.try_get(3)?,
        kind: r.try_get(4)?,
        client_us: r.try_get(5)?,
        received_us: r.try_get(6)?,
        decision: r.try_get(7)?,
        site: r.try_get(8)?,
        method: r.try_get(9)?,
        distance_m: r.try_get(10)?,
        nearest_site: r.try_get(11)?,
        findings: r.try_get(12)?,
        cheat_matches: r.try_get(13)?,
        wifi_bssids: r.try_get(14)?,
        distance_bucket: r.try_get(15)?,
        evidence_kept: r.try_get(16)?,
        review: r.try_get(17)?,
        attested: r.try_get(18)?,
    }
    .decode()
}

/// Punch rows `FROM punches` with the given `WHERE … ORDER BY … LIMIT …`.
pub async fn rows(c: &impl GenericClient, tail: &str, params: Params<'_>) -> Result<Vec<PunchRow>> {
    query(
        c,
        &format!("SELECT {PUNCH_COLUMNS} FROM punches {tail}"),
        params,
    )
    .await?
    .iter()
    .map(decode)
    .collect()
}

/// Everything the history rules read, straight from the database: another
/// replica may have recorded the employee's previous punch. One statement,
/// one row: each part a subquery, so that a punch costs the database one
/// statement's overhead (parse, bind, snapshot) instead of six.
const HISTORY: &str = "
    SELECT last.fix_us, last.latitude, last.longitude, last.accuracy_m,
        ARRAY(SELECT device_id FROM devices
              WHERE org_id = $1 AND employee_id = $2 AND revoked_us IS NULL
              ORDER BY bound_us) AS bound_devices,
        EXISTS (SELECT 1 FROM consents
                WHERE org_id = $1 AND employee_id = $2 AND purpose = $5 AND granted)
            AS auto_punch_consent,
        -- Driven by the device's own evidence rows (a few a day) through a
        -- per-row subquery, so the plan cannot turn into a scan of the
        -- organisation's punches when the table's statistics are stale.
        ARRAY(SELECT DISTINCT employee_id FROM (
                  SELECT (SELECT p.employee_id FROM punches p
                          WHERE p.seq = e.seq AND p.org_id = $1 AND p.received_us >= $4)
                      AS employee_id
                  FROM punch_evidence e WHERE e.device_id = $3) used
              WHERE employee_id <> $2) AS device_other_employees,
        EXISTS (SELECT 1 FROM nonces WHERE org_id = $1 AND scope = $6 AND nonce = $7)
            AS nonce_seen,
        -- The device's enrolled key, only when attestation can matter.
        k.key, k.facts, k.counter
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT e.fix_us, e.latitude, e.longitude, e.accuracy_m
        FROM punches p JOIN punch_evidence e ON e.seq = p.seq
        WHERE p.org_id = $1 AND p.employee_id = $2 AND p.decision = 'accepted'
          AND e.latitude IS NOT NULL
        ORDER BY p.seq DESC LIMIT 1) AS last ON true
    LEFT JOIN device_keys k
        ON $8 AND k.org_id = $1 AND k.device_id = $3 AND k.employee_id = $2";

pub async fn history(c: &impl GenericClient, q: &HistoryQuery) -> Result<History> {
    let device = q.device.as_ref().map(DeviceId::as_str);
    let scope = crate::engine::history::nonce_scope(&q.employee, q.device.as_ref());
    let attested = q.attested && device.is_some();
    let row = query_one(
        c,
        HISTORY,
        &[
            &q.org.as_str(),
            &q.employee.as_str(),
            &device,
            &to_us(q.shared_since),
            &ConsentPurpose::AutoPunch.as_str(),
            &scope,
            &q.nonce,
            &attested,
        ],
    )
    .await?;
    let last_accepted = match row.try_get::<_, Option<i64>>("fix_us")? {
        Some(fix_us) => Some(LastFix {
            at: from_us(fix_us)?,
            latitude: row.try_get("latitude")?,
            longitude: row.try_get("longitude")?,
            accuracy_m: row.try_get("accuracy_m")?,
        }),
        None => None,
    };
    let ids = |column: &str| -> Result<Vec<String>> { Ok(row.try_get(column)?) };
    let mut device_other_employees = ids("device_other_employees")?
        .into_iter()
        .map(|e| EmployeeId::new(e).map_err(corrupt))
        .collect::<Result<Vec<_>>>()?;
    device_other_employees.sort();
    let key: Option<String> = row.try_get("key")?;
    Ok(History {
        last_accepted,
        bound_devices: ids("bound_devices")?
            .into_iter()
            .map(|d| DeviceId::new(d).map_err(corrupt))
            .collect::<Result<_>>()?,
        device_other_employees,
        nonce_seen: row.try_get("nonce_seen")?,
        auto_punch_consent: row.try_get("auto_punch_consent")?,
        attested: key
            .map(|key| {
                crate::store::encoding::attested_device(
                    &key,
                    &row.try_get::<_, String>("facts")?,
                    row.try_get("counter")?,
                )
            })
            .transpose()?,
    })
}

/// Most punches one group commits. Bounds the latency a group adds.
const MAX_GROUP: usize = 512;

/// Punches that may wait for the batcher; beyond this callers wait to
/// enqueue (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 8192;

struct Job {
    punch: Punch,
    verdict: Verdict,
    reply: oneshot::Sender<Result<Recorded>>,
}

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    punches: AtomicU64,
}

pub struct Batcher {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Stats>,
    failure: Failure,
}

impl Batcher {
    pub fn start(pool: Pool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(Stats::default());
        let failure = Failure::default();
        let batcher = tokio::spawn(run(pool, rx, stats.clone()));
        // A batcher that panicked (a bug) can never record a punch again:
        // raise the store's failure so that the process stops serving.
        let supervised = failure.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = batcher.await
                && e.is_panic()
            {
                let why = crate::store::panic_message(e.into_panic().as_ref());
                supervised.raise(format!("the postgres punch batcher panicked: {why}"));
            }
        });
        Self {
            queue: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            stats,
            failure,
        }
    }

    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    /// The error of a punch whose group was never answered: the batcher
    /// stopped. Closed on purpose only by [`Batcher::close`], which takes
    /// the queue first; otherwise it died, which is internal.
    fn stopped(&self) -> StoreError {
        let closed = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none();
        match (closed, self.failure.reason()) {
            (_, Some(why)) => StoreError::Internal(format!("the punch batcher stopped: {why}")),
            (true, None) => StoreError::Closed,
            (false, None) => StoreError::Internal("the punch batcher stopped".into()),
        }
    }

    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.punches.load(Ordering::Relaxed),
        )
    }

    /// Records the punch in the next group; resolves after its commit.
    pub async fn record(&self, punch: Punch, verdict: Verdict) -> Result<Recorded> {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job {
                punch,
                verdict,
                reply,
            })
            .await
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Stops taking punches and waits until those queued are committed.
    pub async fn close(&self) {
        drop(self.queue.lock().unwrap_or_else(|e| e.into_inner()).take());
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The tables every punch reads or writes.
const HOT_TABLES: &str = "punches, punch_evidence, punch_wifi_evidence, nonces, devices";

/// Refreshes the planner's statistics of the hot tables once this process
/// has committed 1,000, 10,000 and 100,000 punches. A new database starts
/// with the statistics of empty tables, and statements prepared then keep
/// plans that scan (measured: 500 punches/s instead of 3,700); autovacuum
/// fixes that only on its next round, up to a minute later, which on the
/// first morning is the rush itself. ANALYZE invalidates those plans
/// everywhere; later, autovacuum keeps the statistics current.
async fn refresh_statistics(pool: Pool, committed: u64) {
    let outcome = async {
        let client = pool.get().await?;
        client
            .batch_execute(&format!("ANALYZE {HOT_TABLES}"))
            .await?;
        Ok::<_, StoreError>(())
    }
    .await;
    match outcome {
        Ok(()) => tracing::info!(committed, "refreshed planner statistics"),
        Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Job>, stats: Arc<Stats>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut next_analyze = 1_000;
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let started = std::time::Instant::now();
        let outcome = commit_group(&pool, &group).await;
        crate::metrics::record_group_commit(group.len(), started.elapsed(), outcome.is_ok());
        stats.commits.fetch_add(1, Ordering::Relaxed);
        let committed = stats
            .punches
            .fetch_add(group.len() as u64, Ordering::Relaxed)
            + group.len() as u64;
        if committed >= next_analyze && next_analyze <= 100_000 {
            next_analyze *= 10;
            tokio::spawn(refresh_statistics(pool.clone(), committed));
        }
        match outcome {
            Ok(recorded) => {
                for (job, recorded) in group.drain(..).zip(recorded) {
                    // The caller may have gone; the punch stands.
                    let _ = job.reply.send(Ok(recorded));
                }
            }
            Err(e) if group.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                // One bad punch must not sink the others: each alone.
                tracing::warn!(error = %e, punches = group.len(), "group commit failed; committing one by one");
                for job in group.drain(..) {
                    let alone = commit_group(&pool, std::slice::from_ref(&job)).await;
                    let _ = job
                        .reply
                        .send(alone.map(|mut r| r.pop().expect("one punch, one record")));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, punches = group.len(), "group commit failed");
                for job in group.drain(..) {
                    let _ = job.reply.send(Err(clone_error(&e)));
                }
            }
        }
    }
    tracing::debug!("postgres punch batcher stopped");
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        other => StoreError::Commit(other.to_string()),
    }
}

/// The columns of a group of punches, one array per column.
#[derive(Default)]
struct Columns<'a> {
    orgs: Vec<&'a str>,
    employees: Vec<&'a str>,
    punch_ids: Vec<&'a str>,
    kinds: Vec<&'a str>,
    client_us: Vec<i64>,
    received_us: Vec<i64>,
    decisions: Vec<&'a str>,
    sites: Vec<Option<&'a str>>,
    methods: Vec<&'a str>,
    distances: Vec<Option<f64>>,
    nearest: Vec<Option<&'a str>>,
    findings: Vec<String>,
    buckets: Vec<Option<&'static str>>,
    attested: Vec<bool>,
}

/// A punch's identity (organisation, employee, punch id), as the unique key.
type PunchKey = (String, String, String);

fn punch_key(org: &OrgId, employee: &EmployeeId, punch_id: &PunchId) -> PunchKey {
    (
        org.as_str().to_owned(),
        employee.as_str().to_owned(),
        punch_id.as_str().to_owned(),
    )
}

/// Takes the organisation's feed lock until the transaction ends: punches
/// and reviews committed under it are numbered in commit order.
pub async fn lock_feed(tx: &impl GenericClient, org: &OrgId) -> Result<()> {
    execute(
        tx,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7240518))",
        &[&org.as_str()],
    )
    .await?;
    Ok(())
}

/// Inserts one punch that carries no evidence (HR's correction) in `tx`,
/// under the organisation's feed lock as a group is, so that the live feed
/// sees seqs in commit order; its seq, or `None` when the id is taken.
pub async fn insert_one(
    tx: &impl GenericClient,
    punch: &Punch,
    verdict: &Verdict,
) -> Result<Option<i64>> {
    lock_feed(tx, &punch.org).await?;
    let inserted = query(
        tx,
        "INSERT INTO punches (org_id, employee_id, punch_id, kind, client_us, received_us,
             decision, site_id, method, distance_m, nearest_site_id, findings, distance_bucket,
             attested)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (org_id, employee_id, punch_id) DO NOTHING
         RETURNING seq",
        &[
            &punch.org.as_str(),
            &punch.employee.as_str(),
            &punch.punch_id.as_str(),
            &punch.kind.as_str(),
            &to_us(punch.client_time),
            &to_us(punch.received_at),
            &verdict.decision.as_str(),
            &verdict.site.as_ref().map(SiteId::as_str),
            &verdict.method.as_str(),
            &verdict.distance_m,
            &verdict.nearest_site.as_ref().map(SiteId::as_str),
            &findings_to_json(&verdict.findings),
            &verdict.distance_m.map(|d| DistanceBucket::of(d).as_str()),
            &verdict.assurance.is_attested(),
        ],
    )
    .await?;
    inserted.first().map(|r| Ok(r.try_get(0)?)).transpose()
}

/// Writes a group in one transaction; the answers are in the group's order.
async fn commit_group(pool: &Pool, group: &[Job]) -> Result<Vec<Recorded>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;

    let mut orgs: Vec<&str> = group.iter().map(|j| j.punch.org.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    // In sorted order, so that two groups never wait for each other in a cycle.
    for org in &orgs {
        execute(
            &tx,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7240518))",
            &[org],
        )
        .await?;
    }

    let mut c = Columns::default();
    for Job { punch, verdict, .. } in group {
        c.orgs.push(punch.org.as_str());
        c.employees.push(punch.employee.as_str());
        c.punch_ids.push(punch.punch_id.as_str());
        c.kinds.push(punch.kind.as_str());
        c.client_us.push(to_us(punch.client_time));
        c.received_us.push(to_us(punch.received_at));
        c.decisions.push(verdict.decision.as_str());
        c.sites.push(verdict.site.as_ref().map(SiteId::as_str));
        c.methods.push(verdict.method.as_str());
        c.distances.push(verdict.distance_m);
        c.nearest
            .push(verdict.nearest_site.as_ref().map(SiteId::as_str));
        c.findings.push(findings_to_json(&verdict.findings));
        c.buckets
            .push(verdict.distance_m.map(|d| DistanceBucket::of(d).as_str()));
        c.attested.push(verdict.assurance.is_attested());
    }
    // A punch id already recorded (before, or earlier in this group) is
    // skipped here and answered with the first record below.
    let inserted = query(
        &tx,
        "INSERT INTO punches (org_id, employee_id, punch_id, kind, client_us, received_us,
             decision, site_id, method, distance_m, nearest_site_id, findings, distance_bucket,
             attested)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
             $6::int8[], $7::text[], $8::text[], $9::text[], $10::float8[], $11::text[],
             $12::text[], $13::text[], $14::bool[])
         ON CONFLICT (org_id, employee_id, punch_id) DO NOTHING
         RETURNING seq, org_id, employee_id, punch_id",
        &[
            &c.orgs,
            &c.employees,
            &c.punch_ids,
            &c.kinds,
            &c.client_us,
            &c.received_us,
            &c.decisions,
            &c.sites,
            &c.methods,
            &c.distances,
            &c.nearest,
            &c.findings,
            &c.buckets,
            &c.attested,
        ],
    )
    .await?;
    let mut new_seqs: HashMap<PunchKey, i64> = inserted
        .iter()
        .map(|r| Ok(((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?), r.try_get(0)?)))
        .collect::<Result<_>>()?;
    // The first job with a newly inserted key owns the new row.
    let seqs: Vec<Option<i64>> = group
        .iter()
        .map(|j| {
            new_seqs.remove(&punch_key(
                &j.punch.org,
                &j.punch.employee,
                &j.punch.punch_id,
            ))
        })
        .collect();
    let fresh: Vec<(i64, &Job)> = seqs
        .iter()
        .zip(group)
        .filter_map(|(seq, job)| seq.map(|s| (s, job)))
        .collect();

    insert_evidence(&tx, &fresh).await?;

    // Duplicates: the first record, as committed with this transaction.
    let duplicates: Vec<&Job> = seqs
        .iter()
        .zip(group)
        .filter(|(seq, _)| seq.is_none())
        .map(|(_, job)| job)
        .collect();
    let mut firsts: HashMap<PunchKey, PunchRow> = HashMap::new();
    if !duplicates.is_empty() {
        let orgs: Vec<&str> = duplicates.iter().map(|j| j.punch.org.as_str()).collect();
        let employees: Vec<&str> = duplicates
            .iter()
            .map(|j| j.punch.employee.as_str())
            .collect();
        let ids: Vec<&str> = duplicates
            .iter()
            .map(|j| j.punch.punch_id.as_str())
            .collect();
        for row in rows(
            &tx,
            "WHERE (org_id, employee_id, punch_id) IN
                 (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))",
            &[&orgs, &employees, &ids],
        )
        .await?
        {
            firsts.insert(punch_key(&row.org, &row.employee, &row.punch_id), row);
        }
    }
    tx.commit().await?;

    seqs.iter()
        .zip(group)
        .map(|(seq, Job { punch, verdict, .. })| match seq {
            Some(seq) => Ok(Recorded {
                row: PunchRow::fresh(*seq, punch, verdict),
                duplicate: false,
            }),
            None => firsts
                .get(&punch_key(&punch.org, &punch.employee, &punch.punch_id))
                .cloned()
                .map(|row| Recorded {
                    row,
                    duplicate: true,
                })
                .ok_or_else(|| corrupt("a duplicate punch's first record vanished".into())),
        })
        .collect()
}

/// The evidence, cheat matches, access points, device bindings and nonces
/// of the newly recorded punches: one statement per table, pipelined.
async fn insert_evidence<'a>(tx: &impl GenericClient, fresh: &[(i64, &'a Job)]) -> Result<()> {
    let seqs: Vec<i64> = fresh.iter().map(|(s, _)| *s).collect();
    let gps = |f: &dyn Fn(&crate::engine::GpsFix) -> Option<f64>| -> Vec<Option<f64>> {
        fresh
            .iter()
            .map(|(_, j)| j.punch.gps.as_ref().and_then(f))
            .collect()
    };
    let latitudes = gps(&|g| Some(g.latitude));
    let longitudes = gps(&|g| Some(g.longitude));
    let accuracies = gps(&|g| Some(g.accuracy_m));
    let speeds = gps(&|g| g.speed_mps);
    let fix_us: Vec<Option<i64>> = fresh
        .iter()
        .map(|(_, j)| j.punch.gps.as_ref().map(|g| to_us(g.fix_time)))
        .collect();
    let mocks: Vec<Option<bool>> = fresh
        .iter()
        .map(|(_, j)| j.punch.gps.as_ref().map(|g| g.mock_location))
        .collect();
    let device = |f: &(i64, &'a Job)| f.1.punch.device.as_ref();
    let device_ids: Vec<Option<&str>> = fresh
        .iter()
        .map(|f| device(f).map(|d| d.device_id.as_str()))
        .collect();
    let rooted: Vec<Option<bool>> = fresh.iter().map(|f| device(f).map(|d| d.rooted)).collect();
    let emulators: Vec<Option<bool>> = fresh
        .iter()
        .map(|f| device(f).map(|d| d.emulator))
        .collect();
    let integrity: Vec<Option<&str>> = fresh
        .iter()
        .map(|f| device(f).map(|d| d.integrity.as_str()))
        .collect();
    let evidence_params: Params = &[
        &seqs,
        &latitudes,
        &longitudes,
        &accuracies,
        &fix_us,
        &mocks,
        &speeds,
        &device_ids,
        &rooted,
        &emulators,
        &integrity,
    ];
    let evidence = execute(
        tx,
        "INSERT INTO punch_evidence (seq, latitude, longitude, accuracy_m, fix_us, mock_location,
             speed_mps, device_id, rooted, emulator, integrity)
         SELECT * FROM unnest($1::int8[], $2::float8[], $3::float8[], $4::float8[], $5::int8[],
             $6::bool[], $7::float8[], $8::text[], $9::bool[], $10::bool[], $11::text[])",
        evidence_params,
    );

    let (mut m_seq, mut m_id, mut m_category) = (Vec::new(), Vec::new(), Vec::new());
    let (mut w_seq, mut w_pos, mut w_bssid) = (Vec::new(), Vec::new(), Vec::new());
    let (mut d_org, mut d_employee, mut d_device, mut d_at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut n_org, mut n_scope, mut n_nonce, mut n_at) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut k_org, mut k_device, mut k_counter) = (Vec::new(), Vec::new(), Vec::new());
    for (seq, Job { punch, verdict, .. }) in fresh {
        for m in &verdict.cheat_matches {
            m_seq.push(*seq);
            m_id.push(m.signature_id.as_str());
            m_category.push(m.category.as_str());
        }
        for (pos, bssid) in verdict.wifi_bssids.iter().enumerate() {
            w_seq.push(*seq);
            w_pos.push(pos as i32);
            w_bssid.push(bssid.to_string());
        }
        let delta = HistoryDelta::of(punch, verdict);
        if let Some(bound) = delta.binds {
            d_org.push(punch.org.as_str());
            d_employee.push(punch.employee.as_str());
            d_device.push(bound.as_str());
            d_at.push(to_us(punch.received_at));
        }
        if let Some((scope, nonce)) = delta.nonce {
            n_org.push(punch.org.as_str());
            n_scope.push(scope);
            n_nonce.push(nonce);
            n_at.push(to_us(punch.received_at));
        }
        if let Some((device, counter)) = delta.assertion_counter {
            k_org.push(punch.org.as_str());
            k_device.push(device.as_str());
            k_counter.push(i64::from(counter));
        }
    }
    let matches_params: Params = &[&m_seq, &m_id, &m_category];
    let matches = execute(
        tx,
        "INSERT INTO punch_cheat_matches (seq, signature_id, category)
         SELECT * FROM unnest($1::int8[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
        matches_params,
    );
    let wifi_params: Params = &[&w_seq, &w_pos, &w_bssid];
    let wifi = execute(
        tx,
        "INSERT INTO punch_wifi_evidence (seq, pos, bssid)
         SELECT * FROM unnest($1::int8[], $2::int4[], $3::text[]) ON CONFLICT DO NOTHING",
        wifi_params,
    );
    let devices_params: Params = &[&d_org, &d_employee, &d_device, &d_at];
    let devices = execute(
        tx,
        "INSERT INTO devices (org_id, employee_id, device_id, bound_us)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) ON CONFLICT DO NOTHING",
        devices_params,
    );
    let nonces_params: Params = &[&n_org, &n_scope, &n_nonce, &n_at];
    let nonces = execute(
        tx,
        "INSERT INTO nonces (org_id, scope, nonce, seen_us)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) ON CONFLICT DO NOTHING",
        nonces_params,
    );
    // Only ever raised: a later assertion must exceed it (the employee's
    // lease keeps two of the device's punches from racing here).
    let counters_params: Params = &[&k_org, &k_device, &k_counter];
    let counters = execute(
        tx,
        "UPDATE device_keys d SET counter = u.counter
         FROM unnest($1::text[], $2::text[], $3::int8[]) AS u (org_id, device_id, counter)
         WHERE d.org_id = u.org_id AND d.device_id = u.device_id AND d.counter < u.counter",
        counters_params,
    );
    tokio::try_join!(evidence, matches, wifi, devices, nonces, counters)?;
    Ok(())
}
