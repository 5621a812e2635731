//! `punchguard.v1.AttendanceService`: recorded punches for HR systems.

use tonic::{Request, Response, Status};

use super::error::{ApiError, respond};
use super::{App, audit, auth, convert};
use crate::auth::Role;
use crate::proto::v1::{self as pb, attendance_service_server::AttendanceService};
use crate::store::{PunchCursor, PunchQuery};

pub struct AttendanceApi(pub App);

impl AttendanceApi {
    async fn list(
        &self,
        request: Request<pb::ListPunchesRequest>,
    ) -> Result<pb::ListPunchesResponse, ApiError> {
        let app = &self.0;
        let caller = auth::authorize_org(
            app.store.as_ref(),
            request.metadata(),
            Role::Hr,
            &request.get_ref().org_id,
        )
        .await?;
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

#[tonic::async_trait]
impl AttendanceService for AttendanceApi {
    async fn list_punches(
        &self,
        request: Request<pb::ListPunchesRequest>,
    ) -> Result<Response<pb::ListPunchesResponse>, Status> {
        respond("ListPunches", self.list(request).await)
    }
}
