//! Device attestation verified offline: real attestations produced by real
//! devices (each cited where it is read), then synthetic chains and objects
//! built here for every failure real data cannot show.

mod common;

use base64::Engine as _;
use jiff::Timestamp;
use punchguard::engine::FindingCode;
use punchguard::engine::attestation::{
    self, Anchors, AndroidApp, AppAttestEnvironment, BootState, IosApp, KeyAlgorithm, PunchProof,
    RevocationList, SecurityLevel, SignatureCheck, android, apple,
};

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn codes(report: &attestation::Report, revocations: &RevocationList) -> Vec<FindingCode> {
    report
        .observations(revocations)
        .into_iter()
        .map(|(code, _)| code)
        .collect()
}

/// Chains from google/android-key-attestation's test resources
/// (src/test/resources/der/algorithm_{EC,RSA}_SecurityLevel_TEE, commit
/// f9846cd019289f1788cec65b062d9f81c0c4884c, Apache-2.0): keys a real phone
/// generated in its TEE with the challenge "abc", chained to Google's 2016
/// hardware attestation root. That project's ParsedAttestationRecordTest
/// states attestation version 3, security level TRUSTED_ENVIRONMENT and the
/// challenge "abc"; the RootOfTrust it carries says unlocked, boot state
/// UNVERIFIED, patch level 2019-07.
fn real_android_chain(name: &str) -> Vec<Vec<u8>> {
    (0..4)
        .map(|i| {
            std::fs::read(format!("tests/data/attestation/android/{name}/cert{i}.der")).unwrap()
        })
        .collect()
}

/// A moment inside every certificate's validity (the 2016 root expired in May 2026).
fn in_2019() -> Timestamp {
    "2019-08-01T00:00:00Z".parse().unwrap()
}

/// The app the real chains name: the system's shared-uid packages, signed
/// with the platform key whose digest the chain carries.
fn keychain_app() -> AndroidApp {
    AndroidApp {
        package: "com.android.keychain".into(),
        signing_cert_sha256: vec![
            "301aa3cb081134501c45f1422abc66c24224fd5ded5fdc8f17e697176fd866aa".into(),
        ],
    }
}

#[test]
fn real_android_tee_chains_verify_and_their_facts_are_read() {
    for (name, algorithm) in [
        ("algorithm_EC_SecurityLevel_TEE", KeyAlgorithm::EcdsaP256),
        ("algorithm_RSA_SecurityLevel_TEE", KeyAlgorithm::Rsa),
    ] {
        let chain = real_android_chain(name);
        let report = android::verify(
            &chain,
            b"abc",
            Some(&keychain_app()),
            Anchors::shipped(),
            in_2019(),
        )
        .unwrap();
        assert!(report.trusted(), "{name}: {:?}", report.invalid);
        assert_eq!(report.key.algorithm, algorithm, "{name}");
        let facts = &report.facts;
        assert_eq!(
            facts.security_level,
            SecurityLevel::TrustedEnvironment,
            "{name}"
        );
        assert_eq!(facts.device_locked, Some(false), "{name}");
        assert_eq!(facts.boot_state, Some(BootState::Unverified), "{name}");
        assert_eq!(facts.os_patch_level, Some(201907), "{name}");
        assert!(facts.app_matched, "{name}");
        assert!(
            report
                .app_ids
                .contains(&"package:com.android.keychain".to_string())
        );
        assert_eq!(report.chain.len(), 4);
        assert_eq!(report.chain[3].subject, "serialNumber=f92009e853b6b045");
        // An unlocked phone with an unverified OS: genuine hardware, weakened.
        assert_eq!(
            codes(&report, &RevocationList::shipped()),
            vec![FindingCode::DeviceUnlocked, FindingCode::BootUnverified],
            "{name}"
        );
    }
}

#[test]
fn real_android_chain_fails_outside_its_validity_and_for_another_challenge() {
    let chain = real_android_chain("algorithm_EC_SecurityLevel_TEE");
    let today: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let report = android::verify(&chain, b"abc", None, Anchors::shipped(), today).unwrap();
    assert!(!report.trusted());
    assert!(
        report.invalid.iter().any(|r| r.contains("not valid at")),
        "{:?}",
        report.invalid
    );

    let report = android::verify(&chain, b"abd", None, Anchors::shipped(), in_2019()).unwrap();
    assert!(
        report.invalid.iter().any(|r| r.contains("challenge")),
        "{:?}",
        report.invalid
    );
    assert_eq!(
        codes(&report, &RevocationList::default()),
        vec![FindingCode::AttestationInvalid]
    );
}

#[test]
fn real_strongbox_chain_from_a_test_root_is_not_trusted() {
    // The same project's StrongBox samples end in a pre-release root
    // (serialNumber=e35d38c6897d47e8) that is not one of Google's.
    let chain = real_android_chain("algorithm_EC_SecurityLevel_StrongBox");
    let report = android::verify(&chain, b"abc", None, Anchors::shipped(), in_2019()).unwrap();
    assert!(
        report
            .invalid
            .iter()
            .any(|r| r.contains("not one of Google's")),
        "{:?}",
        report.invalid
    );
    assert_eq!(report.facts.security_level, SecurityLevel::StrongBox);
}

/// App Attest samples from veehaitch/devicecheck-appattest's test resources
/// (src/test/resources/ios-14.x.yaml, commit
/// cb26211f63c1e2e7949deafe2efdf352daca27fa, Apache-2.0), produced by real
/// iPhones for the app 6MURL8TA57.de.vincent-haupert.apple-appattest-poc in
/// the development environment; converted to JSON, nothing else changed.
struct IosSample {
    attestation: Vec<u8>,
    key_id: Vec<u8>,
    challenge: Vec<u8>,
    attested_at: Timestamp,
    assertion: Vec<u8>,
    assertion_client_data: Vec<u8>,
    assertion_counter: u32,
    app: IosApp,
}

fn ios_sample(version: &str) -> IosSample {
    let text =
        std::fs::read_to_string(format!("tests/data/attestation/ios/ios-{version}.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let a = &json["attestation"];
    let s = &json["assertion"];
    IosSample {
        attestation: b64(a["attestationBase64"].as_str().unwrap()),
        key_id: b64(a["keyIdBase64"].as_str().unwrap()),
        challenge: b64(a["clientDataBase64"].as_str().unwrap()),
        attested_at: a["timestamp"].as_str().unwrap().parse().unwrap(),
        assertion: b64(s["assertionBase64"].as_str().unwrap()),
        assertion_client_data: b64(s["clientDataBase64"].as_str().unwrap()),
        assertion_counter: s["counter"].as_u64().unwrap() as u32,
        app: IosApp {
            team_id: a["teamIdentifier"].as_str().unwrap().into(),
            bundle_id: a["bundleIdentifier"].as_str().unwrap().into(),
            environment: AppAttestEnvironment::Development,
        },
    }
}

#[test]
fn real_app_attest_attestations_and_assertions_verify() {
    for version in ["14.2", "14.4"] {
        let s = ios_sample(version);
        let report = apple::verify_attestation(
            &s.attestation,
            &s.key_id,
            &s.challenge,
            Some(&s.app),
            Anchors::shipped(),
            s.attested_at,
        )
        .unwrap();
        assert!(report.trusted(), "{version}: {:?}", report.invalid);
        assert!(report.facts.app_matched, "{version}");
        assert_eq!(report.facts.security_level, SecurityLevel::SecureEnclave);
        assert!(
            report
                .app_ids
                .contains(&"environment:development".to_string())
        );
        assert_eq!(
            report.key.fingerprint(),
            hex::encode(&s.key_id),
            "{version}"
        );
        assert!(codes(&report, &RevocationList::shipped()).is_empty());

        // The assertion the same phone made next, with its counter.
        let check = attestation::verify_punch(
            &report.key,
            &s.assertion_client_data,
            PunchProof::Assertion(&s.assertion),
            Some(&s.app),
            0,
        )
        .unwrap();
        assert_eq!(
            check,
            SignatureCheck::Valid {
                counter: Some(s.assertion_counter)
            },
            "{version}"
        );
        // Sent again, it is a replay; over other bytes, it is invalid.
        let again = attestation::verify_punch(
            &report.key,
            &s.assertion_client_data,
            PunchProof::Assertion(&s.assertion),
            Some(&s.app),
            s.assertion_counter,
        )
        .unwrap();
        assert!(
            matches!(again, SignatureCheck::Replayed { .. }),
            "{again:?}"
        );
        let altered = attestation::verify_punch(
            &report.key,
            b"another punch",
            PunchProof::Assertion(&s.assertion),
            Some(&s.app),
            0,
        )
        .unwrap();
        assert!(matches!(altered, SignatureCheck::Invalid(_)), "{altered:?}");
    }
}

#[test]
fn real_app_attest_for_another_app_or_environment_is_not_genuine() {
    let s = ios_sample("14.4");
    for app in [
        IosApp {
            bundle_id: "com.example.other".into(),
            ..s.app.clone()
        },
        IosApp {
            environment: AppAttestEnvironment::Production,
            ..s.app.clone()
        },
    ] {
        let report = apple::verify_attestation(
            &s.attestation,
            &s.key_id,
            &s.challenge,
            Some(&app),
            Anchors::shipped(),
            s.attested_at,
        )
        .unwrap();
        assert!(report.trusted());
        assert_eq!(
            codes(&report, &RevocationList::default()),
            vec![FindingCode::AppNotGenuine]
        );
    }
    // Another challenge, or another key id, proves nothing.
    let report = apple::verify_attestation(
        &s.attestation,
        &s.key_id,
        b"other",
        Some(&s.app),
        Anchors::shipped(),
        s.attested_at,
    )
    .unwrap();
    assert!(
        report.invalid.iter().any(|r| r.contains("nonce")),
        "{:?}",
        report.invalid
    );
    let report = apple::verify_attestation(
        &s.attestation,
        &[0; 32],
        &s.challenge,
        Some(&s.app),
        Anchors::shipped(),
        s.attested_at,
    )
    .unwrap();
    assert!(
        report.invalid.iter().any(|r| r.contains("key id")),
        "{:?}",
        report.invalid
    );
}
