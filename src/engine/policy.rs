//! An organisation's policy: the limits the rules apply and what each
//! finding does to the decision.

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;

use super::types::{Action, Decision, EmployeeId, Finding, FindingCode};

/// Limits and finding actions for one organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// A fix whose accuracy radius is worse than this is LOW_ACCURACY.
    /// 100 m: Android's own geofencing advice is a 100–150 m minimum radius,
    /// and a building-sized fence cannot be judged from a worse fix.
    pub max_accuracy_m: f64,
    /// A fix older than this at punch time (device clock) is STALE_FIX.
    pub max_fix_age: SignedDuration,
    /// A device clock further than this from the server's is CLOCK_SKEW.
    pub max_clock_skew: SignedDuration,
    /// A motion sensor whose magnitude varies less than this over the window
    /// is perfectly flat, (unit²). A real MEMS sensor at rest still shows its
    /// noise, around 1e-4 (m/s²)² for an accelerometer; emulators and
    /// replayed values give exactly 0. 1e-7 sits well below any real noise.
    pub flat_variance: f64,
    /// An accelerometer varying less than this is at rest, (m/s²)². A phone
    /// at rest shows only noise (≤ 1e-3); one carried while walking varies
    /// by 1–10, one in a moving vehicle by 0.01 or more.
    pub still_accel_variance: f64,
    /// A fix reporting at least this speed, m/s, says the phone is moving:
    /// 1 m/s is a slow walk.
    pub moving_speed_mps: f64,
    /// WiFi places the punch at a site while a good GPS fix is further than
    /// this from it: GPS_WIFI_DISAGREE. Indoor WiFi reaches ~50 m and a good
    /// fix errs by tens of metres; 500 m leaves room for both and for big
    /// campuses, and still catches a hotspot carried across town.
    pub wifi_gps_max_gap_m: f64,
    /// Faster than this between two accepted fixes is IMPOSSIBLE_TRAVEL,
    /// m/s. 69.4 m/s is 250 km/h: above any motorway and most trains, below
    /// high-speed rail and planes (an employee flying to another site is
    /// exactly what review is for).
    pub max_travel_speed_mps: f64,
    /// Devices bound to one employee on first use before UNBOUND_DEVICE:
    /// 2 covers a phone replaced or a work phone beside a private one.
    pub max_devices_per_employee: usize,
    /// A device that punched for another employee within this window is
    /// DEVICE_SHARED: 24 h catches a phone passed around a shift.
    pub device_share_window: SignedDuration,
    /// Overrides of [`default_action`] per finding code.
    pub actions: BTreeMap<FindingCode, Action>,
    /// Field staff (sales, delivery) may punch outside every fence: for them
    /// OUTSIDE_FENCE and NEAR_FENCE are recorded but ignored.
    pub field_staff: BTreeSet<EmployeeId>,
    /// How much device attestation counts (see [`AttestationMode`]).
    pub attestation: AttestationMode,
}

/// How an organisation treats device attestation and signed punches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttestationMode {
    /// Nothing is checked; no attestation finding is raised.
    Off,
    /// The default, for rolling attestation out: signatures are checked and
    /// every attestation finding is recorded, but none does more than send
    /// the punch to review. Until the organisation names its app (the app
    /// identity), there is nothing to attest against and an unenrolled
    /// device is not a finding, so today's clients see today's verdicts.
    #[default]
    Observe,
    /// Attestation findings take their policy action (most reject): an
    /// unenrolled device or an unsigned punch is rejected.
    Require,
}

impl AttestationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationMode::Off => "off",
            AttestationMode::Observe => "observe",
            AttestationMode::Require => "require",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AttestationMode::Off,
            AttestationMode::Observe,
            AttestationMode::Require,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_accuracy_m: 100.0,
            max_fix_age: SignedDuration::from_secs(120),
            max_clock_skew: SignedDuration::from_secs(300),
            flat_variance: 1e-7,
            still_accel_variance: 2e-3,
            moving_speed_mps: 1.0,
            wifi_gps_max_gap_m: 500.0,
            max_travel_speed_mps: 250.0 / 3.6,
            max_devices_per_employee: 2,
            device_share_window: SignedDuration::from_hours(24),
            actions: BTreeMap::new(),
            field_staff: BTreeSet::new(),
            attestation: AttestationMode::default(),
        }
    }
}

/// What the default policy does with each finding.
///
/// Only evidence that the employee was not there, or that the location was
/// faked, rejects: a fix outside every fence, the OS's own mock-location
/// flag, a punch from an emulator (no phone at any site), a replayed nonce
/// or a replayed beacon recording,
/// an automatic punch the employee never agreed to. Everything that is
/// suspicious but has honest explanations goes to a person: GPS drift at a
/// fence's edge, a vague or old fix, a wrong clock, a rooted phone, a cheat
/// app that is installed (installed is not used), odd sensors, WiFi that
/// does not fit (an impostor hotspot, unknown networks, WiFi and GPS apart).
///
/// Under `attestation: require`, evidence that cannot be trusted rejects (a
/// forged, altered, replayed or missing signature, an attestation that does
/// not verify or is revoked, another app); a device that is genuine but
/// weakened (unlocked, unverified boot, software key) goes to review.
pub fn default_action(code: FindingCode) -> Action {
    match code {
        FindingCode::OutsideFence
        | FindingCode::MockLocation
        | FindingCode::Emulator
        | FindingCode::Duplicate
        | FindingCode::BeaconReplayed
        | FindingCode::ConsentMissing
        | FindingCode::EvidenceMissing
        | FindingCode::AttestationInvalid
        | FindingCode::AttestationRevoked
        | FindingCode::AppNotGenuine
        | FindingCode::DeviceNotAttested
        | FindingCode::SignatureMissing
        | FindingCode::SignatureInvalid
        | FindingCode::AssertionReplayed => Action::Reject,
        FindingCode::NearFence
        | FindingCode::LowAccuracy
        | FindingCode::StaleFix
        | FindingCode::ClockSkew
        | FindingCode::CheatAppInstalled
        | FindingCode::Rooted
        | FindingCode::IntegrityFailed
        | FindingCode::SensorFlat
        | FindingCode::SensorInconsistent
        | FindingCode::WifiSsidOnly
        | FindingCode::WifiUnknown
        | FindingCode::GpsWifiDisagree
        | FindingCode::BeaconUnknown
        | FindingCode::ImpossibleTravel
        | FindingCode::UnboundDevice
        | FindingCode::DeviceShared
        | FindingCode::DeviceUnlocked
        | FindingCode::BootUnverified
        | FindingCode::SoftwareKey => Action::Review,
    }
}

impl Policy {
    pub fn action(&self, code: FindingCode) -> Action {
        self.actions
            .get(&code)
            .copied()
            .unwrap_or_else(|| default_action(code))
    }

    /// The action for `code` on a punch by `employee`: field staff are not
    /// held to the fences.
    pub fn action_for(&self, code: FindingCode, employee: &EmployeeId) -> Action {
        let location = matches!(code, FindingCode::OutsideFence | FindingCode::NearFence);
        if location && self.field_staff.contains(employee) {
            return Action::Ignore;
        }
        let action = self.action(code);
        match self.attestation {
            _ if !code.is_attestation() => action,
            AttestationMode::Off => Action::Ignore,
            AttestationMode::Observe => action.min(Action::Review),
            AttestationMode::Require => action,
        }
    }

    /// The decision is set by the strictest action among the findings.
    pub fn decide(&self, findings: &[Finding]) -> Decision {
        match findings.iter().map(|f| f.action).max() {
            Some(Action::Reject) => Decision::Rejected,
            Some(Action::Review) => Decision::Review,
            Some(Action::Ignore) | None => Decision::Accepted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: FindingCode, policy: &Policy) -> Finding {
        Finding {
            code,
            action: policy.action(code),
            message: String::new(),
        }
    }

    #[test]
    fn strictest_action_decides() {
        let policy = Policy::default();
        assert_eq!(policy.decide(&[]), Decision::Accepted);
        let near = finding(FindingCode::NearFence, &policy);
        let outside = finding(FindingCode::OutsideFence, &policy);
        assert_eq!(policy.decide(std::slice::from_ref(&near)), Decision::Review);
        assert_eq!(policy.decide(&[near, outside]), Decision::Rejected);
    }

    #[test]
    fn field_staff_are_not_held_to_the_fences() {
        let mut policy = Policy::default();
        let rep = EmployeeId::new("sales-rep").unwrap();
        policy.field_staff.insert(rep.clone());
        assert_eq!(
            policy.action_for(FindingCode::OutsideFence, &rep),
            Action::Ignore
        );
        assert_eq!(
            policy.action_for(FindingCode::MockLocation, &rep),
            Action::Reject
        );
        let clerk = EmployeeId::new("clerk").unwrap();
        assert_eq!(
            policy.action_for(FindingCode::OutsideFence, &clerk),
            Action::Reject
        );
    }

    #[test]
    fn overrides_replace_defaults() {
        let mut policy = Policy::default();
        policy
            .actions
            .insert(FindingCode::ClockSkew, Action::Ignore);
        let skew = finding(FindingCode::ClockSkew, &policy);
        assert_eq!(skew.action, Action::Ignore);
        assert_eq!(policy.decide(&[skew]), Decision::Accepted);
    }
}
