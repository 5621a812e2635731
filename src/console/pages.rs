//! Signing in and out, and the pages of HR (the review queue, the day
//! view), of admins (devices) and of privacy officers (the audit log).
//! Each handler converts the form or query, calls one use case, and
//! renders what it answered.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use minijinja::Value;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::{
    Console, SignedIn, app_problem, csrf_refusal, field, optional_field, problem_page, who,
};
use crate::app::attendance::{DailyQuery, ReviewFilter};
use crate::app::{self, AppError, audit};
use crate::attendance::{DailyResult, TimeResult};
use crate::auth::{Role, TokenHash};
use crate::engine::{
    Decision, DeviceId, EmployeeId, FindingCode, LocationMethod, PunchId, PunchKind, SiteId,
};
use crate::reports::EmployeeDays;
use crate::reports::export::{DailyLine, Format, RowWriter};
use crate::store::{PunchRow, StoredEvidence};

/// Punches listed in the review queue's column.
const QUEUE_PAGE: usize = 200;
/// Audit entries on one page.
const AUDIT_PAGE: usize = 200;

/// Where each role starts.
pub async fn home(signed: Result<SignedIn, super::NotSignedIn>) -> Redirect {
    match signed.ok().map(|s| s.actor.role) {
        None => Redirect::to("/sign-in"),
        Some(Role::Hr) => Redirect::to("/review"),
        Some(Role::Admin) => Redirect::to("/sites"),
        Some(Role::Privacy) => Redirect::to("/audit"),
        // A device token never gets a session.
        Some(Role::Device) => Redirect::to("/sign-in"),
    }
}

pub async fn sign_in_form(State(console): State<Arc<Console>>) -> Response {
    console.render("sign_in.html", minijinja::context! {})
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// Exchanges a token for a session. The session id is always new (a
/// cookie the browser brought, perhaps planted, is dropped and forgotten),
/// and the token itself never goes back to the browser.
pub async fn sign_in(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let hash = TokenHash::of(form.token.trim());
    let refused = |message: &str| {
        let mut page = console.render("sign_in.html", minijinja::context! { message });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        page
    };
    let actor = match app::auth::identify(&console.app, &hash, console.client_certificates).await {
        Ok(actor) if actor.role == Role::Device => {
            return refused("a device token cannot sign in to the console");
        }
        Ok(actor) => actor,
        Err(AppError::Unauthenticated(why)) => return refused(why),
        Err(e) => return app_problem(&console, e),
    };
    if let Some(old) = console.session_cookie(&headers) {
        console.sessions.close(&old);
    }
    if let Err(e) = audit::read(
        console.app.store.as_ref(),
        &actor,
        "ConsoleSignIn",
        None,
        "",
    )
    .await
    {
        return app_problem(&console, e);
    }
    let (id, _) = console.sessions.open(hash);
    (
        [(header::SET_COOKIE, console.set_cookie(Some(&id)))],
        Redirect::to("/"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn sign_out(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = csrf_refusal(&console, &signed, &form.csrf) {
        return refused;
    }
    console.sessions.close(&signed.session_id);
    (
        [(header::SET_COOKIE, console.set_cookie(None))],
        Redirect::to("/sign-in"),
    )
        .into_response()
}

/// The review queue's filters, as the query string carries them.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct QueueFilter {
    #[serde(default)]
    site: String,
    #[serde(default)]
    finding: String,
    #[serde(default)]
    date: String,
}

impl QueueFilter {
    fn parse(&self) -> Result<ReviewFilter, AppError> {
        let site = optional_field(&self.site, "site", SiteId::new)?;
        let finding = non_empty(&self.finding)
            .map(|f| {
                FindingCode::parse(f)
                    .ok_or_else(|| AppError::invalid("finding", "not a finding code"))
            })
            .transpose()?;
        let date = non_empty(&self.date)
            .map(|d| parse_date(d, "date"))
            .transpose()?;
        Ok(ReviewFilter {
            site,
            finding,
            date,
        })
    }

    /// The filter as a query string, to come back to after a decision.
    fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

fn parse_date(text: &str, field: &str) -> Result<Date, AppError> {
    text.parse()
        .map_err(|_| AppError::invalid(field, "must be a date, YYYY-MM-DD"))
}

#[derive(Deserialize)]
pub struct QueueQuery {
    #[serde(flatten)]
    filter: QueueFilter,
    /// The punch shown (its seq); the newest when absent.
    punch: Option<i64>,
}

/// One punch of a list, as a page shows it.
#[derive(Serialize)]
struct PunchView {
    seq: i64,
    employee: String,
    punch_id: String,
    kind: &'static str,
    time: String,
    /// The decision, and "correction" for a punch HR recorded.
    decision: String,
    /// Where it was placed, in words ("site hq", "no site; nearest hq").
    place: String,
    distance: String,
    findings: Vec<FindingView>,
    review: Option<String>,
}

#[derive(Serialize)]
struct FindingView {
    code: &'static str,
    message: String,
}

impl PunchView {
    fn new(row: &PunchRow, tz: &TimeZone) -> Self {
        let v = &row.verdict;
        PunchView {
            seq: row.seq,
            employee: row.employee.as_str().to_owned(),
            punch_id: row.punch_id.as_str().to_owned(),
            kind: row.kind.as_str(),
            time: local_time(tz, row.client_time, "%Y-%m-%d %H:%M:%S"),
            decision: if v.method == LocationMethod::Correction {
                format!("{} (correction)", v.decision.as_str())
            } else {
                v.decision.as_str().to_owned()
            },
            place: crate::reports::html::site_words(v.site.as_ref(), v.nearest_site.as_ref()),
            distance: match (v.distance_m, row.distance_bucket) {
                (Some(d), _) if d > 0.0 => format!("{d:.0} m outside the fence"),
                (Some(_), _) => "inside the fence".into(),
                (None, Some(b)) => format!("distance {}", b.as_str()),
                (None, None) => "no distance".into(),
            },
            findings: v
                .findings
                .iter()
                .map(|f| FindingView {
                    code: f.code.as_str(),
                    message: f.message.clone(),
                })
                .collect(),
            review: row.review.as_ref().map(|r| {
                format!(
                    "{} by {}: {}",
                    if r.approved { "approved" } else { "rejected" },
                    r.reviewer,
                    r.reason
                )
            }),
        }
    }
}

fn local_time(tz: &TimeZone, at: Timestamp, format: &str) -> String {
    tz.to_datetime(at).strftime(format).to_string()
}

/// The fix as the page states it in words.
fn fix_text(evidence: Option<&StoredEvidence>) -> String {
    match evidence {
        Some(StoredEvidence {
            latitude: Some(lat),
            longitude: Some(lon),
            accuracy_m,
            ..
        }) => format!("fix {lat:.6}, {lon:.6} ±{:.0} m", accuracy_m.unwrap_or(0.0)),
        Some(_) => "no GPS fix in the evidence".into(),
        None => "evidence no longer kept (coarsened)".into(),
    }
}

pub async fn review_queue(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<QueueQuery>,
) -> Response {
    match review_page(&console, &signed, &query).await {
        Ok(page) => console.render(
            "review.html",
            minijinja::context! { who => who(&signed), ..Value::from(Serde(page)) },
        ),
        Err(e) => app_problem(&console, e),
    }
}

#[derive(Serialize)]
struct ReviewPage {
    filter: QueueFilter,
    back: String,
    finding_codes: Vec<&'static str>,
    total: usize,
    queue: Vec<PunchView>,
    selected: Option<Selected>,
}

#[derive(Serialize)]
struct Selected {
    punch: PunchView,
    fix: String,
    map: String,
    day: Vec<PunchView>,
    date: String,
    next: Option<i64>,
    previous: Option<i64>,
}

async fn review_page(
    console: &Console,
    signed: &SignedIn,
    query: &QueueQuery,
) -> Result<ReviewPage, AppError> {
    let app = &console.app;
    let actor = &signed.actor;
    let filter = query.filter.parse()?;
    let (queue, total) = app::attendance::pending_reviews(app, actor, &filter, QUEUE_PAGE).await?;
    let tz = app::attendance::zone(app, actor).await?;
    let position = match query.punch {
        Some(seq) => queue.iter().position(|(r, _)| r.seq == seq),
        None => (!queue.is_empty()).then_some(0),
    };
    let selected = match position {
        Some(i) => {
            let (row, evidence) = &queue[i];
            let date = tz.to_datetime(row.client_time).date();
            let day = app::attendance::employee_day(app, actor, &row.employee, date).await?;
            let site = row
                .verdict
                .site
                .as_ref()
                .or(row.verdict.nearest_site.as_ref());
            let fences = match site {
                Some(site) => app::attendance::site_fences(app, actor, site)?,
                None => Vec::new(),
            };
            Some(Selected {
                punch: PunchView::new(row, &tz),
                fix: fix_text(evidence.as_ref()),
                map: crate::reports::html::map(
                    evidence.as_ref(),
                    &fences,
                    site.map_or("", |s| s.as_str()),
                ),
                day: day.iter().map(|r| PunchView::new(r, &tz)).collect(),
                date: date.to_string(),
                next: queue.get(i + 1).map(|(r, _)| r.seq),
                previous: i.checked_sub(1).map(|j| queue[j].0.seq),
            })
        }
        None => None,
    };
    Ok(ReviewPage {
        back: query.filter.query(),
        filter: query.filter.clone(),
        finding_codes: FindingCode::ALL.iter().map(|c| c.as_str()).collect(),
        total,
        queue: queue.iter().map(|(r, _)| PunchView::new(r, &tz)).collect(),
        selected,
    })
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    employee: String,
    punch_id: String,
    /// `approve` or `reject`.
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    filter: QueueFilter,
}

/// Records a decision; the queue opens on the next punch.
pub async fn review(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Form(form): Form<ReviewForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&console, &signed, &form.csrf) {
        return refused;
    }
    let decided = async {
        let approve = match form.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => return Err(AppError::invalid("decision", "approve or reject")),
        };
        let employee = field(&form.employee, "employee", EmployeeId::new)?;
        let punch_id = field(&form.punch_id, "punch_id", PunchId::new)?;
        app::attendance::review(
            &console.app,
            &signed.actor,
            &employee,
            &punch_id,
            approve,
            &form.reason,
        )
        .await
    };
    match decided.await {
        Ok(_) => Redirect::to(&format!("/review?{}", form.filter.query())).into_response(),
        Err(e) => app_problem(&console, e),
    }
}

#[derive(Deserialize)]
pub struct DayQuery {
    #[serde(default)]
    date: String,
    #[serde(default)]
    site: String,
    format: Option<String>,
}

/// One employee's day, with the reasons behind each result.
#[derive(Serialize)]
struct DayRow {
    employee: String,
    shift: String,
    planned: String,
    first_in: String,
    last_out: String,
    worked: String,
    time_result: &'static str,
    location_result: &'static str,
    reasons: Vec<String>,
}

/// The day's results the query asks for: its date (today in the
/// organisation's zone when absent) and, when it names a site, only the
/// employees who punched there that day.
async fn day_results(
    console: &Console,
    signed: &SignedIn,
    query: &DayQuery,
) -> Result<(Date, TimeZone, Vec<EmployeeDays>), AppError> {
    let app = &console.app;
    let tz = app::attendance::zone(app, &signed.actor).await?;
    let date = match non_empty(&query.date) {
        Some(text) => parse_date(text, "date")?,
        None => tz.to_datetime(Timestamp::now()).date(),
    };
    let site = optional_field(&query.site, "site", SiteId::new)?;
    let mut days = Vec::new();
    let mut after = None;
    loop {
        let page = app::attendance::daily_results(
            app,
            &signed.actor,
            DailyQuery {
                from: date,
                to: date,
                employees: Vec::new(),
                after,
                limit: app::attendance::MAX_EMPLOYEES,
            },
        )
        .await?;
        days.extend(page.days);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if let Some(site) = &site {
        days.retain(|d| {
            d.punches
                .iter()
                .any(|p| p.verdict.site.as_ref() == Some(site))
        });
    }
    Ok((date, tz, days))
}

fn day_row(r: &DailyResult, days: &EmployeeDays, tz: &TimeZone) -> DayRow {
    let time_of = |seq: Option<i64>| {
        seq.and_then(|s| days.punch(s))
            .map(|p| local_time(tz, p.client_time, "%H:%M"))
    };
    let planned = |t: Option<Timestamp>| t.map(|t| local_time(tz, t, "%H:%M"));
    let (planned_start, planned_end) = (planned(r.planned_start), planned(r.planned_end));
    let mut reasons = Vec::new();
    if let Some(name) = &r.holiday {
        reasons.push(format!("holiday: {name}"));
    }
    if let Some(leave) = &r.leave {
        let part = if leave.whole_day {
            ""
        } else {
            ", part of the shift"
        };
        reasons.push(format!("leave {} ({}{part})", leave.id, leave.kind));
    }
    if r.rostered {
        reasons.push("roster day (overrides the week)".into());
    }
    match r.in_result {
        TimeResult::Late | TimeResult::SeriousLate => {
            reasons.push(format!("in {} min late", r.late.as_mins()))
        }
        TimeResult::NotSigned => reasons.push("no counted clock-in".into()),
        _ => {}
    }
    match r.out_result {
        TimeResult::Early => reasons.push(format!("out {} min early", r.early.as_mins())),
        TimeResult::NotSigned if r.first_in.is_some() => {
            reasons.push("no counted clock-out".into())
        }
        _ => {}
    }
    if r.time_result == TimeResult::Absenteeism {
        reasons.push("no counted punch in the shift".into());
    }
    // Each correction HR recorded, with its reason.
    for p in r
        .punches
        .iter()
        .filter(|(_, counted)| *counted)
        .filter_map(|(seq, _)| days.punch(*seq))
        .filter(|p| p.verdict.method == LocationMethod::Correction)
    {
        let reason = p.review.as_ref().map_or("", |r| r.reason.as_str());
        reasons.push(format!("punch {} is HR's correction: {reason}", p.punch_id));
    }
    // Each punch that did not count, and why: the decision or the review.
    for p in r
        .punches
        .iter()
        .filter(|(_, counted)| !counted)
        .filter_map(|(seq, _)| days.punch(*seq))
    {
        let why = match &p.review {
            Some(review) if review.approved => "approved".to_owned(),
            Some(review) => format!("rejected on review: {}", review.reason),
            None if p.verdict.decision == Decision::Review => "awaiting review".to_owned(),
            None => p.verdict.decision.as_str().to_owned(),
        };
        reasons.push(format!("punch {} not counted: {why}", p.punch_id));
    }
    DayRow {
        employee: r.employee.as_str().to_owned(),
        shift: r.shift.clone(),
        planned: match (planned_start, planned_end) {
            (Some(start), Some(end)) => format!("{start}–{end}"),
            _ => "day off".into(),
        },
        first_in: time_of(r.first_in).unwrap_or_else(|| "—".into()),
        last_out: time_of(r.last_out).unwrap_or_else(|| "—".into()),
        worked: format!("{} min", r.worked.as_mins()),
        time_result: r.time_result.as_str(),
        location_result: r.location_result.as_str(),
        reasons,
    }
}

pub async fn day(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<DayQuery>,
) -> Response {
    let (date, tz, days) = match day_results(&console, &signed, &query).await {
        Ok(found) => found,
        Err(e) => return app_problem(&console, e),
    };
    let rows: Vec<DayRow> = days
        .iter()
        .flat_map(|d| d.results.iter().map(|r| day_row(r, d, &tz)))
        .collect();
    console.render(
        "day.html",
        minijinja::context! {
            who => who(&signed),
            date => date.to_string(),
            site => query.site.trim(),
            zone => tz.iana_name().unwrap_or("UTC"),
            rows => Value::from(Serde(rows)),
        },
    )
}

/// The day's results as CSV or JSON lines: the CLI's exporter, columns and all.
pub async fn day_export(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<DayQuery>,
) -> Response {
    let format = match query.format.as_deref() {
        Some("jsonl") => Format::Jsonl,
        Some("csv") | None => Format::Csv,
        Some(_) => {
            return app_problem(&console, AppError::invalid("format", "csv or jsonl"));
        }
    };
    let (date, tz, days) = match day_results(&console, &signed, &query).await {
        Ok(found) => found,
        Err(e) => return app_problem(&console, e),
    };
    let written = RowWriter::new::<DailyLine>(format, Vec::new()).and_then(|mut writer| {
        days.iter()
            .flat_map(|d| d.results.iter().map(|r| DailyLine::new(r, d, &tz)))
            .try_for_each(|line| writer.write(&line))?;
        writer.finish()
    });
    let body = match written {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "console export failed");
            return problem_page(&console, StatusCode::INTERNAL_SERVER_ERROR, "export failed");
        }
    };
    let (kind, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/jsonl", "jsonl"),
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"daily-{date}.{extension}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    csrf: String,
    employee: String,
    /// `in` or `out`.
    kind: String,
    /// Local wall time in the organisation's zone, `YYYY-MM-DDTHH:MM`.
    time: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    reason: String,
}

/// Records HR's correction (a forgotten punch) from the day view's form;
/// the day view of its date opens again.
pub async fn record_correction(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Form(form): Form<CorrectionForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&console, &signed, &form.csrf) {
        return refused;
    }
    let recorded = async {
        let tz = app::attendance::zone(&console.app, &signed.actor).await?;
        let local: jiff::civil::DateTime =
            form.time.trim().parse().map_err(|_| {
                AppError::invalid("time", "a local date and time, YYYY-MM-DDTHH:MM")
            })?;
        let at = tz
            .to_timestamp(local)
            .map_err(|_| AppError::invalid("time", "not a time in the organisation's zone"))?;
        let kind = match form.kind.as_str() {
            "in" => PunchKind::In,
            "out" => PunchKind::Out,
            _ => return Err(AppError::invalid("kind", "in or out")),
        };
        let employee = field(&form.employee, "employee", EmployeeId::new)?;
        // The id says what it is and when it was made.
        let punch_id = PunchId::new(format!(
            "correction-{}-{}",
            kind.as_str(),
            Timestamp::now().as_microsecond()
        ))
        .map_err(|e| AppError::Internal(format!("a correction id: {e}")))?;
        let correction = app::attendance::Correction {
            employee,
            punch_id,
            kind,
            at,
            site: optional_field(&form.site, "site", SiteId::new)?,
            reason: form.reason.clone(),
        };
        app::attendance::correct(&console.app, &signed.actor, correction).await?;
        Ok(local.date())
    };
    match recorded.await {
        Ok(date) => Redirect::to(&format!("/day?date={date}")).into_response(),
        Err(e) => app_problem(&console, e),
    }
}

#[derive(Deserialize)]
pub struct EmployeeQuery {
    #[serde(default)]
    employee: String,
}

#[derive(Serialize)]
struct DeviceView {
    device: String,
    bound: String,
    enrolled: Option<String>,
    findings: Vec<&'static str>,
    revocable: bool,
}

pub async fn devices(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<EmployeeQuery>,
) -> Response {
    let listed = async {
        match optional_field(&query.employee, "employee", EmployeeId::new)? {
            Some(employee) => app::devices::list(&console.app, &signed.actor, &employee).await,
            None => Ok(Vec::new()),
        }
    };
    let listed = match listed.await {
        Ok(listed) => listed,
        Err(e) => return app_problem(&console, e),
    };
    let devices: Vec<DeviceView> = listed
        .iter()
        .map(|d| DeviceView {
            device: d.device.as_str().to_owned(),
            bound: match &d.binding {
                Some(b) => match b.revoked_at {
                    Some(at) => format!("bound {}, revoked {at}", b.bound_at),
                    None => format!("bound {}", b.bound_at),
                },
                None => "not bound".into(),
            },
            enrolled: d.enrolled.as_ref().map(|(e, _)| {
                format!(
                    "{:?} key, {:?}, enrolled {}",
                    e.facts.platform, e.facts.security_level, e.enrolled_at
                )
            }),
            findings: d
                .enrolled
                .iter()
                .flat_map(|(_, codes)| codes.iter().map(|c| c.as_str()))
                .collect(),
            revocable: d.binding.as_ref().is_some_and(|b| b.revoked_at.is_none()),
        })
        .collect();
    console.render(
        "devices.html",
        minijinja::context! {
            who => who(&signed),
            employee => query.employee.trim(),
            devices => Value::from(Serde(devices)),
        },
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    employee: String,
    device: String,
}

pub async fn revoke_device(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&console, &signed, &form.csrf) {
        return refused;
    }
    let revoked = async {
        let employee = field(&form.employee, "employee", EmployeeId::new)?;
        let device = field(&form.device, "device", DeviceId::new)?;
        app::devices::revoke(&console.app, &signed.actor, &employee, &device).await
    };
    match revoked.await {
        Ok(_) => Redirect::to(&format!(
            "/devices?{}",
            serde_urlencoded::to_string([("employee", &form.employee)]).unwrap_or_default()
        ))
        .into_response(),
        Err(e) => app_problem(&console, e),
    }
}

#[derive(Serialize)]
struct AuditView {
    id: i64,
    at: String,
    actor: String,
    role: &'static str,
    action: String,
    employee: Option<String>,
    detail: String,
}

pub async fn audit(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<EmployeeQuery>,
) -> Response {
    let read = async {
        let employee = optional_field(&query.employee, "employee", EmployeeId::new)?;
        app::privacy::audit_log(&console.app, &signed.actor, employee, 0, AUDIT_PAGE).await
    };
    let records = match read.await {
        Ok(records) => records,
        Err(e) => return app_problem(&console, e),
    };
    let entries: Vec<AuditView> = records
        .iter()
        .map(|r| AuditView {
            id: r.id,
            at: r.entry.at.to_string(),
            actor: r.entry.actor.clone(),
            role: r.entry.role.as_str(),
            action: r.entry.action.clone(),
            employee: r.entry.employee.as_ref().map(|e| e.as_str().to_owned()),
            detail: r.entry.detail.clone(),
        })
        .collect();
    console.render(
        "audit.html",
        minijinja::context! {
            who => who(&signed),
            employee => query.employee.trim(),
            entries => Value::from(Serde(entries)),
        },
    )
}
