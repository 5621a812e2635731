//! `punchguard export`: daily results or punches as CSV or JSON lines,
//! streamed row by row. The columns (the same names as JSON keys):
//!
//! daily: `employee_id, date, shift_id, planned_start, planned_end,
//! first_in_punch_id, first_in_time, last_out_punch_id, last_out_time,
//! worked_minutes, time_result, in_result, out_result, location_result,
//! punches, counted_punches, planned_start_local, planned_end_local,
//! first_in_local_time, last_out_local_time, holiday, leave_id, leave_type,
//! rostered` (a day off has no shift and no planned times; its results
//! say Rest or Holiday)
//!
//! punches: `employee_id, punch_id, kind, client_time, received_time,
//! decision, site_id, method, distance_m, distance_bucket, finding_codes,
//! review, evidence_kept, client_local_time, received_local_time`
//!
//! summary (one row per employee over the range; a month's summary with
//! `--from` the 1st and `--to` the last day): `employee_id, from, to,
//! scheduled_days, worked_days, late_days, late_minutes, early_leave_days,
//! early_leave_minutes, absent_days, not_signed_days, worked_minutes,
//! worked_hours, leave_days, holiday_days, rest_days`
//!
//! Times are RFC 3339: UTC, and each again in the organisation's time zone
//! (the schedule's, with its offset) in a `_local` column at the end, so
//! that older readers of the columns by position are not disturbed. Empty
//! cells (null in JSON) mean "none". `finding_codes` is `;`-separated;
//! `review` is `approved`, `rejected` or empty. A CSV export always has its
//! header, even with no rows.

use std::io::Write;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::attendance::DailyResult;
use crate::store::PunchRow;

use super::EmployeeDays;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Debug, Serialize)]
pub struct DailyLine<'a> {
    employee_id: &'a str,
    date: String,
    shift_id: &'a str,
    planned_start: Option<String>,
    planned_end: Option<String>,
    first_in_punch_id: Option<&'a str>,
    first_in_time: Option<String>,
    last_out_punch_id: Option<&'a str>,
    last_out_time: Option<String>,
    worked_minutes: i64,
    time_result: &'static str,
    in_result: &'static str,
    out_result: &'static str,
    location_result: &'static str,
    punches: usize,
    counted_punches: usize,
    planned_start_local: Option<String>,
    planned_end_local: Option<String>,
    first_in_local_time: Option<String>,
    last_out_local_time: Option<String>,
    holiday: Option<&'a str>,
    leave_id: Option<&'a str>,
    leave_type: Option<&'a str>,
    rostered: bool,
}

/// A line of an export, and its columns in order.
pub trait Line: Serialize {
    const COLUMNS: &'static [&'static str];
}

impl Line for DailyLine<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "employee_id",
        "date",
        "shift_id",
        "planned_start",
        "planned_end",
        "first_in_punch_id",
        "first_in_time",
        "last_out_punch_id",
        "last_out_time",
        "worked_minutes",
        "time_result",
        "in_result",
        "out_result",
        "location_result",
        "punches",
        "counted_punches",
        "planned_start_local",
        "planned_end_local",
        "first_in_local_time",
        "last_out_local_time",
        "holiday",
        "leave_id",
        "leave_type",
        "rostered",
    ];
}

impl Line for PunchLine<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "employee_id",
        "punch_id",
        "kind",
        "client_time",
        "received_time",
        "decision",
        "site_id",
        "method",
        "distance_m",
        "distance_bucket",
        "finding_codes",
        "review",
        "evidence_kept",
        "client_local_time",
        "received_local_time",
    ];
}

impl Line for SummaryLine<'_> {
    const COLUMNS: &'static [&'static str] = &[
        "employee_id",
        "from",
        "to",
        "scheduled_days",
        "worked_days",
        "late_days",
        "late_minutes",
        "early_leave_days",
        "early_leave_minutes",
        "absent_days",
        "not_signed_days",
        "worked_minutes",
        "worked_hours",
        "leave_days",
        "holiday_days",
        "rest_days",
    ];
}

/// One employee's results over `from..=to`.
#[derive(Debug, Serialize)]
pub struct SummaryLine<'a> {
    employee_id: &'a str,
    from: String,
    to: String,
    scheduled_days: u32,
    worked_days: u32,
    late_days: u32,
    late_minutes: i64,
    early_leave_days: u32,
    early_leave_minutes: i64,
    absent_days: u32,
    not_signed_days: u32,
    worked_minutes: i64,
    /// Two decimals.
    worked_hours: f64,
    leave_days: u32,
    holiday_days: u32,
    rest_days: u32,
}

impl<'a> SummaryLine<'a> {
    pub fn new(
        employee: &'a crate::engine::EmployeeId,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        days: &EmployeeDays,
    ) -> Self {
        let sum = days.summary();
        SummaryLine {
            employee_id: employee.as_str(),
            from: from.to_string(),
            to: to.to_string(),
            scheduled_days: sum.scheduled_days,
            worked_days: sum.worked_days,
            late_days: sum.late_days,
            late_minutes: sum.late_minutes,
            early_leave_days: sum.early_leave_days,
            early_leave_minutes: sum.early_leave_minutes,
            absent_days: sum.absent_days,
            not_signed_days: sum.not_signed_days,
            worked_minutes: sum.worked_minutes,
            worked_hours: (sum.worked_minutes as f64 / 60.0 * 100.0).round() / 100.0,
            leave_days: sum.leave_days,
            holiday_days: sum.holiday_days,
            rest_days: sum.rest_days,
        }
    }
}

/// `at` in `tz`, RFC 3339 with the zone's offset then.
fn local(tz: &TimeZone, at: Timestamp) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

impl<'a> DailyLine<'a> {
    /// Result `r` of `days`, local times in `tz` (the schedule's zone).
    pub fn new(r: &'a DailyResult, days: &'a EmployeeDays, tz: &TimeZone) -> Self {
        let first_in = r.first_in.and_then(|s| days.punch(s));
        let last_out = r.last_out.and_then(|s| days.punch(s));
        DailyLine {
            employee_id: r.employee.as_str(),
            date: r.date.to_string(),
            shift_id: &r.shift,
            planned_start: r.planned_start.map(|t| t.to_string()),
            planned_end: r.planned_end.map(|t| t.to_string()),
            first_in_punch_id: first_in.map(|p| p.punch_id.as_str()),
            first_in_time: first_in.map(|p| p.client_time.to_string()),
            last_out_punch_id: last_out.map(|p| p.punch_id.as_str()),
            last_out_time: last_out.map(|p| p.client_time.to_string()),
            worked_minutes: r.worked.as_mins(),
            time_result: r.time_result.as_str(),
            in_result: r.in_result.as_str(),
            out_result: r.out_result.as_str(),
            location_result: r.location_result.as_str(),
            punches: r.punches.len(),
            counted_punches: r.punches.iter().filter(|(_, counted)| *counted).count(),
            planned_start_local: r.planned_start.map(|t| local(tz, t)),
            planned_end_local: r.planned_end.map(|t| local(tz, t)),
            first_in_local_time: first_in.map(|p| local(tz, p.client_time)),
            last_out_local_time: last_out.map(|p| local(tz, p.client_time)),
            holiday: r.holiday.as_deref(),
            leave_id: r.leave.as_ref().map(|l| l.id.as_str()),
            leave_type: r.leave.as_ref().map(|l| l.kind.as_str()),
            rostered: r.rostered,
        }
    }
}

#[derive(Serialize)]
pub struct PunchLine<'a> {
    employee_id: &'a str,
    punch_id: &'a str,
    kind: &'static str,
    client_time: String,
    received_time: String,
    decision: &'static str,
    site_id: Option<&'a str>,
    method: &'static str,
    distance_m: Option<f64>,
    distance_bucket: Option<&'static str>,
    finding_codes: String,
    review: Option<&'static str>,
    evidence_kept: bool,
    client_local_time: String,
    received_local_time: String,
}

impl<'a> PunchLine<'a> {
    /// Punch `p`, local times in `tz` (the organisation's zone).
    pub fn new(p: &'a PunchRow, tz: &TimeZone) -> Self {
        PunchLine {
            employee_id: p.employee.as_str(),
            punch_id: p.punch_id.as_str(),
            kind: p.kind.as_str(),
            client_time: p.client_time.to_string(),
            received_time: p.received_at.to_string(),
            decision: p.verdict.decision.as_str(),
            site_id: p.verdict.site.as_ref().map(|s| s.as_str()),
            method: p.verdict.method.as_str(),
            distance_m: p.verdict.distance_m,
            distance_bucket: p.distance_bucket.map(|b| b.as_str()),
            finding_codes: p
                .verdict
                .findings
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            review: p
                .review
                .as_ref()
                .map(|r| if r.approved { "approved" } else { "rejected" }),
            evidence_kept: p.evidence_kept,
            client_local_time: local(tz, p.client_time),
            received_local_time: local(tz, p.received_at),
        }
    }
}

/// Writes rows one at a time in the chosen format.
pub enum RowWriter<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> RowWriter<W> {
    /// A writer of `L` lines; a CSV starts with its header at once, so
    /// that an export with no rows still says what its columns are.
    pub fn new<L: Line>(format: Format, out: W) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                csv.write_record(L::COLUMNS)?;
                RowWriter::Csv(Box::new(csv))
            }
            Format::Jsonl => RowWriter::Jsonl(out),
        })
    }

    pub fn write<L: Line>(&mut self, row: &L) -> anyhow::Result<()> {
        match self {
            RowWriter::Csv(w) => w.serialize(row)?,
            RowWriter::Jsonl(w) => {
                serde_json::to_writer(&mut *w, row)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Flushes what is written and gives the output back.
    pub fn finish(self) -> anyhow::Result<W> {
        Ok(match self {
            RowWriter::Csv(w) => w.into_inner().map_err(|e| e.into_error())?,
            RowWriter::Jsonl(mut w) => {
                w.flush()?;
                w
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attendance::{LocationResult, TimeResult};
    use crate::engine::history::History;
    use crate::engine::{self, EmployeeId, OrgId, OrgSnapshot, Punch, PunchId};

    /// The header a serialiser writes from the fields, in their order.
    fn serialised_header<L: Line>(line: &L) -> String {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.serialize(line).unwrap();
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        text.lines().next().unwrap().to_owned()
    }

    #[test]
    fn the_declared_columns_are_the_fields_in_order() {
        let org = OrgId::new("o").unwrap();
        let employee = EmployeeId::new("e").unwrap();
        let at: Timestamp = "2026-12-07T07:05:00Z".parse().unwrap();
        let punch = Punch::gps_only(
            org.clone(),
            employee.clone(),
            PunchId::new("p").unwrap(),
            at,
            (26.9, 60.4),
            5.0,
        );
        let verdict = engine::evaluate(&OrgSnapshot::empty(org), &punch, &History::default());
        let row = PunchRow::fresh(1, &punch, &verdict);
        let tz = TimeZone::get("Europe/Helsinki").unwrap();
        let line = PunchLine::new(&row, &tz);
        assert_eq!(serialised_header(&line), PunchLine::COLUMNS.join(","));
        assert_eq!(line.client_local_time, "2026-12-07T09:05:00+02:00");

        let days = EmployeeDays {
            results: vec![DailyResult {
                employee,
                date: at.to_zoned_datetime(tz.clone()).date(),
                shift: "day".into(),
                planned_start: Some(at),
                planned_end: Some(at),
                first_in: Some(1),
                last_out: None,
                worked: jiff::SignedDuration::ZERO,
                in_result: TimeResult::Normal,
                out_result: TimeResult::NotSigned,
                time_result: TimeResult::NotSigned,
                location_result: LocationResult::Normal,
                late: jiff::SignedDuration::ZERO,
                early: jiff::SignedDuration::ZERO,
                holiday: None,
                leave: None,
                rostered: false,
                punches: vec![(1, true)],
            }],
            punches: vec![row],
        };
        let line = DailyLine::new(&days.results[0], &days, &tz);
        assert_eq!(serialised_header(&line), DailyLine::COLUMNS.join(","));
        assert_eq!(
            line.first_in_local_time.as_deref(),
            Some("2026-12-07T09:05:00+02:00")
        );
        let date = days.results[0].date;
        let line = SummaryLine::new(&days.results[0].employee, date, date, &days);
        assert_eq!(serialised_header(&line), SummaryLine::COLUMNS.join(","));
        assert_eq!((line.scheduled_days, line.not_signed_days), (1, 1));
    }

    #[test]
    fn an_empty_csv_export_has_its_header() {
        let writer = RowWriter::new::<DailyLine>(Format::Csv, Vec::new()).unwrap();
        let out = String::from_utf8(writer.finish().unwrap()).unwrap();
        assert_eq!(out.trim_end(), DailyLine::COLUMNS.join(","));
        let writer = RowWriter::new::<PunchLine>(Format::Jsonl, Vec::new()).unwrap();
        assert!(writer.finish().unwrap().is_empty());
    }
}
