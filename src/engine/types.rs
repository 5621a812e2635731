//! Validated domain types. Everything here has already passed validation at
//! the edge (see `service::convert`); the engine never re-checks raw input.

use std::fmt;

use jiff::Timestamp;

/// Longest accepted identifier (organisation, employee, site, punch id), in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Checks an identifier: 1..=[`MAX_ID_LEN`] bytes, no control characters.
/// Returns a lowercase description of what is wrong.
pub fn check_id(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_ID_LEN {
        return Err(format!(
            "must be at most {MAX_ID_LEN} bytes, got {}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if value.chars().any(is_invisible) {
        return Err(
            "must not contain invisible or direction-changing characters (zero-width, bidi)".into(),
        );
    }
    Ok(())
}

/// Characters that change how an id looks without being seen: zero-width
/// ones (two ids that print alike would name two people) and the bidi
/// controls that reorder what follows (an id that prints as another).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier (see [`check_id`]).
            pub fn new(value: impl Into<String>) -> Result<Self, String> {
                let value = value.into();
                check_id(&value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An organisation (tenant). Every piece of data belongs to exactly one.
    OrgId
);
id_type!(
    /// An employee of an organisation, as the organisation names them.
    EmployeeId
);
id_type!(
    /// A site of an organisation: one workplace with one or more fences.
    SiteId
);
id_type!(
    /// The client's idempotency key for one punch.
    PunchId
);
id_type!(
    /// A stable id of one app install on one phone.
    DeviceId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PunchKind {
    In,
    Out,
    Auto,
}

impl PunchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PunchKind::In => "in",
            PunchKind::Out => "out",
            PunchKind::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in" => PunchKind::In,
            "out" => PunchKind::Out,
            "auto" => PunchKind::Auto,
            _ => return None,
        })
    }
}

/// A location fix in WGS-84 degrees (converted from GCJ-02 or BD-09 at the
/// edge when the phone sent those), range-checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpsFix {
    pub latitude: f64,
    pub longitude: f64,
    /// Horizontal accuracy radius in metres, ≥ 0 (0: the device gave no estimate).
    pub accuracy_m: f64,
    pub fix_time: Timestamp,
    pub mock_location: bool,
    /// Speed over ground the fix reports, m/s.
    pub speed_mps: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unknown,
    Android,
    Ios,
    Other,
}

/// The platform's integrity attestation, as the client reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    NotChecked,
    Passed,
    Failed,
}

impl Integrity {
    pub fn as_str(self) -> &'static str {
        match self {
            Integrity::NotChecked => "not_checked",
            Integrity::Passed => "passed",
            Integrity::Failed => "failed",
        }
    }
}

/// What the app reports about its device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    pub device_id: DeviceId,
    pub platform: Platform,
    pub rooted: bool,
    pub emulator: bool,
    pub developer_mode: bool,
    pub integrity: Integrity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorKind {
    Accelerometer,
    Gyroscope,
    RotationVector,
}

/// Statistics of one motion sensor over the window before the punch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorStats {
    pub kind: SensorKind,
    pub sample_count: u32,
    pub mean_magnitude: f64,
    pub variance: f64,
}

/// A motion summary (never raw streams): at most one entry per sensor kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MotionSummary {
    pub sensors: Vec<SensorStats>,
    pub step_delta: Option<u32>,
}

impl MotionSummary {
    pub fn sensor(&self, kind: SensorKind) -> Option<&SensorStats> {
        self.sensors.iter().find(|s| s.kind == kind)
    }
}

/// Installed package names sent by an older client. Matched in memory, never
/// stored; `Debug` shows only the count, so a stray `{:?}` cannot log them.
#[derive(Clone, PartialEq, Default)]
pub struct InstalledPackages(pub Vec<String>);

impl fmt::Debug for InstalledPackages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstalledPackages([{} redacted])", self.0.len())
    }
}

/// Cheat-software evidence: signature ids the device matched itself
/// (preferred), or the package list for the server to match (older clients).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppEvidence {
    pub matched_signature_ids: Vec<String>,
    pub installed_packages: InstalledPackages,
}

/// A punch as the engine sees it: validated, with the server's receive time.
#[derive(Debug, Clone, PartialEq)]
pub struct Punch {
    pub org: OrgId,
    pub employee: EmployeeId,
    pub punch_id: PunchId,
    pub kind: PunchKind,
    /// When the employee punched, by the device's clock.
    pub client_time: Timestamp,
    /// When the server received the punch, by the server's clock.
    pub received_at: Timestamp,
    /// When the app sent the punch, by the device's clock (for a live punch
    /// the same as `client_time`; later for one from the offline queue).
    pub sent_at: Timestamp,
    pub queued_offline: bool,
    /// A one-time value from the app; a reused one is a replay.
    pub nonce: Option<String>,
    /// The location fix; absent for a WiFi-only punch (indoors, no fix).
    pub gps: Option<GpsFix>,
    /// The WiFi scan, possibly empty.
    pub wifi: Vec<crate::engine::wifi::WifiSighting>,
    /// Bluetooth beacons heard, possibly none.
    pub beacons: Vec<crate::engine::beacons::BeaconSighting>,
    pub device: Option<DeviceFacts>,
    pub motion: Option<MotionSummary>,
    pub apps: AppEvidence,
    /// The bytes the device signed and its signature, when it signed them.
    pub signed: Option<std::sync::Arc<crate::engine::attestation::SignedEnvelope>>,
}

impl Punch {
    /// A live clock-in at `at` whose only evidence is a GPS fix taken 5 s
    /// before, at `(longitude, latitude)`: what the geometry benches and
    /// tests judge.
    pub fn gps_only(
        org: OrgId,
        employee: EmployeeId,
        punch_id: PunchId,
        at: Timestamp,
        (longitude, latitude): (f64, f64),
        accuracy_m: f64,
    ) -> Self {
        Punch {
            gps: Some(GpsFix {
                latitude,
                longitude,
                accuracy_m,
                fix_time: at - jiff::SignedDuration::from_secs(5),
                mock_location: false,
                speed_mps: None,
            }),
            ..Punch::without_evidence(org, employee, punch_id, PunchKind::In, at, at)
        }
    }

    /// A punch made at `at` and received at `received_at` that carries no
    /// evidence at all: what HR records as a correction (a forgotten
    /// clock-in), and the base of [`Punch::gps_only`].
    pub fn without_evidence(
        org: OrgId,
        employee: EmployeeId,
        punch_id: PunchId,
        kind: PunchKind,
        at: Timestamp,
        received_at: Timestamp,
    ) -> Self {
        Punch {
            org,
            employee,
            punch_id,
            kind,
            client_time: at,
            received_at,
            sent_at: received_at,
            queued_offline: false,
            nonce: None,
            gps: None,
            wifi: Vec::new(),
            beacons: Vec::new(),
            device: None,
            motion: None,
            apps: AppEvidence::default(),
            signed: None,
        }
    }
}

/// Stable finding codes. The numeric values are part of the gRPC contract
/// (`punchguard.v1.FindingCode`) and the stored data: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingCode {
    OutsideFence = 1,
    NearFence = 2,
    LowAccuracy = 3,
    StaleFix = 4,
    MockLocation = 5,
    CheatAppInstalled = 6,
    Rooted = 7,
    Emulator = 8,
    IntegrityFailed = 9,
    SensorFlat = 10,
    SensorInconsistent = 11,
    ImpossibleTravel = 12,
    WifiSsidOnly = 13,
    WifiUnknown = 14,
    GpsWifiDisagree = 15,
    BeaconUnknown = 16,
    BeaconReplayed = 17,
    UnboundDevice = 18,
    DeviceShared = 19,
    ClockSkew = 20,
    Duplicate = 21,
    ConsentMissing = 22,
    EvidenceMissing = 23,
    AttestationInvalid = 24,
    AttestationRevoked = 25,
    DeviceUnlocked = 26,
    BootUnverified = 27,
    SoftwareKey = 28,
    AppNotGenuine = 29,
    DeviceNotAttested = 30,
    SignatureMissing = 31,
    SignatureInvalid = 32,
    AssertionReplayed = 33,
}

impl FindingCode {
    pub const ALL: [FindingCode; 33] = [
        FindingCode::OutsideFence,
        FindingCode::NearFence,
        FindingCode::LowAccuracy,
        FindingCode::StaleFix,
        FindingCode::MockLocation,
        FindingCode::CheatAppInstalled,
        FindingCode::Rooted,
        FindingCode::Emulator,
        FindingCode::IntegrityFailed,
        FindingCode::SensorFlat,
        FindingCode::SensorInconsistent,
        FindingCode::ImpossibleTravel,
        FindingCode::WifiSsidOnly,
        FindingCode::WifiUnknown,
        FindingCode::GpsWifiDisagree,
        FindingCode::BeaconUnknown,
        FindingCode::BeaconReplayed,
        FindingCode::UnboundDevice,
        FindingCode::DeviceShared,
        FindingCode::ClockSkew,
        FindingCode::Duplicate,
        FindingCode::ConsentMissing,
        FindingCode::EvidenceMissing,
        FindingCode::AttestationInvalid,
        FindingCode::AttestationRevoked,
        FindingCode::DeviceUnlocked,
        FindingCode::BootUnverified,
        FindingCode::SoftwareKey,
        FindingCode::AppNotGenuine,
        FindingCode::DeviceNotAttested,
        FindingCode::SignatureMissing,
        FindingCode::SignatureInvalid,
        FindingCode::AssertionReplayed,
    ];

    /// The code's stable name, as in the design document and stored records.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::OutsideFence => "OUTSIDE_FENCE",
            FindingCode::NearFence => "NEAR_FENCE",
            FindingCode::LowAccuracy => "LOW_ACCURACY",
            FindingCode::StaleFix => "STALE_FIX",
            FindingCode::MockLocation => "MOCK_LOCATION",
            FindingCode::CheatAppInstalled => "CHEAT_APP_INSTALLED",
            FindingCode::Rooted => "ROOTED",
            FindingCode::Emulator => "EMULATOR",
            FindingCode::IntegrityFailed => "INTEGRITY_FAILED",
            FindingCode::SensorFlat => "SENSOR_FLAT",
            FindingCode::SensorInconsistent => "SENSOR_INCONSISTENT",
            FindingCode::ImpossibleTravel => "IMPOSSIBLE_TRAVEL",
            FindingCode::WifiSsidOnly => "WIFI_SSID_ONLY",
            FindingCode::WifiUnknown => "WIFI_UNKNOWN",
            FindingCode::GpsWifiDisagree => "GPS_WIFI_DISAGREE",
            FindingCode::BeaconUnknown => "BEACON_UNKNOWN",
            FindingCode::BeaconReplayed => "BEACON_REPLAYED",
            FindingCode::UnboundDevice => "UNBOUND_DEVICE",
            FindingCode::DeviceShared => "DEVICE_SHARED",
            FindingCode::Duplicate => "DUPLICATE",
            FindingCode::ConsentMissing => "CONSENT_MISSING",
            FindingCode::EvidenceMissing => "EVIDENCE_MISSING",
            FindingCode::ClockSkew => "CLOCK_SKEW",
            FindingCode::AttestationInvalid => "ATTESTATION_INVALID",
            FindingCode::AttestationRevoked => "ATTESTATION_REVOKED",
            FindingCode::DeviceUnlocked => "DEVICE_UNLOCKED",
            FindingCode::BootUnverified => "BOOT_UNVERIFIED",
            FindingCode::SoftwareKey => "SOFTWARE_KEY",
            FindingCode::AppNotGenuine => "APP_NOT_GENUINE",
            FindingCode::DeviceNotAttested => "DEVICE_NOT_ATTESTED",
            FindingCode::SignatureMissing => "SIGNATURE_MISSING",
            FindingCode::SignatureInvalid => "SIGNATURE_INVALID",
            FindingCode::AssertionReplayed => "ASSERTION_REPLAYED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Codes about device attestation and signed punches, which the
    /// organisation's attestation mode governs.
    pub fn is_attestation(self) -> bool {
        matches!(
            self,
            FindingCode::AttestationInvalid
                | FindingCode::AttestationRevoked
                | FindingCode::DeviceUnlocked
                | FindingCode::BootUnverified
                | FindingCode::SoftwareKey
                | FindingCode::AppNotGenuine
                | FindingCode::DeviceNotAttested
                | FindingCode::SignatureMissing
                | FindingCode::SignatureInvalid
                | FindingCode::AssertionReplayed
        )
    }
}

/// What the policy does with a finding. Ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Ignore,
    Review,
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ignore => "ignore",
            Action::Review => "review",
            Action::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ignore" => Action::Ignore,
            "review" => Action::Review,
            "reject" => Action::Reject,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    Accepted,
    Review,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accepted => "accepted",
            Decision::Review => "review",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "accepted" => Decision::Accepted,
            "review" => Decision::Review,
            "rejected" => Decision::Rejected,
            _ => return None,
        })
    }
}

/// How the punch was placed at its site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationMethod {
    None,
    Gps,
    /// Outside every fence, but within the fix's accuracy of one.
    GpsNear,
    /// A WiFi access point of the site was in the scan.
    Wifi,
    /// A beacon of the site was heard.
    Beacon,
    /// No phone placed it: HR recorded it as a correction.
    Correction,
}

impl LocationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationMethod::None => "none",
            LocationMethod::Gps => "gps",
            LocationMethod::GpsNear => "gps_near",
            LocationMethod::Wifi => "wifi",
            LocationMethod::Beacon => "beacon",
            LocationMethod::Correction => "correction",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => LocationMethod::None,
            "gps" => LocationMethod::Gps,
            "gps_near" => LocationMethod::GpsNear,
            "wifi" => LocationMethod::Wifi,
            "beacon" => LocationMethod::Beacon,
            "correction" => LocationMethod::Correction,
            _ => return None,
        })
    }
}

/// One thing a rule found. `message` is for people and carries no personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: FindingCode,
    pub action: Action,
    pub message: String,
}

/// Optional purposes that need the employee's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentPurpose {
    /// Punching automatically when the app opens in range.
    AutoPunch,
}

impl ConsentPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPurpose::AutoPunch => "auto_punch",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s == "auto_punch").then_some(ConsentPurpose::AutoPunch)
    }
}

/// A known cheat app found on the device (by the device or by the server).
#[derive(Debug, Clone, PartialEq)]
pub struct CheatMatch {
    pub signature_id: String,
    pub category: crate::engine::signatures::CheatCategory,
}

/// What stays of the distance to the fence once evidence is coarsened: wide
/// enough not to place a person, fine enough for HR's "was it close?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceBucket {
    Inside,
    Under50m,
    From50mTo200m,
    From200mTo1km,
    From1kmTo10km,
    Over10km,
}

impl DistanceBucket {
    const ALL: [DistanceBucket; 6] = [
        DistanceBucket::Inside,
        DistanceBucket::Under50m,
        DistanceBucket::From50mTo200m,
        DistanceBucket::From200mTo1km,
        DistanceBucket::From1kmTo10km,
        DistanceBucket::Over10km,
    ];

    pub fn of(distance_m: f64) -> Self {
        match distance_m {
            d if d <= 0.0 => DistanceBucket::Inside,
            d if d < 50.0 => DistanceBucket::Under50m,
            d if d < 200.0 => DistanceBucket::From50mTo200m,
            d if d < 1000.0 => DistanceBucket::From200mTo1km,
            d if d < 10_000.0 => DistanceBucket::From1kmTo10km,
            _ => DistanceBucket::Over10km,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DistanceBucket::Inside => "inside",
            DistanceBucket::Under50m => "under_50m",
            DistanceBucket::From50mTo200m => "50m_to_200m",
            DistanceBucket::From200mTo1km => "200m_to_1km",
            DistanceBucket::From1kmTo10km => "1km_to_10km",
            DistanceBucket::Over10km => "over_10km",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// The engine's answer for one punch.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub findings: Vec<Finding>,
    /// The site the punch was placed at, if any.
    pub site: Option<SiteId>,
    pub method: LocationMethod,
    /// Metres to the nearest fence (0 inside one); `None` when the org has no fences.
    pub distance_m: Option<f64>,
    pub nearest_site: Option<SiteId>,
    /// Cheat-software signatures matched, kept apart from the findings so
    /// they can be stored (and expire) as their own category.
    pub cheat_matches: Vec<CheatMatch>,
    /// The site's access points seen in the scan: the WiFi evidence.
    pub wifi_bssids: Vec<crate::engine::wifi::Bssid>,
    /// Whether the device evidence was verified or only reported.
    pub assurance: Assurance,
}

/// How the device evidence of a punch is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assurance {
    /// Only as the app reported it: a modified phone can say anything.
    #[default]
    Reported,
    /// Signed by the device's attested key: the attested facts are what
    /// the secure hardware proved. `counter` is the App Attest assertion's,
    /// recorded with the punch (not kept in the punch record).
    Attested { counter: Option<u32> },
}

impl Assurance {
    pub fn is_attested(self) -> bool {
        matches!(self, Assurance::Attested { .. })
    }
}

impl Verdict {
    pub fn has(&self, code: FindingCode) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// 0 (nothing suspicious) to 100, for sorting a review queue: each
    /// finding adds by what the policy does with it (reject 60, review 25,
    /// ignore 5), so two review findings outrank one, and any reject
    /// outranks a single review. Derived from the findings, never stored.
    pub fn risk_score(&self) -> u32 {
        let sum: u32 = self
            .findings
            .iter()
            .map(|f| match f.action {
                Action::Reject => 60,
                Action::Review => 25,
                Action::Ignore => 5,
            })
            .sum();
        sum.min(100)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_with_invisible_or_reordering_characters_are_refused() {
        // Two ids that print as "aino", and one that prints reversed.
        for id in [
            "ai\u{200B}no",
            "\u{FEFF}aino",
            "aino\u{202E}kerttu",
            "a\u{2066}ino",
        ] {
            let refused = check_id(id).unwrap_err();
            assert!(refused.contains("invisible"), "{id:?}: {refused}");
        }
        for id in ["aino", "Åsa-Öberg", "王芳", "emp_42.b"] {
            assert!(check_id(id).is_ok(), "{id:?}");
        }
    }

    use super::*;

    #[test]
    fn ids_are_bounded_and_printable() {
        assert!(PunchId::new("a").is_ok());
        assert!(PunchId::new("").is_err());
        assert!(PunchId::new("x".repeat(MAX_ID_LEN)).is_ok());
        assert!(PunchId::new("x".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(PunchId::new("a\nb").is_err());
    }

    #[test]
    fn package_lists_never_show_in_debug_output() {
        let apps = AppEvidence {
            matched_signature_ids: Vec::new(),
            installed_packages: InstalledPackages(vec!["org.example.secret".into()]),
        };
        let shown = format!("{apps:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("1 redacted"));
    }

    #[test]
    fn risk_grows_with_findings_and_is_capped() {
        let finding = |action| Finding {
            code: FindingCode::Rooted,
            action,
            message: String::new(),
        };
        let verdict = |findings| Verdict {
            decision: Decision::Review,
            findings,
            site: None,
            method: LocationMethod::None,
            distance_m: None,
            nearest_site: None,
            cheat_matches: Vec::new(),
            wifi_bssids: Vec::new(),
            assurance: Default::default(),
        };
        assert_eq!(verdict(vec![]).risk_score(), 0);
        assert_eq!(verdict(vec![finding(Action::Review)]).risk_score(), 25);
        assert_eq!(
            verdict(vec![finding(Action::Review), finding(Action::Review)]).risk_score(),
            50
        );
        assert_eq!(verdict(vec![finding(Action::Reject); 3]).risk_score(), 100);
    }

    #[test]
    fn names_round_trip() {
        for code in FindingCode::ALL {
            assert_eq!(FindingCode::parse(code.as_str()), Some(code));
        }
        for a in [Action::Ignore, Action::Review, Action::Reject] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for d in [Decision::Accepted, Decision::Review, Decision::Rejected] {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
    }
}
