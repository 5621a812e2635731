//! `punchguard report`: one self-contained HTML file for reviewers. No
//! scripts, fonts, tiles or images are fetched: every map is inline SVG,
//! drawn in metres around the fix on a local flat projection (exact enough
//! at the scale of a site).

use std::collections::HashMap;
use std::fmt::Write as _;

use geo::{Coord, LineString};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{EmployeeDays, employee_days, local_span, schedule_for};
use crate::attendance::Summary;
use crate::engine::fence::FenceGeometry;
use crate::engine::sites::SiteDefinition;
use crate::engine::{Decision, EmployeeId, OrgId, SiteId};
use crate::store::{Clock, PunchRow, Result, Store, StoredEvidence};

/// A flagged punch with what its map needs.
pub struct FlaggedPunch {
    pub row: PunchRow,
    pub evidence: Option<StoredEvidence>,
    pub site: Option<SiteDefinition>,
}

/// Everything on the report.
pub struct Report {
    pub org: OrgId,
    pub date: Date,
    pub tz: TimeZone,
    pub generated_at: Timestamp,
    pub days: Vec<EmployeeDays>,
    /// Each employee's month so far: the 1st of the month to `date`.
    pub month: Vec<(EmployeeId, Summary)>,
    pub flagged: Vec<FlaggedPunch>,
    pub punches_total: usize,
}

/// Gathers the day's results and flagged punches (local `date`, in the
/// schedule's time zone, UTC without a schedule).
pub async fn gather(store: &dyn Store, org: &OrgId, date: Date) -> Result<Report> {
    let schedule = schedule_for(store, org, date.first_of_month(), date).await?;
    let tz = schedule
        .as_ref()
        .map(|s| s.tz.clone())
        .unwrap_or(TimeZone::UTC);
    let mut days = Vec::new();
    let mut month = Vec::new();
    if let Some(schedule) = &schedule {
        let month_dates: Vec<Date> = date
            .first_of_month()
            .series(jiff::Span::new().days(1))
            .take_while(|d| *d <= date)
            .collect();
        for employee in schedule.employees() {
            // One read for the month so far; the day is its last date.
            let so_far = employee_days(store, org, schedule, &employee, &month_dates).await?;
            month.push((employee, so_far.summary()));
            days.push(EmployeeDays {
                results: so_far
                    .results
                    .into_iter()
                    .filter(|r| r.date == date)
                    .collect(),
                punches: so_far.punches,
            });
        }
    }
    let (from, to) = local_span(&tz, date, date)
        .ok_or_else(|| crate::store::StoreError::Corrupt("date out of range".into()))?;
    // The punch's own day: an offline punch made that day and sent later
    // is on this day's report, not on the day it arrived.
    let rows =
        crate::store::punches_between(store, org, Clock::Punched, from, to, usize::MAX).await?;
    let punches_total = rows.len();
    let flagged_rows: Vec<PunchRow> = rows
        .into_iter()
        .filter(|r| r.verdict.decision != Decision::Accepted)
        .collect();
    let mut evidence: HashMap<i64, StoredEvidence> = store
        .punch_evidence(org, flagged_rows.iter().map(|r| r.seq).collect())
        .await?
        .into_iter()
        .collect();
    let (_, sites) = store.load_sites(org).await?;
    let sites: HashMap<_, _> = sites.into_iter().map(|s| (s.id.clone(), s)).collect();
    let flagged = flagged_rows
        .into_iter()
        .map(|row| {
            let site = row
                .verdict
                .site
                .as_ref()
                .or(row.verdict.nearest_site.as_ref())
                .and_then(|id| sites.get(id).cloned());
            FlaggedPunch {
                evidence: evidence.remove(&row.seq),
                site,
                row,
            }
        })
        .collect();
    Ok(Report {
        org: org.clone(),
        date,
        tz,
        generated_at: Timestamp::now(),
        days,
        month,
        flagged,
        punches_total,
    })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:32px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f2f2f2}.card{display:flex;gap:20px;margin:16px 0;padding:12px;border:1px solid #ddd;border-radius:6px}
.review{color:#a15c00;font-weight:600}.rejected{color:#b00020;font-weight:600}
svg{background:#f7f9fb;border:1px solid #cfd8dc}.muted{color:#777}";

/// The report as one HTML document.
pub fn render(report: &Report) -> String {
    let mut html = String::new();
    let title = format!(
        "punchguard: {} on {}",
        escape(report.org.as_str()),
        report.date
    );
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><h1>{title}</h1>\
         <p class=\"muted\">Local dates in {}. Generated {}. {} punches punched that day (by the phone's clock), {} flagged. \
         This page holds personal data: keep it to the review.</p>",
        escape(report.tz.iana_name().unwrap_or("UTC")),
        local(&report.tz, report.generated_at),
        report.punches_total,
        report.flagged.len()
    );
    html.push_str("<h2>Daily results</h2>");
    if report.days.iter().all(|d| d.results.is_empty()) {
        html.push_str("<p class=\"muted\">No scheduled shifts on this day.</p>");
    } else {
        html.push_str(
            "<table><tr><th>employee</th><th>shift</th><th>planned</th><th>in</th><th>out</th>\
             <th>worked</th><th>time</th><th>location</th><th>punches</th></tr>",
        );
        for days in &report.days {
            for r in &days.results {
                let time_of = |seq: Option<i64>| {
                    seq.and_then(|s| days.punch(s))
                        .map(|p| {
                            report
                                .tz
                                .to_datetime(p.client_time)
                                .strftime("%H:%M")
                                .to_string()
                        })
                        .unwrap_or_else(|| "—".into())
                };
                let hhmm = |t: Option<Timestamp>| {
                    t.map_or_else(
                        || "—".into(),
                        |t| report.tz.to_datetime(t).strftime("%H:%M").to_string(),
                    )
                };
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td>{} min</td>\
                     <td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(r.employee.as_str()),
                    escape(&r.shift),
                    hhmm(r.planned_start),
                    hhmm(r.planned_end),
                    time_of(r.first_in),
                    time_of(r.last_out),
                    r.worked.as_mins(),
                    r.time_result.as_str(),
                    r.location_result.as_str(),
                    r.punches.len()
                );
            }
        }
        html.push_str("</table>");
    }
    if !report.month.is_empty() {
        let _ = write!(
            html,
            "<h2>Month to date ({} to {})</h2><table><tr><th>employee</th><th>scheduled</th>\
             <th>worked</th><th>late (min)</th><th>left early (min)</th><th>absent</th>\
             <th>not signed</th><th>leave</th><th>holidays</th><th>rest</th>\
             <th>worked hours</th></tr>",
            report.date.first_of_month(),
            report.date
        );
        for (employee, m) in &report.month {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
                escape(employee.as_str()),
                m.scheduled_days,
                m.worked_days,
                m.late_days,
                m.late_minutes,
                m.early_leave_days,
                m.early_leave_minutes,
                m.absent_days,
                m.not_signed_days,
                m.leave_days,
                m.holiday_days,
                m.rest_days,
                m.worked_minutes as f64 / 60.0
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Flagged punches</h2>");
    if report.flagged.is_empty() {
        html.push_str("<p class=\"muted\">None.</p>");
    }
    for flagged in &report.flagged {
        html.push_str(&card(flagged, &report.tz));
    }
    html.push_str("</body></html>\n");
    html
}

fn local(tz: &TimeZone, at: Timestamp) -> String {
    tz.to_datetime(at).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn card(f: &FlaggedPunch, tz: &TimeZone) -> String {
    let row = &f.row;
    let v = &row.verdict;
    let class = match v.decision {
        Decision::Rejected => "rejected",
        _ => "review",
    };
    let mut text = format!(
        "<div><div class=\"{class}\">{}</div><div><b>{}</b> · punch {} · {}</div>",
        v.decision.as_str().to_uppercase(),
        escape(row.employee.as_str()),
        escape(row.punch_id.as_str()),
        local(tz, row.client_time)
    );
    let distance = match (v.distance_m, row.distance_bucket) {
        (Some(d), _) => format!("{d:.0} m from the nearest fence"),
        (None, Some(b)) => format!("distance {}", b.as_str()),
        (None, None) => "no fences".into(),
    };
    let place = site_words(v.site.as_ref(), v.nearest_site.as_ref());
    let _ = write!(text, "<div>{} · {distance}</div><ul>", escape(&place));
    for finding in &v.findings {
        let _ = write!(
            text,
            "<li><b>{}</b> {}</li>",
            finding.code.as_str(),
            escape(&finding.message)
        );
    }
    text.push_str("</ul>");
    if let Some(review) = &row.review {
        let _ = write!(
            text,
            "<div>Reviewed: {} ({})</div>",
            if review.approved {
                "approved"
            } else {
                "rejected"
            },
            escape(&review.reason)
        );
    }
    text.push_str("</div>");
    let fences = f.site.as_ref().map(|s| s.fences.as_slice()).unwrap_or(&[]);
    let label = f.site.as_ref().map_or("", |s| s.id.as_str());
    format!(
        "<div class=\"card\">{}{text}</div>",
        map(f.evidence.as_ref(), fences, label)
    )
}

/// Where a punch was placed, in words: at its site, or (placed nowhere)
/// only near the nearest one, which is not where it was.
pub fn site_words(site: Option<&SiteId>, nearest: Option<&SiteId>) -> String {
    match (site, nearest) {
        (Some(site), _) => format!("site {site}"),
        (None, Some(nearest)) => format!("no site; nearest {nearest}"),
        (None, None) => "no site".into(),
    }
}

/// Metres east and north of an origin: flat, fine at site scale.
struct Local {
    lon0: f64,
    lat0: f64,
    cos: f64,
}

const M_PER_DEG: f64 = 111_320.0;

impl Local {
    fn project(&self, c: Coord<f64>) -> (f64, f64) {
        (
            (c.x - self.lon0) * M_PER_DEG * self.cos,
            (c.y - self.lat0) * M_PER_DEG,
        )
    }
}

const MAP_W: f64 = 420.0;
const MAP_H: f64 = 300.0;

/// Fences drawn smaller than this (pixels across) get a ring around them,
/// so that a fence far from the fix is never a speck.
const MIN_FENCE_PX: f64 = 14.0;

/// The SVG map of a punch: the fences involved (labelled `label`, escaped
/// here), the fix with its accuracy circle, both fitted in view at any
/// distance, and a scale bar.
pub fn map(evidence: Option<&StoredEvidence>, fences: &[FenceGeometry], label: &str) -> String {
    let fix = evidence.and_then(|e| {
        Some((
            Coord {
                x: e.longitude?,
                y: e.latitude?,
            },
            e.accuracy_m.unwrap_or(0.0),
        ))
    });
    let origin = fix.map(|(c, _)| c).or_else(|| {
        fences
            .iter()
            .filter_map(|f| f.bounds())
            .next()
            .map(|(lo, hi)| Coord {
                x: (lo[0] + hi[0]) / 2.0,
                y: (lo[1] + hi[1]) / 2.0,
            })
    });
    let Some(origin) = origin else {
        return format!(
            "<svg width=\"{MAP_W}\" height=\"{MAP_H}\" role=\"img\" aria-label=\"no location\"><text x=\"20\" y=\"150\" \
             fill=\"#777\">No location: evidence coarsened and no site.</text></svg>"
        );
    };
    let local = Local {
        lon0: origin.x,
        lat0: origin.y,
        cos: origin.y.to_radians().cos(),
    };
    // Extent in metres of everything drawn.
    let (mut min, mut max) = ((0.0f64, 0.0f64), (0.0f64, 0.0f64));
    let mut grow = |(x, y): (f64, f64), r: f64| {
        min = (min.0.min(x - r), min.1.min(y - r));
        max = (max.0.max(x + r), max.1.max(y + r));
    };
    if let Some((c, accuracy)) = fix {
        grow(local.project(c), accuracy.max(10.0));
    }
    for fence in fences {
        match fence {
            FenceGeometry::Polygon(mp) => {
                for c in mp.0.iter().flat_map(|p| p.exterior().coords()) {
                    grow(local.project(*c), 0.0);
                }
            }
            FenceGeometry::Circle { center, radius_m } => grow(local.project(center.0), *radius_m),
        }
    }
    let span = ((max.0 - min.0) / MAP_W).max((max.1 - min.1) / MAP_H) * 1.15;
    let scale = 1.0 / span.max(0.05); // pixels per metre
    let mid = ((min.0 + max.0) / 2.0, (min.1 + max.1) / 2.0);
    let px = |(x, y): (f64, f64)| {
        (
            MAP_W / 2.0 + (x - mid.0) * scale,
            MAP_H / 2.0 - (y - mid.1) * scale,
        )
    };
    let mut svg = format!(
        "<svg width=\"{MAP_W}\" height=\"{MAP_H}\" viewBox=\"0 0 {MAP_W} {MAP_H}\" role=\"img\" aria-label=\"map of the fix, its accuracy circle and the fences\">"
    );
    let ring = |ls: &LineString<f64>| {
        let mut d = String::new();
        for (i, c) in ls.coords().enumerate() {
            let (x, y) = px(local.project(*c));
            let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
        }
        d.push('Z');
        d
    };
    for fence in fences {
        // A fence too small to see at this scale gets a dashed ring.
        if let Some((lo, hi)) = fence.bounds() {
            let (x0, y0) = px(local.project(Coord { x: lo[0], y: lo[1] }));
            let (x1, y1) = px(local.project(Coord { x: hi[0], y: hi[1] }));
            if (x1 - x0).abs().max((y1 - y0).abs()) < MIN_FENCE_PX {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{MIN_FENCE_PX}\" fill=\"none\" \
                     stroke=\"#2e7d32\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/>",
                    (x0 + x1) / 2.0,
                    (y0 + y1) / 2.0
                );
            }
        }
        match fence {
            FenceGeometry::Polygon(mp) => {
                let d: String =
                    mp.0.iter()
                        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                        .map(ring)
                        .collect();
                let _ = write!(
                    svg,
                    "<path d=\"{d}\" fill=\"#c8e6c9\" fill-rule=\"evenodd\" stroke=\"#2e7d32\" stroke-width=\"1.5\"/>"
                );
            }
            FenceGeometry::Circle { center, radius_m } => {
                let (x, y) = px(local.project(center.0));
                let _ = write!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\" fill=\"#c8e6c9\" stroke=\"#2e7d32\" stroke-width=\"1.5\"/>",
                    radius_m * scale
                );
            }
        }
    }
    // The site's name by its first fence, kept inside the map.
    if let Some((lo, hi)) = fences.iter().find_map(|f| f.bounds())
        && !label.is_empty()
    {
        let (x, y) = px(local.project(Coord { x: hi[0], y: hi[1] }));
        let (x0, _) = px(local.project(Coord { x: lo[0], y: lo[1] }));
        let x = ((x0 + x) / 2.0).clamp(8.0, MAP_W - 120.0);
        let y = (y - MIN_FENCE_PX - 4.0).clamp(14.0, MAP_H - 30.0);
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"12\" fill=\"#1b5e20\">{}</text>",
            escape(label)
        );
    }
    if let Some((c, accuracy)) = fix {
        let (x, y) = px(local.project(c));
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\" fill=\"#1565c0\" fill-opacity=\"0.18\" \
             stroke=\"#1565c0\" stroke-dasharray=\"4 3\"/><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" \
             fill=\"#1565c0\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#0d47a1\">fix ±{accuracy:.0} m</text>",
            accuracy * scale,
            x + 7.0,
            y - 7.0
        );
    }
    // A scale bar of a round length about a quarter of the width.
    let target = MAP_W / 4.0 / scale;
    let magnitude = 10f64.powf(target.log10().floor());
    let bar_m = [1.0, 2.0, 5.0]
        .iter()
        .map(|k| k * magnitude)
        .rfind(|m| *m <= target)
        .unwrap_or(magnitude);
    let bar_px = bar_m * scale;
    let _ = write!(
        svg,
        "<line x1=\"12\" y1=\"{y}\" x2=\"{x2:.1}\" y2=\"{y}\" stroke=\"#333\" stroke-width=\"3\"/>\
         <text x=\"12\" y=\"{ty}\" font-size=\"11\">{bar_m} m</text></svg>",
        y = MAP_H - 14.0,
        x2 = 12.0 + bar_px,
        ty = MAP_H - 20.0
    );
    svg
}
