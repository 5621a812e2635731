//! The calendar beside the weekly schedule, as HR and its systems keep it:
//! the organisation's holidays, roster days (a swap, a one-off night, a day
//! off) and leave. Daily results read it (see `attendance`).

use jiff::civil::Date;

use super::{Actor, App, AppError, Result, audit};
use crate::attendance::{
    self, CalendarEntry, Holiday, Leave, MAX_CALENDAR_TEXT, MAX_LEAVE, RosterDay,
};
use crate::auth::Role;
use crate::engine::{EmployeeId, check_id};
use crate::store::CalendarChange;

/// Calendars are HR's business (the HR system sends leave with an hr token).
pub const ROLE: Role = Role::Hr;
/// Most roster days or leave periods one call may carry.
pub const MAX_CHANGES: usize = 10_000;
/// Most days one holiday replacement may span (two years).
pub const MAX_HOLIDAY_SPAN_DAYS: i32 = 731;

/// What a roster day sets an employee's date to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterPlan {
    Shift(String),
    Rest,
    /// Back to the weekly pattern: the roster day goes.
    Weekly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterChange {
    pub employee: EmployeeId,
    pub date: Date,
    pub plan: RosterPlan,
}

/// Replaces the holidays on `from..=to`; how many it holds there now.
pub async fn put_holidays(
    app: &App,
    actor: &Actor,
    from: Date,
    to: Date,
    holidays: Vec<Holiday>,
) -> Result<usize> {
    actor.require(ROLE)?;
    let span = from.until((jiff::Unit::Day, to)).map(|s| s.get_days());
    match span {
        Ok(days) if (0..MAX_HOLIDAY_SPAN_DAYS).contains(&days) => {}
        Ok(days) if days < 0 => return Err(AppError::invalid("to_date", "is before from_date")),
        _ => {
            return Err(AppError::invalid(
                "to_date",
                format!("at most {MAX_HOLIDAY_SPAN_DAYS} days from from_date"),
            ));
        }
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, h) in holidays.iter().enumerate() {
        if h.date < from || h.date > to {
            problems.push((
                format!("holidays[{i}].date"),
                "outside from_date..to_date".into(),
            ));
        }
        if !seen.insert(h.date) {
            problems.push((
                format!("holidays[{i}].date"),
                "a second holiday that date".into(),
            ));
        }
        if let Err(e) = check_text(&h.name) {
            problems.push((format!("holidays[{i}].name"), e));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::InvalidArguments(problems));
    }
    let count = holidays.len();
    let mut changes = vec![CalendarChange::ClearHolidays { from, to }];
    changes.extend(
        holidays
            .into_iter()
            .map(|h| CalendarChange::Put(CalendarEntry::Holiday(h))),
    );
    let entry = audit::entry(
        actor,
        "PutHolidays",
        None,
        format!("{from}..={to}, {count} holidays"),
    );
    app.store
        .change_calendar(&actor.org, changes, entry)
        .await?;
    Ok(count)
}

/// Sets each employee's plan for each date, all or nothing; how many roster
/// days were added, changed or removed.
pub async fn put_roster_days(app: &App, actor: &Actor, days: Vec<RosterChange>) -> Result<u64> {
    actor.require(ROLE)?;
    if days.len() > MAX_CHANGES {
        return Err(AppError::invalid("days", format!("at most {MAX_CHANGES}")));
    }
    let schedule = super::attendance::schedule(app, actor).await?;
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, day) in days.iter().enumerate() {
        if !seen.insert((&day.employee, day.date)) {
            problems.push((
                format!("days[{i}].date"),
                "a second roster day for the employee that date".into(),
            ));
        }
        if let RosterPlan::Shift(id) = &day.plan
            && schedule.shift(id).is_none()
        {
            problems.push((format!("days[{i}].shift_id"), "no such shift".into()));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::InvalidArguments(problems));
    }
    let employee = sole_employee(days.iter().map(|d| &d.employee));
    let detail = format!("{} roster days", days.len());
    let changes = days
        .into_iter()
        .map(|day| match day.plan {
            RosterPlan::Weekly => {
                let key = CalendarEntry::Roster(RosterDay {
                    employee: day.employee,
                    date: day.date,
                    shift: None,
                })
                .key();
                CalendarChange::Remove(key)
            }
            plan => CalendarChange::Put(CalendarEntry::Roster(RosterDay {
                employee: day.employee,
                date: day.date,
                shift: match plan {
                    RosterPlan::Shift(id) => Some(id),
                    _ => None,
                },
            })),
        })
        .collect();
    let entry = audit::entry(actor, "PutRosterDays", employee.as_ref(), detail);
    Ok(app
        .store
        .change_calendar(&actor.org, changes, entry)
        .await?)
}

/// Records leave periods (replacing those with the same ids), all or
/// nothing.
pub async fn put_leave(app: &App, actor: &Actor, leave: Vec<Leave>) -> Result<usize> {
    actor.require(ROLE)?;
    if leave.len() > MAX_CHANGES {
        return Err(AppError::invalid("leave", format!("at most {MAX_CHANGES}")));
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, l) in leave.iter().enumerate() {
        let field = |name: &str| format!("leave[{i}].{name}");
        if let Err(e) = check_id(&l.id) {
            problems.push((field("leave_id"), e));
        } else if !seen.insert(&l.id) {
            problems.push((field("leave_id"), "given twice".into()));
        }
        if let Err(e) = check_text(&l.kind) {
            problems.push((field("leave_type"), e));
        }
        if l.end <= l.start {
            problems.push((field("end_time"), "must be after start_time".into()));
        } else if l.end.duration_since(l.start) > MAX_LEAVE {
            problems.push((
                field("end_time"),
                "at most 366 days after start_time".into(),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::InvalidArguments(problems));
    }
    let employee = sole_employee(leave.iter().map(|l| &l.employee));
    let count = leave.len();
    // The HR system's ids stay out of the log: they outlive an erasure
    // there (the entry's employee is removed, its text kept).
    let entry = audit::entry(
        actor,
        "PutLeave",
        employee.as_ref(),
        format!("{count} periods"),
    );
    let changes = leave
        .into_iter()
        .map(|l| CalendarChange::Put(CalendarEntry::Leave(l)))
        .collect();
    app.store
        .change_calendar(&actor.org, changes, entry)
        .await?;
    Ok(count)
}

/// Withdraws leave period `id`.
pub async fn cancel_leave(app: &App, actor: &Actor, id: &str) -> Result<()> {
    actor.require(ROLE)?;
    check_id(id).map_err(|e| AppError::invalid("leave_id", e))?;
    let key = format!("leave/{id}");
    let entry = audit::entry(actor, "CancelLeave", None, "");
    let removed = app
        .store
        .change_calendar(&actor.org, vec![CalendarChange::Remove(key)], entry)
        .await?;
    if removed == 0 {
        return Err(AppError::NotFound(format!("no leave {id}")));
    }
    Ok(())
}

/// The calendar entries that touch local dates `from..=to`, for one
/// employee or all: holidays, roster days, leave, in that order.
pub async fn calendar(
    app: &App,
    actor: &Actor,
    from: Date,
    to: Date,
    employee: Option<&EmployeeId>,
) -> Result<Vec<CalendarEntry>> {
    actor.require(ROLE)?;
    attendance::dates(from, to)
        .map_err(|e| AppError::invalid(format!("{}_date", e.field), e.description))?;
    let detail = format!("{from}..={to}");
    audit::read(app.store.as_ref(), actor, "GetCalendar", employee, detail).await?;
    let tz = super::attendance::zone(app, actor).await?;
    let (start, end) = attendance::local_span(&tz, from, to)
        .ok_or_else(|| AppError::invalid("to_date", "out of range"))?;
    let mut entries = app
        .store
        .load_calendar(&actor.org, employee, from, to)
        .await?;
    // The store's day bounds are a day wide each side for leave.
    entries.retain(|e| match e {
        CalendarEntry::Holiday(h) => h.date >= from && h.date <= to,
        CalendarEntry::Roster(r) => r.date >= from && r.date <= to,
        CalendarEntry::Leave(l) => l.start < end && l.end > start,
    });
    entries.sort_by_key(|e| (order(e), e.days().0, e.key()));
    Ok(entries)
}

/// The employee an audit entry names: the one all the changes are about,
/// if they are about one.
fn sole_employee<'a>(mut employees: impl Iterator<Item = &'a EmployeeId>) -> Option<EmployeeId> {
    let first = employees.next()?;
    employees.all(|e| e == first).then(|| first.clone())
}

fn order(entry: &CalendarEntry) -> u8 {
    match entry {
        CalendarEntry::Holiday(_) => 0,
        CalendarEntry::Roster(_) => 1,
        CalendarEntry::Leave(_) => 2,
    }
}

fn check_text(text: &str) -> std::result::Result<(), String> {
    if text.trim().is_empty() {
        Err("required".into())
    } else if text.len() > MAX_CALENDAR_TEXT {
        Err(format!("at most {MAX_CALENDAR_TEXT} bytes"))
    } else if text.chars().any(char::is_control) {
        Err("no control characters".into())
    } else {
        Ok(())
    }
}
