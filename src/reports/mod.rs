//! What HR takes away: daily results computed from the store (shared by the
//! gRPC service and the CLI), CSV/JSON-lines exports, and the self-contained
//! HTML report for reviewers.

pub mod export;
pub mod html;

use jiff::civil::Date;

use crate::attendance::{self, CheckedSchedule, DailyResult};
use crate::engine::{EmployeeId, OrgId};
use crate::store::prelude::*;
use crate::store::{PunchRow, Result, StoreError};

/// One employee's results over some dates, with the punches behind them.
#[derive(Debug, Clone)]
pub struct EmployeeDays {
    pub results: Vec<DailyResult>,
    pub punches: Vec<PunchRow>,
}

impl EmployeeDays {
    pub fn punch(&self, seq: i64) -> Option<&PunchRow> {
        self.punches.iter().find(|p| p.seq == seq)
    }

    /// The days summed up (a month's summary over a month of days).
    pub fn summary(&self) -> attendance::Summary {
        attendance::summarise(&self.results)
    }
}

/// The organisation's schedule, checked; `None` when it has none.
pub async fn schedule(store: &dyn Store, org: &OrgId) -> Result<Option<CheckedSchedule>> {
    store
        .load_schedule(org)
        .await?
        .map(|s| {
            s.check().map_err(|e| {
                StoreError::Corrupt(format!("stored schedule: {}: {}", e.field, e.description))
            })
        })
        .transpose()
}

/// The organisation's schedule with its calendar for local dates
/// `from..=to` (and the day each side, whose shifts can claim punches of
/// these dates); `None` when it has no schedule.
pub async fn schedule_for(
    store: &dyn Store,
    org: &OrgId,
    from: Date,
    to: Date,
) -> Result<Option<CheckedSchedule>> {
    let Some(schedule) = schedule(store, org).await? else {
        return Ok(None);
    };
    let entries = store
        .load_calendar(
            org,
            None,
            from.yesterday().unwrap_or(from),
            to.tomorrow().unwrap_or(to),
        )
        .await?;
    schedule
        .with_calendar(attendance::Calendar::new(entries))
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("stored calendar: {}", e.description)))
}

/// `employee`'s daily results on `dates`; `schedule` holds their calendar
/// (see [`schedule_for`]).
pub async fn employee_days(
    store: &dyn Store,
    org: &OrgId,
    schedule: &CheckedSchedule,
    employee: &EmployeeId,
    dates: &[Date],
) -> Result<EmployeeDays> {
    let Some((from, to)) = attendance::claim_span(schedule, employee, dates) else {
        return Ok(EmployeeDays {
            results: Vec::new(),
            punches: Vec::new(),
        });
    };
    let punches = store.employee_punches(org, employee, from, to).await?;
    let results = dates
        .iter()
        .filter_map(|date| schedule.daily_result(employee, *date, &punches))
        .collect();
    Ok(EmployeeDays { results, punches })
}

pub use crate::attendance::local_span;
