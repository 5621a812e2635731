//! Attestation messages ↔ domain types: enrolment artefacts, signed punch
//! envelopes, the app identity and what a device's attestation proved.

use std::sync::Arc;

use jiff::Timestamp;
use prost::Message;

use super::timestamp_to_pb;
use crate::app::AppError;
use crate::app::attestation::{Artefact, Enrolled};
use crate::engine::attestation::{
    AndroidApp, AppAttestEnvironment, AppIdentity, IosApp, MAX_CHAIN_CERTS, Proof, SignedEnvelope,
};
use crate::engine::{EmployeeId, FindingCode, OrgId, Punch};
use crate::proto::v1 as pb;
use crate::server::MAX_PUNCH_MESSAGE;
use crate::store::Enrolment;

/// A signed punch: the punch decoded from the exact bytes the proof covers.
pub fn signed_punch(
    request: pb::SubmitSignedPunchRequest,
    org: &OrgId,
    employee: &EmployeeId,
    now: Timestamp,
) -> Result<Punch, AppError> {
    let proof = match request.proof {
        Some(pb::submit_signed_punch_request::Proof::Signature(s)) => Proof::Signature(s),
        Some(pb::submit_signed_punch_request::Proof::Assertion(a)) => Proof::Assertion(a),
        None => {
            return Err(AppError::invalid(
                "proof",
                "required: signature (Android) or assertion (iOS)",
            ));
        }
    };
    if request.punch.is_empty() || request.punch.len() > MAX_PUNCH_MESSAGE {
        return Err(AppError::invalid(
            "punch",
            format!("a serialized SubmitPunchRequest of 1 to {MAX_PUNCH_MESSAGE} bytes"),
        ));
    }
    let inner = pb::SubmitPunchRequest::decode(request.punch.as_slice())
        .map_err(|e| AppError::invalid("punch", format!("not a SubmitPunchRequest: {e}")))?;
    let mut punch = super::punch(inner, org, employee, now).map_err(|e| match e {
        AppError::InvalidArgument { field, description } => {
            AppError::invalid(format!("punch.{field}"), description)
        }
        other => other,
    })?;
    punch.signed = Some(Arc::new(SignedEnvelope {
        body: request.punch,
        proof,
    }));
    Ok(punch)
}

/// The artefact of an EnrolDevice request, within the contract's bounds.
pub fn artefact(
    attestation: Option<pb::enrol_device_request::Attestation>,
) -> Result<Artefact, AppError> {
    match attestation {
        Some(pb::enrol_device_request::Attestation::Android(a)) => {
            if a.certificate_chain.len() > MAX_CHAIN_CERTS {
                return Err(AppError::invalid(
                    "android.certificate_chain",
                    format!(
                        "{} certificates; at most {MAX_CHAIN_CERTS}",
                        a.certificate_chain.len()
                    ),
                ));
            }
            Ok(Artefact::Android {
                chain: a.certificate_chain,
            })
        }
        Some(pb::enrol_device_request::Attestation::Apple(a)) => {
            if a.key_id.len() != 32 {
                return Err(AppError::invalid(
                    "apple.key_id",
                    "the 32-byte key id generateKey returned",
                ));
            }
            Ok(Artefact::Ios {
                object: a.attestation_object,
                key_id: a.key_id,
            })
        }
        None => Err(AppError::invalid(
            "attestation",
            "required: android or apple",
        )),
    }
}

pub fn enrolled_to_pb(enrolled: &Enrolled) -> pb::EnrolDeviceResponse {
    let report = &enrolled.report;
    pb::EnrolDeviceResponse {
        trusted: enrolled.trusted(),
        findings: enrolled
            .findings
            .iter()
            .map(|(code, message)| pb::Finding {
                code: *code as i32,
                action: pb::Action::Unspecified.into(),
                message: message.clone(),
            })
            .collect(),
        platform: report.key.platform.as_str().to_owned(),
        security_level: report.facts.security_level.as_str().to_owned(),
        key_fingerprint: report.key.fingerprint(),
    }
}

pub fn attested_device_to_pb(e: &Enrolment, codes: &[FindingCode]) -> pb::AttestedDevice {
    let facts = &e.facts;
    pb::AttestedDevice {
        platform: facts.platform.as_str().to_owned(),
        security_level: facts.security_level.as_str().to_owned(),
        device_locked: facts.device_locked,
        boot_state: facts
            .boot_state
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        os_version: facts.os_version,
        os_patch_level: facts.os_patch_level,
        app_matched: facts.app_matched,
        key_fingerprint: e.key.fingerprint(),
        enrolled_time: Some(timestamp_to_pb(e.enrolled_at)),
        findings: codes
            .iter()
            .map(|code| pb::Finding {
                code: *code as i32,
                action: pb::Action::Unspecified.into(),
                message: code.as_str().to_owned(),
            })
            .collect(),
    }
}

pub fn app_identity_to_pb(app: &AppIdentity) -> pb::AppIdentity {
    pb::AppIdentity {
        android: app.android.as_ref().map(|a| pb::AndroidAppIdentity {
            package_name: a.package.clone(),
            signing_cert_sha256: a.signing_cert_sha256.clone(),
        }),
        ios: app.ios.as_ref().map(|i| pb::IosAppIdentity {
            team_id: i.team_id.clone(),
            bundle_id: i.bundle_id.clone(),
            environment: match i.environment {
                AppAttestEnvironment::Production => pb::AppAttestEnvironment::Production,
                AppAttestEnvironment::Development => pb::AppAttestEnvironment::Development,
            }
            .into(),
        }),
    }
}

/// An app identity from an admin (its values are checked by the use case).
pub fn app_identity_from_pb(identity: Option<pb::AppIdentity>) -> Result<AppIdentity, AppError> {
    let identity = identity.ok_or_else(|| AppError::invalid("identity", "required"))?;
    Ok(AppIdentity {
        android: identity.android.map(|a| AndroidApp {
            package: a.package_name,
            signing_cert_sha256: a.signing_cert_sha256,
        }),
        ios: identity
            .ios
            .map(|i| {
                let environment = match pb::AppAttestEnvironment::try_from(i.environment) {
                    Ok(pb::AppAttestEnvironment::Development) => AppAttestEnvironment::Development,
                    Ok(
                        pb::AppAttestEnvironment::Production
                        | pb::AppAttestEnvironment::Unspecified,
                    ) => AppAttestEnvironment::Production,
                    Err(_) => {
                        return Err(AppError::invalid(
                            "identity.ios.environment",
                            "PRODUCTION or DEVELOPMENT",
                        ));
                    }
                };
                Ok(IosApp {
                    team_id: i.team_id,
                    bundle_id: i.bundle_id,
                    environment,
                })
            })
            .transpose()?,
    })
}
