//! The one place where errors become gRPC statuses.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is missing or wrong. `field` is its path in the
    /// request message, e.g. `gps.accuracy_m`.
    #[error("{field}: {description}")]
    InvalidArgument { field: String, description: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but the state does not allow it (no schedule; a
    /// punch not awaiting review).
    #[error("{0}")]
    FailedPrecondition(String),
    /// What the request would create exists already and stands.
    #[error("{0}")]
    AlreadyExists(String),
    /// A rate limit: retry after the wait.
    #[error("rate limited for {0:?}")]
    RateLimited(std::time::Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidArgument { field, description } => Status::with_error_details(
                Code::InvalidArgument,
                format!("{field}: {description}"),
                ErrorDetails::with_bad_request_violation(field, description),
            ),
            ApiError::Unauthenticated(why) => Status::unauthenticated(why),
            ApiError::PermissionDenied(why) => Status::permission_denied(why),
            ApiError::NotFound(what) => Status::not_found(what),
            ApiError::FailedPrecondition(why) => Status::failed_precondition(why),
            ApiError::AlreadyExists(why) => Status::already_exists(why),
            ApiError::RateLimited(wait) => super::limits::rate_limited(wait),
            ApiError::Store(StoreError::Closed) => Status::unavailable("server is shutting down"),
            ApiError::Store(StoreError::Unavailable(why)) => {
                tracing::error!(error = %why, "database unavailable");
                Status::unavailable("the database is unavailable; retry")
            }
            ApiError::Store(e) => {
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
    outcome: Result<T, ApiError>,
) -> Result<tonic::Response<T>, Status> {
    outcome.map(tonic::Response::new).map_err(|e| {
        let status = Status::from(e);
        crate::metrics::record_request_error(rpc, status.code());
        status
    })
}
