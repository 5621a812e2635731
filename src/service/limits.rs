//! Overload protection at the transport: the status of a rate-limited call
//! and a cap on punches in flight beyond which new ones are shed at once
//! instead of queueing without bound. The rate limits themselves are the
//! application's (`app::limits`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::Status;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic_types::{ErrorDetails, StatusExt};

use crate::metrics as m;

/// The status of a rate-limited call: RESOURCE_EXHAUSTED with a RetryInfo.
pub fn rate_limited(wait: Duration) -> Status {
    Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "rate limit reached; retry in {} ms",
            wait.as_millis().max(1)
        ),
        ErrorDetails::with_retry_info(Some(wait.max(Duration::from_millis(1)))),
    )
}

/// Wraps a gRPC service so that at most `permits` of its calls run at once;
/// a call beyond that is answered RESOURCE_EXHAUSTED at once (load shedding:
/// a queue would only grow memory and latency under a flood).
#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S> Shed<S> {
    pub fn new(inner: S, permits: usize) -> Self {
        Shed {
            inner,
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }
}

impl<S: NamedService> NamedService for Shed<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for Shed<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let answer = self.inner.call(request);
                Box::pin(async move {
                    let response = answer.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => {
                metrics::counter!(m::SHED).increment(1);
                let status = Status::resource_exhausted(
                    "server busy: too many punches in flight; retry shortly",
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
