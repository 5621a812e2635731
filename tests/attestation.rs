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

// ---------------------------------------------------------------------
// Synthetic chains and objects, built here, for each failure.
// ---------------------------------------------------------------------

use punchguard::engine::attestation::{AppIdentity, Malformed};
use punchguard::synthetic_device::{AndroidSpec, TestRoot, example_ios_app};

const PACKAGE: &str = "org.punchguard.example";
const CERT: [u8; 32] = [0x5a; 32];

fn our_app() -> AndroidApp {
    AndroidApp {
        package: PACKAGE.into(),
        signing_cert_sha256: vec![hex::encode(CERT)],
    }
}

fn trusting(root: &TestRoot) -> Anchors {
    Anchors::shipped()
        .with_extra(&[root.der().to_vec()])
        .unwrap()
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// Verifies a synthetic Android device's chain under `root`'s trust.
fn android_report(root: &TestRoot, spec: &AndroidSpec, app: &AndroidApp) -> attestation::Report {
    let device = root.android(spec, b"challenge-1");
    android::verify(
        &device.chain,
        b"challenge-1",
        Some(app),
        &trusting(root),
        now(),
    )
    .unwrap()
}

#[test]
fn a_genuine_synthetic_android_device_is_trusted_with_no_findings() {
    let root = TestRoot::generate("test root");
    let report = android_report(&root, &AndroidSpec::genuine(PACKAGE, CERT), &our_app());
    assert!(report.trusted(), "{:?}", report.invalid);
    assert_eq!(report.facts.device_locked, Some(true));
    assert_eq!(report.facts.boot_state, Some(BootState::Verified));
    assert_eq!(report.facts.os_patch_level, Some(202611));
    assert!(codes(&report, &RevocationList::shipped()).is_empty());
}

#[test]
fn a_chain_to_a_root_nobody_trusts_is_invalid() {
    let root = TestRoot::generate("attacker root");
    let device = root.android(&AndroidSpec::genuine(PACKAGE, CERT), b"c");
    let report = android::verify(
        &device.chain,
        b"c",
        Some(&our_app()),
        Anchors::shipped(),
        now(),
    )
    .unwrap();
    assert_eq!(
        codes(&report, &RevocationList::default()),
        vec![FindingCode::AttestationInvalid]
    );
    assert!(
        report
            .invalid
            .iter()
            .any(|r| r.contains("not one of Google's"))
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_invalid() {
    let root = TestRoot::generate("test root");
    for validity in [((2020, 1, 1), (2021, 1, 1)), ((2090, 1, 1), (2091, 1, 1))] {
        let spec = AndroidSpec {
            validity: Some(validity),
            ..AndroidSpec::genuine(PACKAGE, CERT)
        };
        let report = android_report(&root, &spec, &our_app());
        assert_eq!(
            codes(&report, &RevocationList::default()),
            vec![FindingCode::AttestationInvalid]
        );
        assert!(
            report.invalid.iter().any(|r| r.contains("is not valid at")),
            "{:?}",
            report.invalid
        );
    }
}

#[test]
fn one_flipped_byte_anywhere_in_the_chain_is_never_trusted() {
    let root = TestRoot::generate("test root");
    let device = root.android(&AndroidSpec::genuine(PACKAGE, CERT), b"c");
    let anchors = trusting(&root);
    let mut refused = 0;
    for cert in 0..device.chain.len() {
        for byte in 0..device.chain[cert].len() {
            let mut chain = device.chain.clone();
            chain[cert][byte] ^= 0x01;
            match android::verify(&chain, b"c", Some(&our_app()), &anchors, now()) {
                Ok(report) => assert!(
                    !report.trusted(),
                    "certificate {cert} byte {byte} flipped and still trusted"
                ),
                Err(Malformed { .. }) => refused += 1,
            }
        }
    }
    // Some flips break the DER (a bad request), the rest break a signature.
    assert!(refused > 0);
    // A flip inside a signature keeps the DER intact: ATTESTATION_INVALID.
    let mut chain = device.chain.clone();
    let last = chain[0].len() - 1;
    chain[0][last] ^= 0x01;
    let report = android::verify(&chain, b"c", Some(&our_app()), &anchors, now()).unwrap();
    assert!(
        report.invalid.iter().any(|r| r.contains("signature")),
        "{:?}",
        report.invalid
    );
}

#[test]
fn one_flipped_byte_anywhere_in_an_app_attest_object_is_never_trusted() {
    let root = TestRoot::generate("test root");
    let app = example_ios_app();
    let phone = root.ios(&app, b"c");
    let anchors = trusting(&root);
    // Apple's receipt is for Apple's fraud-metric service, not verified
    // here: its key and (empty) value are the only bytes allowed to change.
    let receipt = phone
        .attestation
        .windows(9)
        .position(|w| w == b"greceipt@")
        .unwrap();
    for byte in (0..phone.attestation.len()).filter(|b| !(receipt..receipt + 9).contains(b)) {
        let mut object = phone.attestation.clone();
        object[byte] ^= 0x01;
        if let Ok(report) =
            apple::verify_attestation(&object, &phone.key_id, b"c", Some(&app), &anchors, now())
        {
            assert!(
                !report.trusted() || !report.facts.app_matched,
                "byte {byte} flipped and still trusted for the app"
            );
        }
    }
}

#[test]
fn a_challenge_that_was_not_issued_is_invalid() {
    let root = TestRoot::generate("test root");
    let device = root.android(&AndroidSpec::genuine(PACKAGE, CERT), b"the one issued");
    let report = android::verify(
        &device.chain,
        b"another one",
        Some(&our_app()),
        &trusting(&root),
        now(),
    )
    .unwrap();
    assert_eq!(
        codes(&report, &RevocationList::default()),
        vec![FindingCode::AttestationInvalid]
    );
}

#[test]
fn another_apps_package_or_certificate_is_not_genuine() {
    let root = TestRoot::generate("test root");
    for spec in [
        AndroidSpec::genuine("com.cloner.copy", CERT),
        AndroidSpec::genuine(PACKAGE, [0x11; 32]),
    ] {
        let report = android_report(&root, &spec, &our_app());
        assert!(report.trusted());
        assert_eq!(
            codes(&report, &RevocationList::default()),
            vec![FindingCode::AppNotGenuine]
        );
    }
    // An organisation that named no Android app has no genuine Android app.
    let device = root.android(&AndroidSpec::genuine(PACKAGE, CERT), b"c");
    let report = android::verify(&device.chain, b"c", None, &trusting(&root), now()).unwrap();
    assert_eq!(
        codes(&report, &RevocationList::default()),
        vec![FindingCode::AppNotGenuine]
    );
}

#[test]
fn a_revoked_serial_anywhere_in_the_chain_is_found() {
    let root = TestRoot::generate("test root");
    let spec = AndroidSpec {
        serial: 0xdead_beef,
        ..AndroidSpec::genuine(PACKAGE, CERT)
    };
    let report = android_report(&root, &spec, &our_app());
    let revoked = RevocationList::parse(
        br#"{"entries":{"DEADBEEF":{"status":"REVOKED","reason":"KEY_COMPROMISE"}}}"#,
    )
    .unwrap();
    assert_eq!(
        codes(&report, &revoked),
        vec![FindingCode::AttestationRevoked]
    );
    assert!(codes(&report, &RevocationList::shipped()).is_empty());
}

#[test]
fn an_unlocked_device_an_unverified_boot_and_a_software_key_are_found() {
    let root = TestRoot::generate("test root");
    let genuine = AndroidSpec::genuine(PACKAGE, CERT);
    for (spec, expected) in [
        (
            AndroidSpec {
                device_locked: false,
                ..genuine.clone()
            },
            vec![FindingCode::DeviceUnlocked],
        ),
        (
            AndroidSpec {
                boot_state: BootState::SelfSigned,
                ..genuine.clone()
            },
            vec![FindingCode::BootUnverified],
        ),
        (
            AndroidSpec {
                boot_state: BootState::Failed,
                ..genuine.clone()
            },
            vec![FindingCode::BootUnverified],
        ),
        (
            AndroidSpec {
                security_level: SecurityLevel::Software,
                ..genuine.clone()
            },
            vec![FindingCode::SoftwareKey],
        ),
    ] {
        let report = android_report(&root, &spec, &our_app());
        assert!(report.trusted());
        assert_eq!(
            codes(&report, &RevocationList::default()),
            expected,
            "{spec:?}"
        );
    }
}

#[test]
fn a_signature_over_a_punch_with_one_field_changed_is_invalid() {
    use prost::Message;
    use punchguard::proto::v1 as pb;
    let root = TestRoot::generate("test root");
    let device = root.android(&AndroidSpec::genuine(PACKAGE, CERT), b"c");
    let report = android::verify(
        &device.chain,
        b"c",
        Some(&our_app()),
        &trusting(&root),
        now(),
    )
    .unwrap();
    let mut punch = pb::SubmitPunchRequest {
        punch_id: "p-1".into(),
        nonce: "n-1".into(),
        ..Default::default()
    };
    let body = punch.encode_to_vec();
    let signature = device.sign(&body);
    let valid = attestation::verify_punch(
        &report.key,
        &body,
        PunchProof::Signature(&signature),
        None,
        0,
    )
    .unwrap();
    assert_eq!(valid, SignatureCheck::Valid { counter: None });
    punch.punch_id = "p-2".into();
    let altered = attestation::verify_punch(
        &report.key,
        &punch.encode_to_vec(),
        PunchProof::Signature(&signature),
        None,
        0,
    )
    .unwrap();
    assert!(matches!(altered, SignatureCheck::Invalid(_)), "{altered:?}");
}

#[test]
fn synthetic_app_attest_enrols_and_a_counter_that_does_not_increase_is_a_replay() {
    let root = TestRoot::generate("test root");
    let app = example_ios_app();
    let mut phone = root.ios(&app, b"challenge");
    let report = apple::verify_attestation(
        &phone.attestation,
        &phone.key_id,
        b"challenge",
        Some(&app),
        &trusting(&root),
        now(),
    )
    .unwrap();
    assert!(report.trusted(), "{:?}", report.invalid);
    assert!(report.facts.app_matched);
    let first = phone.assert(b"punch 1");
    assert_eq!(
        attestation::verify_punch(
            &report.key,
            b"punch 1",
            PunchProof::Assertion(&first),
            Some(&app),
            0
        )
        .unwrap(),
        SignatureCheck::Valid { counter: Some(1) }
    );
    let stale = phone.assert_with_counter(b"punch 2", 1);
    assert_eq!(
        attestation::verify_punch(
            &report.key,
            b"punch 2",
            PunchProof::Assertion(&stale),
            Some(&app),
            1
        )
        .unwrap(),
        SignatureCheck::Replayed {
            counter: 1,
            last: 1
        }
    );
    // Untrusted without the root.
    let report = apple::verify_attestation(
        &phone.attestation,
        &phone.key_id,
        b"challenge",
        Some(&app),
        Anchors::shipped(),
        now(),
    )
    .unwrap();
    assert!(
        report
            .invalid
            .iter()
            .any(|r| r.contains("Apple App Attestation Root")),
        "{:?}",
        report.invalid
    );
}

// ---------------------------------------------------------------------
// Bad input: a clear error naming the field, never a panic.
// ---------------------------------------------------------------------

fn malformed_android(chain: Vec<Vec<u8>>) -> Malformed {
    android::verify(&chain, b"c", None, Anchors::shipped(), now()).unwrap_err()
}

#[test]
fn truncated_der_names_the_certificate() {
    let chain = real_android_chain("algorithm_EC_SecurityLevel_TEE");
    for cut in [0, 1, 10, chain[1].len() / 2, chain[1].len() - 1] {
        let mut bad = chain.clone();
        bad[1].truncate(cut);
        let m = malformed_android(bad);
        assert_eq!(m.field, "android.certificate_chain[1]", "cut at {cut}: {m}");
    }
}

#[test]
fn a_chain_of_fifty_certificates_is_refused_before_parsing() {
    let chain = real_android_chain("algorithm_EC_SecurityLevel_TEE");
    let long: Vec<Vec<u8>> = (0..50).map(|i| chain[i % 4].clone()).collect();
    let m = malformed_android(long);
    assert_eq!(m.field, "android.certificate_chain");
    assert!(m.reason.contains("50 certificates"), "{m}");
}

#[test]
fn wrong_algorithms_are_named() {
    // An Ed25519 certificate: a signature algorithm attestation never uses.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let m = malformed_android(vec![cert.der().to_vec()]);
    assert_eq!(
        m.field, "android.certificate_chain[0].signature_algorithm",
        "{m}"
    );
    // A P-384 device key: Keystore punch keys are P-256 or RSA.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let cert = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let m = malformed_android(vec![cert.der().to_vec()]);
    assert_eq!(
        m.field, "android.certificate_chain[0].subject_public_key",
        "{m}"
    );
}

#[test]
fn oversized_and_nested_cbor_is_refused_with_the_field_named() {
    let verify = |object: &[u8]| {
        apple::verify_attestation(object, &[0; 32], b"c", None, Anchors::shipped(), now())
            .unwrap_err()
    };
    let huge = vec![0x41; 10 * 1024 * 1024];
    let m = verify(&huge);
    assert_eq!(m.field, "apple.attestation_object");
    assert!(m.reason.contains("at most"), "{m}");
    // 50,000 nested arrays: a recursion bomb, refused at the depth limit.
    let mut bomb = vec![0x81; 50_000];
    bomb.push(0x00);
    assert_eq!(verify(&bomb).field, "apple.attestation_object");
    // A byte string claiming 2^63 bytes, followed by nothing.
    let liar = [0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(verify(&liar).field, "apple.attestation_object");
    // Well-formed CBOR, but not what App Attest sends.
    let mut wrong = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![(
            ciborium::Value::Text("fmt".into()),
            ciborium::Value::Text("packed".into()),
        )]),
        &mut wrong,
    )
    .unwrap();
    assert_eq!(verify(&wrong).field, "apple.attestation_object.fmt");
    // Assertions too.
    let key = ios_sample("14.4");
    let report = apple::verify_attestation(
        &key.attestation,
        &key.key_id,
        &key.challenge,
        Some(&key.app),
        Anchors::shipped(),
        key.attested_at,
    )
    .unwrap();
    for bad in [vec![], vec![0xa0], bomb.clone(), vec![0x41; 4096]] {
        let m = attestation::verify_punch(
            &report.key,
            b"p",
            PunchProof::Assertion(&bad),
            Some(&key.app),
            0,
        )
        .unwrap_err();
        assert!(m.field.starts_with("assertion"), "{m}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Whatever the bytes, the parsers answer; they never panic.
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let _ = android::verify(std::slice::from_ref(&bytes), b"c", Some(&our_app()), Anchors::shipped(), now());
        let _ = android::parse_key_description(&bytes);
        let _ = apple::verify_attestation(&bytes, &[0; 32], b"c", Some(&example_ios_app()), Anchors::shipped(), now());
        let _ = apple::parse_assertion(&bytes);
        let _ = RevocationList::parse(&bytes);
    }
}

#[test]
fn an_app_identity_names_what_is_genuine() {
    let identity = AppIdentity {
        android: Some(our_app()),
        ios: Some(example_ios_app()),
    };
    assert!(!identity.is_empty());
    assert!(AppIdentity::default().is_empty());
}

/// `punchguard attestation check`, as an operator runs it on a phone's chain.
#[test]
fn the_check_command_reports_a_real_chain_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.pem");
    let pem: String = real_android_chain("algorithm_RSA_SecurityLevel_TEE")
        .iter()
        .map(|der| {
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
        })
        .collect();
    std::fs::write(&file, pem).unwrap();
    let run = |at: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_punchguard"))
            .args([
                "attestation",
                "check",
                "--platform",
                "android",
                "--challenge-text",
                "abc",
            ])
            .args(["--at", at, "--package", "com.android.keychain"])
            .args([
                "--signing-cert-sha256",
                &keychain_app().signing_cert_sha256[0],
            ])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run("2019-08-01T00:00:00Z");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["trusted"], true);
    assert_eq!(report["key"]["algorithm"], "rsa");
    assert_eq!(report["facts"]["security_level"], "trusted_environment");
    assert_eq!(report["chain"].as_array().unwrap().len(), 4);
    assert_eq!(
        report["findings"],
        serde_json::json!(["DEVICE_UNLOCKED", "BOOT_UNVERIFIED"])
    );
    // Today the 2016 root has expired: not trusted, and the status says so.
    let out = run("2026-12-01T00:00:00Z");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["trusted"], false);
}
