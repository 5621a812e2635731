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
            AppError::InvalidArguments(ref problems) => Status::with_error_details(
                Code::InvalidArgument,
                error.to_string(),
                ErrorDetails::with_bad_request(
                    problems
                        .iter()
                        .map(|(field, description)| {
                            tonic_types::FieldViolation::new(field, description)
                        })
                        .collect::<Vec<_>>(),
                ),
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

/// What tonic answers, before any handler runs, to a request it cannot
/// decode (INTERNAL) or that is over the size limit (OUT_OF_RANGE), made
/// into what the client needs: INVALID_ARGUMENT naming the field that did
/// not decode, or RESOURCE_EXHAUSTED saying what the limit is and what to do.
pub fn refine_transport_status(status: &Status) -> Option<Status> {
    const UNDECODABLE: &str = "failed to decode Protobuf message: ";
    const TOO_LARGE: &str = "Error, decoded message length too large: ";
    match status.code() {
        Code::Internal => {
            let detail = status.message().strip_prefix(UNDECODABLE)?;
            // "Inner.field: Outer.field: what went wrong", innermost first.
            let mut parts: Vec<&str> = detail.split(": ").collect();
            let description = parts.pop().unwrap_or("not a valid message").to_owned();
            let path: Vec<&str> = parts
                .iter()
                .rev()
                .filter_map(|part| part.split_once('.').map(|(_, field)| field))
                .collect();
            let field = match path.is_empty() {
                true => "request".to_owned(),
                false => path.join("."),
            };
            Some(AppError::invalid(field, format!("does not decode: {description}")).into())
        }
        Code::OutOfRange => {
            let detail = status.message().strip_prefix(TOO_LARGE)?;
            Some(Status::resource_exhausted(format!(
                "request too large ({detail}); send less per call \
                 (a GeoJSON import can be split by site)"
            )))
        }
        _ => None,
    }
}

/// Wraps a gRPC service so that its transport-level refusals (see
/// [`refine_transport_status`]) reach the client refined.
#[derive(Clone)]
pub struct RefinedErrors<S>(pub S);

impl<S: tonic::server::NamedService> tonic::server::NamedService for RefinedErrors<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for RefinedErrors<S>
where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<B>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, std::convert::Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // Refusals before the handler are trailers-only: the status is
            // in the headers.
            let refined = Status::from_header_map(response.headers())
                .and_then(|status| refine_transport_status(&status));
            Ok(match refined {
                Some(status) => status.into_http(),
                None => response,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undecodable_field_is_named_by_its_path() {
        let tonic = Status::internal(
            "failed to decode Protobuf message: GpsFix.latitude: SubmitPunchRequest.gps: invalid wire type: LengthDelimited (expected Fixed64)",
        );
        let refined = refine_transport_status(&tonic).unwrap();
        assert_eq!(refined.code(), Code::InvalidArgument);
        assert!(
            refined.message().starts_with("gps.latitude: "),
            "{refined:?}"
        );
        let other = Status::internal("something else");
        assert!(refine_transport_status(&other).is_none());
    }
}
