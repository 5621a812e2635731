//! Device attestation: a device enrols a hardware-backed key (a challenge,
//! then the attestation answering it); an admin says what the genuine app
//! is and which attestation certificates are revoked; an operator checks an
//! artefact offline. Verifying a signed punch is part of the hot path
//! (`punches::submit`, the engine's `attestation` rule).

use jiff::{SignedDuration, Timestamp};

use super::punches::Admitted;
use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::attestation::{
    self, Anchors, AppIdentity, Malformed, Report, RevocationList, android, apple,
};
use crate::engine::rules::Observation;
use crate::engine::{DeviceId, EmployeeId, FindingCode};
use crate::metrics as m;
use crate::store::{AttestationSettings, Enrolment, EnrolmentChallenge};

/// The app identity and the revocation list are an admin's business.
pub const ROLE: Role = Role::Admin;
/// How long a device has to answer a challenge: key generation with
/// attestation takes seconds, even on a slow StrongBox.
pub const CHALLENGE_LIFETIME: SignedDuration = SignedDuration::from_mins(5);
/// Random bytes in a challenge.
pub const CHALLENGE_BYTES: usize = 32;
/// Largest app identity value (package, bundle id) accepted, bytes.
const MAX_APP_ID_LEN: usize = 255;
/// Most signing-certificate digests an Android app identity may allow.
pub const MAX_SIGNING_CERTS: usize = 16;

impl From<Malformed> for AppError {
    fn from(m: Malformed) -> Self {
        AppError::invalid(m.field, m.reason)
    }
}

/// What a device sends to prove its key.
#[derive(Debug, Clone)]
pub enum Artefact {
    /// Android Key Attestation: the key's certificate chain, DER, leaf first.
    Android { chain: Vec<Vec<u8>> },
    /// Apple App Attest: the attestation object and the key id.
    Ios { object: Vec<u8>, key_id: Vec<u8> },
}

/// Verifies an artefact for `challenge` at `at`: the one check behind
/// enrolment and `punchguard attestation check`.
pub fn verify(
    artefact: &Artefact,
    challenge: &[u8],
    app: &AppIdentity,
    anchors: &Anchors,
    at: Timestamp,
) -> std::result::Result<Report, Malformed> {
    match artefact {
        Artefact::Android { chain } => {
            android::verify(chain, challenge, app.android.as_ref(), anchors, at)
        }
        Artefact::Ios { object, key_id } => {
            apple::verify_attestation(object, key_id, challenge, app.ios.as_ref(), anchors, at)
        }
    }
}

/// A challenge for a device to attest its key with.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub bytes: Vec<u8>,
    pub expires_at: Timestamp,
}

/// Issues a challenge bound to the device token that asks and its device.
pub async fn challenge(app: &App, device: &Admitted, device_id: DeviceId) -> Result<Challenge> {
    let mut bytes = vec![0; CHALLENGE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let expires_at = Timestamp::now() + CHALLENGE_LIFETIME;
    app.store
        .put_challenge(
            device.org(),
            EnrolmentChallenge {
                challenge: bytes.clone(),
                device: device_id,
                employee: device.employee().clone(),
                token_id: device.actor().id.clone(),
                expires_at,
            },
        )
        .await?;
    Ok(Challenge { bytes, expires_at })
}

/// The outcome of an enrolment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub report: Report,
    /// Why the attestation is not trusted, or what every punch signed by
    /// the key will carry.
    pub findings: Vec<Observation>,
}

impl Enrolled {
    pub fn trusted(&self) -> bool {
        self.report.trusted()
    }
}

/// Verifies the device's answer to a challenge and, when it is trusted,
/// binds the key to the device.
pub async fn enrol(
    app: &App,
    device: &Admitted,
    device_id: DeviceId,
    challenge: &[u8],
    artefact: Artefact,
) -> Result<Enrolled> {
    if challenge.is_empty() || challenge.len() > 64 {
        return Err(AppError::invalid(
            "challenge",
            "the challenge CreateEnrolmentChallenge issued",
        ));
    }
    let now = Timestamp::now();
    // Taken first, whatever follows: a challenge answers one enrolment.
    let issued = app.store.take_challenge(device.org(), challenge).await?;
    let settings = app.store.load_attestation_settings(device.org()).await?;
    let revocations = revocation_list(&settings)?;
    let mut report = verify(&artefact, challenge, &settings.app, &app.anchors, now)?;
    let valid_challenge = issued.is_some_and(|c| {
        c.device == device_id
            && c.employee == *device.employee()
            && c.token_id == device.actor().id
            && c.expires_at > now
    });
    if !valid_challenge {
        report.invalid.push(
            "the challenge was not issued to this device token and device, has expired, or was already used"
                .into(),
        );
    }
    let findings = report.observations(&revocations);
    let platform = report.key.platform.as_str();
    if report.trusted() {
        let entry = audit::entry(
            device.actor(),
            "EnrolDevice",
            Some(device.employee()),
            format!("{platform} key {}", report.key.fingerprint()),
        );
        app.store
            .enrol_device(
                device.org(),
                Enrolment {
                    employee: device.employee().clone(),
                    device: device_id,
                    key: report.key.clone(),
                    facts: report.facts.clone(),
                    enrolled_at: now,
                },
                entry,
            )
            .await?;
    }
    let outcome = if report.trusted() {
        "trusted"
    } else {
        "untrusted"
    };
    metrics::counter!(m::ENROLMENTS, "platform" => platform, "outcome" => outcome).increment(1);
    tracing::info!(org = %device.org(), platform, outcome, "device enrolment");
    Ok(Enrolled { report, findings })
}

fn revocation_list(settings: &AttestationSettings) -> Result<std::sync::Arc<RevocationList>> {
    Ok(match &settings.revocations {
        Some(json) => std::sync::Arc::new(
            RevocationList::parse(json.as_bytes())
                .map_err(|e| AppError::Internal(format!("stored revocation list: {e}")))?,
        ),
        None => RevocationList::shipped(),
    })
}

/// The organisation's app identity (empty until set).
pub async fn app_identity(app: &App, actor: &Actor) -> Result<AppIdentity> {
    actor.require(ROLE)?;
    Ok(app.store.load_attestation_settings(&actor.org).await?.app)
}

/// Replaces the organisation's app identity.
pub async fn put_app_identity(
    app: &App,
    actor: &Actor,
    identity: AppIdentity,
) -> Result<AppIdentity> {
    actor.require(ROLE)?;
    let identity = checked_identity(identity)?;
    let mut settings = app.store.load_attestation_settings(&actor.org).await?;
    settings.app = identity.clone();
    let entry = audit::entry(actor, "PutAppIdentity", None, "");
    app.store
        .put_attestation_settings(&actor.org, settings, entry)
        .await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, "app identity changed");
    Ok(identity)
}

/// Replaces the organisation's revocation list (`None`: back to the
/// shipped snapshot); returns how many serials it holds.
pub async fn put_revocations(app: &App, actor: &Actor, json: Option<Vec<u8>>) -> Result<usize> {
    actor.require(ROLE)?;
    let (list, text) = match json {
        Some(json) => {
            let list =
                RevocationList::parse(&json).map_err(|e| AppError::invalid("status_json", e))?;
            let text = String::from_utf8(json)
                .map_err(|_| AppError::invalid("status_json", "not UTF-8"))?;
            (std::sync::Arc::new(list), Some(text))
        }
        None => (RevocationList::shipped(), None),
    };
    let mut settings = app.store.load_attestation_settings(&actor.org).await?;
    settings.revocations = text;
    let entry = audit::entry(
        actor,
        "PutRevocationList",
        None,
        format!("{} entries", list.len()),
    );
    app.store
        .put_attestation_settings(&actor.org, settings, entry)
        .await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, entries = list.len(), "attestation revocation list changed");
    Ok(list.len())
}

/// An employee's enrolled devices, each with the findings its punches
/// carry today (for ListDevices; the caller has checked the role and
/// audited the read).
pub async fn enrolled(
    app: &App,
    actor: &Actor,
    employee: &EmployeeId,
) -> Result<Vec<(Enrolment, Vec<FindingCode>)>> {
    let settings = app.store.load_attestation_settings(&actor.org).await?;
    let revocations = revocation_list(&settings)?;
    Ok(app
        .store
        .enrolled_devices(&actor.org, employee)
        .await?
        .into_iter()
        .map(|e| {
            let codes = e
                .facts
                .observations(&revocations)
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            (e, codes)
        })
        .collect())
}

fn checked_identity(identity: AppIdentity) -> Result<AppIdentity> {
    let text = |field: &str, value: &str| {
        if value.is_empty()
            || value.len() > MAX_APP_ID_LEN
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::invalid(
                field,
                format!("1 to {MAX_APP_ID_LEN} bytes, no spaces"),
            ));
        }
        Ok(())
    };
    let mut identity = identity;
    if let Some(android) = &mut identity.android {
        text("identity.android.package_name", &android.package)?;
        if android.signing_cert_sha256.is_empty()
            || android.signing_cert_sha256.len() > MAX_SIGNING_CERTS
        {
            return Err(AppError::invalid(
                "identity.android.signing_cert_sha256",
                format!("1 to {MAX_SIGNING_CERTS} digests"),
            ));
        }
        for (i, digest) in android.signing_cert_sha256.iter_mut().enumerate() {
            let normal = digest.replace(':', "").to_ascii_lowercase();
            if normal.len() != 64 || hex::decode(&normal).is_err() {
                return Err(AppError::invalid(
                    format!("identity.android.signing_cert_sha256[{i}]"),
                    "a SHA-256 digest: 64 hex digits",
                ));
            }
            *digest = normal;
        }
    }
    if let Some(ios) = &identity.ios {
        if ios.team_id.len() != 10 || !ios.team_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::invalid(
                "identity.ios.team_id",
                "ten letters and digits",
            ));
        }
        text("identity.ios.bundle_id", &ios.bundle_id)?;
    }
    Ok(identity)
}

/// `attestation::verify_punch`'s proof shape, checked at the door of the
/// hot path: a malformed proof is a bad request.
pub fn check_proof(proof: &attestation::Proof) -> Result<()> {
    Ok(proof.check_shape()?)
}
