//! `punchguard.v1.AttendanceService`: recorded punches, daily results, the
//! review of flagged punches and the live feed, for HR systems.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use jiff::Timestamp;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, audit, auth, convert};
use crate::attendance::{self, CheckedSchedule};
use crate::auth::Role;
use crate::engine::{EmployeeId, OrgId, PunchId};
use crate::proto::v1::{self as pb, attendance_service_server::AttendanceService};
use crate::reports;
use crate::store::{PunchCursor, PunchQuery, Review, ReviewOutcome};

/// Events a live feed reads from the store at a time.
const FEED_BATCH: usize = 256;
/// Events buffered per feed: a slow reader waits here, alone.
const FEED_BUFFER: usize = 64;
/// How often an idle feed looks for punches recorded by other processes.
const FEED_POLL: Duration = Duration::from_secs(1);

type PunchStream = Pin<Box<dyn Stream<Item = Result<pb::PunchEvent, Status>> + Send>>;

pub struct AttendanceApi(pub App);

impl AttendanceApi {
    async fn list(
        &self,
        request: Request<pb::ListPunchesRequest>,
    ) -> Result<pb::ListPunchesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Hr).await?;
        let org = caller.org.clone();
        let request = request.into_inner();
        let (from, to) = convert::time_range(request.from, request.to)?;
        audit::record(app, &caller, "ListPunches", None, format!("{from}..{to}")).await?;
        let limit = convert::page_size(request.page_size);
        let mut rows = app
            .store
            .list_punches(PunchQuery {
                org,
                from,
                to,
                after: convert::decode_punch_cursor(&request.page_token)?,
                limit: limit + 1,
            })
            .await?;
        let next_page_token = convert::paginate(&mut rows, limit, |r| {
            convert::encode_punch_cursor(PunchCursor {
                received_at: r.received_at,
                seq: r.seq,
            })
        });
        Ok(pb::ListPunchesResponse {
            punches: rows.iter().map(convert::punch_row_to_pb).collect(),
            next_page_token,
        })
    }
}

impl AttendanceApi {
    async fn schedule(&self, org: &OrgId) -> Result<CheckedSchedule, ApiError> {
        reports::schedule(self.0.store.as_ref(), org)
            .await?
            .ok_or_else(|| {
                ApiError::FailedPrecondition(
                    "the organisation has no schedule: put one with AdminService/PutSchedule"
                        .into(),
                )
            })
    }

    async fn daily_results(
        &self,
        request: Request<pb::GetDailyResultsRequest>,
    ) -> Result<pb::GetDailyResultsResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Hr).await?;
        let request = request.into_inner();
        let from = convert::date("from_date", &request.from_date)?;
        let to = convert::date("to_date", &request.to_date)?;
        let dates = attendance::dates(from, to)
            .map_err(|e| ApiError::invalid(format!("{}_date", e.field), e.description))?;
        if request.employee_ids.len() > 1000 {
            return Err(ApiError::invalid("employee_ids", "at most 1000"));
        }
        let schedule = self.schedule(&caller.org).await?;
        let mut employees = match request.employee_ids.is_empty() {
            true => schedule.employees(),
            false => {
                let mut listed = request
                    .employee_ids
                    .into_iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let field = format!("employee_ids[{i}]");
                        let employee =
                            EmployeeId::new(id).map_err(|e| ApiError::invalid(&field, e))?;
                        if !schedule.is_assigned(&employee) {
                            return Err(ApiError::invalid(field, "has no shift assignment"));
                        }
                        Ok(employee)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                listed.sort();
                listed.dedup();
                listed
            }
        };
        if !request.page_token.is_empty() {
            let after = EmployeeId::new(request.page_token)
                .map_err(|_| ApiError::invalid("page_token", "not a token this server issued"))?;
            employees.retain(|e| *e > after);
        }
        let limit = convert::page_size(request.page_size);
        let next_page_token = match employees.len() > limit {
            true => employees[limit - 1].as_str().to_owned(),
            false => String::new(),
        };
        employees.truncate(limit);
        audit::record(
            app,
            &caller,
            "GetDailyResults",
            None,
            format!("{from}..={to}, {} employees", employees.len()),
        )
        .await?;
        let mut results = Vec::new();
        for employee in &employees {
            let days = reports::employee_days(
                app.store.as_ref(),
                &caller.org,
                &schedule,
                employee,
                &dates,
            )
            .await?;
            let by_seq: HashMap<i64, _> = days.punches.iter().map(|p| (p.seq, p)).collect();
            results.extend(
                days.results
                    .iter()
                    .map(|r| convert::daily_result_to_pb(r, &by_seq)),
            );
        }
        Ok(pb::GetDailyResultsResponse {
            results,
            next_page_token,
        })
    }

    async fn review_queue(
        &self,
        request: Request<pb::ListReviewQueueRequest>,
    ) -> Result<pb::ListReviewQueueResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Hr).await?;
        let request = request.into_inner();
        let after = seq_cursor("page_token", &request.page_token)?.unwrap_or(0);
        let limit = convert::page_size(request.page_size);
        audit::record(app, &caller, "ListReviewQueue", None, "").await?;
        let mut rows = app
            .store
            .review_queue(&caller.org, after, limit + 1)
            .await?;
        let next_page_token = convert::paginate(&mut rows, limit, |r| r.seq.to_string());
        let evidence: HashMap<i64, _> = app
            .store
            .punch_evidence(&caller.org, rows.iter().map(|r| r.seq).collect())
            .await?
            .into_iter()
            .collect();
        Ok(pb::ListReviewQueueResponse {
            punches: rows
                .iter()
                .map(|r| pb::PunchRecord {
                    evidence: evidence.get(&r.seq).map(convert::evidence_to_pb),
                    ..convert::punch_row_to_pb(r)
                })
                .collect(),
            next_page_token,
        })
    }

    async fn review(
        &self,
        request: Request<pb::ReviewPunchRequest>,
    ) -> Result<pb::PunchRecord, ApiError> {
        let app = &self.0;
        let caller = auth::authorize(app, &request, Role::Hr).await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let punch_id =
            PunchId::new(request.punch_id).map_err(|e| ApiError::invalid("punch_id", e))?;
        let reason = request.reason.trim();
        if reason.is_empty() || reason.len() > convert::MAX_REASON_LEN {
            return Err(ApiError::invalid(
                "reason",
                format!("required, at most {} bytes", convert::MAX_REASON_LEN),
            ));
        }
        let review = Review {
            approved: request.approve,
            reason: reason.to_owned(),
            reviewer: caller.token_id.clone(),
            at: Timestamp::now(),
        };
        let row = match app
            .store
            .review_punch(&caller.org, &employee, &punch_id, review)
            .await?
        {
            ReviewOutcome::Reviewed(row) => *row,
            ReviewOutcome::NotFound => {
                return Err(ApiError::NotFound(
                    "no such punch of that employee in the organisation".into(),
                ));
            }
            ReviewOutcome::NotAwaitingReview(decision) => {
                return Err(ApiError::FailedPrecondition(format!(
                    "the punch was {}, not flagged for review",
                    decision.as_str()
                )));
            }
            ReviewOutcome::AlreadyDecided(first) => {
                return Err(ApiError::AlreadyExists(format!(
                    "already {} by {} at {}; a review is never overwritten",
                    if first.approved {
                        "approved"
                    } else {
                        "rejected"
                    },
                    first.reviewer,
                    first.at
                )));
            }
        };
        let verb = if request.approve {
            "approved"
        } else {
            "rejected"
        };
        audit::record(app, &caller, "ReviewPunch", Some(&employee), verb).await?;
        Ok(convert::punch_row_to_pb(&row))
    }

    async fn watch(
        &self,
        request: Request<pb::WatchPunchesRequest>,
    ) -> Result<PunchStream, ApiError> {
        let app = self.0.clone();
        let caller = auth::authorize(&app, &request, Role::Hr).await?;
        let request = request.into_inner();
        let mut after = match seq_cursor("cursor", &request.cursor)? {
            Some(seq) => seq,
            // From now: everything recorded so far is behind the cursor.
            None => app.store.latest_seq(&caller.org).await?,
        };
        audit::record(
            &app,
            &caller,
            "WatchPunches",
            None,
            format!("after {after}"),
        )
        .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(FEED_BUFFER);
        let mut recorded = app.feed.subscribe();
        tokio::spawn(async move {
            loop {
                let batch = match app
                    .store
                    .punches_after(&caller.org, after, FEED_BATCH)
                    .await
                {
                    Ok(batch) => batch,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(ApiError::from(e)))).await;
                        return;
                    }
                };
                let caught_up = batch.len() < FEED_BATCH;
                for row in batch {
                    after = row.seq;
                    let event = pb::PunchEvent {
                        punch: Some(convert::punch_row_to_pb(&row)),
                        cursor: row.seq.to_string(),
                    };
                    // The reader's pace: waits here, never on the hot path.
                    tokio::select! {
                        sent = tx.send(Ok(event)) => if sent.is_err() { return },
                        _ = app.closing.cancelled() => return,
                    }
                }
                if caught_up {
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = app.closing.cancelled() => {
                            let bye = Status::unavailable("server shutting down; resume with your cursor");
                            let _ = tx.send(Err(bye)).await;
                            return;
                        }
                        _ = recorded.changed() => {}
                        _ = tokio::time::sleep(FEED_POLL) => {}
                    }
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

/// A cursor that is a punch seq: empty is `None`.
fn seq_cursor(field: &str, token: &str) -> Result<Option<i64>, ApiError> {
    match token {
        "" => Ok(None),
        token => token
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, "not a cursor this server issued")),
    }
}

#[tonic::async_trait]
impl AttendanceService for AttendanceApi {
    type WatchPunchesStream = PunchStream;

    async fn get_daily_results(
        &self,
        request: Request<pb::GetDailyResultsRequest>,
    ) -> Result<Response<pb::GetDailyResultsResponse>, Status> {
        respond("GetDailyResults", self.daily_results(request).await)
    }

    async fn list_review_queue(
        &self,
        request: Request<pb::ListReviewQueueRequest>,
    ) -> Result<Response<pb::ListReviewQueueResponse>, Status> {
        respond("ListReviewQueue", self.review_queue(request).await)
    }

    async fn review_punch(
        &self,
        request: Request<pb::ReviewPunchRequest>,
    ) -> Result<Response<pb::PunchRecord>, Status> {
        respond("ReviewPunch", self.review(request).await)
    }

    async fn watch_punches(
        &self,
        request: Request<pb::WatchPunchesRequest>,
    ) -> Result<Response<Self::WatchPunchesStream>, Status> {
        respond("WatchPunches", self.watch(request).await)
    }

    async fn list_punches(
        &self,
        request: Request<pb::ListPunchesRequest>,
    ) -> Result<Response<pb::ListPunchesResponse>, Status> {
        respond("ListPunches", self.list(request).await)
    }
}
