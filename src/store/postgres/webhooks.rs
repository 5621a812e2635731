//! Webhook rows for the PostgreSQL backend (the queries are in `mod.rs`).

use jiff::civil::Date;
use tokio_postgres::Row;

use crate::engine::{EmployeeId, OrgId};
use crate::store::encoding::{events_from_text, from_us};
use crate::store::{Result, StoreError, StoredWebhook, WebhookConfig, WebhookCursors};

pub use crate::store::encoding::events_to_text;

pub const COLUMNS: &str = "org_id, webhook_id, url, events, secret, created_us, \
     punch_cursor, review_cursor, closed_through, closing_after";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("stored webhook: {e}"))
}

/// A row selected with [`COLUMNS`].
pub fn stored(r: &Row) -> Result<StoredWebhook> {
    let closed: String = r.try_get(8)?;
    Ok(StoredWebhook {
        org: OrgId::new(r.try_get::<_, String>(0)?).map_err(corrupt)?,
        config: WebhookConfig {
            id: r.try_get(1)?,
            url: r.try_get(2)?,
            events: events_from_text(r.try_get(3)?)?,
            secret: r.try_get(4)?,
            created_at: from_us(r.try_get(5)?)?,
        },
        cursors: WebhookCursors {
            punches: r.try_get(6)?,
            reviews: r.try_get(7)?,
            closed_through: closed.parse::<Date>().map_err(corrupt)?,
            closing_after: r
                .try_get::<_, Option<String>>(9)?
                .map(|e| EmployeeId::new(e).map_err(corrupt))
                .transpose()?,
        },
    })
}
