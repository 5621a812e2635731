//! The one place where the domain error becomes a gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::app::AppError;
use crate::store::StoreError;

impl From<AppError> for Status {
    fn from(error: AppError) -> Self {
        match error {
            AppError::InvalidArgument { field, description } => Status::with_error_details(
                Code::InvalidArgument,
                format!("{field}: {description}"),
                ErrorDetails::with_bad_request_violation(field, description),
            ),
            AppError::Unauthenticated(why) => Status::unauthenticated(why),
            AppError::PermissionDenied(why) => Status::permission_denied(why),
            AppError::NotFound(what) => Status::not_found(what),
            AppError::FailedPrecondition(why) => Status::failed_precondition(why),
            AppError::AlreadyExists(why) => Status::already_exists(why),
            AppError::RateLimited(wait) => super::limits::rate_limited(wait),
            AppError::ShuttingDown => Status::unavailable(error.to_string()),
            AppError::Store(StoreError::Closed) => Status::unavailable("server is shutting down"),
            AppError::Store(StoreError::Unavailable(why)) => {
                tracing::error!(error = %why, "database unavailable");
                Status::unavailable("the database is unavailable; retry")
            }
            AppError::Internal(why) => {
                tracing::error!(error = %why, "internal error");
                Status::internal("internal error")
            }
            AppError::Store(e) => {
                // Store errors carry no request data, so they are safe to log;
                // the client only learns that the fault is ours.
                tracing::error!(error = %e, "store error");
                Status::internal("internal storage error")
            }
        }
    }
}

/// Converts a handler's outcome, counting errors by RPC and code.
pub fn respond<T>(
    rpc: &'static str,
    outcome: Result<T, AppError>,
) -> Result<tonic::Response<T>, Status> {
    outcome.map(tonic::Response::new).map_err(|e| {
        let status = Status::from(e);
        crate::metrics::record_request_error(rpc, status.code());
        status
    })
}
