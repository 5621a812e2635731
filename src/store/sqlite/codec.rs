//! Rows ↔ domain types for the SQLite backend.

use jiff::Timestamp;
use rusqlite::{Connection, Row, params};

use crate::engine::history::LastFix;
use crate::engine::{ConsentPurpose, DeviceId, HistoryDelta};
use crate::engine::{DistanceBucket, EmployeeId, OrgId, Punch, SiteId, Verdict};
use crate::store::encoding::{RawPunchRow, corrupt, findings_to_json, from_us, to_us};
use crate::store::recent::{DeviceRecent, EmployeeRecent};
use crate::store::{
    ConsentRecord, DeviceBinding, HistoryQuery, PunchRow, Recorded, Result, StoreError,
};

pub const PUNCH_COLUMNS: &str = "seq, org_id, employee_id, punch_id, kind, client_us, received_us, \
     decision, site_id, method, distance_m, nearest_site_id, findings, \
     (SELECT json_group_array(json_object('id', m.signature_id, 'category', m.category)) \
        FROM (SELECT * FROM punch_cheat_matches WHERE seq = punches.seq ORDER BY signature_id) m), \
     (SELECT json_group_array(w.bssid) \
        FROM (SELECT bssid FROM punch_wifi_evidence WHERE seq = punches.seq ORDER BY rowid) w), \
     distance_bucket, EXISTS (SELECT 1 FROM punch_evidence WHERE seq = punches.seq), \
     (SELECT json_object('approved', json(CASE WHEN approved THEN 'true' ELSE 'false' END), 'reason', reason, 'reviewer', reviewer, \
             'at', reviewed_us) FROM punch_reviews WHERE seq = punches.seq), attested";

/// Decodes a row selected with [`PUNCH_COLUMNS`]. The outer result is
/// SQLite's, the inner one says whether the stored values make sense.
pub fn punch_row(r: &Row<'_>) -> rusqlite::Result<Result<PunchRow>> {
    Ok(RawPunchRow {
        seq: r.get(0)?,
        org: r.get(1)?,
        employee: r.get(2)?,
        punch_id: r.get(3)?,
        kind: r.get(4)?,
        client_us: r.get(5)?,
        received_us: r.get(6)?,
        decision: r.get(7)?,
        site: r.get(8)?,
        method: r.get(9)?,
        distance_m: r.get(10)?,
        nearest_site: r.get(11)?,
        findings: r.get(12)?,
        cheat_matches: r.get(13)?,
        wifi_bssids: r.get(14)?,
        distance_bucket: r.get(15)?,
        evidence_kept: r.get(16)?,
        review: r.get(17)?,
        attested: r.get(18)?,
    }
    .decode())
}

/// Inserts a punch unless its id is already recorded for the employee, in
/// which case the first record is returned.
pub fn insert_punch(tx: &Connection, punch: &Punch, verdict: &Verdict) -> Result<Recorded> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO punches (org_id, employee_id, punch_id, kind, client_us, received_us,
                 decision, site_id, method, distance_m, nearest_site_id, findings, distance_bucket,
                attested)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (org_id, employee_id, punch_id) DO NOTHING",
        )?
        .execute(params![
            punch.org.as_str(),
            punch.employee.as_str(),
            punch.punch_id.as_str(),
            punch.kind.as_str(),
            to_us(punch.client_time),
            to_us(punch.received_at),
            verdict.decision.as_str(),
            verdict.site.as_ref().map(SiteId::as_str),
            verdict.method.as_str(),
            verdict.distance_m,
            verdict.nearest_site.as_ref().map(SiteId::as_str),
            findings_to_json(&verdict.findings),
            verdict.distance_m.map(|d| DistanceBucket::of(d).as_str()),
            verdict.assurance.is_attested(),
        ])?;
    if inserted == 0 {
        let first = tx
            .prepare_cached(&format!(
                "SELECT {PUNCH_COLUMNS} FROM punches
                 WHERE org_id = ?1 AND employee_id = ?2 AND punch_id = ?3"
            ))?
            .query_row(
                params![
                    punch.org.as_str(),
                    punch.employee.as_str(),
                    punch.punch_id.as_str()
                ],
                punch_row,
            )??;
        return Ok(Recorded {
            row: first,
            duplicate: true,
        });
    }
    let seq = tx.last_insert_rowid();
    let gps = punch.gps.as_ref();
    let device = punch.device.as_ref();
    tx.prepare_cached(
        "INSERT INTO punch_evidence (seq, latitude, longitude, accuracy_m, fix_us, mock_location,
             speed_mps, device_id, rooted, emulator, integrity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        seq,
        gps.map(|g| g.latitude),
        gps.map(|g| g.longitude),
        gps.map(|g| g.accuracy_m),
        gps.map(|g| to_us(g.fix_time)),
        gps.map(|g| g.mock_location),
        gps.and_then(|g| g.speed_mps),
        device.map(|d| d.device_id.as_str()),
        device.map(|d| d.rooted),
        device.map(|d| d.emulator),
        device.map(|d| d.integrity.as_str()),
    ])?;
    let mut insert_match = tx.prepare_cached(
        "INSERT INTO punch_cheat_matches (seq, signature_id, category) VALUES (?1, ?2, ?3)",
    )?;
    for m in &verdict.cheat_matches {
        insert_match.execute(params![seq, m.signature_id, m.category.as_str()])?;
    }
    let delta = HistoryDelta::of(punch, verdict);
    if let Some(bound) = delta.binds {
        tx.prepare_cached(
            "INSERT INTO devices (org_id, employee_id, device_id, bound_us) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            punch.org.as_str(),
            punch.employee.as_str(),
            bound.as_str(),
            to_us(punch.received_at)
        ])?;
    }
    if let Some((scope, nonce)) = &delta.nonce {
        tx.prepare_cached(
            "INSERT INTO nonces (org_id, scope, nonce, seen_us) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            punch.org.as_str(),
            scope,
            nonce,
            to_us(punch.received_at)
        ])?;
    }
    if let Some((device, counter)) = delta.assertion_counter {
        super::attestation::raise_counter(tx, &punch.org, device, counter)?;
    }
    let mut insert_wifi =
        tx.prepare_cached("INSERT INTO punch_wifi_evidence (seq, bssid) VALUES (?1, ?2)")?;
    for bssid in &verdict.wifi_bssids {
        insert_wifi.execute(params![seq, bssid.to_string()])?;
    }
    Ok(Recorded {
        row: PunchRow::fresh(seq, punch, verdict),
        duplicate: false,
    })
}

/// Reads what the history rules need, in one read transaction.
/// The employee's part of the history: last accepted fix, bound devices,
/// consent to automatic punches.
pub fn employee_recent(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<EmployeeRecent> {
    let (org, employee) = (org.as_str(), employee.as_str());
    let last_accepted = conn
        .prepare_cached(
            "SELECT e.fix_us, e.latitude, e.longitude, e.accuracy_m
             FROM punches p JOIN punch_evidence e ON e.seq = p.seq
             WHERE p.org_id = ?1 AND p.employee_id = ?2 AND p.decision = 'accepted'
               AND e.latitude IS NOT NULL
             ORDER BY p.seq DESC LIMIT 1",
        )?
        .query_map(params![org, employee], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })?
        .next()
        .transpose()?
        .map(|(fix_us, latitude, longitude, accuracy_m)| {
            Ok::<_, StoreError>(LastFix {
                at: from_us(fix_us)?,
                latitude,
                longitude,
                accuracy_m,
            })
        })
        .transpose()?;
    let bound_devices = conn
        .prepare_cached(
            "SELECT device_id FROM devices
             WHERE org_id = ?1 AND employee_id = ?2 AND revoked_us IS NULL ORDER BY bound_us",
        )?
        .query_map(params![org, employee], |r| r.get::<_, String>(0))?
        .map(|d| DeviceId::new(d?).map_err(StoreError::Corrupt))
        .collect::<Result<Vec<_>>>()?;
    let auto_punch_consent = conn
        .prepare_cached(
            "SELECT 1 FROM consents
             WHERE org_id = ?1 AND employee_id = ?2 AND purpose = ?3 AND granted",
        )?
        .exists(params![org, employee, ConsentPurpose::AutoPunch.as_str()])?;
    Ok(EmployeeRecent {
        last_accepted,
        bound_devices,
        auto_punch_consent,
    })
}

/// Whom the device punched for since `since`, each with their latest punch.
pub fn device_recent(
    conn: &Connection,
    org: &OrgId,
    device: &DeviceId,
    since: Timestamp,
) -> Result<DeviceRecent> {
    let punched_for = conn
        .prepare_cached(
            "SELECT p.employee_id, max(p.received_us)
             FROM punch_evidence e JOIN punches p ON p.seq = e.seq
             WHERE e.device_id = ?2 AND p.org_id = ?1 AND p.received_us >= ?3
             GROUP BY p.employee_id",
        )?
        .query_map(params![org.as_str(), device.as_str(), to_us(since)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .map(|row| {
            let (employee, at) = row?;
            Ok((
                EmployeeId::new(employee).map_err(StoreError::Corrupt)?,
                from_us(at)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DeviceRecent { punched_for })
}

/// Whether the punch's nonce was used before in its scope.
pub fn nonce_seen(conn: &Connection, q: &HistoryQuery, nonce: &str) -> Result<bool> {
    let scope = crate::engine::history::nonce_scope(&q.employee, q.device.as_ref());
    Ok(conn
        .prepare_cached("SELECT 1 FROM nonces WHERE org_id = ?1 AND scope = ?2 AND nonce = ?3")?
        .exists(params![q.org.as_str(), scope, nonce])?)
}

pub fn devices(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
    device: Option<&DeviceId>,
) -> Result<Vec<DeviceBinding>> {
    conn.prepare_cached(
        "SELECT device_id, bound_us, revoked_us FROM devices
         WHERE org_id = ?1 AND employee_id = ?2 AND (?3 IS NULL OR device_id = ?3)
         ORDER BY bound_us, device_id",
    )?
    .query_map(
        params![
            org.as_str(),
            employee.as_str(),
            device.map(DeviceId::as_str)
        ],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        },
    )?
    .map(|row| {
        let (device, bound, revoked) = row?;
        Ok(DeviceBinding {
            employee: employee.clone(),
            device: DeviceId::new(device).map_err(StoreError::Corrupt)?,
            bound_at: from_us(bound)?,
            revoked_at: revoked.map(from_us).transpose()?,
        })
    })
    .collect()
}

/// An employee's consent records, by purpose.
pub fn consents(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<Vec<ConsentRecord>> {
    conn.prepare_cached(
        "SELECT purpose, granted, changed_us FROM consents
         WHERE org_id = ?1 AND employee_id = ?2 ORDER BY purpose",
    )?
    .query_map(params![org.as_str(), employee.as_str()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?
    .map(|row| {
        let (purpose, granted, changed) = row?;
        Ok(ConsentRecord {
            employee: employee.clone(),
            purpose: ConsentPurpose::parse(&purpose)
                .ok_or_else(|| corrupt("consent purpose", &purpose))?,
            granted,
            changed_at: from_us(changed)?,
        })
    })
    .collect()
}
