//! Rate limits on the punch path: per device token and per organisation.
//! The cap on punches in flight is the transport's (`service::limits`).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AppError;
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
    pub fn check(&self, token_id: &str, org: &OrgId) -> Result<(), AppError> {
        // A clock only for a refusal: building one reads the CPU's counter
        // (CPUID traps on a VM), which the allowed punch does not need.
        let wait =
            |until: governor::NotUntil<_>| until.wait_time_from(DefaultClock::default().now());
        if let Err(until) = self.devices.check_key(&token_id.to_owned()) {
            metrics::counter!(m::RATE_LIMITED, "scope" => "device").increment(1);
            return Err(AppError::RateLimited(wait(until)));
        }
        if let Err(until) = self.orgs.check_key(org) {
            metrics::counter!(m::RATE_LIMITED, "scope" => "org").increment(1);
            return Err(AppError::RateLimited(wait(until)));
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
