//! Overload protection: per-device and per-organisation rate limits on the
//! punch path, and a cap on punches in flight beyond which new ones are shed
//! at once instead of queueing without bound.

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use tonic::Status;
use tonic::codegen::{Service, http};
use tonic::server::NamedService;
use tonic_types::{ErrorDetails, StatusExt};

use super::error::ApiError;
use crate::engine::OrgId;
use crate::metrics as m;

/// Limits an operator sets (see the README for the defaults' reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Punches (and bundle fetches) one device token may make a minute.
    pub device_per_minute: u32,
    /// Punches one organisation may submit a second, across its devices.
    pub org_per_second: u32,
    /// Punches being handled at once; more are shed with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            device_per_minute: 30,
            org_per_second: 5_000,
            max_in_flight: 2_048,
        }
    }
}

/// The rate limiters of the punch path.
pub struct RateLimits {
    devices: DefaultKeyedRateLimiter<String>,
    orgs: DefaultKeyedRateLimiter<OrgId>,
}

fn per(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least one")
}

impl RateLimits {
    pub fn new(settings: LimitSettings) -> Self {
        RateLimits {
            // A burst of the whole minute's allowance: an app flushing its
            // offline queue is not punished, a script hammering is.
            devices: RateLimiter::keyed(Quota::per_minute(per(settings.device_per_minute))),
            orgs: RateLimiter::keyed(
                Quota::per_second(per(settings.org_per_second))
                    .allow_burst(per(settings.org_per_second.saturating_mul(2))),
            ),
        }
    }

    /// Takes one unit for the device token and its organisation, or says
    /// how long to wait.
    pub fn check(&self, token_id: &str, org: &OrgId) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        let wait = |until: governor::NotUntil<_>| until.wait_time_from(clock.now());
        if let Err(until) = self.devices.check_key(&token_id.to_owned()) {
            metrics::counter!(m::RATE_LIMITED, "scope" => "device").increment(1);
            return Err(ApiError::RateLimited(wait(until)));
        }
        if let Err(until) = self.orgs.check_key(org) {
            metrics::counter!(m::RATE_LIMITED, "scope" => "org").increment(1);
            return Err(ApiError::RateLimited(wait(until)));
        }
        Ok(())
    }

    /// Forgets keys whose allowance is full again: memory stays bounded by
    /// the devices active in the last minute.
    pub fn forget_idle(&self) {
        self.devices.retain_recent();
        self.orgs.retain_recent();
    }
}

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
