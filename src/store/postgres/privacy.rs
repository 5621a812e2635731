//! Retention sweeps, the audit log, export and erasure on PostgreSQL. The
//! same rules as the SQLite backend's `privacy.rs`, in PostgreSQL's SQL;
//! every function runs in a transaction its caller owns.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;

use super::punches::rows;
use super::{Params, corrupt, execute, query, query_one, query_opt, sql_limit};
use crate::auth::Role;
use crate::engine::{DeviceId, EmployeeId, OrgId};
use crate::retention::SweepSteps;
use crate::retention::{Cutoffs, SweepCounts};
use crate::store::encoding::{self, from_us, to_us};
use crate::store::{
    AuditEntry, AuditQuery, AuditRecord, ErasureCounts, PunchRow, Result, StoredEvidence,
};

/// Accepted punches whose evidence is due, from the progress mark ($2) to
/// the cutoff ($3).
const DUE_ACCEPTED: &str = "FROM punches p
     WHERE p.org_id = $1 AND p.decision = 'accepted'
       AND p.received_us >= $2 AND p.received_us < $3
       AND EXISTS (SELECT 1 FROM punch_evidence e WHERE e.seq = p.seq)";

/// Flagged punches whose evidence is due: rejected ones by receipt, REVIEW
/// ones by their review (never while awaiting it).
const DUE_FLAGGED: &str = "FROM punches p
     WHERE p.org_id = $1 AND p.decision <> 'accepted'
       AND (CASE WHEN p.decision = 'review' THEN p.reviewed_us < $2
                 ELSE p.received_us < $2 END)
       AND EXISTS (SELECT 1 FROM punch_evidence e WHERE e.seq = p.seq)";

const DUE_CHEAT: &str = "FROM punch_cheat_matches m JOIN punches p ON p.seq = m.seq
     WHERE p.org_id = $1 AND p.received_us < $2";

const DUE_ATTENDANCE: &str = "FROM punches p WHERE p.org_id = $1 AND p.received_us < $2";

const DUE_NONCES: &str = "FROM nonces WHERE org_id = $1 AND seen_us < $2";

const DUE_AUDIT: &str = "FROM audit_log WHERE org_id = $1 AND at_us < $2";

/// Removes the punches' raw evidence; see the SQLite backend's `coarsen`.
async fn coarsen(tx: &impl GenericClient, seqs: &[i64]) -> Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        "DELETE FROM punch_evidence WHERE seq = ANY($1)",
        &[&seqs],
    )
    .await?;
    execute(
        tx,
        "DELETE FROM punch_wifi_evidence WHERE seq = ANY($1)",
        &[&seqs],
    )
    .await?;
    execute(
        tx,
        "UPDATE punches SET distance_m = NULL,
             findings = (SELECT coalesce(json_agg(jsonb_set(f.value, '{message}', '\"\"')
                                                  ORDER BY f.n), '[]')::text
                         FROM jsonb_array_elements(punches.findings::jsonb)
                              WITH ORDINALITY AS f (value, n))
         WHERE seq = ANY($1)",
        &[&seqs],
    )
    .await?;
    Ok(())
}

/// The sweep's steps in one PostgreSQL transaction (the order is
/// [`crate::retention::sweep_batch`]'s).
pub struct Sweep<'a, C> {
    pub tx: &'a C,
    pub org: &'a OrgId,
}

impl<C: GenericClient> SweepSteps for Sweep<'_, C> {
    async fn delete_attendance(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!(
            "DELETE FROM punches WHERE seq IN (SELECT p.seq {DUE_ATTENDANCE}
             ORDER BY p.received_us LIMIT $3)"
        );
        self.delete(&sql, before, limit).await
    }

    async fn delete_cheat_findings(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!(
            "DELETE FROM punch_cheat_matches WHERE (seq, signature_id) IN
                 (SELECT m.seq, m.signature_id {DUE_CHEAT} LIMIT $3)"
        );
        self.delete(&sql, before, limit).await
    }

    async fn evidence_mark(&mut self) -> Result<i64> {
        let sql = "SELECT evidence_until_us FROM retention_progress WHERE org_id = $1";
        query_opt(self.tx, sql, &[&self.org.as_str()])
            .await?
            .map_or(Ok(i64::MIN), |r| r.try_get(0))
            .map_err(Into::into)
    }

    async fn set_evidence_mark(&mut self, mark: i64) -> Result<()> {
        execute(
            self.tx,
            "INSERT INTO retention_progress (org_id, evidence_until_us) VALUES ($1, $2)
             ON CONFLICT (org_id) DO UPDATE SET evidence_until_us = excluded.evidence_until_us",
            &[&self.org.as_str(), &mark],
        )
        .await?;
        Ok(())
    }

    async fn due_accepted(
        &mut self,
        mark: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64)>> {
        let sql =
            format!("SELECT p.seq, p.received_us {DUE_ACCEPTED} ORDER BY p.received_us LIMIT $4");
        let params: Params = &[&self.org.as_str(), &mark, &before, &sql_limit(limit)];
        query(self.tx, &sql, params)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn due_flagged(&mut self, before: i64, limit: usize) -> Result<Vec<i64>> {
        let sql = format!("SELECT p.seq {DUE_FLAGGED} ORDER BY p.received_us LIMIT $3");
        let params: Params = &[&self.org.as_str(), &before, &sql_limit(limit)];
        query(self.tx, &sql, params)
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    async fn coarsen(&mut self, seqs: &[i64]) -> Result<()> {
        coarsen(self.tx, seqs).await
    }

    async fn delete_nonces(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!(
            "DELETE FROM nonces WHERE (org_id, scope, nonce) IN
                 (SELECT org_id, scope, nonce {DUE_NONCES} LIMIT $3)"
        );
        self.delete(&sql, before, limit).await
    }

    async fn delete_audit(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!("DELETE FROM audit_log WHERE id IN (SELECT id {DUE_AUDIT} LIMIT $3)");
        self.delete(&sql, before, limit).await
    }
}

impl<C: GenericClient> Sweep<'_, C> {
    /// Runs a `DELETE` whose parameters are the organisation, the cutoff
    /// and the limit.
    async fn delete(&self, sql: &str, before: i64, limit: usize) -> Result<u64> {
        execute(
            self.tx,
            sql,
            &[&self.org.as_str(), &before, &sql_limit(limit)],
        )
        .await
    }
}

pub async fn sweep_preview(
    tx: &impl GenericClient,
    org: &OrgId,
    cut: &Cutoffs,
) -> Result<SweepCounts> {
    let o = org.as_str();
    let count = async |sql: String, at: Timestamp| -> Result<u64> {
        let n: i64 = query_one(tx, &sql, &[&o, &to_us(at)]).await?.try_get(0)?;
        Ok(n as u64)
    };
    // Attendance first, as the sweep does: what it deletes is not counted twice.
    let after_attendance = format!("AND p.received_us >= {}", to_us(cut.attendance));
    let evidence_coarsened: i64 = query_one(
        tx,
        &format!("SELECT count(*) {DUE_ACCEPTED} {after_attendance}"),
        &[&o, &i64::MIN, &to_us(cut.evidence)],
    )
    .await?
    .try_get(0)?;
    Ok(SweepCounts {
        attendance_deleted: count(format!("SELECT count(*) {DUE_ATTENDANCE}"), cut.attendance)
            .await?,
        cheat_findings_deleted: count(
            format!("SELECT count(*) {DUE_CHEAT} {after_attendance}"),
            cut.cheat_findings,
        )
        .await?,
        evidence_coarsened: evidence_coarsened as u64,
        flagged_evidence_coarsened: count(
            format!("SELECT count(*) {DUE_FLAGGED} {after_attendance}"),
            cut.flagged_evidence,
        )
        .await?,
        nonces_deleted: count(format!("SELECT count(*) {DUE_NONCES}"), cut.evidence).await?,
        audit_deleted: count(format!("SELECT count(*) {DUE_AUDIT}"), cut.audit).await?,
    })
}

pub async fn append_audit(c: &impl GenericClient, org: &OrgId, e: &AuditEntry) -> Result<()> {
    execute(
        c,
        "INSERT INTO audit_log (org_id, at_us, actor, role, action, employee_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &org.as_str(),
            &to_us(e.at),
            &e.actor,
            &e.role.as_str(),
            &e.action,
            &e.employee.as_ref().map(EmployeeId::as_str),
            &e.detail,
        ],
    )
    .await?;
    Ok(())
}

pub async fn list_audit(c: &impl GenericClient, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    query(
        c,
        "SELECT id, at_us, actor, role, action, employee_id, detail FROM audit_log
         WHERE org_id = $1 AND id > $2 AND ($3::text IS NULL OR employee_id = $3)
         ORDER BY id LIMIT $4",
        &[
            &q.org.as_str(),
            &q.after_id,
            &q.employee.as_ref().map(EmployeeId::as_str),
            &sql_limit(q.limit),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        let role: &str = r.try_get(3)?;
        Ok(AuditRecord {
            id: r.try_get(0)?,
            entry: AuditEntry {
                at: from_us(r.try_get(1)?)?,
                actor: r.try_get(2)?,
                role: Role::parse(role).ok_or_else(|| encoding::corrupt("role", role))?,
                action: r.try_get(4)?,
                employee: r
                    .get::<_, Option<String>>(5)
                    .map(EmployeeId::new)
                    .transpose()
                    .map_err(corrupt)?,
                detail: r.try_get(6)?,
            },
        })
    })
    .collect()
}

const EVIDENCE_COLUMNS: &str = "e.seq, e.latitude, e.longitude, e.accuracy_m, e.fix_us, \
     e.mock_location, e.speed_mps, e.device_id, e.rooted, e.emulator, e.integrity";

fn evidence(r: &Row) -> Result<(i64, StoredEvidence)> {
    Ok((
        r.try_get(0)?,
        StoredEvidence {
            latitude: r.try_get(1)?,
            longitude: r.try_get(2)?,
            accuracy_m: r.try_get(3)?,
            fix_time: r.try_get::<_, Option<i64>>(4)?.map(from_us).transpose()?,
            mock_location: r.try_get(5)?,
            speed_mps: r.try_get(6)?,
            device_id: r
                .get::<_, Option<String>>(7)
                .map(DeviceId::new)
                .transpose()
                .map_err(corrupt)?,
            rooted: r.try_get(8)?,
            emulator: r.try_get(9)?,
            integrity: r.try_get(10)?,
        },
    ))
}

/// The raw evidence still held for these punches of the organisation.
pub async fn evidence_of(
    c: &impl GenericClient,
    org: &OrgId,
    seqs: &[i64],
) -> Result<Vec<(i64, StoredEvidence)>> {
    query(
        c,
        &format!(
            "SELECT {EVIDENCE_COLUMNS} FROM punch_evidence e JOIN punches p ON p.seq = e.seq
             WHERE p.org_id = $1 AND e.seq = ANY($2) ORDER BY e.seq"
        ),
        &[&org.as_str(), &seqs],
    )
    .await?
    .iter()
    .map(evidence)
    .collect()
}

/// The employee's punches, oldest first, each with its evidence while kept.
pub async fn punches_with_evidence(
    c: &impl GenericClient,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<Vec<(PunchRow, Option<StoredEvidence>)>> {
    let punches = rows(
        c,
        "WHERE org_id = $1 AND employee_id = $2 ORDER BY seq",
        &[&org.as_str(), &employee.as_str()],
    )
    .await?;
    let seqs: Vec<i64> = punches.iter().map(|p| p.seq).collect();
    let mut evidence: std::collections::HashMap<i64, StoredEvidence> =
        evidence_of(c, org, &seqs).await?.into_iter().collect();
    Ok(punches
        .into_iter()
        .map(|p| {
            let kept = evidence.remove(&p.seq);
            (p, kept)
        })
        .collect())
}

/// Rewrites the organisation's schedule and policy without the employee;
/// how many named them. A changed policy moves the configuration version,
/// so that every replica's snapshot forgets them too.
async fn erase_from_settings(
    tx: &impl GenericClient,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<u64> {
    let mut changed = 0;
    let settings: [(&str, &str, Without); 2] = [
        ("org_schedules", "schedule", encoding::schedule_without),
        ("org_policies", "policy", encoding::policy_without),
    ];
    for (table, column, without) in settings {
        let stored = super::load_setting(tx, table, column, org).await?;
        if let Some(rewritten) = stored
            .map(|text| without(&text, employee))
            .transpose()?
            .flatten()
        {
            super::put_setting(tx, table, column, org, &rewritten).await?;
            changed += 1;
            if table == "org_policies" {
                super::bump_version(tx, org).await?;
            }
        }
    }
    Ok(changed)
}

/// A setting's text rewritten without an employee (see `encoding`).
type Without = fn(&str, &EmployeeId) -> Result<Option<String>>;

pub async fn erase_employee(
    tx: &impl GenericClient,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<ErasureCounts> {
    let (o, e) = (org.as_str(), employee.as_str());
    // Every device the employee used or had bound: their nonces go too.
    let mut scopes = vec![crate::engine::history::nonce_scope(employee, None)];
    for row in query(
        tx,
        "SELECT device_id FROM devices WHERE org_id = $1 AND employee_id = $2
         UNION
         SELECT ev.device_id FROM punch_evidence ev JOIN punches p ON p.seq = ev.seq
         WHERE p.org_id = $1 AND p.employee_id = $2 AND ev.device_id IS NOT NULL",
        &[&o, &e],
    )
    .await?
    {
        let device = DeviceId::new(row.try_get::<_, String>(0)?).map_err(corrupt)?;
        scopes.push(crate::engine::history::nonce_scope(employee, Some(&device)));
    }
    let keys: super::Params = &[&o, &e];
    let counts = ErasureCounts {
        nonces: execute(
            tx,
            "DELETE FROM nonces WHERE org_id = $1 AND scope = ANY($2)",
            &[&o, &scopes],
        )
        .await?,
        punches: execute(
            tx,
            "DELETE FROM punches WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?,
        // Bindings, attested keys and outstanding enrolment challenges.
        devices: execute(
            tx,
            "DELETE FROM devices WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?
            + execute(
                tx,
                "DELETE FROM device_keys WHERE org_id = $1 AND employee_id = $2",
                keys,
            )
            .await?
            + execute(
                tx,
                "DELETE FROM enrolment_challenges WHERE org_id = $1 AND employee_id = $2",
                keys,
            )
            .await?,
        consents: execute(
            tx,
            "DELETE FROM consents WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?,
        tokens: execute(
            tx,
            "DELETE FROM tokens WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?,
        audit_anonymised: execute(
            tx,
            "UPDATE audit_log SET employee_id = NULL WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?,
        settings: erase_from_settings(tx, org, employee).await?,
        calendar: execute(
            tx,
            "DELETE FROM calendar_entries WHERE org_id = $1 AND employee_id = $2",
            keys,
        )
        .await?,
    };
    // The delivery log's day.closed event ids name the employee.
    execute(
        tx,
        "DELETE FROM webhook_deliveries WHERE org_id = $1
         AND event_kind = 'day.closed' AND right(event_id, length($2) + 1) = '/' || $2",
        keys,
    )
    .await?;
    // A webhook part way through a closed date may have stopped at them:
    // it starts the date again.
    execute(
        tx,
        "UPDATE webhooks SET closing_after = NULL WHERE org_id = $1 AND closing_after = $2",
        keys,
    )
    .await?;
    if !counts.is_empty() {
        execute(
            tx,
            "INSERT INTO erasures (org_id, erased_us, punches) VALUES ($1, $2, $3)",
            &[&o, &to_us(Timestamp::now()), &(counts.punches as i64)],
        )
        .await?;
    }
    Ok(counts)
}
