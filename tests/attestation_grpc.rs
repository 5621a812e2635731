//! Attestation end to end through the real gRPC server, on SQLite and on
//! PostgreSQL: enrol, a signed punch accepted, a tampered punch flagged, a
//! replayed assertion flagged, `require` rejecting an unenrolled device and
//! `observe` only reviewing it; revocation; bad input named by field.
//!
//! The phones are synthetic (`punchguard::synthetic_device`) under a root
//! the test server is told to trust; real devices' attestations are
//! verified in tests/attestation.rs.

mod common;

use common::postgres::Schema;
use common::{TestServer, authed, honest, violated_field};
use prost::Message;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::attestation_service_client::AttestationServiceClient;
use punchguard::synthetic_device::{AndroidSpec, TestRoot, example_ios_app};
use tonic::Code;
use tonic::transport::Channel;

const ORG: &str = "acme";
const PACKAGE: &str = "org.punchguard.example";
const CERT: [u8; 32] = [0x5a; 32];

struct Setup {
    server: TestServer,
    root: TestRoot,
    admin: String,
}

async fn attestation_client(server: &TestServer) -> AttestationServiceClient<Channel> {
    AttestationServiceClient::new(server.channel().await).max_encoding_message_size(16 << 20)
}

async fn setup(postgres: Option<&str>) -> Setup {
    let root = TestRoot::generate("staging root");
    let server = TestServer::start_trusting(postgres, root.der()).await;
    let admin = server.kotka_org(ORG).await;
    let ios = example_ios_app();
    attestation_client(&server)
        .await
        .put_app_identity(authed(
            pb::PutAppIdentityRequest {
                org_id: String::new(),
                identity: Some(pb::AppIdentity {
                    android: Some(pb::AndroidAppIdentity {
                        package_name: PACKAGE.into(),
                        signing_cert_sha256: vec![hex::encode(CERT)],
                    }),
                    ios: Some(pb::IosAppIdentity {
                        team_id: ios.team_id.clone(),
                        bundle_id: ios.bundle_id.clone(),
                        environment: pb::AppAttestEnvironment::Production.into(),
                    }),
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    Setup {
        server,
        root,
        admin,
    }
}

async fn challenge(server: &TestServer, device: &str, device_id: &str) -> Vec<u8> {
    attestation_client(server)
        .await
        .create_enrolment_challenge(authed(
            pb::CreateEnrolmentChallengeRequest {
                device_id: device_id.into(),
            },
            device,
        ))
        .await
        .unwrap()
        .into_inner()
        .challenge
}

async fn enrol(
    server: &TestServer,
    token: &str,
    device_id: &str,
    challenge: Vec<u8>,
    attestation: pb::enrol_device_request::Attestation,
) -> Result<pb::EnrolDeviceResponse, tonic::Status> {
    attestation_client(server)
        .await
        .enrol_device(authed(
            pb::EnrolDeviceRequest {
                device_id: device_id.into(),
                challenge,
                attestation: Some(attestation),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner())
}

fn android(chain: Vec<Vec<u8>>) -> pb::enrol_device_request::Attestation {
    pb::enrol_device_request::Attestation::Android(pb::AndroidKeyAttestation {
        certificate_chain: chain,
    })
}

async fn signed(
    server: &TestServer,
    token: &str,
    body: Vec<u8>,
    proof: pb::submit_signed_punch_request::Proof,
) -> Result<pb::Verdict, tonic::Status> {
    server
        .punch_client()
        .await
        .submit_signed_punch(authed(
            pb::SubmitSignedPunchRequest {
                punch: body,
                proof: Some(proof),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().verdict.unwrap())
}

fn codes(verdict: &pb::Verdict) -> Vec<pb::FindingCode> {
    verdict.findings.iter().map(|f| f.code()).collect()
}

/// Punch `id` from the Android `phone`, signed as it sends it.
async fn android_signed(
    server: &TestServer,
    token: &str,
    phone: &punchguard::synthetic_device::AndroidDevice,
    id: &str,
    device_id: &str,
) -> pb::Verdict {
    let (_, bytes) = body(id, device_id);
    let signature = phone.sign(&bytes);
    signed(
        server,
        token,
        bytes,
        pb::submit_signed_punch_request::Proof::Signature(signature),
    )
    .await
    .unwrap()
}

/// A punch from `device_id`, as bytes to sign.
fn body(id: &str, device_id: &str) -> (pb::SubmitPunchRequest, Vec<u8>) {
    let mut request = honest(id);
    request.device.as_mut().unwrap().device_id = device_id.into();
    request.nonce = format!("nonce-{id}");
    let bytes = request.encode_to_vec();
    (request, bytes)
}

async fn the_whole_story(postgres: Option<&str>) {
    let Setup {
        server,
        root,
        admin,
    } = setup(postgres).await;
    let aino = server.token(ORG, Role::Device, Some("aino")).await;

    // Enrol an Android phone.
    let phone_id = "aino-pixel";
    let c = challenge(&server, &aino, phone_id).await;
    let phone = root.android(&AndroidSpec::genuine(PACKAGE, CERT), &c);
    let enrolled = enrol(
        &server,
        &aino,
        phone_id,
        c.clone(),
        android(phone.chain.clone()),
    )
    .await
    .unwrap();
    assert!(enrolled.trusted, "{enrolled:?}");
    assert!(enrolled.findings.is_empty(), "{enrolled:?}");
    assert_eq!(enrolled.security_level, "trusted_environment");

    // The same challenge again: single use.
    let again = enrol(&server, &aino, phone_id, c, android(phone.chain.clone()))
        .await
        .unwrap();
    assert!(!again.trusted);
    assert_eq!(
        again.findings[0].code(),
        pb::FindingCode::AttestationInvalid
    );

    // A signed punch is accepted, and says its device evidence was attested.
    let (_, bytes) = body("signed-1", phone_id);
    let signature = phone.sign(&bytes);
    let verdict = signed(
        &server,
        &aino,
        bytes.clone(),
        pb::submit_signed_punch_request::Proof::Signature(signature.clone()),
    )
    .await
    .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted, "{verdict:?}");
    assert_eq!(verdict.device_assurance(), pb::DeviceAssurance::Attested);

    // The same punch with one field altered, under the old signature.
    let (mut altered, _) = body("signed-2", phone_id);
    altered.kind = pb::PunchKind::Out.into();
    let verdict = signed(
        &server,
        &aino,
        altered.encode_to_vec(),
        pb::submit_signed_punch_request::Proof::Signature(signature),
    )
    .await
    .unwrap();
    assert_eq!(
        codes(&verdict),
        vec![pb::FindingCode::SignatureInvalid],
        "{verdict:?}"
    );
    // Observe (the default): flagged for review, not rejected.
    assert_eq!(verdict.decision(), pb::Decision::Review);
    assert_eq!(verdict.device_assurance(), pb::DeviceAssurance::Reported);

    // The enrolled phone sending unsigned: SIGNATURE_MISSING.
    let (unsigned, _) = body("unsigned-1", phone_id);
    let verdict = server
        .punch_client()
        .await
        .submit_punch(authed(unsigned, &aino))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(codes(&verdict), vec![pb::FindingCode::SignatureMissing]);

    // An iPhone: enrol, a signed punch, then a replayed assertion counter.
    let kerttu = server.token(ORG, Role::Device, Some("kerttu")).await;
    let iphone_id = "kerttu-iphone";
    let c = challenge(&server, &kerttu, iphone_id).await;
    let mut iphone = root.ios(&example_ios_app(), &c);
    let enrolled = enrol(
        &server,
        &kerttu,
        iphone_id,
        c,
        pb::enrol_device_request::Attestation::Apple(pb::AppleAppAttestation {
            attestation_object: iphone.attestation.clone(),
            key_id: iphone.key_id.clone(),
        }),
    )
    .await
    .unwrap();
    assert!(enrolled.trusted, "{enrolled:?}");
    assert_eq!(enrolled.platform, "ios");
    let (_, first) = body("ios-1", iphone_id);
    let assertion = iphone.assert(&first);
    let verdict = signed(
        &server,
        &kerttu,
        first,
        pb::submit_signed_punch_request::Proof::Assertion(assertion),
    )
    .await
    .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted, "{verdict:?}");
    assert_eq!(verdict.device_assurance(), pb::DeviceAssurance::Attested);
    let (_, second) = body("ios-2", iphone_id);
    let replayed = iphone.assert_with_counter(&second, 1);
    let verdict = signed(
        &server,
        &kerttu,
        second,
        pb::submit_signed_punch_request::Proof::Assertion(replayed),
    )
    .await
    .unwrap();
    assert_eq!(
        codes(&verdict),
        vec![pb::FindingCode::AssertionReplayed],
        "{verdict:?}"
    );

    // Observe: an unenrolled device of an organisation that named its app
    // is reviewed, not rejected.
    let eero = server.token(ORG, Role::Device, Some("eero")).await;
    let (mut plain, _) = body("eero-1", "eero-phone");
    plain.nonce = "eero-nonce-1".into();
    let verdict = server
        .punch_client()
        .await
        .submit_punch(authed(plain.clone(), &eero))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(codes(&verdict), vec![pb::FindingCode::DeviceNotAttested]);
    assert_eq!(verdict.decision(), pb::Decision::Review);

    // Require: the same is rejected.
    let mut admin_client = server.admin_client().await;
    let mut policy = admin_client
        .get_policy(authed(pb::GetPolicyRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    policy.attestation = pb::AttestationMode::Require.into();
    admin_client
        .put_policy(authed(
            pb::PutPolicyRequest {
                org_id: String::new(),
                policy: Some(policy),
            },
            &admin,
        ))
        .await
        .unwrap();
    plain.punch_id = "eero-2".into();
    plain.nonce = "eero-nonce-2".into();
    let verdict = server
        .punch_client()
        .await
        .submit_punch(authed(plain, &eero))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Rejected, "{verdict:?}");
    // The enrolled phone's signed punch still passes under require.
    let verdict = android_signed(&server, &aino, &phone, "signed-3", phone_id).await;
    assert_eq!(verdict.decision(), pb::Decision::Accepted, "{verdict:?}");

    // ListDevices shows what the attestation proved.
    let devices = admin_client
        .list_devices(authed(
            pb::ListDevicesRequest {
                org_id: String::new(),
                employee_id: "aino".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .devices;
    let listed = devices.iter().find(|d| d.device_id == phone_id).unwrap();
    let attested = listed.attestation.as_ref().unwrap();
    assert_eq!(attested.security_level, "trusted_environment");
    assert_eq!(attested.device_locked, Some(true));
    assert!(attested.app_matched);

    // A revocation list naming the leaf: every punch of that key carries it.
    let revoked = r#"{"entries":{"7":{"status":"REVOKED","reason":"KEY_COMPROMISE"}}}"#.to_string();
    let answer = attestation_client(&server)
        .await
        .put_revocation_list(authed(
            pb::PutRevocationListRequest {
                org_id: String::new(),
                status_json: revoked.into_bytes(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.entries, 1);
    let verdict = android_signed(&server, &aino, &phone, "signed-4", phone_id).await;
    assert_eq!(codes(&verdict), vec![pb::FindingCode::AttestationRevoked]);
    assert_eq!(verdict.decision(), pb::Decision::Rejected);

    // Revoking the device unbinds its key: its next signed punch is unattested.
    admin_client
        .revoke_device(authed(
            pb::DeviceRequest {
                org_id: String::new(),
                employee_id: "aino".into(),
                device_id: phone_id.into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let verdict = android_signed(&server, &aino, &phone, "signed-5", phone_id).await;
    assert!(
        codes(&verdict).contains(&pb::FindingCode::DeviceNotAttested),
        "{verdict:?}"
    );

    // A phone enrolled but revoked before its first punch: the revocation
    // is recorded (not NOT_FOUND) and its key is unbound.
    let ilmari = server.token(ORG, Role::Device, Some("ilmari")).await;
    let spare_id = "ilmari-iphone";
    let c = challenge(&server, &ilmari, spare_id).await;
    let mut spare = root.ios(&example_ios_app(), &c);
    enrol(
        &server,
        &ilmari,
        spare_id,
        c,
        pb::enrol_device_request::Attestation::Apple(pb::AppleAppAttestation {
            attestation_object: spare.attestation.clone(),
            key_id: spare.key_id.clone(),
        }),
    )
    .await
    .unwrap();
    let revoked = admin_client
        .revoke_device(authed(
            pb::DeviceRequest {
                org_id: String::new(),
                employee_id: "ilmari".into(),
                device_id: spare_id.into(),
            },
            &admin,
        ))
        .await
        .expect("an enrolled device can be revoked before it punches")
        .into_inner();
    assert!(revoked.revoked_time.is_some(), "{revoked:?}");
    assert!(revoked.attestation.is_none(), "{revoked:?}");
    let (_, first) = body("spare-1", spare_id);
    let assertion = spare.assert(&first);
    let verdict = signed(
        &server,
        &ilmari,
        first,
        pb::submit_signed_punch_request::Proof::Assertion(assertion),
    )
    .await
    .unwrap();
    assert!(
        codes(&verdict).contains(&pb::FindingCode::DeviceNotAttested),
        "{verdict:?}"
    );

    server.stop().await;
}

#[tokio::test]
async fn enrolment_and_signed_punches_on_sqlite() {
    the_whole_story(None).await;
}

#[tokio::test]
async fn enrolment_and_signed_punches_on_postgres() {
    let Some(schema) = Schema::fresh("enrolment_and_signed_punches_on_postgres").await else {
        return;
    };
    the_whole_story(Some(&schema.url)).await;
}

#[tokio::test]
async fn organisations_that_named_no_app_see_todays_verdicts() {
    let server = TestServer::start().await;
    server.kotka_org(ORG).await;
    let aino = server.token(ORG, Role::Device, Some("aino")).await;
    let verdict = server
        .punch_client()
        .await
        .submit_punch(authed(honest("p-1"), &aino))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted, "{verdict:?}");
    assert_eq!(verdict.device_assurance(), pb::DeviceAssurance::Reported);
    server.stop().await;
}

#[tokio::test]
async fn malformed_attestations_and_proofs_name_the_field() {
    let Setup { server, root, .. } = setup(None).await;
    let aino = server.token(ORG, Role::Device, Some("aino")).await;
    let c = challenge(&server, &aino, "p").await;
    let phone = root.android(&AndroidSpec::genuine(PACKAGE, CERT), &c);

    let mut truncated = phone.chain.clone();
    truncated[0].truncate(100);
    let fifty: Vec<Vec<u8>> = (0..50).map(|i| phone.chain[i % 3].clone()).collect();
    let apple = |object: Vec<u8>| {
        pb::enrol_device_request::Attestation::Apple(pb::AppleAppAttestation {
            attestation_object: object,
            key_id: vec![0; 32],
        })
    };
    let mut bomb = vec![0x81; 100_000];
    bomb.push(0);
    for (attestation, field) in [
        (android(truncated), "android.certificate_chain[0]"),
        (android(fifty), "android.certificate_chain"),
        (
            apple(vec![0x41; 10 * 1024 * 1024]),
            "apple.attestation_object",
        ),
        (apple(bomb), "apple.attestation_object"),
    ] {
        let status = enrol(&server, &aino, "p", c.clone(), attestation)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(field),
            "{status:?}"
        );
    }

    // Signed punches: a body that is not a punch, a malformed assertion.
    for (request, field) in [
        (
            pb::SubmitSignedPunchRequest {
                punch: vec![0xff; 10],
                proof: Some(pb::submit_signed_punch_request::Proof::Signature(vec![
                    1;
                    70
                ])),
            },
            "punch",
        ),
        (
            pb::SubmitSignedPunchRequest {
                punch: body("x", "p").1,
                proof: Some(pb::submit_signed_punch_request::Proof::Assertion(vec![
                    0xa0,
                ])),
            },
            "assertion.signature",
        ),
        (
            pb::SubmitSignedPunchRequest {
                punch: body("y", "p").1,
                proof: None,
            },
            "proof",
        ),
    ] {
        let status = server
            .punch_client()
            .await
            .submit_signed_punch(authed(request, &aino))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(field),
            "{status:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_export_shows_attested_facts_and_erasure_removes_the_key() {
    use punchguard::proto::v1::privacy_service_client::PrivacyServiceClient;
    let Setup { server, root, .. } = setup(None).await;
    let aino = server.token(ORG, Role::Device, Some("aino")).await;
    let privacy = server.token(ORG, Role::Privacy, None).await;
    let c = challenge(&server, &aino, "aino-pixel").await;
    let phone = root.android(&AndroidSpec::genuine(PACKAGE, CERT), &c);
    assert!(
        enrol(
            &server,
            &aino,
            "aino-pixel",
            c,
            android(phone.chain.clone())
        )
        .await
        .unwrap()
        .trusted
    );

    let mut client = PrivacyServiceClient::new(server.channel().await);
    let who = || pb::EmployeeRequest {
        org_id: String::new(),
        employee_id: "aino".into(),
    };
    let export = client
        .export_employee(authed(who(), &privacy))
        .await
        .unwrap()
        .into_inner()
        .json;
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    let attested = &export["attested_devices"][0];
    assert_eq!(attested["device_id"], "aino-pixel");
    assert_eq!(attested["facts"]["security_level"], "trusted_environment");
    assert_eq!(attested["facts"]["device_locked"], true);

    let erased = client
        .erase_employee(authed(who(), &privacy))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.devices >= 1, "{erased:?}");
    // The key is gone with the rest: nothing left to export.
    let status = client
        .export_employee(authed(who(), &privacy))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let org = punchguard::engine::OrgId::new(ORG).unwrap();
    let employee = punchguard::engine::EmployeeId::new("aino").unwrap();
    assert!(
        server
            .app
            .store
            .enrolled_devices(&org, &employee)
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}
