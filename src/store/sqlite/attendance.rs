//! Schedules, reviews and the punch feed for the SQLite backend. Every
//! function runs in a transaction or read its caller owns.

use rusqlite::{Connection, OptionalExtension, params};

use super::codec::{self, PUNCH_COLUMNS};
use jiff::civil::Date;

use crate::attendance::{CalendarEntry, Schedule};
use crate::engine::{EmployeeId, OrgId, Punch, PunchId, Verdict};
use crate::store::encoding::to_us;
use crate::store::encoding::{
    calendar_entry_from_json, calendar_entry_to_json, schedule_from_json, schedule_to_json,
};
use crate::store::{CalendarChange, PunchRow, Result, Review, ReviewOutcome, StoreError};

pub fn put_schedule(tx: &Connection, org: &OrgId, schedule: &Schedule) -> Result<()> {
    let text = schedule_to_json(schedule);
    tx.execute(
        "INSERT INTO org_schedules (org_id, schedule, updated_us) VALUES (?1, ?2, ?3)
         ON CONFLICT (org_id) DO UPDATE SET schedule = excluded.schedule,
             updated_us = excluded.updated_us",
        params![org.as_str(), text, to_us(jiff::Timestamp::now())],
    )?;
    Ok(())
}

pub fn load_schedule(conn: &Connection, org: &OrgId) -> Result<Option<Schedule>> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT schedule FROM org_schedules WHERE org_id = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?;
    stored.as_deref().map(schedule_from_json).transpose()
}

/// Rows of a `SELECT PUNCH_COLUMNS …` query.
fn rows(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PunchRow>> {
    conn.prepare_cached(sql)?
        .query_map(params, codec::punch_row)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect()
}

pub fn employee_punches(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<Vec<PunchRow>> {
    rows(
        conn,
        &format!(
            "SELECT {PUNCH_COLUMNS} FROM punches
             WHERE org_id = ?1 AND employee_id = ?2 AND client_us >= ?3 AND client_us < ?4
             ORDER BY client_us, seq"
        ),
        params![org.as_str(), employee.as_str(), to_us(from), to_us(to)],
    )
}

pub fn review_queue(
    conn: &Connection,
    org: &OrgId,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<PunchRow>> {
    rows(
        conn,
        &format!(
            "SELECT {PUNCH_COLUMNS} FROM punches
             WHERE org_id = ?1 AND decision = 'review' AND seq > ?2
               AND NOT EXISTS (SELECT 1 FROM punch_reviews r WHERE r.seq = punches.seq)
             ORDER BY seq LIMIT ?3"
        ),
        params![org.as_str(), after_seq, limit as i64],
    )
}

fn punch_by_id(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
    punch_id: &PunchId,
) -> Result<Option<PunchRow>> {
    Ok(rows(
        conn,
        &format!(
            "SELECT {PUNCH_COLUMNS} FROM punches
             WHERE org_id = ?1 AND employee_id = ?2 AND punch_id = ?3"
        ),
        params![org.as_str(), employee.as_str(), punch_id.as_str()],
    )?
    .pop())
}

/// Stores `review` as the decision on the punch `seq`.
fn insert_review(tx: &Connection, seq: i64, review: &Review) -> Result<()> {
    tx.execute(
        // One writer: the next order is the reviews' commit order.
        "INSERT INTO punch_reviews (seq, approved, reason, reviewer, reviewed_us, review_order)
         VALUES (?1, ?2, ?3, ?4, ?5,
             (SELECT COALESCE(MAX(review_order), 0) + 1 FROM punch_reviews))",
        params![
            seq,
            review.approved,
            review.reason,
            review.reviewer,
            to_us(review.at)
        ],
    )?;
    // Retention counts a flagged punch's evidence period from its review.
    tx.execute(
        "UPDATE punches SET reviewed_us = ?2 WHERE seq = ?1",
        params![seq, to_us(review.at)],
    )?;
    Ok(())
}

/// Records a correction: the punch and HR's review of it; `None` when the
/// punch id is taken.
pub fn record_correction(
    tx: &Connection,
    punch: &Punch,
    verdict: &Verdict,
    review: &Review,
) -> Result<Option<PunchRow>> {
    let recorded = codec::insert_punch(tx, punch, verdict)?;
    if recorded.duplicate {
        return Ok(None);
    }
    insert_review(tx, recorded.row.seq, review)?;
    punch_by_id(tx, &punch.org, &punch.employee, &punch.punch_id)
}

pub fn review_punch(
    tx: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
    punch_id: &PunchId,
    review: &Review,
) -> Result<ReviewOutcome> {
    let row = match ReviewOutcome::precondition(punch_by_id(tx, org, employee, punch_id)?) {
        Ok(row) => row,
        Err(refused) => return Ok(refused),
    };
    insert_review(tx, row.seq, review)?;
    punch_by_id(tx, org, employee, punch_id)?
        .map(|row| ReviewOutcome::Reviewed(Box::new(row)))
        .ok_or_else(|| StoreError::Corrupt("reviewed punch vanished".into()))
}

pub fn punches_after(
    conn: &Connection,
    org: &OrgId,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<PunchRow>> {
    rows(
        conn,
        &format!(
            "SELECT {PUNCH_COLUMNS} FROM punches WHERE org_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3"
        ),
        params![org.as_str(), after_seq, limit as i64],
    )
}

/// Applies calendar changes in the caller's transaction; how many entries
/// they added, replaced or removed.
pub fn change_calendar(tx: &Connection, org: &OrgId, changes: &[CalendarChange]) -> Result<u64> {
    let o = org.as_str();
    let mut changed = 0;
    for change in changes {
        changed += match change {
            CalendarChange::Put(entry) => {
                let (first, last) = entry.days();
                tx.prepare_cached(
                    "INSERT INTO calendar_entries
                         (org_id, entry_key, kind, employee_id, first_day, last_day, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (org_id, entry_key) DO UPDATE SET
                         kind = excluded.kind, employee_id = excluded.employee_id,
                         first_day = excluded.first_day, last_day = excluded.last_day,
                         body = excluded.body",
                )?
                .execute(params![
                    o,
                    entry.key(),
                    entry.kind(),
                    entry.employee().map(|e| e.as_str()),
                    first.to_string(),
                    last.to_string(),
                    calendar_entry_to_json(entry),
                ])?
            }
            CalendarChange::Remove(key) => tx
                .prepare_cached(
                    "DELETE FROM calendar_entries WHERE org_id = ?1 AND entry_key = ?2",
                )?
                .execute(params![o, key])?,
            CalendarChange::ClearHolidays { from, to } => tx
                .prepare_cached(
                    "DELETE FROM calendar_entries WHERE org_id = ?1 AND kind = 'holiday'
                     AND first_day >= ?2 AND first_day <= ?3",
                )?
                .execute(params![o, from.to_string(), to.to_string()])?,
        } as u64;
    }
    Ok(changed)
}

pub fn load_calendar(
    conn: &Connection,
    org: &OrgId,
    employee: Option<&EmployeeId>,
    from: Date,
    to: Date,
) -> Result<Vec<CalendarEntry>> {
    conn.prepare_cached(
        "SELECT kind, body FROM calendar_entries
         WHERE org_id = ?1 AND first_day <= ?3 AND last_day >= ?2
           AND (?4 IS NULL OR employee_id IS NULL OR employee_id = ?4)",
    )?
    .query_map(
        params![
            org.as_str(),
            from.to_string(),
            to.to_string(),
            employee.map(|e| e.as_str())
        ],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )?
    .map(|row| {
        let (kind, body) = row?;
        calendar_entry_from_json(&kind, &body)
    })
    .collect()
}

/// Everything the calendar holds that names `employee`.
pub fn employee_calendar(
    conn: &Connection,
    org: &OrgId,
    employee: &EmployeeId,
) -> Result<Vec<CalendarEntry>> {
    conn.prepare_cached(
        "SELECT kind, body FROM calendar_entries WHERE org_id = ?1 AND employee_id = ?2
         ORDER BY first_day, entry_key",
    )?
    .query_map(params![org.as_str(), employee.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?
    .map(|row| {
        let (kind, body) = row?;
        calendar_entry_from_json(&kind, &body)
    })
    .collect()
}
