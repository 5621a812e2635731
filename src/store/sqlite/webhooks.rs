//! Webhooks for the SQLite backend: configuration and cursors, the review
//! stream, the delivery log. Every function runs in a transaction or read
//! its caller owns.

use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{self, PUNCH_COLUMNS};
use crate::engine::{EmployeeId, OrgId};
use crate::store::encoding::{events_from_text, events_to_text, from_us, to_us};
use crate::store::{
    Delivery, MAX_DELIVERIES_KEPT, PunchRow, Result, StoreError, StoredWebhook, WebhookConfig,
    WebhookCursors,
};
use crate::webhooks::EventKind;

const WEBHOOK_COLUMNS: &str = "org_id, webhook_id, url, events, secret, created_us, \
     punch_cursor, review_cursor, closed_through, closing_after";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored webhook: {e}"))
}

type WebhookRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    Option<String>,
);

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn stored(row: WebhookRow) -> Result<StoredWebhook> {
    let (org, id, url, events, secret, created, punches, reviews, closed, closing) = row;
    Ok(StoredWebhook {
        org: OrgId::new(org).map_err(corrupt)?,
        config: WebhookConfig {
            id,
            url,
            events: events_from_text(&events)?,
            secret,
            created_at: from_us(created)?,
        },
        cursors: WebhookCursors {
            punches,
            reviews,
            closed_through: closed.parse::<Date>().map_err(corrupt)?,
            closing_after: closing
                .map(|e| EmployeeId::new(e).map_err(corrupt))
                .transpose()?,
        },
    })
}

pub fn put_webhook(
    tx: &Connection,
    org: &OrgId,
    config: &WebhookConfig,
    closed_through: Date,
) -> Result<StoredWebhook> {
    let o = org.as_str();
    tx.execute(
        "INSERT INTO webhooks (org_id, webhook_id, url, events, secret, created_us,
             punch_cursor, review_cursor, closed_through)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
             (SELECT COALESCE(MAX(seq), 0) FROM punches WHERE org_id = ?1),
             (SELECT COALESCE(MAX(r.review_order), 0) FROM punch_reviews r
                JOIN punches p ON p.seq = r.seq WHERE p.org_id = ?1),
             ?7)
         ON CONFLICT (org_id, webhook_id) DO UPDATE SET
             url = excluded.url, events = excluded.events, secret = excluded.secret",
        params![
            o,
            config.id,
            config.url,
            events_to_text(&config.events),
            config.secret,
            to_us(config.created_at),
            closed_through.to_string(),
        ],
    )?;
    let row = tx.query_row(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ?1 AND webhook_id = ?2"),
        params![o, config.id],
        webhook_row,
    )?;
    stored(row)
}

pub fn delete_webhook(tx: &Connection, org: &OrgId, id: &str) -> Result<Option<WebhookConfig>> {
    let row = tx
        .query_row(
            &format!(
                "DELETE FROM webhooks WHERE org_id = ?1 AND webhook_id = ?2
                 RETURNING {WEBHOOK_COLUMNS}"
            ),
            params![org.as_str(), id],
            webhook_row,
        )
        .optional()?;
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2",
        params![org.as_str(), id],
    )?;
    row.map(|r| stored(r).map(|w| w.config)).transpose()
}

pub fn webhooks(conn: &Connection, org: Option<&OrgId>) -> Result<Vec<StoredWebhook>> {
    conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ?1 IS NULL OR org_id = ?1
         ORDER BY org_id, webhook_id"
    ))?
    .query_map(params![org.map(OrgId::as_str)], webhook_row)?
    .map(|row| stored(row?))
    .collect()
}

pub fn advance_webhook(
    tx: &Connection,
    org: &OrgId,
    id: &str,
    cursors: &WebhookCursors,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE webhooks SET punch_cursor = ?3, review_cursor = ?4, closed_through = ?5,
             closing_after = ?6
         WHERE org_id = ?1 AND webhook_id = ?2",
    )?
    .execute(params![
        org.as_str(),
        id,
        cursors.punches,
        cursors.reviews,
        cursors.closed_through.to_string(),
        cursors.closing_after.as_ref().map(EmployeeId::as_str)
    ])?;
    Ok(())
}

pub fn reviews_after(
    conn: &Connection,
    org: &OrgId,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, PunchRow)>> {
    let order: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT r.seq, r.review_order FROM punch_reviews r JOIN punches p ON p.seq = r.seq
             WHERE p.org_id = ?1 AND r.review_order > ?2 ORDER BY r.review_order LIMIT ?3",
        )?
        .query_map(params![org.as_str(), after, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut by_seq = conn.prepare_cached(&format!(
        "SELECT {PUNCH_COLUMNS} FROM punches WHERE seq = ?1"
    ))?;
    order
        .into_iter()
        .map(|(seq, review_order)| {
            let row = by_seq.query_row([seq], codec::punch_row)??;
            Ok((review_order, row))
        })
        .collect()
}

pub fn log_deliveries(
    tx: &Connection,
    org: &OrgId,
    id: &str,
    deliveries: &[Delivery],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO webhook_deliveries (org_id, webhook_id, event_id, event_kind, attempt,
             at_us, status, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for d in deliveries {
        insert.execute(params![
            org.as_str(),
            id,
            d.event_id,
            d.kind.as_str(),
            d.attempt,
            to_us(d.at),
            d.status,
            d.error,
            d.duration_ms
        ])?;
    }
    tx.prepare_cached(
        "DELETE FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2 AND id <=
             (SELECT id FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2
              ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    )?
    .execute(params![org.as_str(), id, MAX_DELIVERIES_KEPT])?;
    Ok(())
}

pub fn deliveries(conn: &Connection, org: &OrgId, id: &str, limit: usize) -> Result<Vec<Delivery>> {
    conn.prepare_cached(
        "SELECT event_id, event_kind, attempt, at_us, status, error, duration_ms
         FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2
         ORDER BY id DESC LIMIT ?3",
    )?
    .query_map(params![org.as_str(), id, limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u32>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<u16>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, u32>(6)?,
        ))
    })?
    .map(|row| {
        let (event_id, kind, attempt, at, status, error, duration_ms) = row?;
        Ok(Delivery {
            kind: EventKind::parse(&kind).ok_or_else(|| corrupt(format!("event kind {kind}")))?,
            event_id,
            attempt,
            at: from_us(at)?,
            status,
            error,
            duration_ms,
        })
    })
    .collect()
}
