//! What HR takes away: daily results computed from the store (shared by the
//! gRPC service and the CLI), CSV/JSON-lines exports, and the self-contained
//! HTML report for reviewers.

pub mod export;
pub mod html;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::attendance::{self, CheckedSchedule, DailyResult};
use crate::engine::{EmployeeId, OrgId};
use crate::store::{PunchRow, Result, Store, StoreError};

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
        attendance::summarise(&self.results, |seq| self.punch(seq).map(|p| p.client_time))
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

/// `employee`'s daily results on `dates` (days without a shift are left out).
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

/// The instants local dates `from..=to` span in `tz`.
pub fn local_span(tz: &TimeZone, from: Date, to: Date) -> Option<(Timestamp, Timestamp)> {
    let start = tz
        .to_timestamp(from.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    let end = tz
        .to_timestamp(
            to.tomorrow()
                .ok()?
                .to_datetime(jiff::civil::Time::midnight()),
        )
        .ok()?;
    Some((start, end))
}
