//! What attestation costs: verifying an enrolment (once per phone) and a
//! signed punch (every punch), on real devices' artefacts where they exist
//! (tests/data/attestation, cited in tests/attestation.rs) and on a
//! synthetic Android key for the per-punch ECDSA signature.

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use punchguard::engine::attestation::{
    self, Anchors, AndroidApp, AppAttestEnvironment, IosApp, PunchProof, android, apple,
};
use punchguard::synthetic_device::{AndroidSpec, TestRoot};

fn android_chain(name: &str) -> Vec<Vec<u8>> {
    (0..4)
        .map(|i| {
            std::fs::read(format!("tests/data/attestation/android/{name}/cert{i}.der")).unwrap()
        })
        .collect()
}

fn enrolment(c: &mut Criterion) {
    let at: Timestamp = "2019-08-01T00:00:00Z".parse().unwrap();
    let app = AndroidApp {
        package: "com.android.keychain".into(),
        signing_cert_sha256: vec![
            "301aa3cb081134501c45f1422abc66c24224fd5ded5fdc8f17e697176fd866aa".into(),
        ],
    };
    let mut group = c.benchmark_group("enrolment");
    for (label, name) in [
        ("android_ec_chain", "algorithm_EC_SecurityLevel_TEE"),
        ("android_rsa_chain", "algorithm_RSA_SecurityLevel_TEE"),
    ] {
        let chain = android_chain(name);
        group.bench_function(label, |b| {
            b.iter(|| {
                let report =
                    android::verify(&chain, b"abc", Some(&app), Anchors::shipped(), at).unwrap();
                assert!(report.trusted());
            })
        });
    }
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/attestation/ios/ios-14.4.json").unwrap(),
    )
    .unwrap();
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let a = &sample["attestation"];
    let (object, key_id, challenge) = (
        b64(&a["attestationBase64"]),
        b64(&a["keyIdBase64"]),
        b64(&a["clientDataBase64"]),
    );
    let at: Timestamp = a["timestamp"].as_str().unwrap().parse().unwrap();
    let ios = IosApp {
        team_id: a["teamIdentifier"].as_str().unwrap().into(),
        bundle_id: a["bundleIdentifier"].as_str().unwrap().into(),
        environment: AppAttestEnvironment::Development,
    };
    group.bench_function("app_attest_object", |b| {
        b.iter(|| {
            let report = apple::verify_attestation(
                &object,
                &key_id,
                &challenge,
                Some(&ios),
                Anchors::shipped(),
                at,
            )
            .unwrap();
            assert!(report.trusted());
        })
    });
    group.finish();

    let mut group = c.benchmark_group("signed_punch");
    let report = apple::verify_attestation(
        &object,
        &key_id,
        &challenge,
        Some(&ios),
        Anchors::shipped(),
        at,
    )
    .unwrap();
    let s = &sample["assertion"];
    let (assertion, client_data) = (b64(&s["assertionBase64"]), b64(&s["clientDataBase64"]));
    group.bench_function("app_attest_assertion", |b| {
        b.iter(|| {
            attestation::verify_punch(
                &report.key,
                &client_data,
                PunchProof::Assertion(&assertion),
                Some(&ios),
                0,
            )
            .unwrap()
        })
    });
    let root = TestRoot::generate("bench root");
    let anchors = Anchors::shipped()
        .with_extra(&[root.der().to_vec()])
        .unwrap();
    let phone = root.android(&AndroidSpec::genuine("org.example", [1; 32]), b"c");
    let key = android::verify(&phone.chain, b"c", None, &anchors, Timestamp::now())
        .unwrap()
        .key;
    // A typical punch is ~300 bytes on the wire.
    let body = vec![0x2a; 300];
    let signature = phone.sign(&body);
    group.bench_function("android_ecdsa_p256", |b| {
        b.iter(|| {
            attestation::verify_punch(&key, &body, PunchProof::Signature(&signature), None, 0)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, enrolment);
criterion_main!(benches);
