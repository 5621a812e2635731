//! Attendance results as HR systems use them: shifts, schedules and the
//! daily result of each scheduled day. Pure: no I/O, no clock; the store
//! provides the punches, the caller the dates.
//!
//! A day's result follows the vocabulary HR systems already know (DingTalk,
//! Feishu): a time result `Normal`, `Early`, `Late`, `SeriousLate`,
//! `Absenteeism` or `NotSigned`, and a location result `Normal`, `Outside`
//! or `NotSigned`. Only ACCEPTED punches and REVIEW punches that HR approved
//! count; the rest are listed beside the result and never count.
//!
//! Beside the weekly schedule a [`Calendar`] says what a date is for one
//! employee, in this order: a roster day (a shift swap, a one-off night, a
//! day off) overrides everything; else an organisation holiday is
//! `Holiday`; else the weekly assignment gives a shift or `Rest`. Leave sent
//! by the HR system turns a shift it covers whole into `Leave`, and excuses
//! the part it covers of one it covers in part (a morning off is not Late).

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

/// A checked schedule, indexed for lookups, with the calendar of the dates
/// it is asked about.
#[derive(Debug, Clone)]
pub struct CheckedSchedule {
    pub schedule: Schedule,
    pub tz: TimeZone,
    shifts: HashMap<String, usize>,
    /// employee → the shift index per weekday (Monday first).
    weeks: HashMap<EmployeeId, [Option<usize>; 7]>,
    calendar: Calendar,
}

/// An organisation's public holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub name: String,
}

/// One employee's plan for one date, overriding the weekly schedule and
/// holidays: a shift (a swap, a one-off night) or, with `None`, rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterDay {
    pub employee: EmployeeId,
    pub date: Date,
    pub shift: Option<String>,
}

/// Leave or another absence as the HR system sends it: its own id and
/// type (annual, sick, business trip, …), over `start..end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    pub id: String,
    pub employee: EmployeeId,
    pub kind: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Longest leave period one entry may cover.
pub const MAX_LEAVE: SignedDuration = SignedDuration::from_hours(24 * 366);
/// Longest name of a holiday or type of leave, bytes.
pub const MAX_CALENDAR_TEXT: usize = 200;

/// One stored calendar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarEntry {
    Holiday(Holiday),
    Roster(RosterDay),
    Leave(Leave),
}

impl CalendarEntry {
    /// What the entry is: `holiday`, `roster` or `leave`.
    pub fn kind(&self) -> &'static str {
        match self {
            CalendarEntry::Holiday(_) => "holiday",
            CalendarEntry::Roster(_) => "roster",
            CalendarEntry::Leave(_) => "leave",
        }
    }

    /// The entry's identity within its organisation: a second entry with
    /// the same key replaces the first.
    pub fn key(&self) -> String {
        match self {
            CalendarEntry::Holiday(h) => format!("holiday/{}", h.date),
            CalendarEntry::Roster(r) => format!("roster/{}/{}", r.employee, r.date),
            CalendarEntry::Leave(l) => format!("leave/{}", l.id),
        }
    }

    /// The person the entry names; `None` for a holiday.
    pub fn employee(&self) -> Option<&EmployeeId> {
        match self {
            CalendarEntry::Holiday(_) => None,
            CalendarEntry::Roster(r) => Some(&r.employee),
            CalendarEntry::Leave(l) => Some(&l.employee),
        }
    }

    /// The first and last local dates the entry can touch in any time zone
    /// (leave is stored as instants: its UTC dates, a day wider each side).
    pub fn days(&self) -> (Date, Date) {
        match self {
            CalendarEntry::Holiday(h) => (h.date, h.date),
            CalendarEntry::Roster(r) => (r.date, r.date),
            CalendarEntry::Leave(l) => {
                let utc = |t: Timestamp| TimeZone::UTC.to_datetime(t).date();
                (
                    utc(l.start).yesterday().unwrap_or(Date::MIN),
                    utc(l.end).tomorrow().unwrap_or(Date::MAX),
                )
            }
        }
    }
}

/// The calendar entries of some dates, indexed for daily results.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: BTreeMap<Date, String>,
    roster: HashMap<EmployeeId, BTreeMap<Date, Option<String>>>,
    /// Each employee's leave, by start.
    leave: HashMap<EmployeeId, Vec<Leave>>,
}

impl Calendar {
    pub fn new(entries: impl IntoIterator<Item = CalendarEntry>) -> Self {
        let mut calendar = Calendar::default();
        for entry in entries {
            match entry {
                CalendarEntry::Holiday(h) => {
                    calendar.holidays.insert(h.date, h.name);
                }
                CalendarEntry::Roster(r) => {
                    let days = calendar.roster.entry(r.employee).or_default();
                    days.insert(r.date, r.shift);
                }
                CalendarEntry::Leave(l) => calendar
                    .leave
                    .entry(l.employee.clone())
                    .or_default()
                    .push(l),
            }
        }
        for periods in calendar.leave.values_mut() {
            periods.sort_by_key(|l| (l.start, l.end));
        }
        calendar
    }

    /// The shifts roster days name, to keep a schedule from dropping them.
    pub fn rostered_shifts(&self) -> impl Iterator<Item = (&EmployeeId, Date, &str)> {
        self.roster.iter().flat_map(|(employee, days)| {
            days.iter()
                .filter_map(move |(date, shift)| Some((employee, *date, shift.as_deref()?)))
        })
    }

    /// How `employee`'s leave meets `start..end`: the first period that
    /// does, whether the periods cover it whole, and how far they excuse
    /// its start (until) and its end (from).
    fn leave_over(
        &self,
        employee: &EmployeeId,
        start: Timestamp,
        end: Timestamp,
    ) -> Option<LeaveOver<'_>> {
        let periods = self.leave.get(employee)?;
        let meeting: Vec<&Leave> = periods
            .iter()
            .filter(|l| l.start < end && l.end > start)
            .collect();
        let first = *meeting.first()?;
        // Merge the periods that meet into covered spans, in start order.
        let mut spans: Vec<(Timestamp, Timestamp)> = Vec::new();
        for l in &meeting {
            match spans.last_mut() {
                Some(last) if l.start <= last.1 => last.1 = last.1.max(l.end),
                _ => spans.push((l.start, l.end)),
            }
        }
        let excused_until = spans
            .iter()
            .find(|s| s.0 <= start && s.1 > start)
            .map(|s| s.1);
        let excused_from = spans.iter().find(|s| s.0 < end && s.1 >= end).map(|s| s.0);
        Some(LeaveOver {
            first,
            whole: excused_until.is_some_and(|until| until >= end),
            excused_until,
            excused_from,
        })
    }
}

struct LeaveOver<'a> {
    first: &'a Leave,
    whole: bool,
    excused_until: Option<Timestamp>,
    excused_from: Option<Timestamp>,
}

/// What a date is for one employee.
#[derive(Debug, Clone, Copy)]
enum Plan<'a> {
    Work(&'a Shift),
    Rest,
    Holiday(&'a str),
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
            calendar: Calendar::default(),
        })
    }
}

impl CheckedSchedule {
    /// The schedule with `calendar` for the dates it will be asked about;
    /// a roster day naming a shift the schedule lacks is an error.
    pub fn with_calendar(mut self, calendar: Calendar) -> Result<Self, ScheduleError> {
        if let Some((employee, date, shift)) = calendar
            .rostered_shifts()
            .find(|(_, _, shift)| !self.shifts.contains_key(*shift))
        {
            return Err(bad(
                "shift_id",
                format!(
                    "{employee}'s roster on {date} names shift {shift}, which the schedule lacks"
                ),
            ));
        }
        self.calendar = calendar;
        Ok(self)
    }

    /// Whether the employee has a weekly assignment or a roster day.
    pub fn is_assigned(&self, employee: &EmployeeId) -> bool {
        self.weeks.contains_key(employee) || self.calendar.roster.contains_key(employee)
    }

    /// Employees with an assignment or a roster day, in id order.
    pub fn employees(&self) -> Vec<EmployeeId> {
        let mut all: Vec<_> = self
            .weeks
            .keys()
            .chain(self.calendar.roster.keys())
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn shift(&self, id: &str) -> Option<&Shift> {
        self.shifts.get(id).map(|&i| &self.schedule.shifts[i])
    }

    /// What `date` is for `employee`: roster day, else holiday, else week.
    fn plan(&self, employee: &EmployeeId, date: Date) -> Plan<'_> {
        if let Some(rostered) = self
            .calendar
            .roster
            .get(employee)
            .and_then(|d| d.get(&date))
        {
            return match rostered.as_deref().and_then(|id| self.shift(id)) {
                Some(shift) => Plan::Work(shift),
                None => Plan::Rest,
            };
        }
        if let Some(name) = self.calendar.holidays.get(&date) {
            return Plan::Holiday(name);
        }
        let slot = self
            .weeks
            .get(employee)
            .and_then(|week| week[date.weekday().to_monday_zero_offset() as usize]);
        match slot {
            Some(slot) => Plan::Work(&self.schedule.shifts[slot]),
            None => Plan::Rest,
        }
    }

    /// The planned instants of `employee`'s shift on `date`, if they work.
    fn planned(&self, employee: &EmployeeId, date: Date) -> Option<(Timestamp, Timestamp)> {
        match self.plan(employee, date) {
            Plan::Work(shift) => shift.on(date, &self.tz),
            Plan::Rest | Plan::Holiday(_) => None,
        }
    }

    /// The span of time whose punches belong to `date`: for a shift, the
    /// shift with a margin each side, split halfway with a neighbouring
    /// shift that is closer; for a day off, the local day less what the
    /// neighbouring shifts claim (a night shift keeps its clock-out).
    pub fn claim(&self, employee: &EmployeeId, date: Date) -> Option<(Timestamp, Timestamp)> {
        if let Some(claim) = self.shift_claim(employee, date) {
            return Some(claim);
        }
        let (mut from, mut to) = local_span(&self.tz, date, date)?;
        if let Some((_, prev)) = date
            .yesterday()
            .ok()
            .and_then(|d| self.shift_claim(employee, d))
        {
            from = from.max(prev);
        }
        if let Some((next, _)) = date
            .tomorrow()
            .ok()
            .and_then(|d| self.shift_claim(employee, d))
        {
            to = to.min(next);
        }
        Some((from, to.max(from)))
    }

    /// The claim of the shift on `date`; `None` on a day off.
    fn shift_claim(&self, employee: &EmployeeId, date: Date) -> Option<(Timestamp, Timestamp)> {
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

    /// The result of `employee`'s `date` from their punches (any superset
    /// of the day's: only those the day claims are used). `None` for an
    /// employee with neither a weekly assignment nor a roster day.
    pub fn daily_result(
        &self,
        employee: &EmployeeId,
        date: Date,
        punches: &[PunchRow],
    ) -> Option<DailyResult> {
        if !self.is_assigned(employee) {
            return None;
        }
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
        let used: Vec<&PunchRow> = first_in.into_iter().chain(last_out).collect();
        let mut day = DailyResult {
            employee: employee.clone(),
            date,
            shift: String::new(),
            planned_start: None,
            planned_end: None,
            first_in: first_in.map(|p| p.seq),
            last_out: last_out.map(|p| p.seq),
            worked: match (first_in, last_out) {
                (Some(i), Some(o)) => o.client_time.duration_since(i.client_time),
                _ => SignedDuration::ZERO,
            },
            in_result: TimeResult::Rest,
            out_result: TimeResult::Rest,
            time_result: TimeResult::Rest,
            location_result: if used.is_empty() {
                LocationResult::NotSigned
            } else if used.iter().any(|p| p.verdict.site.is_none()) {
                LocationResult::Outside
            } else {
                LocationResult::Normal
            },
            late: SignedDuration::ZERO,
            early: SignedDuration::ZERO,
            holiday: None,
            leave: None,
            rostered: self
                .calendar
                .roster
                .get(employee)
                .is_some_and(|d| d.contains_key(&date)),
            punches: claimed.iter().map(|p| (p.seq, counts(p))).collect(),
        };
        let shift = match self.plan(employee, date) {
            Plan::Work(shift) => shift,
            Plan::Rest => return Some(day.off(TimeResult::Rest)),
            Plan::Holiday(name) => {
                day.holiday = Some(name.to_owned());
                return Some(day.off(TimeResult::Holiday));
            }
        };
        let (start, end) = shift.on(date, &self.tz)?;
        day.shift = shift.id.clone();
        day.planned_start = Some(start);
        day.planned_end = Some(end);
        let leave = self.calendar.leave_over(employee, start, end);
        if let Some(leave) = &leave {
            day.leave = Some(DayLeave {
                id: leave.first.id.clone(),
                kind: leave.first.kind.clone(),
                whole_day: leave.whole,
            });
            if leave.whole {
                return Some(day.off(TimeResult::Leave));
            }
        }

        let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
        // A flexible start moves with the arrival, within its window.
        let effective_start = match first_in {
            Some(i) => i
                .client_time
                .clamp(start, start + minutes(shift.flexible_start_min)),
            None => start,
        };
        let effective_end = effective_start + (end.duration_since(start));
        // Leave over the start or the end moves what counts as on time.
        let due_in = leave
            .as_ref()
            .and_then(|l| l.excused_until)
            .map_or(effective_start, |until| until.max(effective_start));
        let due_out = leave
            .as_ref()
            .and_then(|l| l.excused_from)
            .map_or(effective_end, |from| from.min(effective_end));
        day.in_result = match first_in {
            None => TimeResult::NotSigned,
            Some(i) if i.client_time > due_in + minutes(shift.serious_late_min) => {
                TimeResult::SeriousLate
            }
            Some(i) if i.client_time > due_in + minutes(shift.late_grace_min) => TimeResult::Late,
            Some(_) => TimeResult::Normal,
        };
        if matches!(day.in_result, TimeResult::Late | TimeResult::SeriousLate) {
            day.late = first_in.map_or(SignedDuration::ZERO, |i| {
                i.client_time.duration_since(due_in)
            });
        }
        day.out_result = match last_out {
            None => TimeResult::NotSigned,
            Some(o) if o.client_time < due_out - minutes(shift.early_grace_min) => {
                day.early = due_out.duration_since(o.client_time);
                TimeResult::Early
            }
            Some(_) => TimeResult::Normal,
        };
        day.time_result = match (first_in, last_out) {
            (None, None) => TimeResult::Absenteeism,
            _ if day.in_result == TimeResult::NotSigned
                || day.out_result == TimeResult::NotSigned =>
            {
                TimeResult::NotSigned
            }
            _ if day.in_result != TimeResult::Normal => day.in_result,
            _ => day.out_result,
        };
        Some(day)
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
    /// A day off in the employee's week or roster.
    Rest,
    /// An organisation holiday.
    Holiday,
    /// Leave covered the whole shift.
    Leave,
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
            TimeResult::Rest => "Rest",
            TimeResult::Holiday => "Holiday",
            TimeResult::Leave => "Leave",
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

/// One employee's day: a shift's result, or the day off it was.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyResult {
    pub employee: EmployeeId,
    pub date: Date,
    /// The shift worked; empty on a day off (Rest, Holiday).
    pub shift: String,
    /// The shift's planned instants; `None` on a day off.
    pub planned_start: Option<Timestamp>,
    pub planned_end: Option<Timestamp>,
    /// The punch (store seq) that opened the day, and the one that closed it.
    pub first_in: Option<i64>,
    pub last_out: Option<i64>,
    pub worked: SignedDuration,
    /// On a day off or a day of leave, all three say which.
    pub in_result: TimeResult,
    pub out_result: TimeResult,
    pub time_result: TimeResult,
    pub location_result: LocationResult,
    /// How late the clock-in was (Late, SeriousLate), and how early the
    /// clock-out (Early), against the times the day was due.
    pub late: SignedDuration,
    pub early: SignedDuration,
    /// The holiday's name on a Holiday.
    pub holiday: Option<String>,
    /// The leave that met the shift.
    pub leave: Option<DayLeave>,
    /// A roster day decided the plan, not the week or a holiday.
    pub rostered: bool,
    /// Every punch the day claims, with whether it counted.
    pub punches: Vec<(i64, bool)>,
}

impl DailyResult {
    /// The day as a day off (or of leave) of `kind`; punches on it still
    /// count as worked time (work on a rest day is overtime).
    fn off(mut self, kind: TimeResult) -> Self {
        self.in_result = kind;
        self.out_result = kind;
        self.time_result = kind;
        self
    }

    /// Whether the day had a shift to work (Leave days included).
    pub fn is_work_day(&self) -> bool {
        !matches!(self.time_result, TimeResult::Rest | TimeResult::Holiday)
    }
}

/// Leave that met a day's shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayLeave {
    pub id: String,
    pub kind: String,
    /// It covered the whole shift (the day is Leave); otherwise it excused
    /// the part it covered.
    pub whole_day: bool,
}

/// One employee's results over a range of days (a month's summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Days with a shift (days of leave included).
    pub scheduled_days: u32,
    /// Days with a counted clock-in or clock-out (days off included).
    pub worked_days: u32,
    /// Days the clock-in was Late or SeriousLate, and the minutes after it
    /// was due in all.
    pub late_days: u32,
    pub late_minutes: i64,
    /// Days the clock-out was Early, and the minutes before it was due.
    pub early_leave_days: u32,
    pub early_leave_minutes: i64,
    /// Days with a shift and no counted punch (Absenteeism).
    pub absent_days: u32,
    /// Days worked but with the clock-in or the clock-out missing.
    pub not_signed_days: u32,
    /// Days of leave (the whole shift), holidays and rest days.
    pub leave_days: u32,
    pub holiday_days: u32,
    pub rest_days: u32,
    pub worked_minutes: i64,
}

/// Sums `results`.
pub fn summarise(results: &[DailyResult]) -> Summary {
    let mut sum = Summary::default();
    for r in results {
        match r.time_result {
            TimeResult::Rest => sum.rest_days += 1,
            TimeResult::Holiday => sum.holiday_days += 1,
            TimeResult::Leave => sum.leave_days += 1,
            TimeResult::Absenteeism => sum.absent_days += 1,
            _ => {}
        }
        if r.is_work_day() {
            sum.scheduled_days += 1;
        }
        if r.first_in.is_some() || r.last_out.is_some() {
            sum.worked_days += 1;
        }
        sum.worked_minutes += r.worked.as_mins();
        if matches!(r.in_result, TimeResult::Late | TimeResult::SeriousLate) {
            sum.late_days += 1;
            sum.late_minutes += r.late.as_mins();
        }
        if r.out_result == TimeResult::Early {
            sum.early_leave_days += 1;
            sum.early_leave_minutes += r.early.as_mins();
        }
        if r.time_result == TimeResult::NotSigned {
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

/// The instants local dates `from..=to` span in `tz`.
pub fn local_span(tz: &TimeZone, from: Date, to: Date) -> Option<(Timestamp, Timestamp)> {
    let start = tz.to_timestamp(from.to_datetime(Time::midnight())).ok()?;
    let end = tz
        .to_timestamp(to.tomorrow().ok()?.to_datetime(Time::midnight()))
        .ok()?;
    Some((start, end))
}

/// The local date of `at` in the schedule's time zone.
pub fn local_date(schedule: &CheckedSchedule, at: Timestamp) -> Date {
    schedule.tz.to_datetime(at).date()
}

#[cfg(test)]
mod tests;
