//! What HR systems take: recorded punches, daily results, the review of
//! flagged punches, and the live feed of punches as they are recorded.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::sync::mpsc;

use super::{Actor, App, AppError, Result, audit};
use crate::attendance::{self, CheckedSchedule};
use crate::auth::Role;
use crate::engine::fence::FenceGeometry;
use crate::engine::{
    Decision, EmployeeId, FindingCode, LocationMethod, Punch, PunchId, PunchKind, SiteId, Verdict,
};
use crate::reports::{self, EmployeeDays};
use crate::store::{PunchQuery, PunchRow, Review, ReviewOutcome, StoredEvidence};

/// Attendance is HR's business.
pub const ROLE: Role = Role::Hr;
/// Longest reason a reviewer may give, bytes.
pub const MAX_REASON_LEN: usize = 1000;
/// Most employees one daily-results call may name.
pub const MAX_EMPLOYEES: usize = 1000;

/// Events a live feed reads from the store at a time.
const FEED_BATCH: usize = 256;
/// Events buffered per feed: a slow reader waits here, alone.
const FEED_BUFFER: usize = 64;
/// How often an idle feed looks for punches recorded by other processes.
const FEED_POLL: Duration = Duration::from_secs(1);

/// A page of the organisation's punches received in `query`'s range.
pub async fn punches(app: &App, actor: &Actor, query: PunchQuery) -> Result<Vec<PunchRow>> {
    actor.require(ROLE)?;
    let range = format!("{}..{}", query.from, query.to);
    audit::read(app.store.as_ref(), actor, "ListPunches", None, range).await?;
    Ok(app
        .store
        .list_punches(PunchQuery {
            org: actor.org.clone(),
            ..query
        })
        .await?)
}

/// The organisation's schedule, which daily results and roster days need.
pub(super) async fn schedule(app: &App, actor: &Actor) -> Result<CheckedSchedule> {
    reports::schedule(app.store.as_ref(), &actor.org)
        .await?
        .ok_or_else(no_schedule)
}

/// The schedule with its calendar for local dates `from..=to`.
async fn schedule_over(app: &App, actor: &Actor, from: Date, to: Date) -> Result<CheckedSchedule> {
    reports::schedule_for(app.store.as_ref(), &actor.org, from, to)
        .await?
        .ok_or_else(no_schedule)
}

fn no_schedule() -> AppError {
    AppError::FailedPrecondition(
        "the organisation has no schedule: put one with AdminService/PutSchedule".into(),
    )
}

/// Which employees' results to compute.
#[derive(Debug, Clone)]
pub struct DailyQuery {
    pub from: Date,
    pub to: Date,
    /// Empty: everyone with a shift assignment.
    pub employees: Vec<EmployeeId>,
    /// Only employees after this one (the page cursor).
    pub after: Option<EmployeeId>,
    pub limit: usize,
}

/// A page of daily results, employee by employee.
pub struct DailyPage {
    pub days: Vec<EmployeeDays>,
    /// The last employee of the page when more follow.
    pub next: Option<EmployeeId>,
}

pub async fn daily_results(app: &App, actor: &Actor, query: DailyQuery) -> Result<DailyPage> {
    actor.require(ROLE)?;
    let dates = attendance::dates(query.from, query.to)
        .map_err(|e| AppError::invalid(format!("{}_date", e.field), e.description))?;
    if query.employees.len() > MAX_EMPLOYEES {
        return Err(AppError::invalid(
            "employee_ids",
            format!("at most {MAX_EMPLOYEES}"),
        ));
    }
    let schedule = schedule_over(app, actor, query.from, query.to).await?;
    let mut employees = if query.employees.is_empty() {
        schedule.employees()
    } else {
        if let Some(i) = query
            .employees
            .iter()
            .position(|e| !schedule.is_assigned(e))
        {
            return Err(AppError::invalid(
                format!("employee_ids[{i}]"),
                "has no shift assignment or roster day",
            ));
        }
        let mut listed = query.employees;
        listed.sort();
        listed.dedup();
        listed
    };
    if let Some(after) = &query.after {
        employees.retain(|e| e > after);
    }
    let next = (employees.len() > query.limit).then(|| employees[query.limit - 1].clone());
    employees.truncate(query.limit);
    let detail = format!(
        "{}..={}, {} employees",
        query.from,
        query.to,
        employees.len()
    );
    audit::read(app.store.as_ref(), actor, "GetDailyResults", None, detail).await?;
    let mut days = Vec::with_capacity(employees.len());
    for employee in &employees {
        let store = app.store.as_ref();
        days.push(reports::employee_days(store, &actor.org, &schedule, employee, &dates).await?);
    }
    Ok(DailyPage { days, next })
}

/// Punches awaiting review after `after_seq`, oldest first, each with its
/// raw evidence while it is kept.
pub async fn review_queue(
    app: &App,
    actor: &Actor,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<(PunchRow, Option<StoredEvidence>)>> {
    actor.require(ROLE)?;
    audit::read(app.store.as_ref(), actor, "ListReviewQueue", None, "").await?;
    let rows = app.store.review_queue(&actor.org, after_seq, limit).await?;
    with_evidence(app, actor, rows).await
}

/// Each of `rows` with its raw evidence while it is kept.
async fn with_evidence(
    app: &App,
    actor: &Actor,
    rows: Vec<PunchRow>,
) -> Result<Vec<(PunchRow, Option<StoredEvidence>)>> {
    let mut evidence: std::collections::HashMap<i64, StoredEvidence> = app
        .store
        .punch_evidence(&actor.org, rows.iter().map(|r| r.seq).collect())
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let kept = evidence.remove(&r.seq);
            (r, kept)
        })
        .collect())
}

/// Which punches awaiting review a reviewer wants to see.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    /// The site the punch was placed at, or nearest to.
    pub site: Option<SiteId>,
    pub finding: Option<FindingCode>,
    /// The punch's own day (its client time) in the organisation's zone.
    pub date: Option<Date>,
}

impl ReviewFilter {
    /// The filter as the audit log records it.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(site) = &self.site {
            parts.push(format!("site {site}"));
        }
        if let Some(code) = self.finding {
            parts.push(format!("finding {}", code.as_str()));
        }
        if let Some(date) = self.date {
            parts.push(format!("date {date}"));
        }
        parts.join(", ")
    }

    fn admits(&self, row: &PunchRow, tz: &TimeZone) -> bool {
        let v = &row.verdict;
        self.site
            .as_ref()
            .is_none_or(|s| v.site.as_ref().or(v.nearest_site.as_ref()) == Some(s))
            && self
                .finding
                .is_none_or(|code| v.findings.iter().any(|f| f.code == code))
            && self
                .date
                .is_none_or(|d| tz.to_datetime(row.client_time).date() == d)
    }
}

/// Most of the queue one filtered listing scans: a queue longer than this
/// is an incident, not a morning's work, and shows its newest part.
const MAX_QUEUE_SCAN: usize = 20_000;

/// Punches awaiting review that `filter` admits, newest first, at most
/// `limit`, each with its raw evidence while it is kept, and how many the
/// filter admits in all.
pub async fn pending_reviews(
    app: &App,
    actor: &Actor,
    filter: &ReviewFilter,
    limit: usize,
) -> Result<(Vec<(PunchRow, Option<StoredEvidence>)>, usize)> {
    actor.require(ROLE)?;
    audit::read(
        app.store.as_ref(),
        actor,
        "ListReviewQueue",
        None,
        filter.describe(),
    )
    .await?;
    let tz = zone(app, actor).await?;
    let mut admitted = Vec::new();
    let mut after = 0;
    let mut scanned = 0;
    while scanned < MAX_QUEUE_SCAN {
        let page = app.store.review_queue(&actor.org, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        scanned += page.len();
        admitted.extend(page.into_iter().filter(|r| filter.admits(r, &tz)));
    }
    let total = admitted.len();
    admitted.reverse();
    admitted.truncate(limit);
    Ok((with_evidence(app, actor, admitted).await?, total))
}

/// The organisation's time zone: its schedule's, UTC without one.
pub async fn zone(app: &App, actor: &Actor) -> Result<TimeZone> {
    Ok(reports::schedule(app.store.as_ref(), &actor.org)
        .await?
        .map(|s| s.tz.clone())
        .unwrap_or(TimeZone::UTC))
}

/// The fences of `site` as punches are judged now: what a reviewer's map
/// draws around a flagged punch.
pub fn site_fences(app: &App, actor: &Actor, site: &SiteId) -> Result<Vec<FenceGeometry>> {
    actor.require(ROLE)?;
    let snapshot = app.snapshots.get(&actor.org);
    Ok(snapshot.fences_of(site).cloned().collect())
}

/// `employee`'s punches on their local `date` (client time), in order.
pub async fn employee_day(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    date: Date,
) -> Result<Vec<PunchRow>> {
    actor.require(ROLE)?;
    let tz = zone(app, actor).await?;
    let (from, to) = reports::local_span(&tz, date, date)
        .ok_or_else(|| AppError::invalid("date", "out of range"))?;
    audit::read(
        app.store.as_ref(),
        actor,
        "ListEmployeePunches",
        Some(employee),
        date.to_string(),
    )
    .await?;
    Ok(app
        .store
        .employee_punches(&actor.org, employee, from, to)
        .await?)
}

/// A punch HR records for an employee who forgot one.
#[derive(Debug, Clone)]
pub struct Correction {
    pub employee: EmployeeId,
    pub punch_id: PunchId,
    /// In or out.
    pub kind: PunchKind,
    /// When the employee should have punched.
    pub at: Timestamp,
    /// Where they were; `None` for no site (field staff).
    pub site: Option<SiteId>,
    pub reason: String,
}

/// Records HR's correction: an accepted punch placed by no evidence
/// ([`LocationMethod::Correction`]), with the caller's approving review
/// carrying the reason, and its audit entry, in one transaction. It counts
/// in daily results like any accepted punch.
pub async fn correct(app: &App, actor: &Actor, correction: Correction) -> Result<PunchRow> {
    actor.require(ROLE)?;
    let reason = correction.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON_LEN {
        return Err(AppError::invalid(
            "reason",
            format!("required, at most {MAX_REASON_LEN} bytes"),
        ));
    }
    if correction.kind == PunchKind::Auto {
        return Err(AppError::invalid("kind", "a correction is an in or an out"));
    }
    let now = Timestamp::now();
    if correction.at > now {
        return Err(AppError::invalid(
            "time",
            "a correction is not in the future",
        ));
    }
    let snapshot = app.snapshots.get(&actor.org);
    if let Some(site) = &correction.site
        && snapshot.site_position(site).is_none()
    {
        return Err(AppError::invalid(
            "site_id",
            format!("no site {site} in the organisation"),
        ));
    }
    let punch = Punch::without_evidence(
        actor.org.clone(),
        correction.employee.clone(),
        correction.punch_id.clone(),
        correction.kind,
        correction.at,
        now,
    );
    let verdict = Verdict {
        decision: Decision::Accepted,
        findings: Vec::new(),
        site: correction.site.clone(),
        method: LocationMethod::Correction,
        distance_m: None,
        nearest_site: correction.site,
        cheat_matches: Vec::new(),
        wifi_bssids: Vec::new(),
        assurance: Default::default(),
    };
    let review = Review {
        approved: true,
        reason: reason.to_owned(),
        reviewer: actor.id.clone(),
        at: now,
    };
    let detail = format!(
        "punch {} ({}) at {}: {reason}",
        punch.punch_id,
        punch.kind.as_str(),
        punch.client_time
    );
    let entry = audit::entry(actor, "RecordCorrection", Some(&punch.employee), detail);
    // Serialised with the employee's own punches, here and across replicas.
    let _serialised = app.employee_locks.lock(&actor.org, &punch.employee).await;
    let _leased = app
        .store
        .lease_employee(&actor.org, &punch.employee)
        .await?;
    let row = app
        .store
        .record_correction(&punch, &verdict, review, entry)
        .await?
        .ok_or_else(|| {
            AppError::AlreadyExists(format!(
                "the employee already has a punch {}; a correction needs an id of its own",
                punch.punch_id
            ))
        })?;
    app.feed.send_replace(row.seq);
    Ok(row)
}

/// HR's decision on a punch awaiting review: recorded once, never overwritten.
pub async fn review(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
    punch_id: &PunchId,
    approve: bool,
    reason: &str,
) -> Result<PunchRow> {
    actor.require(ROLE)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON_LEN {
        return Err(AppError::invalid(
            "reason",
            format!("required, at most {MAX_REASON_LEN} bytes"),
        ));
    }
    let review = Review {
        approved: approve,
        reason: reason.to_owned(),
        reviewer: actor.id.clone(),
        at: Timestamp::now(),
    };
    // The entry says which punch and why, as the review itself does.
    let verb = if approve { "approved" } else { "rejected" };
    let detail = format!("punch {punch_id} {verb}: {}", review.reason);
    let entry = audit::entry(actor, "ReviewPunch", Some(employee), detail);
    match app
        .store
        .review_punch(&actor.org, employee, punch_id, review, entry)
        .await?
    {
        ReviewOutcome::Reviewed(row) => Ok(*row),
        ReviewOutcome::NotFound => Err(AppError::NotFound(
            "no such punch of that employee in the organisation".into(),
        )),
        ReviewOutcome::NotAwaitingReview(decision) => Err(AppError::FailedPrecondition(format!(
            "the punch was {}, not flagged for review",
            decision.as_str()
        ))),
        ReviewOutcome::AlreadyDecided(first) => Err(AppError::AlreadyExists(format!(
            "already {} by {} at {}; a review is never overwritten",
            if first.approved {
                "approved"
            } else {
                "rejected"
            },
            first.reviewer,
            first.at
        ))),
    }
}

/// Follows the organisation's punches in commit order from after `cursor`
/// (`None`: from now). The feed ends when the reader goes away; when the
/// server shuts down it ends with [`AppError::ShuttingDown`], and the reader
/// resumes elsewhere with the seq of the last punch it saw.
pub async fn watch(
    app: &App,
    actor: &Actor,
    cursor: Option<i64>,
) -> Result<mpsc::Receiver<Result<PunchRow>>> {
    actor.require(ROLE)?;
    let mut after = match cursor {
        Some(seq) => seq,
        // From now: everything recorded so far is behind the cursor.
        None => app.store.latest_seq(&actor.org).await?,
    };
    let detail = format!("after {after}");
    audit::read(app.store.as_ref(), actor, "WatchPunches", None, detail).await?;
    let (tx, rx) = mpsc::channel(FEED_BUFFER);
    let mut recorded = app.feed.subscribe();
    let (app, org) = (app.clone(), actor.org.clone());
    tokio::spawn(async move {
        loop {
            let batch = match app.store.punches_after(&org, after, FEED_BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            let caught_up = batch.len() < FEED_BATCH;
            for row in batch {
                after = row.seq;
                // The reader's pace: waits here, never on the hot path.
                tokio::select! {
                    sent = tx.send(Ok(row)) => if sent.is_err() { return },
                    _ = app.closing.cancelled() => return,
                }
            }
            if caught_up {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = app.closing.cancelled() => {
                        let _ = tx.send(Err(AppError::ShuttingDown)).await;
                        return;
                    }
                    _ = recorded.changed() => {}
                    _ = tokio::time::sleep(FEED_POLL) => {}
                }
            }
        }
    });
    Ok(rx)
}
