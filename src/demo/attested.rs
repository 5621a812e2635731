//! The demo's attestation act: an Android phone and an iPhone enrol keys
//! (under the demo server's own staging root: real phones chain to Google's
//! and Apple's), then sign punches; one punch is altered on the way and one
//! assertion is replayed.

use anyhow::Context;
use geo::Point;
use jiff::Timestamp;
use prost::Message;
use tonic::transport::Channel;

use super::{ORG, Scene, authed, punch, verdict_row};
use crate::proto::v1::{self as pb, attestation_service_client::AttestationServiceClient};
use crate::proto::v1::{
    punch_service_client::PunchServiceClient, submit_signed_punch_request::Proof,
};
use crate::synthetic_device::{AndroidSpec, TestRoot, example_ios_app};

/// The demo app's Android identity.
const PACKAGE: &str = "org.punchguard.example";
const SIGNING_CERT: [u8; 32] = [0x5a; 32];

/// Enrols two phones and sends their signed punches; returns the table rows
/// and the decisions seen.
pub(super) async fn act(
    channel: Channel,
    tokens: &std::collections::HashMap<&str, String>,
    root: &TestRoot,
    office: Point<f64>,
    now: Timestamp,
) -> anyhow::Result<(Vec<Vec<comfy_table::Cell>>, Vec<pb::Decision>)> {
    let mut attestation = AttestationServiceClient::new(channel.clone());
    let mut punches = PunchServiceClient::new(channel);
    let ios_app = example_ios_app();
    attestation
        .put_app_identity(authed(
            pb::PutAppIdentityRequest {
                org_id: ORG.into(),
                identity: Some(pb::AppIdentity {
                    android: Some(pb::AndroidAppIdentity {
                        package_name: PACKAGE.into(),
                        signing_cert_sha256: vec![hex::encode(SIGNING_CERT)],
                    }),
                    ios: Some(pb::IosAppIdentity {
                        team_id: ios_app.team_id.clone(),
                        bundle_id: ios_app.bundle_id.clone(),
                        environment: pb::AppAttestEnvironment::Production.into(),
                    }),
                }),
            },
            &tokens["admin"],
        ))
        .await
        .context("setting the app identity")?;

    // olli's Android phone: a TEE key, a locked bootloader, a verified OS.
    let challenger = attestation.clone();
    let challenge = |device: &str, token: &str| {
        let mut client = challenger.clone();
        let request = authed(
            pb::CreateEnrolmentChallengeRequest {
                device_id: device.into(),
            },
            token,
        );
        async move {
            anyhow::Ok(
                client
                    .create_enrolment_challenge(request)
                    .await?
                    .into_inner()
                    .challenge,
            )
        }
    };
    let c = challenge("olli-pixel", &tokens["olli"]).await?;
    let pixel = root.android(&AndroidSpec::genuine(PACKAGE, SIGNING_CERT), &c);
    let enrolled = attestation
        .enrol_device(authed(
            pb::EnrolDeviceRequest {
                device_id: "olli-pixel".into(),
                challenge: c,
                attestation: Some(pb::enrol_device_request::Attestation::Android(
                    pb::AndroidKeyAttestation {
                        certificate_chain: pixel.chain.clone(),
                    },
                )),
            },
            &tokens["olli"],
        ))
        .await?
        .into_inner();
    println!(
        "olli's Android phone enrols: trusted {}, key in {}, key {}…",
        enrolled.trusted,
        enrolled.security_level,
        &enrolled.key_fingerprint[..16]
    );

    // noora's iPhone: an App Attest key.
    let c = challenge("noora-iphone", &tokens["noora"]).await?;
    let mut iphone = root.ios(&ios_app, &c);
    let enrolled = attestation
        .enrol_device(authed(
            pb::EnrolDeviceRequest {
                device_id: "noora-iphone".into(),
                challenge: c,
                attestation: Some(pb::enrol_device_request::Attestation::Apple(
                    pb::AppleAppAttestation {
                        attestation_object: iphone.attestation.clone(),
                        key_id: iphone.key_id.clone(),
                    },
                )),
            },
            &tokens["noora"],
        ))
        .await?
        .into_inner();
    println!(
        "noora's iPhone enrols: trusted {}, key in {}, key id {}…\n",
        enrolled.trusted,
        enrolled.security_level,
        &enrolled.key_fingerprint[..16]
    );

    let body = |id: &str, device: &str| {
        let mut request = punch(id, pb::PunchKind::In, device, office, 6.0, now);
        request
            .device
            .as_mut()
            .expect("demo punches name a device")
            .platform = if device.contains("iphone") {
            pb::Platform::Ios.into()
        } else {
            pb::Platform::Android.into()
        };
        request
    };
    let signed_pixel = body("olli-signed", "olli-pixel").encode_to_vec();
    let signature = pixel.sign(&signed_pixel);
    let mut altered = body("olli-altered", "olli-pixel");
    altered.kind = pb::PunchKind::Out.into();
    let signed_iphone = body("noora-signed", "noora-iphone").encode_to_vec();
    let assertion = iphone.assert(&signed_iphone);
    let replay_body = body("noora-replay", "noora-iphone").encode_to_vec();
    let replayed = iphone.assert_with_counter(&replay_body, 1);

    let mut rows = Vec::new();
    let mut decisions = Vec::new();
    for (employee, story, bytes, proof) in [
        (
            "olli",
            "signs a punch with his attested key",
            signed_pixel,
            Proof::Signature(signature.clone()),
        ),
        (
            "olli",
            "the same punch, turned into a clock-out on the way",
            altered.encode_to_vec(),
            Proof::Signature(signature),
        ),
        (
            "noora",
            "signs a punch with an App Attest assertion",
            signed_iphone,
            Proof::Assertion(assertion),
        ),
        (
            "noora",
            "a new punch with an old assertion counter",
            replay_body,
            Proof::Assertion(replayed),
        ),
    ] {
        let request = pb::SubmitPunchRequest::decode(bytes.as_slice())?;
        let response = punches
            .submit_signed_punch(authed(
                pb::SubmitSignedPunchRequest {
                    punch: bytes,
                    proof: Some(proof),
                },
                &tokens[employee],
            ))
            .await?
            .into_inner();
        let verdict = response.verdict.unwrap_or_default();
        decisions.push(verdict.decision());
        let scene = Scene {
            employee,
            story,
            request,
        };
        let mut row = verdict_row(rows.len() + 1, &scene, &verdict, response.duplicate);
        row.push(comfy_table::Cell::new(
            verdict
                .device_assurance()
                .as_str_name()
                .trim_start_matches("DEVICE_ASSURANCE_")
                .to_lowercase(),
        ));
        rows.push(row);
    }
    Ok((rows, decisions))
}
