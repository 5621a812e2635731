//! Schedules, daily results and reviews: proto ↔ domain.

use std::collections::HashMap;

use jiff::civil::{Date, Time, Weekday};

use super::{punch_row_to_pb, timestamp_to_pb};
use crate::app::AppError;
use crate::app::calendar::{RosterChange, RosterPlan};
use crate::attendance::{
    Assignment, CalendarEntry, DailyResult, Holiday, Leave, LocationResult, Schedule, Shift,
    TimeResult,
};
use crate::engine::EmployeeId;
use crate::proto::v1 as pb;
use crate::store::{PunchRow, StoredEvidence};

fn hhmm(field: &str, text: &str) -> Result<Time, AppError> {
    Time::strptime("%H:%M", text).map_err(|_| AppError::invalid(field, "must be HH:MM"))
}

fn weekday_from_pb(field: &str, value: i32) -> Result<Weekday, AppError> {
    use pb::Weekday as W;
    Ok(match W::try_from(value) {
        Ok(W::Monday) => Weekday::Monday,
        Ok(W::Tuesday) => Weekday::Tuesday,
        Ok(W::Wednesday) => Weekday::Wednesday,
        Ok(W::Thursday) => Weekday::Thursday,
        Ok(W::Friday) => Weekday::Friday,
        Ok(W::Saturday) => Weekday::Saturday,
        Ok(W::Sunday) => Weekday::Sunday,
        Ok(W::Unspecified) | Err(_) => {
            return Err(AppError::invalid(field, "must be a weekday"));
        }
    })
}

fn weekday_to_pb(day: Weekday) -> pb::Weekday {
    use pb::Weekday as W;
    match day {
        Weekday::Monday => W::Monday,
        Weekday::Tuesday => W::Tuesday,
        Weekday::Wednesday => W::Wednesday,
        Weekday::Thursday => W::Thursday,
        Weekday::Friday => W::Friday,
        Weekday::Saturday => W::Saturday,
        Weekday::Sunday => W::Sunday,
    }
}

/// The admin's schedule, field by field; `Schedule::check` does the rest.
pub fn schedule_from_pb(s: Option<pb::Schedule>) -> Result<Schedule, AppError> {
    let s = s.ok_or_else(|| AppError::invalid("schedule", "required"))?;
    // Bounds first, so that no huge list is converted before it is refused.
    if s.shifts.len() > crate::attendance::MAX_SHIFTS
        || s.assignments.len() > crate::attendance::MAX_ASSIGNMENTS
    {
        return Err(AppError::invalid(
            "schedule",
            "at most 1000 shifts and 100,000 assignments",
        ));
    }
    let shifts = s
        .shifts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let field = |name: &str| format!("schedule.shifts[{i}].{name}");
            Ok(Shift {
                start: hhmm(&field("start"), &d.start)?,
                end: hhmm(&field("end"), &d.end)?,
                id: d.shift_id,
                late_grace_min: d.late_grace_min,
                early_grace_min: d.early_grace_min,
                serious_late_min: d.serious_late_min,
                flexible_start_min: d.flexible_start_min,
            })
        })
        .collect::<Result<_, AppError>>()?;
    let assignments = s
        .assignments
        .into_iter()
        .enumerate()
        .map(|(i, a)| assignment_from_pb(&format!("schedule.assignments[{i}]"), a, None))
        .collect::<Result<_, AppError>>()?;
    Ok(Schedule {
        time_zone: s.time_zone,
        shifts,
        assignments,
    })
}

/// An assignment at `path`; an empty employee id is `employee`'s when
/// given (PutEmployeeShifts).
pub fn assignment_from_pb(
    path: &str,
    a: pb::ShiftAssignment,
    employee: Option<&EmployeeId>,
) -> Result<Assignment, AppError> {
    let field = |name: &str| format!("{path}.{name}");
    let employee = match (a.employee_id.as_str(), employee) {
        ("", Some(employee)) => employee.clone(),
        _ => EmployeeId::new(a.employee_id)
            .map_err(|e| AppError::invalid(field("employee_id"), e))?,
    };
    Ok(Assignment {
        employee,
        weekdays: a
            .weekdays
            .iter()
            .enumerate()
            .map(|(j, d)| weekday_from_pb(&format!("{}[{j}]", field("weekdays")), *d))
            .collect::<Result<_, _>>()?,
        shift: a.shift_id,
    })
}

pub fn holiday_from_pb(path: &str, h: pb::Holiday) -> Result<Holiday, AppError> {
    Ok(Holiday {
        date: date(&format!("{path}.date"), &h.date)?,
        name: h.name,
    })
}

pub fn roster_day_from_pb(path: &str, d: pb::RosterDay) -> Result<RosterChange, AppError> {
    let field = |name: &str| format!("{path}.{name}");
    let plan = match pb::RosterPlan::try_from(d.plan) {
        Ok(pb::RosterPlan::Shift) if d.shift_id.is_empty() => {
            return Err(AppError::invalid(
                field("shift_id"),
                "required for ROSTER_PLAN_SHIFT",
            ));
        }
        Ok(pb::RosterPlan::Shift) => RosterPlan::Shift(d.shift_id),
        _ if !d.shift_id.is_empty() => {
            return Err(AppError::invalid(
                field("shift_id"),
                "only with ROSTER_PLAN_SHIFT",
            ));
        }
        Ok(pb::RosterPlan::Rest) => RosterPlan::Rest,
        Ok(pb::RosterPlan::Weekly) => RosterPlan::Weekly,
        _ => {
            return Err(AppError::invalid(
                field("plan"),
                "required: ROSTER_PLAN_SHIFT, ROSTER_PLAN_REST or ROSTER_PLAN_WEEKLY",
            ));
        }
    };
    Ok(RosterChange {
        employee: EmployeeId::new(d.employee_id)
            .map_err(|e| AppError::invalid(field("employee_id"), e))?,
        date: date(&field("date"), &d.date)?,
        plan,
    })
}

pub fn leave_from_pb(path: &str, l: pb::LeavePeriod) -> Result<Leave, AppError> {
    let field = |name: &str| format!("{path}.{name}");
    Ok(Leave {
        employee: EmployeeId::new(l.employee_id)
            .map_err(|e| AppError::invalid(field("employee_id"), e))?,
        id: l.leave_id,
        kind: l.leave_type,
        start: super::timestamp(&field("start_time"), l.start_time)?,
        end: super::timestamp(&field("end_time"), l.end_time)?,
    })
}

pub fn calendar_to_pb(entries: &[CalendarEntry]) -> pb::Calendar {
    let mut calendar = pb::Calendar::default();
    for entry in entries {
        match entry {
            CalendarEntry::Holiday(h) => calendar.holidays.push(pb::Holiday {
                date: h.date.to_string(),
                name: h.name.clone(),
            }),
            CalendarEntry::Roster(r) => calendar.roster_days.push(pb::RosterDay {
                employee_id: r.employee.as_str().to_owned(),
                date: r.date.to_string(),
                plan: match r.shift {
                    Some(_) => pb::RosterPlan::Shift,
                    None => pb::RosterPlan::Rest,
                }
                .into(),
                shift_id: r.shift.clone().unwrap_or_default(),
            }),
            CalendarEntry::Leave(l) => calendar.leave.push(pb::LeavePeriod {
                leave_id: l.id.clone(),
                employee_id: l.employee.as_str().to_owned(),
                leave_type: l.kind.clone(),
                start_time: Some(timestamp_to_pb(l.start)),
                end_time: Some(timestamp_to_pb(l.end)),
            }),
        }
    }
    calendar
}

pub fn schedule_to_pb(s: &Schedule) -> pb::Schedule {
    let hhmm = |t: Time| t.strftime("%H:%M").to_string();
    pb::Schedule {
        time_zone: s.time_zone.clone(),
        shifts: s
            .shifts
            .iter()
            .map(|d| pb::ShiftDefinition {
                shift_id: d.id.clone(),
                start: hhmm(d.start),
                end: hhmm(d.end),
                late_grace_min: d.late_grace_min,
                early_grace_min: d.early_grace_min,
                serious_late_min: d.serious_late_min,
                flexible_start_min: d.flexible_start_min,
            })
            .collect(),
        assignments: s
            .assignments
            .iter()
            .map(|a| pb::ShiftAssignment {
                employee_id: a.employee.as_str().to_owned(),
                weekdays: a
                    .weekdays
                    .iter()
                    .map(|d| weekday_to_pb(*d).into())
                    .collect(),
                shift_id: a.shift.clone(),
            })
            .collect(),
    }
}

pub fn date(field: &str, text: &str) -> Result<Date, AppError> {
    Date::strptime("%Y-%m-%d", text).map_err(|_| AppError::invalid(field, "must be YYYY-MM-DD"))
}

fn time_result_to_pb(r: TimeResult) -> pb::TimeResult {
    match r {
        TimeResult::Normal => pb::TimeResult::Normal,
        TimeResult::Early => pb::TimeResult::Early,
        TimeResult::Late => pb::TimeResult::Late,
        TimeResult::SeriousLate => pb::TimeResult::SeriousLate,
        TimeResult::Absenteeism => pb::TimeResult::Absenteeism,
        TimeResult::NotSigned => pb::TimeResult::NotSigned,
        TimeResult::Rest => pb::TimeResult::Rest,
        TimeResult::Holiday => pb::TimeResult::Holiday,
        TimeResult::Leave => pb::TimeResult::Leave,
    }
}

fn location_result_to_pb(r: LocationResult) -> pb::LocationResult {
    match r {
        LocationResult::Normal => pb::LocationResult::Normal,
        LocationResult::Outside => pb::LocationResult::Outside,
        LocationResult::NotSigned => pb::LocationResult::NotSigned,
    }
}

/// A day's result with the punch records it refers to (`rows` by seq).
pub fn daily_result_to_pb(r: &DailyResult, rows: &HashMap<i64, &PunchRow>) -> pb::DailyResult {
    let punch = |seq: Option<i64>| seq.and_then(|s| rows.get(&s).copied());
    let (first_in, last_out) = (punch(r.first_in), punch(r.last_out));
    pb::DailyResult {
        employee_id: r.employee.as_str().to_owned(),
        date: r.date.to_string(),
        shift_id: r.shift.clone(),
        planned_start: r.planned_start.map(timestamp_to_pb),
        planned_end: r.planned_end.map(timestamp_to_pb),
        first_in_punch_id: first_in
            .map(|p| p.punch_id.as_str().to_owned())
            .unwrap_or_default(),
        first_in_time: first_in.map(|p| timestamp_to_pb(p.client_time)),
        last_out_punch_id: last_out
            .map(|p| p.punch_id.as_str().to_owned())
            .unwrap_or_default(),
        last_out_time: last_out.map(|p| timestamp_to_pb(p.client_time)),
        worked_minutes: r.worked.as_mins(),
        time_result: time_result_to_pb(r.time_result).into(),
        in_result: time_result_to_pb(r.in_result).into(),
        out_result: time_result_to_pb(r.out_result).into(),
        location_result: location_result_to_pb(r.location_result).into(),
        punches: r
            .punches
            .iter()
            .filter_map(|(seq, counted)| {
                rows.get(seq).map(|p| pb::DayPunch {
                    punch: Some(punch_row_to_pb(p)),
                    counted: *counted,
                })
            })
            .collect(),
        late_minutes: r.late.as_mins(),
        early_minutes: r.early.as_mins(),
        holiday_name: r.holiday.clone().unwrap_or_default(),
        leave_id: r.leave.as_ref().map(|l| l.id.clone()).unwrap_or_default(),
        leave_type: r.leave.as_ref().map(|l| l.kind.clone()).unwrap_or_default(),
        rostered: r.rostered,
    }
}

pub fn evidence_to_pb(e: &StoredEvidence) -> pb::PunchEvidence {
    pb::PunchEvidence {
        latitude: e.latitude,
        longitude: e.longitude,
        accuracy_m: e.accuracy_m,
        fix_time: e.fix_time.map(timestamp_to_pb),
        mock_location: e.mock_location,
        speed_mps: e.speed_mps,
        device_id: e
            .device_id
            .as_ref()
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
        rooted: e.rooted,
        emulator: e.emulator,
        integrity: e.integrity.clone().unwrap_or_default(),
    }
}
