//! `punchguard.v1.AttendanceService`: recorded punches, daily results, the
//! review of flagged punches and the live feed, for HR systems.

use std::collections::HashMap;
use std::pin::Pin;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::status::respond;
use super::{auth, convert};
use crate::app::attendance::{self, DailyQuery};
use crate::app::calendar;
use crate::app::{App, AppError};
use crate::engine::{EmployeeId, PunchId, PunchKind, SiteId};
use crate::proto::v1::{self as pb, attendance_service_server::AttendanceService};
use crate::store::{Clock, PunchCursor, PunchQuery};

type PunchStream = Pin<Box<dyn Stream<Item = Result<pb::PunchEvent, Status>> + Send>>;

pub struct AttendanceApi(pub App);

impl AttendanceApi {
    async fn list(
        &self,
        request: Request<pb::ListPunchesRequest>,
    ) -> Result<pb::ListPunchesResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let request = request.into_inner();
        let (from, to) = convert::time_range(request.from, request.to)?;
        let limit = convert::page_size(request.page_size);
        let query = PunchQuery {
            org: actor.org.clone(),
            // The contract's range is by receive time.
            clock: Clock::Received,
            from,
            to,
            after: convert::decode_punch_cursor(&request.page_token)?,
            limit: limit + 1,
        };
        let mut rows = attendance::punches(app, &actor, query).await?;
        let next_page_token = convert::paginate(&mut rows, limit, |r| {
            convert::encode_punch_cursor(PunchCursor::of(r, Clock::Received))
        });
        Ok(pb::ListPunchesResponse {
            punches: rows.iter().map(convert::punch_row_to_pb).collect(),
            next_page_token,
        })
    }

    async fn daily_results(
        &self,
        request: Request<pb::GetDailyResultsRequest>,
    ) -> Result<pb::GetDailyResultsResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let request = request.into_inner();
        let query = DailyQuery {
            from: convert::date("from_date", &request.from_date)?,
            to: convert::date("to_date", &request.to_date)?,
            employees: request
                .employee_ids
                .into_iter()
                .enumerate()
                .map(|(i, id)| {
                    EmployeeId::new(id)
                        .map_err(|e| AppError::invalid(format!("employee_ids[{i}]"), e))
                })
                .collect::<Result<_, _>>()?,
            after: match request.page_token.as_str() {
                "" => None,
                token => Some(EmployeeId::new(token).map_err(|_| {
                    AppError::invalid("page_token", "not a token this server issued")
                })?),
            },
            limit: convert::page_size(request.page_size),
        };
        let page = attendance::daily_results(app, &actor, query).await?;
        let mut results = Vec::new();
        for days in &page.days {
            let by_seq: HashMap<i64, _> = days.punches.iter().map(|p| (p.seq, p)).collect();
            results.extend(
                days.results
                    .iter()
                    .map(|r| convert::daily_result_to_pb(r, &by_seq)),
            );
        }
        Ok(pb::GetDailyResultsResponse {
            results,
            next_page_token: page.next.map(|e| e.as_str().to_owned()).unwrap_or_default(),
        })
    }

    async fn review_queue(
        &self,
        request: Request<pb::ListReviewQueueRequest>,
    ) -> Result<pb::ListReviewQueueResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let request = request.into_inner();
        let after = seq_cursor("page_token", &request.page_token)?.unwrap_or(0);
        let limit = convert::page_size(request.page_size);
        let mut queue = attendance::review_queue(app, &actor, after, limit + 1).await?;
        let next_page_token = convert::paginate(&mut queue, limit, |(r, _)| r.seq.to_string());
        Ok(pb::ListReviewQueueResponse {
            punches: queue
                .iter()
                .map(|(row, evidence)| pb::PunchRecord {
                    evidence: evidence.as_ref().map(convert::evidence_to_pb),
                    ..convert::punch_row_to_pb(row)
                })
                .collect(),
            next_page_token,
        })
    }

    async fn review(
        &self,
        request: Request<pb::ReviewPunchRequest>,
    ) -> Result<pb::PunchRecord, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let request = request.into_inner();
        let employee = convert::employee_id(request.employee_id)?;
        let punch_id =
            PunchId::new(request.punch_id).map_err(|e| AppError::invalid("punch_id", e))?;
        let row = attendance::review(
            app,
            &actor,
            &employee,
            &punch_id,
            request.approve,
            &request.reason,
        )
        .await?;
        Ok(convert::punch_row_to_pb(&row))
    }

    async fn correct(
        &self,
        request: Request<pb::RecordCorrectionRequest>,
    ) -> Result<pb::PunchRecord, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let request = request.into_inner();
        let kind = match pb::PunchKind::try_from(request.kind) {
            Ok(pb::PunchKind::In) => PunchKind::In,
            Ok(pb::PunchKind::Out) => PunchKind::Out,
            _ => {
                return Err(AppError::invalid(
                    "kind",
                    "required: PUNCH_KIND_IN or PUNCH_KIND_OUT",
                ));
            }
        };
        let correction = attendance::Correction {
            employee: convert::employee_id(request.employee_id)?,
            punch_id: PunchId::new(request.punch_id)
                .map_err(|e| AppError::invalid("punch_id", e))?,
            kind,
            at: convert::timestamp("time", request.time)?,
            site: match request.site_id.as_str() {
                "" => None,
                id => Some(SiteId::new(id).map_err(|e| AppError::invalid("site_id", e))?),
            },
            reason: request.reason,
        };
        let row = attendance::correct(app, &actor, correction).await?;
        Ok(convert::punch_row_to_pb(&row))
    }

    async fn watch(
        &self,
        request: Request<pb::WatchPunchesRequest>,
    ) -> Result<PunchStream, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, attendance::ROLE).await?;
        let cursor = seq_cursor("cursor", &request.get_ref().cursor)?;
        let feed = attendance::watch(app, &actor, cursor).await?;
        let events = tokio_stream::wrappers::ReceiverStream::new(feed).map(|row| {
            let row = row?;
            Ok(pb::PunchEvent {
                punch: Some(convert::punch_row_to_pb(&row)),
                cursor: row.seq.to_string(),
            })
        });
        Ok(Box::pin(events))
    }
}

impl AttendanceApi {
    async fn put_holidays_inner(
        &self,
        request: Request<pb::PutHolidaysRequest>,
    ) -> Result<pb::PutHolidaysResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, calendar::ROLE).await?;
        let request = request.into_inner();
        let from = convert::date("from_date", &request.from_date)?;
        let to = convert::date("to_date", &request.to_date)?;
        let holidays = request
            .holidays
            .into_iter()
            .enumerate()
            .map(|(i, h)| convert::holiday_from_pb(&format!("holidays[{i}]"), h))
            .collect::<Result<_, _>>()?;
        let held = calendar::put_holidays(app, &actor, from, to, holidays).await?;
        Ok(pb::PutHolidaysResponse {
            holidays: held as u32,
        })
    }

    async fn put_roster_days_inner(
        &self,
        request: Request<pb::PutRosterDaysRequest>,
    ) -> Result<pb::PutRosterDaysResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, calendar::ROLE).await?;
        let days = request.into_inner().days;
        if days.len() > calendar::MAX_CHANGES {
            return Err(AppError::invalid(
                "days",
                format!("at most {}", calendar::MAX_CHANGES),
            ));
        }
        let days = days
            .into_iter()
            .enumerate()
            .map(|(i, d)| convert::roster_day_from_pb(&format!("days[{i}]"), d))
            .collect::<Result<_, _>>()?;
        let changed = calendar::put_roster_days(app, &actor, days).await?;
        Ok(pb::PutRosterDaysResponse {
            changed: changed as u32,
        })
    }

    async fn put_leave_inner(
        &self,
        request: Request<pb::PutLeaveRequest>,
    ) -> Result<pb::PutLeaveResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, calendar::ROLE).await?;
        let leave = request.into_inner().leave;
        if leave.len() > calendar::MAX_CHANGES {
            return Err(AppError::invalid(
                "leave",
                format!("at most {}", calendar::MAX_CHANGES),
            ));
        }
        let leave = leave
            .into_iter()
            .enumerate()
            .map(|(i, l)| convert::leave_from_pb(&format!("leave[{i}]"), l))
            .collect::<Result<_, _>>()?;
        let recorded = calendar::put_leave(app, &actor, leave).await?;
        Ok(pb::PutLeaveResponse {
            recorded: recorded as u32,
        })
    }

    async fn cancel_leave_inner(
        &self,
        request: Request<pb::CancelLeaveRequest>,
    ) -> Result<pb::CancelLeaveResponse, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, calendar::ROLE).await?;
        calendar::cancel_leave(app, &actor, &request.get_ref().leave_id).await?;
        Ok(pb::CancelLeaveResponse {})
    }

    async fn get_calendar_inner(
        &self,
        request: Request<pb::GetCalendarRequest>,
    ) -> Result<pb::Calendar, AppError> {
        let app = &self.0;
        let actor = auth::authorize(app, &request, calendar::ROLE).await?;
        let request = request.into_inner();
        let from = convert::date("from_date", &request.from_date)?;
        let to = convert::date("to_date", &request.to_date)?;
        let employee = match request.employee_id.as_str() {
            "" => None,
            _ => Some(convert::employee_id(request.employee_id)?),
        };
        let entries = calendar::calendar(app, &actor, from, to, employee.as_ref()).await?;
        Ok(convert::calendar_to_pb(&entries))
    }
}

/// A cursor that is a punch seq: empty is `None`.
fn seq_cursor(field: &str, token: &str) -> Result<Option<i64>, AppError> {
    match token {
        "" => Ok(None),
        token => token
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .map(Some)
            .ok_or_else(|| AppError::invalid(field, "not a cursor this server issued")),
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

    async fn record_correction(
        &self,
        request: Request<pb::RecordCorrectionRequest>,
    ) -> Result<Response<pb::PunchRecord>, Status> {
        respond("RecordCorrection", self.correct(request).await)
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

    async fn put_holidays(
        &self,
        request: Request<pb::PutHolidaysRequest>,
    ) -> Result<Response<pb::PutHolidaysResponse>, Status> {
        respond("PutHolidays", self.put_holidays_inner(request).await)
    }

    async fn put_roster_days(
        &self,
        request: Request<pb::PutRosterDaysRequest>,
    ) -> Result<Response<pb::PutRosterDaysResponse>, Status> {
        respond("PutRosterDays", self.put_roster_days_inner(request).await)
    }

    async fn put_leave(
        &self,
        request: Request<pb::PutLeaveRequest>,
    ) -> Result<Response<pb::PutLeaveResponse>, Status> {
        respond("PutLeave", self.put_leave_inner(request).await)
    }

    async fn cancel_leave(
        &self,
        request: Request<pb::CancelLeaveRequest>,
    ) -> Result<Response<pb::CancelLeaveResponse>, Status> {
        respond("CancelLeave", self.cancel_leave_inner(request).await)
    }

    async fn get_calendar(
        &self,
        request: Request<pb::GetCalendarRequest>,
    ) -> Result<Response<pb::Calendar>, Status> {
        respond("GetCalendar", self.get_calendar_inner(request).await)
    }
}
