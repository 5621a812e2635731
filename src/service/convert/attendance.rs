//! Schedules, daily results and reviews: proto ↔ domain.

use std::collections::HashMap;

use jiff::civil::{Date, Time, Weekday};

use super::{punch_row_to_pb, timestamp_to_pb};
use crate::app::AppError;
use crate::attendance::{Assignment, DailyResult, LocationResult, Schedule, Shift, TimeResult};
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
        .map(|(i, a)| {
            let field = |name: &str| format!("schedule.assignments[{i}].{name}");
            Ok(Assignment {
                employee: EmployeeId::new(a.employee_id)
                    .map_err(|e| AppError::invalid(field("employee_id"), e))?,
                weekdays: a
                    .weekdays
                    .iter()
                    .enumerate()
                    .map(|(j, d)| weekday_from_pb(&format!("{}[{j}]", field("weekdays")), *d))
                    .collect::<Result<_, _>>()?,
                shift: a.shift_id,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(Schedule {
        time_zone: s.time_zone,
        shifts,
        assignments,
    })
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
        planned_start: Some(timestamp_to_pb(r.planned_start)),
        planned_end: Some(timestamp_to_pb(r.planned_end)),
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
