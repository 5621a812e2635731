//! Retention sweeps, the audit log, export and erasure for the SQLite
//! backend. Every function here runs inside a transaction its caller owns.

use rusqlite::{Connection, OptionalExtension, params};

use super::codec;
use crate::auth::Role;
use crate::engine::{DeviceId, EmployeeId, OrgId};
use crate::retention::SweepSteps;
use crate::retention::{Cutoffs, RetentionPolicy, SweepCounts};
use crate::store::encoding::{self, from_us, to_us};
use crate::store::{
    AuditEntry, AuditQuery, AuditRecord, EmployeeData, ErasureCounts, Result, StoreError,
    StoredEvidence,
};

pub fn load_retention(conn: &Connection, org: &OrgId) -> Result<RetentionPolicy> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT retention FROM org_retention WHERE org_id = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?;
    stored.map_or_else(
        || Ok(RetentionPolicy::default()),
        |text| encoding::retention_from_json(&text),
    )
}

pub fn put_retention(tx: &Connection, org: &OrgId, retention: &RetentionPolicy) -> Result<()> {
    let text = encoding::retention_to_json(retention);
    tx.execute(
        "INSERT INTO org_retention (org_id, retention, updated_us) VALUES (?1, ?2, ?3)
         ON CONFLICT (org_id) DO UPDATE SET retention = excluded.retention,
             updated_us = excluded.updated_us",
        params![org.as_str(), text, to_us(jiff::Timestamp::now())],
    )?;
    Ok(())
}

/// Removes a punch's raw evidence: the evidence row and access points go,
/// the exact distance and the findings' text are cleared; the site, method,
/// decision, codes and distance bucket stay.
fn coarsen(tx: &Connection, seq: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM punch_evidence WHERE seq = ?1")?
        .execute([seq])?;
    tx.prepare_cached("DELETE FROM punch_wifi_evidence WHERE seq = ?1")?
        .execute([seq])?;
    tx.prepare_cached(
        "UPDATE punches SET distance_m = NULL,
             findings = (SELECT json_group_array(json_set(value, '$.message', ''))
                         FROM json_each(punches.findings))
         WHERE seq = ?1",
    )?
    .execute([seq])?;
    Ok(())
}

/// Accepted punches whose evidence is due, oldest first, from the
/// organisation's progress mark on (everything before it is done).
const DUE_ACCEPTED: &str = "FROM punches p
     WHERE p.org_id = ?1 AND p.decision = 'accepted'
       AND p.received_us >= ?2 AND p.received_us < ?3
       AND EXISTS (SELECT 1 FROM punch_evidence e WHERE e.seq = p.seq)";

/// Flagged punches whose evidence is due: rejected ones by receipt, REVIEW
/// ones by their review (never while awaiting it).
const DUE_FLAGGED: &str = "FROM punches p
     WHERE p.org_id = ?1 AND p.decision <> 'accepted'
       AND (CASE WHEN p.decision = 'review' THEN p.reviewed_us < ?2
                 ELSE p.received_us < ?2 END)
       AND EXISTS (SELECT 1 FROM punch_evidence e WHERE e.seq = p.seq)";

const DUE_CHEAT: &str = "FROM punch_cheat_matches m JOIN punches p ON p.seq = m.seq
     WHERE p.org_id = ?1 AND p.received_us < ?2";

const DUE_ATTENDANCE: &str = "FROM punches WHERE org_id = ?1 AND received_us < ?2";

const DUE_NONCES: &str = "FROM nonces WHERE org_id = ?1 AND seen_us < ?2";

const DUE_AUDIT: &str = "FROM audit_log WHERE org_id = ?1 AND at_us < ?2";

fn evidence_mark(tx: &Connection, org: &OrgId) -> Result<i64> {
    Ok(tx
        .prepare_cached("SELECT evidence_until_us FROM retention_progress WHERE org_id = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(i64::MIN))
}

/// The sweep's steps in one SQLite transaction (the order is
/// [`crate::retention::sweep_batch`]'s).
pub struct Sweep<'a> {
    pub tx: &'a Connection,
    pub org: &'a OrgId,
}

impl SweepSteps for Sweep<'_> {
    async fn delete_attendance(&mut self, before: i64, limit: usize) -> Result<u64> {
        // Records take everything of theirs with them (ON DELETE CASCADE).
        let sql = format!(
            "DELETE FROM punches WHERE seq IN (SELECT seq {DUE_ATTENDANCE}
             ORDER BY received_us LIMIT ?3)"
        );
        self.delete(&sql, before, limit)
    }

    async fn delete_cheat_findings(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!(
            "DELETE FROM punch_cheat_matches WHERE rowid IN (SELECT m.rowid {DUE_CHEAT} LIMIT ?3)"
        );
        self.delete(&sql, before, limit)
    }

    async fn evidence_mark(&mut self) -> Result<i64> {
        evidence_mark(self.tx, self.org)
    }

    async fn set_evidence_mark(&mut self, mark: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO retention_progress (org_id, evidence_until_us) VALUES (?1, ?2)
                 ON CONFLICT (org_id) DO UPDATE SET evidence_until_us = excluded.evidence_until_us",
            )?
            .execute(params![self.org.as_str(), mark])?;
        Ok(())
    }

    async fn due_accepted(
        &mut self,
        mark: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64)>> {
        let sql =
            format!("SELECT p.seq, p.received_us {DUE_ACCEPTED} ORDER BY p.received_us LIMIT ?4");
        let limit = limit as i64;
        Ok(self
            .tx
            .prepare_cached(&sql)?
            .query_map(params![self.org.as_str(), mark, before, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?)
    }

    async fn due_flagged(&mut self, before: i64, limit: usize) -> Result<Vec<i64>> {
        let sql = format!("SELECT p.seq {DUE_FLAGGED} ORDER BY p.received_us LIMIT ?3");
        let limit = limit as i64;
        Ok(self
            .tx
            .prepare_cached(&sql)?
            .query_map(params![self.org.as_str(), before, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    async fn coarsen(&mut self, seqs: &[i64]) -> Result<()> {
        seqs.iter().try_for_each(|seq| coarsen(self.tx, *seq))
    }

    async fn delete_nonces(&mut self, before: i64, limit: usize) -> Result<u64> {
        // Nonces have no rowid (WITHOUT ROWID): their key names them.
        let sql = format!(
            "DELETE FROM nonces WHERE (org_id, scope, nonce) IN
                 (SELECT org_id, scope, nonce {DUE_NONCES} LIMIT ?3)"
        );
        self.delete(&sql, before, limit)
    }

    async fn delete_audit(&mut self, before: i64, limit: usize) -> Result<u64> {
        let sql = format!("DELETE FROM audit_log WHERE id IN (SELECT id {DUE_AUDIT} LIMIT ?3)");
        self.delete(&sql, before, limit)
    }
}

impl Sweep<'_> {
    /// Runs a `DELETE` whose parameters are the organisation, the cutoff
    /// and the limit.
    fn delete(&self, sql: &str, before: i64, limit: usize) -> Result<u64> {
        let limit = limit as i64;
        Ok(self
            .tx
            .prepare_cached(sql)?
            .execute(params![self.org.as_str(), before, limit])? as u64)
    }
}

pub fn sweep_preview(conn: &Connection, org: &OrgId, cut: &Cutoffs) -> Result<SweepCounts> {
    let o = org.as_str();
    let count = |sql: String, at: jiff::Timestamp| -> Result<u64> {
        let n: i64 = conn
            .prepare(&sql)?
            .query_row(params![o, to_us(at)], |r| r.get(0))?;
        Ok(n as u64)
    };
    // Attendance first, as the sweep does: what it deletes is not also
    // coarsened or counted twice.
    let after_attendance = format!("AND p.received_us >= {}", to_us(cut.attendance));
    Ok(SweepCounts {
        attendance_deleted: count(format!("SELECT count(*) {DUE_ATTENDANCE}"), cut.attendance)?,
        cheat_findings_deleted: count(
            format!("SELECT count(*) {DUE_CHEAT} {after_attendance}"),
            cut.cheat_findings,
        )?,
        evidence_coarsened: {
            let n: i64 = conn
                .prepare(&format!(
                    "SELECT count(*) {DUE_ACCEPTED} {after_attendance}"
                ))?
                .query_row(params![o, i64::MIN, to_us(cut.evidence)], |r| r.get(0))?;
            n as u64
        },
        flagged_evidence_coarsened: count(
            format!("SELECT count(*) {DUE_FLAGGED} {after_attendance}"),
            cut.flagged_evidence,
        )?,
        nonces_deleted: count(format!("SELECT count(*) {DUE_NONCES}"), cut.evidence)?,
        audit_deleted: count(format!("SELECT count(*) {DUE_AUDIT}"), cut.audit)?,
    })
}

pub fn append_audit(tx: &Connection, org: &OrgId, e: &AuditEntry) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (org_id, at_us, actor, role, action, employee_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        org.as_str(),
        to_us(e.at),
        e.actor,
        e.role.as_str(),
        e.action,
        e.employee.as_ref().map(EmployeeId::as_str),
        e.detail
    ])?;
    Ok(())
}

pub fn list_audit(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at_us, actor, role, action, employee_id, detail FROM audit_log
         WHERE org_id = ?1 AND id > ?2 AND (?3 IS NULL OR employee_id = ?3)
         ORDER BY id LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![
                q.org.as_str(),
                q.after_id,
                q.employee.as_ref().map(EmployeeId::as_str),
                q.limit as i64
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )?
        .map(|row| {
            let (id, at, actor, role, action, employee, detail) = row?;
            Ok(AuditRecord {
                id,
                entry: AuditEntry {
                    at: from_us(at)?,
                    actor,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role}")))?,
                    action,
                    employee: employee
                        .map(EmployeeId::new)
                        .transpose()
                        .map_err(StoreError::Corrupt)?,
                    detail,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn evidence_of(conn: &Connection, seq: i64) -> Result<Option<StoredEvidence>> {
    let row = conn
        .prepare_cached(
            "SELECT latitude, longitude, accuracy_m, fix_us, mock_location, speed_mps,
                    device_id, rooted, emulator, integrity
             FROM punch_evidence WHERE seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                (
                    r.get::<_, Option<f64>>(0)?,
                    r.get::<_, Option<f64>>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<bool>>(4)?,
                ),
                (
                    r.get::<_, Option<f64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<bool>>(7)?,
                    r.get::<_, Option<bool>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ),
            ))
        })
        .optional()?;
    row.map(
        |((latitude, longitude, accuracy_m, fix_us, mock_location), rest)| {
            let (speed_mps, device_id, rooted, emulator, integrity) = rest;
            Ok(StoredEvidence {
                latitude,
                longitude,
                accuracy_m,
                fix_time: fix_us.map(from_us).transpose()?,
                mock_location,
                speed_mps,
                device_id: device_id
                    .map(DeviceId::new)
                    .transpose()
                    .map_err(StoreError::Corrupt)?,
                rooted,
                emulator,
                integrity,
            })
        },
    )
    .transpose()
}

pub fn employee_data(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<EmployeeData> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {} FROM punches WHERE org_id = ?1 AND employee_id = ?2 ORDER BY seq",
            codec::PUNCH_COLUMNS
        ))?
        .query_map(params![org.as_str(), employee.as_str()], codec::punch_row)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let punches = rows
        .into_iter()
        .map(|row| {
            let evidence = evidence_of(conn, row.seq)?;
            Ok((row, evidence))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EmployeeData {
        punches,
        devices: codec::devices(conn, org, employee, None)?,
        consents: codec::consents(conn, org, employee)?,
        audit: list_audit(
            conn,
            &AuditQuery {
                org: org.clone(),
                employee: Some(employee.clone()),
                after_id: 0,
                limit: i64::MAX as usize,
            },
        )?,
        calendar: super::attendance::employee_calendar(conn, org, employee)?,
    })
}

/// Rewrites the organisation's schedule and policy without the employee;
/// how many named them. A changed policy moves the configuration version,
/// so that every server's snapshot forgets them too.
fn erase_from_settings(tx: &Connection, org: &OrgId, employee: &EmployeeId) -> Result<u64> {
    let mut changed = 0;
    for (table, column, without) in [
        (
            "org_schedules",
            "schedule",
            encoding::schedule_without as Without,
        ),
        ("org_policies", "policy", encoding::policy_without),
    ] {
        let stored: Option<String> = tx
            .prepare_cached(&format!("SELECT {column} FROM {table} WHERE org_id = ?1"))?
            .query_row([org.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(rewritten) = stored
            .map(|text| without(&text, employee))
            .transpose()?
            .flatten()
        {
            tx.execute(
                &format!("UPDATE {table} SET {column} = ?2, updated_us = ?3 WHERE org_id = ?1"),
                params![org.as_str(), rewritten, to_us(jiff::Timestamp::now())],
            )?;
            changed += 1;
            if table == "org_policies" {
                super::bump_version(tx, org)?;
            }
        }
    }
    Ok(changed)
}

/// A setting's text rewritten without an employee (see `encoding`).
type Without = fn(&str, &EmployeeId) -> Result<Option<String>>;

pub fn erase_employee(
    tx: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<ErasureCounts> {
    let (o, e) = (org.as_str(), employee.as_str());
    // Every device the employee used or had bound: their nonces go too.
    let devices: Vec<String> = tx
        .prepare(
            "SELECT device_id FROM devices WHERE org_id = ?1 AND employee_id = ?2
             UNION
             SELECT ev.device_id FROM punch_evidence ev JOIN punches p ON p.seq = ev.seq
             WHERE p.org_id = ?1 AND p.employee_id = ?2 AND ev.device_id IS NOT NULL",
        )?
        .query_map(params![o, e], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut nonces = tx.execute(
        "DELETE FROM nonces WHERE org_id = ?1 AND scope = ?2",
        params![o, crate::engine::history::nonce_scope(employee, None)],
    )? as u64;
    for device in &devices {
        let device = DeviceId::new(device.clone()).map_err(StoreError::Corrupt)?;
        nonces += tx.execute(
            "DELETE FROM nonces WHERE org_id = ?1 AND scope = ?2",
            params![
                o,
                crate::engine::history::nonce_scope(employee, Some(&device))
            ],
        )? as u64;
    }
    let counts = ErasureCounts {
        punches: tx.execute(
            "DELETE FROM punches WHERE org_id = ?1 AND employee_id = ?2",
            params![o, e],
        )? as u64,
        // Bindings, attested keys and outstanding enrolment challenges.
        devices: ["devices", "device_keys", "enrolment_challenges"]
            .into_iter()
            .map(|table| {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE org_id = ?1 AND employee_id = ?2"),
                    params![o, e],
                )
            })
            .sum::<rusqlite::Result<usize>>()? as u64,
        consents: tx.execute(
            "DELETE FROM consents WHERE org_id = ?1 AND employee_id = ?2",
            params![o, e],
        )? as u64,
        tokens: tx.execute(
            "DELETE FROM tokens WHERE org_id = ?1 AND employee_id = ?2",
            params![o, e],
        )? as u64,
        nonces,
        audit_anonymised: tx.execute(
            "UPDATE audit_log SET employee_id = NULL WHERE org_id = ?1 AND employee_id = ?2",
            params![o, e],
        )? as u64,
        settings: erase_from_settings(tx, org, employee)?,
        calendar: tx.execute(
            "DELETE FROM calendar_entries WHERE org_id = ?1 AND employee_id = ?2",
            params![o, e],
        )? as u64,
    };
    // The delivery log's day.closed event ids name the employee.
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE org_id = ?1
         AND event_kind = 'day.closed' AND substr(event_id, -length(?2) - 1) = '/' || ?2",
        params![o, e],
    )?;
    // A webhook part way through a closed date may have stopped at them:
    // it starts the date again.
    tx.execute(
        "UPDATE webhooks SET closing_after = NULL WHERE org_id = ?1 AND closing_after = ?2",
        params![o, e],
    )?;
    if !counts.is_empty() {
        tx.execute(
            "INSERT INTO erasures (org_id, erased_us, punches) VALUES (?1, ?2, ?3)",
            params![o, to_us(jiff::Timestamp::now()), counts.punches as i64],
        )?;
    }
    Ok(counts)
}
