//! Attendance results as HR systems use them: shifts, schedules and the
//! daily result of each scheduled day. Pure: no I/O, no clock; the store
//! provides the punches, the caller the dates.
//!
//! A day's result follows the vocabulary HR systems already know (DingTalk,
//! Feishu): a time result `Normal`, `Early`, `Late`, `SeriousLate`,
//! `Absenteeism` or `NotSigned`, and a location result `Normal`, `Outside`
//! or `NotSigned`. Only ACCEPTED punches and REVIEW punches that HR approved
//! count; the rest are listed beside the result and never count.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::engine::{Decision, EmployeeId, PunchKind, check_id};
use crate::store::PunchRow;

/// How far before its start and after its end a shift claims punches,
/// unless the neighbouring shift is closer (then they split the gap).
pub const CLAIM_MARGIN: SignedDuration = SignedDuration::from_hours(4);

/// Most days one request may cover.
pub const MAX_DAYS: i64 = 62;

pub const MAX_SHIFTS: usize = 1_000;
pub const MAX_ASSIGNMENTS: usize = 100_000;

/// One shift as an admin defines it, in the organisation's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub id: String,
    /// Local start; the end at or before it means the shift ends the next day.
    pub start: Time,
    pub end: Time,
    /// Arriving up to this many minutes after the start is still on time.
    pub late_grace_min: u32,
    /// Leaving up to this many minutes before the end is not early.
    pub early_grace_min: u32,
    /// Arriving more than this many minutes after the start is SeriousLate.
    pub serious_late_min: u32,
    /// The start may fall anywhere in this many minutes after `start`; the
    /// end moves with it (the length stays).
    pub flexible_start_min: u32,
}

impl Shift {
    pub fn overnight(&self) -> bool {
        self.end <= self.start
    }

    pub fn length(&self) -> SignedDuration {
        let length = self.end.duration_since(self.start);
        if self.overnight() {
            length + SignedDuration::from_hours(24)
        } else {
            length
        }
    }

    /// The shift's planned start and end instants on local date `date`.
    /// Local times that do not exist (a DST gap) move forward; repeated ones
    /// (a DST fold) take the earlier instant.
    fn on(&self, date: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let start = tz.to_timestamp(date.to_datetime(self.start)).ok()?;
        let end_date = if self.overnight() {
            date.tomorrow().ok()?
        } else {
            date
        };
        let end = tz.to_timestamp(end_date.to_datetime(self.end)).ok()?;
        Some((start, end))
    }
}

/// Which shift an employee works on which weekdays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub employee: EmployeeId,
    pub weekdays: Vec<Weekday>,
    pub shift: String,
}

/// An organisation's time zone, shifts and assignments.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// IANA name, e.g. Europe/Helsinki.
    pub time_zone: String,
    pub shifts: Vec<Shift>,
    pub assignments: Vec<Assignment>,
}

/// A schedule problem with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: String,
    pub description: String,
}

fn bad(field: impl Into<String>, description: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field: field.into(),
        description: description.into(),
    }
}

/// A checked schedule, indexed for lookups.
#[derive(Debug, Clone)]
pub struct CheckedSchedule {
    pub schedule: Schedule,
    pub tz: TimeZone,
    shifts: HashMap<String, usize>,
    /// employee → the shift index per weekday (Monday first).
    weeks: HashMap<EmployeeId, [Option<usize>; 7]>,
}

impl Schedule {
    /// Checks bounds, references and overlaps, naming the field at fault.
    pub fn check(self) -> Result<CheckedSchedule, ScheduleError> {
        let tz = TimeZone::get(&self.time_zone)
            .map_err(|_| bad("time_zone", "not an IANA time zone name"))?;
        if self.shifts.len() > MAX_SHIFTS {
            return Err(bad("shifts", format!("at most {MAX_SHIFTS} shifts")));
        }
        if self.assignments.len() > MAX_ASSIGNMENTS {
            return Err(bad(
                "assignments",
                format!("at most {MAX_ASSIGNMENTS} assignments"),
            ));
        }
        let mut shifts = HashMap::new();
        for (i, shift) in self.shifts.iter().enumerate() {
            let field = |name: &str| format!("shifts[{i}].{name}");
            check_id(&shift.id).map_err(|e| bad(field("shift_id"), e))?;
            if shifts.insert(shift.id.clone(), i).is_some() {
                return Err(bad(field("shift_id"), "defined twice"));
            }
            if shift.start == shift.end {
                return Err(bad(field("end"), "must differ from the start"));
            }
            let length_min = shift.length().as_mins();
            for (name, value) in [
                ("late_grace_min", shift.late_grace_min),
                ("early_grace_min", shift.early_grace_min),
                ("serious_late_min", shift.serious_late_min),
                ("flexible_start_min", shift.flexible_start_min),
            ] {
                if i64::from(value) >= length_min {
                    return Err(bad(field(name), "must be shorter than the shift"));
                }
            }
            if shift.serious_late_min <= shift.late_grace_min {
                return Err(bad(
                    field("serious_late_min"),
                    "must be more than late_grace_min",
                ));
            }
        }
        let mut weeks: HashMap<EmployeeId, [Option<usize>; 7]> = HashMap::new();
        for (i, a) in self.assignments.iter().enumerate() {
            let field = |name: &str| format!("assignments[{i}].{name}");
            let shift = *shifts
                .get(&a.shift)
                .ok_or_else(|| bad(field("shift_id"), "no such shift"))?;
            if a.weekdays.is_empty() {
                return Err(bad(field("weekdays"), "at least one weekday"));
            }
            let week = weeks.entry(a.employee.clone()).or_default();
            for day in &a.weekdays {
                let slot = &mut week[day.to_monday_zero_offset() as usize];
                if slot.is_some() {
                    return Err(bad(
                        field("weekdays"),
                        format!("the employee already has a shift on {day:?}"),
                    ));
                }
                *slot = Some(shift);
            }
        }
        // An overnight shift must end before the next day's shift starts.
        for (employee, week) in &weeks {
            for day in 0..7 {
                let (Some(today), Some(tomorrow)) = (week[day], week[(day + 1) % 7]) else {
                    continue;
                };
                let (a, b) = (&self.shifts[today], &self.shifts[tomorrow]);
                if a.overnight() && a.end > b.start {
                    let i = self
                        .assignments
                        .iter()
                        .position(|x| &x.employee == employee)
                        .unwrap_or(0);
                    return Err(bad(
                        format!("assignments[{i}].weekdays"),
                        format!(
                            "shift {} (ending {}) overlaps shift {} (starting {}) the next day",
                            a.id, a.end, b.id, b.start
                        ),
                    ));
                }
            }
        }
        Ok(CheckedSchedule {
            schedule: self,
            tz,
            shifts,
            weeks,
        })
    }
}

impl CheckedSchedule {
    pub fn is_assigned(&self, employee: &EmployeeId) -> bool {
        self.weeks.contains_key(employee)
    }

    /// Employees with an assignment, in id order.
    pub fn employees(&self) -> Vec<EmployeeId> {
        let mut all: Vec<_> = self.weeks.keys().cloned().collect();
        all.sort();
        all
    }

    pub fn shift(&self, id: &str) -> Option<&Shift> {
        self.shifts.get(id).map(|&i| &self.schedule.shifts[i])
    }

    fn shift_on(&self, employee: &EmployeeId, date: Date) -> Option<&Shift> {
        let week = self.weeks.get(employee)?;
        let slot = week[date.weekday().to_monday_zero_offset() as usize]?;
        Some(&self.schedule.shifts[slot])
    }

    /// The planned instants of `employee`'s shift on `date`, if any.
    fn planned(&self, employee: &EmployeeId, date: Date) -> Option<(Timestamp, Timestamp)> {
        self.shift_on(employee, date)?.on(date, &self.tz)
    }

    /// The span of time whose punches belong to the shift on `date`: the
    /// shift with a margin each side, split halfway with a neighbouring
    /// shift that is closer.
    pub fn claim(&self, employee: &EmployeeId, date: Date) -> Option<(Timestamp, Timestamp)> {
        let (start, end) = self.planned(employee, date)?;
        let mut from = start - CLAIM_MARGIN;
        let mut to = end + CLAIM_MARGIN;
        if let Some((_, prev_end)) = date
            .yesterday()
            .ok()
            .and_then(|d| self.planned(employee, d))
        {
            from = from.max(midpoint(prev_end, start));
        }
        if let Some((next_start, _)) = date.tomorrow().ok().and_then(|d| self.planned(employee, d))
        {
            to = to.min(midpoint(end, next_start));
        }
        Some((from, to))
    }

    /// The result of `employee`'s shift on `date` from their punches (any
    /// superset of the day's: only those the day claims are used). `None`
    /// on a day without a shift.
    pub fn daily_result(
        &self,
        employee: &EmployeeId,
        date: Date,
        punches: &[PunchRow],
    ) -> Option<DailyResult> {
        let shift = self.shift_on(employee, date)?;
        let (start, end) = shift.on(date, &self.tz)?;
        let (from, to) = self.claim(employee, date)?;
        let mut claimed: Vec<&PunchRow> = punches
            .iter()
            .filter(|p| &p.employee == employee && p.client_time >= from && p.client_time < to)
            .collect();
        claimed.sort_by_key(|p| (p.client_time, p.seq));
        let counted: Vec<&PunchRow> = claimed.iter().copied().filter(|p| counts(p)).collect();
        let first_in = counted
            .iter()
            .copied()
            .find(|p| matches!(p.kind, PunchKind::In | PunchKind::Auto));
        let last_out = counted.iter().rev().copied().find(|p| {
            matches!(p.kind, PunchKind::Out | PunchKind::Auto)
                && first_in.is_none_or(|i| p.seq != i.seq && p.client_time >= i.client_time)
        });

        let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
        // A flexible start moves with the arrival, within its window.
        let effective_start = match first_in {
            Some(i) => i
                .client_time
                .clamp(start, start + minutes(shift.flexible_start_min)),
            None => start,
        };
        let effective_end = effective_start + (end.duration_since(start));
        let in_result = match first_in {
            None => TimeResult::NotSigned,
            Some(i) if i.client_time > effective_start + minutes(shift.serious_late_min) => {
                TimeResult::SeriousLate
            }
            Some(i) if i.client_time > effective_start + minutes(shift.late_grace_min) => {
                TimeResult::Late
            }
            Some(_) => TimeResult::Normal,
        };
        let out_result = match last_out {
            None => TimeResult::NotSigned,
            Some(o) if o.client_time < effective_end - minutes(shift.early_grace_min) => {
                TimeResult::Early
            }
            Some(_) => TimeResult::Normal,
        };
        let time_result = match (first_in, last_out) {
            (None, None) => TimeResult::Absenteeism,
            _ if in_result == TimeResult::NotSigned || out_result == TimeResult::NotSigned => {
                TimeResult::NotSigned
            }
            _ if in_result != TimeResult::Normal => in_result,
            _ => out_result,
        };
        let used: Vec<&PunchRow> = first_in.into_iter().chain(last_out).collect();
        let location_result = if used.is_empty() {
            LocationResult::NotSigned
        } else if used.iter().any(|p| p.verdict.site.is_none()) {
            LocationResult::Outside
        } else {
            LocationResult::Normal
        };
        Some(DailyResult {
            employee: employee.clone(),
            date,
            shift: shift.id.clone(),
            planned_start: start,
            planned_end: end,
            first_in: first_in.map(|p| p.seq),
            last_out: last_out.map(|p| p.seq),
            worked: match (first_in, last_out) {
                (Some(i), Some(o)) => o.client_time.duration_since(i.client_time),
                _ => SignedDuration::ZERO,
            },
            in_result,
            out_result,
            time_result,
            location_result,
            punches: claimed.iter().map(|p| (p.seq, counts(p))).collect(),
        })
    }
}

fn midpoint(a: Timestamp, b: Timestamp) -> Timestamp {
    a + b.duration_since(a) / 2
}

/// Whether a punch counts towards attendance.
pub fn counts(p: &PunchRow) -> bool {
    match p.verdict.decision {
        Decision::Accepted => true,
        Decision::Review => p.review.as_ref().is_some_and(|r| r.approved),
        Decision::Rejected => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeResult {
    Normal,
    Early,
    Late,
    SeriousLate,
    Absenteeism,
    NotSigned,
}

impl TimeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeResult::Normal => "Normal",
            TimeResult::Early => "Early",
            TimeResult::Late => "Late",
            TimeResult::SeriousLate => "SeriousLate",
            TimeResult::Absenteeism => "Absenteeism",
            TimeResult::NotSigned => "NotSigned",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocationResult {
    Normal,
    Outside,
    NotSigned,
}

impl LocationResult {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationResult::Normal => "Normal",
            LocationResult::Outside => "Outside",
            LocationResult::NotSigned => "NotSigned",
        }
    }
}

/// One employee's scheduled day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyResult {
    pub employee: EmployeeId,
    pub date: Date,
    pub shift: String,
    pub planned_start: Timestamp,
    pub planned_end: Timestamp,
    /// The punch (store seq) that opened the day, and the one that closed it.
    pub first_in: Option<i64>,
    pub last_out: Option<i64>,
    pub worked: SignedDuration,
    pub in_result: TimeResult,
    pub out_result: TimeResult,
    pub time_result: TimeResult,
    pub location_result: LocationResult,
    /// Every punch the day claims, with whether it counted.
    pub punches: Vec<(i64, bool)>,
}

/// One employee's results over a range of days (a month's summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Days with a shift.
    pub scheduled_days: u32,
    /// Days with at least one punch that counted.
    pub worked_days: u32,
    /// Days the clock-in was Late or SeriousLate, and the minutes after the
    /// planned start in all.
    pub late_days: u32,
    pub late_minutes: i64,
    /// Days the clock-out was Early, and the minutes before the planned end.
    pub early_leave_days: u32,
    pub early_leave_minutes: i64,
    /// Days without any counted punch (Absenteeism).
    pub absent_days: u32,
    /// Days worked but with the clock-in or the clock-out missing.
    pub not_signed_days: u32,
    pub worked_minutes: i64,
}

/// Sums `results`; `time_of` gives a punch's (client) time by its seq.
pub fn summarise(results: &[DailyResult], time_of: impl Fn(i64) -> Option<Timestamp>) -> Summary {
    let mut sum = Summary::default();
    for r in results {
        sum.scheduled_days += 1;
        if r.time_result == TimeResult::Absenteeism {
            sum.absent_days += 1;
            continue;
        }
        sum.worked_days += 1;
        sum.worked_minutes += r.worked.as_mins();
        if matches!(r.in_result, TimeResult::Late | TimeResult::SeriousLate) {
            sum.late_days += 1;
            if let Some(t) = r.first_in.and_then(&time_of) {
                sum.late_minutes += (t - r.planned_start).as_mins().max(0);
            }
        }
        if r.out_result == TimeResult::Early {
            sum.early_leave_days += 1;
            if let Some(t) = r.last_out.and_then(&time_of) {
                sum.early_leave_minutes += (r.planned_end - t).as_mins().max(0);
            }
        }
        if r.in_result == TimeResult::NotSigned || r.out_result == TimeResult::NotSigned {
            sum.not_signed_days += 1;
        }
    }
    sum
}

/// The local dates `from..=to`, if the range is the right way round and at
/// most [`MAX_DAYS`] long.
pub fn dates(from: Date, to: Date) -> Result<Vec<Date>, ScheduleError> {
    if to < from {
        return Err(bad("to", "is before from"));
    }
    let days = from
        .until((jiff::Unit::Day, to))
        .map(|s| s.get_days())
        .unwrap_or(i32::MAX);
    if i64::from(days) >= MAX_DAYS {
        return Err(bad("to", format!("at most {MAX_DAYS} days from `from`")));
    }
    Ok(from
        .series(jiff::Span::new().days(1))
        .take_while(|d| *d <= to)
        .collect())
}

/// The instants spanning every claim of `dates` (to fetch punches once).
pub fn claim_span(
    schedule: &CheckedSchedule,
    employee: &EmployeeId,
    dates: &[Date],
) -> Option<(Timestamp, Timestamp)> {
    let spans: Vec<_> = dates
        .iter()
        .filter_map(|d| schedule.claim(employee, *d))
        .collect();
    Some((
        spans.iter().map(|s| s.0).min()?,
        spans.iter().map(|s| s.1).max()?,
    ))
}

/// Days with a result, per employee, in date order.
pub type Results = BTreeMap<EmployeeId, Vec<DailyResult>>;

/// The local date of `at` in the schedule's time zone.
pub fn local_date(schedule: &CheckedSchedule, at: Timestamp) -> Date {
    schedule.tz.to_datetime(at).date()
}

#[cfg(test)]
mod tests;
