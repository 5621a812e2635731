//! The domain error every use case answers with. Each door turns it into
//! its own form in one place: a gRPC status (`service::status`), an exit
//! message (`cli`).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An input field is missing or wrong. `field` is its path in the
    /// request, e.g. `gps.accuracy_m`.
    #[error("{field}: {description}")]
    InvalidArgument { field: String, description: String },
    /// Several input fields are wrong (a file checked whole): each path
    /// with what is wrong there, in input order; never empty.
    #[error("{}: {}{}", .0[0].0, .0[0].1, if .0.len() > 1 { format!(" (and {} more problems)", .0.len() - 1) } else { String::new() })]
    InvalidArguments(Vec<(String, String)>),
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
    /// The server is shutting down: retry elsewhere (a live feed resumes
    /// with its cursor).
    #[error("server shutting down; resume with your cursor")]
    ShuttingDown,
    /// A fault of ours that is not the store's (a task that panicked): never
    /// retryable by the client, always logged.
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        AppError::InvalidArgument {
            field: field.into(),
            description: description.into(),
        }
    }

    /// A blocking task that did not finish (it panicked or was cancelled).
    pub fn task(what: &str, e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("{what}: {e}"))
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
