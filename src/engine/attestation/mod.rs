//! Device attestation, verified offline: that a key lives in a genuine
//! phone's secure hardware and belongs to the organisation's genuine app
//! (enrolment), and that a punch was signed by that key (every punch).
//!
//! - [`android`]: Android Key Attestation (certificate chain to Google's
//!   hardware attestation roots, the KeyDescription extension).
//! - [`apple`]: Apple App Attest (attestation object, assertions).
//! - [`revocation`]: Google's attestation status list.
//! - [`anchors`]: the roots shipped in `data/attestation/`.
//!
//! Like the rest of the engine this does no I/O: the time to verify at, the
//! trust anchors, the revocation list and the app identity are inputs.
//! Input that does not parse is [`Malformed`] (naming the field); input
//! that parses but does not prove what it claims is a [`Report`] that is
//! not trusted, with the reasons (ATTESTATION_INVALID).

pub mod anchors;
pub mod android;
pub mod apple;
mod chain;
pub mod revocation;

use serde::{Deserialize, Serialize};

pub use anchors::Anchors;
pub use revocation::RevocationList;

use super::rules::Observation;
use super::types::{FindingCode, Platform};

/// Most certificates an Android chain may have: real ones have 3 to 5.
pub const MAX_CHAIN_CERTS: usize = 8;
/// Largest certificate accepted, bytes: real ones are under 2 KiB.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Largest App Attest attestation object, bytes: real ones (with Apple's
/// receipt) are about 5.5 KiB.
pub const MAX_ATTESTATION_OBJECT_BYTES: usize = 64 * 1024;
/// Largest App Attest assertion, bytes: real ones are about 140.
pub const MAX_ASSERTION_BYTES: usize = 2 * 1024;
/// Largest Android punch signature, bytes (an RSA-8192 signature is 1 KiB).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// CBOR nesting accepted: App Attest objects nest three deep.
const MAX_CBOR_DEPTH: usize = 16;

/// Input that is not what it claims to be at all: truncated DER, a chain
/// too long, CBOR that does not decode, an algorithm that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Malformed {
    /// The request field, e.g. `android.certificate_chain[2]` or
    /// `apple.attestation_object.attStmt.x5c`.
    pub field: String,
    pub reason: String,
}

impl Malformed {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Where the attested key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityLevel {
    /// In the operating system: a modified phone can read or fake it.
    Software,
    /// In the Trusted Execution Environment (Android TEE).
    TrustedEnvironment,
    /// In a separate secure chip (Android StrongBox).
    StrongBox,
    /// In Apple's Secure Enclave (every App Attest key).
    SecureEnclave,
}

impl SecurityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::Software => "software",
            SecurityLevel::TrustedEnvironment => "trusted_environment",
            SecurityLevel::StrongBox => "strong_box",
            SecurityLevel::SecureEnclave => "secure_enclave",
        }
    }
}

/// Android's verified-boot state, as the secure hardware saw it at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootState {
    /// The OS is the manufacturer's, checked at boot.
    Verified,
    /// A locked bootloader with a user-installed key (a custom OS).
    SelfSigned,
    /// Unlocked bootloader: anything may be running.
    Unverified,
    Failed,
}

impl BootState {
    pub fn as_str(self) -> &'static str {
        match self {
            BootState::Verified => "verified",
            BootState::SelfSigned => "self_signed",
            BootState::Unverified => "unverified",
            BootState::Failed => "failed",
        }
    }
}

/// The kind of key a device signs punches with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (Android Keystore EC keys, every App Attest key).
    EcdsaP256,
    /// RSA PKCS#1 v1.5 with SHA-256 (Android Keystore RSA keys, 2048 bits or more).
    Rsa,
}

/// A device's attested public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    pub platform: AttestedPlatform,
    pub algorithm: KeyAlgorithm,
    /// The key as ring reads it: an uncompressed P-256 point, or an RSA
    /// public key in PKCS#1 DER.
    #[serde(with = "hex_bytes")]
    pub public_key: Vec<u8>,
}

impl DeviceKey {
    /// SHA-256 of the public key, hex: how people and logs name a key
    /// (for App Attest it is the key id itself).
    pub fn fingerprint(&self) -> String {
        hex::encode(sha256(&self.public_key))
    }
}

/// The two platforms that attest keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestedPlatform {
    Android,
    Ios,
}

impl AttestedPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestedPlatform::Android => "android",
            AttestedPlatform::Ios => "ios",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "android" => Some(AttestedPlatform::Android),
            "ios" => Some(AttestedPlatform::Ios),
            _ => None,
        }
    }

    pub fn platform(self) -> Platform {
        match self {
            AttestedPlatform::Android => Platform::Android,
            AttestedPlatform::Ios => Platform::Ios,
        }
    }
}

/// What an attestation proved about a device, kept with its key: the
/// facts that matter to the rules and nothing more (no IMEI, serial or
/// other device identifier, even when the attestation carries one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestedFacts {
    pub platform: AttestedPlatform,
    pub security_level: SecurityLevel,
    /// Android: the bootloader is locked. iOS: not attested.
    pub device_locked: Option<bool>,
    /// Android only.
    pub boot_state: Option<BootState>,
    /// Android: e.g. 130000 for Android 13; 0 when the device withholds it.
    pub os_version: Option<u32>,
    /// Android: the security patch level, YYYYMM.
    pub os_patch_level: Option<u32>,
    /// The attested app is the organisation's genuine app.
    pub app_matched: bool,
    /// Serial numbers (lowercase hex) of the chain's certificates, checked
    /// against the revocation list at every punch, so that a revocation
    /// published after enrolment still counts.
    pub chain_serials: Vec<String>,
}

impl AttestedFacts {
    /// What the rules observe about a device with these facts today.
    pub fn observations(&self, revocations: &RevocationList) -> Vec<Observation> {
        let mut observed = Vec::new();
        if let Some(serial) = self
            .chain_serials
            .iter()
            .find(|s| revocations.is_revoked(s))
        {
            observed.push((
                FindingCode::AttestationRevoked,
                format!("the attestation certificate {serial} is revoked"),
            ));
        }
        if !self.app_matched {
            observed.push((
                FindingCode::AppNotGenuine,
                "the attested app is not the organisation's app (package, signing certificate or app id)"
                    .to_string(),
            ));
        }
        if self.security_level == SecurityLevel::Software {
            observed.push((
                FindingCode::SoftwareKey,
                "the device key is kept in software, not in secure hardware".to_string(),
            ));
        }
        if self.device_locked == Some(false) {
            observed.push((
                FindingCode::DeviceUnlocked,
                "the device's bootloader is unlocked".to_string(),
            ));
        }
        if let Some(state) = self.boot_state.filter(|s| *s != BootState::Verified) {
            observed.push((
                FindingCode::BootUnverified,
                format!("verified boot state is {}", state.as_str()),
            ));
        }
        observed
    }
}

/// What the organisation's genuine app is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppIdentity {
    pub android: Option<AndroidApp>,
    pub ios: Option<IosApp>,
}

impl AppIdentity {
    pub fn is_empty(&self) -> bool {
        self.android.is_none() && self.ios.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndroidApp {
    pub package: String,
    /// SHA-256 digests of the app's signing certificates, lowercase hex:
    /// any one of them may have signed the installed app.
    pub signing_cert_sha256: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IosApp {
    /// The ten-character Apple team id.
    pub team_id: String,
    pub bundle_id: String,
    pub environment: AppAttestEnvironment,
}

impl IosApp {
    /// The App Attest "RP id": team id and bundle id.
    pub fn app_id(&self) -> String {
        format!("{}.{}", self.team_id, self.bundle_id)
    }
}

/// Which App Attest service issued the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppAttestEnvironment {
    Production,
    Development,
}

impl AppAttestEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            AppAttestEnvironment::Production => "production",
            AppAttestEnvironment::Development => "development",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "production" => Some(AppAttestEnvironment::Production),
            "development" => Some(AppAttestEnvironment::Development),
            _ => None,
        }
    }
}

/// One certificate of a verified chain, for people reading a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
}

/// The outcome of verifying an enrolment attestation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Why the attestation proves nothing (ATTESTATION_INVALID); empty when
    /// it is trusted.
    pub invalid: Vec<String>,
    pub chain: Vec<CertSummary>,
    pub key: DeviceKey,
    pub facts: AttestedFacts,
    /// The app ids the attestation names, for the operator's eyes only
    /// (never stored): Android package names and signing-certificate
    /// digests, or the iOS app id hash.
    pub app_ids: Vec<String>,
}

impl Report {
    /// The chain, signatures, challenge and anchors all check out: the key
    /// may be bound (its facts still become findings on each punch).
    pub fn trusted(&self) -> bool {
        self.invalid.is_empty()
    }

    /// Everything that would be found on a punch signed by this key.
    pub fn observations(&self, revocations: &RevocationList) -> Vec<Observation> {
        if !self.trusted() {
            return vec![(FindingCode::AttestationInvalid, self.invalid.join("; "))];
        }
        self.facts.observations(revocations)
    }
}

/// A punch as the device signed it: the exact request bytes and the proof.
/// The punch the engine judges was decoded from `body`, so a change to any
/// field is a change to the bytes the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    pub body: Vec<u8>,
    pub proof: Proof,
}

/// The signature part of a [`SignedEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Signature(Vec<u8>),
    Assertion(Vec<u8>),
}

impl Proof {
    pub fn as_punch_proof(&self) -> PunchProof<'_> {
        match self {
            Proof::Signature(s) => PunchProof::Signature(s),
            Proof::Assertion(a) => PunchProof::Assertion(a),
        }
    }

    /// Refuses a proof that is not even shaped right (too long, CBOR that
    /// does not decode): a bad request, not a finding.
    pub fn check_shape(&self) -> Result<(), Malformed> {
        match self {
            Proof::Signature(s) if s.is_empty() || s.len() > MAX_SIGNATURE_BYTES => Err(
                Malformed::new("signature", format!("1 to {MAX_SIGNATURE_BYTES} bytes")),
            ),
            Proof::Signature(_) => Ok(()),
            Proof::Assertion(a) => apple::parse_assertion(a).map(|_| ()),
        }
    }
}

/// A device's enrolled key, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedDevice {
    pub key: DeviceKey,
    pub facts: AttestedFacts,
    /// The highest App Attest assertion counter recorded.
    pub counter: u32,
}

/// What an organisation set up for attestation, in its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct AttestationConfig {
    pub app: AppIdentity,
    pub revocations: std::sync::Arc<RevocationList>,
}

impl Default for AttestationConfig {
    fn default() -> Self {
        Self {
            app: AppIdentity::default(),
            revocations: RevocationList::shipped(),
        }
    }
}

/// How a punch proves which device signed it.
#[derive(Debug, Clone, Copy)]
pub enum PunchProof<'a> {
    /// Android: an ECDSA (DER) or RSA signature over the punch bytes.
    Signature(&'a [u8]),
    /// iOS: an App Attest assertion (CBOR) over SHA-256 of the punch bytes.
    Assertion(&'a [u8]),
}

/// The outcome of checking a punch's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by the enrolled key; for an assertion, its counter, which
    /// must be stored with the punch.
    Valid { counter: Option<u32> },
    /// Not signed by the enrolled key (or not over these bytes).
    Invalid(String),
    /// A genuine assertion whose counter did not increase: a replay.
    Replayed { counter: u32, last: u32 },
}

/// Checks `proof` over the exact punch bytes `body` with the device's key.
/// `last_counter` is the highest assertion counter stored for the device.
pub fn verify_punch(
    key: &DeviceKey,
    body: &[u8],
    proof: PunchProof<'_>,
    ios_app: Option<&IosApp>,
    last_counter: u32,
) -> Result<SignatureCheck, Malformed> {
    match proof {
        PunchProof::Signature(signature) => {
            if signature.len() > MAX_SIGNATURE_BYTES {
                return Err(Malformed::new(
                    "signature",
                    format!("longer than {MAX_SIGNATURE_BYTES} bytes"),
                ));
            }
            Ok(if verify_with_key(key, body, signature) {
                SignatureCheck::Valid { counter: None }
            } else {
                SignatureCheck::Invalid(
                    "the signature does not match the punch and the device key".into(),
                )
            })
        }
        PunchProof::Assertion(assertion) => {
            apple::verify_assertion(key, body, assertion, ios_app, last_counter)
        }
    }
}

fn verify_with_key(key: &DeviceKey, message: &[u8], signature: &[u8]) -> bool {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    match key.algorithm {
        KeyAlgorithm::EcdsaP256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key.public_key)
            .verify(message, signature)
            .is_ok(),
        KeyAlgorithm::Rsa => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.public_key)
            .verify(message, signature)
            .is_ok(),
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Constant-time equality for values an attacker tries to match.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}
