//! `punchguard export`: daily results or punches as CSV or JSON lines,
//! streamed row by row. The columns (the same names as JSON keys):
//!
//! daily: `employee_id, date, shift_id, planned_start, planned_end,
//! first_in_punch_id, first_in_time, last_out_punch_id, last_out_time,
//! worked_minutes, time_result, in_result, out_result, location_result,
//! punches, counted_punches`
//!
//! punches: `employee_id, punch_id, kind, client_time, received_time,
//! decision, site_id, method, distance_m, distance_bucket, finding_codes,
//! review, evidence_kept`
//!
//! Times are RFC 3339 UTC; empty cells (null in JSON) mean "none".
//! `finding_codes` is `;`-separated; `review` is `approved`, `rejected` or
//! empty.

use std::io::Write;

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
    planned_start: String,
    planned_end: String,
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
}

impl<'a> DailyLine<'a> {
    pub fn new(r: &'a DailyResult, days: &'a EmployeeDays) -> Self {
        let first_in = r.first_in.and_then(|s| days.punch(s));
        let last_out = r.last_out.and_then(|s| days.punch(s));
        DailyLine {
            employee_id: r.employee.as_str(),
            date: r.date.to_string(),
            shift_id: &r.shift,
            planned_start: r.planned_start.to_string(),
            planned_end: r.planned_end.to_string(),
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
}

impl<'a> PunchLine<'a> {
    pub fn new(p: &'a PunchRow) -> Self {
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
        }
    }
}

/// Writes rows one at a time in the chosen format.
pub enum RowWriter<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

impl<W: Write> RowWriter<W> {
    pub fn new(format: Format, out: W) -> Self {
        match format {
            Format::Csv => RowWriter::Csv(Box::new(csv::Writer::from_writer(out))),
            Format::Jsonl => RowWriter::Jsonl(out),
        }
    }

    pub fn write<T: Serialize>(&mut self, row: &T) -> anyhow::Result<()> {
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
