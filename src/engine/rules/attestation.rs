//! Device attestation and signed punches: is the punch signed by the key
//! its device enrolled, and what did that enrolment prove? Decided under
//! the organisation's attestation mode (the policy applies it to actions).

use super::Observation;
use crate::engine::attestation::{self, SignatureCheck};
use crate::engine::history::History;
use crate::engine::policy::AttestationMode;
use crate::engine::snapshot::OrgSnapshot;
use crate::engine::types::{Assurance, FindingCode, Punch};

pub fn check(
    snapshot: &OrgSnapshot,
    punch: &Punch,
    history: &History,
) -> (Vec<Observation>, Assurance) {
    if snapshot.policy.attestation == AttestationMode::Off {
        return (Vec::new(), Assurance::Reported);
    }
    let config = &snapshot.attestation;
    let not_attested = |why: &str| (FindingCode::DeviceNotAttested, why.to_string());
    match (&history.attested, &punch.signed) {
        // Until the organisation names its app nothing can be attested, so
        // an unenrolled device is not yet a finding (today's clients).
        (None, None) if config.app.is_empty() => (Vec::new(), Assurance::Reported),
        (None, None) => (
            vec![not_attested("the device has not enrolled an attested key")],
            Assurance::Reported,
        ),
        (None, Some(_)) => (
            vec![not_attested(
                "the punch is signed, but its device has no attested key",
            )],
            Assurance::Reported,
        ),
        (Some(_), None) => (
            vec![(
                FindingCode::SignatureMissing,
                "the device enrolled a key but sent the punch unsigned".into(),
            )],
            Assurance::Reported,
        ),
        (Some(device), Some(envelope)) => {
            let check = attestation::verify_punch(
                &device.key,
                &envelope.body,
                envelope.proof.as_punch_proof(),
                config.app.ios.as_ref(),
                device.counter,
            );
            match check {
                Ok(SignatureCheck::Valid { counter }) => (
                    device.facts.observations(&config.revocations),
                    Assurance::Attested { counter },
                ),
                Ok(SignatureCheck::Replayed { counter, last }) => (
                    vec![(
                        FindingCode::AssertionReplayed,
                        format!(
                            "assertion counter {counter} does not exceed the last one recorded, {last}"
                        ),
                    )],
                    Assurance::Reported,
                ),
                Ok(SignatureCheck::Invalid(why)) => (
                    vec![(FindingCode::SignatureInvalid, why)],
                    Assurance::Reported,
                ),
                // The door checks the proof's shape first; anything left is
                // simply not a valid signature.
                Err(malformed) => (
                    vec![(FindingCode::SignatureInvalid, malformed.to_string())],
                    Assurance::Reported,
                ),
            }
        }
    }
}
