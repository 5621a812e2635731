//! Who may call what: every RPC × every role × own organisation, another
//! organisation, and bad tokens (missing, malformed, unknown, revoked,
//! expired). No answer ever carries another organisation's data.

mod common;

use jiff::{SignedDuration, Timestamp};
use prost::Message;
use tonic::{Code, Status};

use common::*;
use punchguard::app::Actor;
use punchguard::auth::{Role, generate_token};
use punchguard::engine::{EmployeeId, OrgId};
use punchguard::proto::v1 as pb;
use punchguard::proto::v1::privacy_service_client::PrivacyServiceClient;
use punchguard::store::TokenGrant;

/// Strings only organisation "acme" holds: none may reach "other".
const SECRETS: [&str; 3] = ["aino-secret", "acme-site-secret", "acme-punch-secret"];

const RPCS: [(&str, Role); 32] = [
    ("SubmitPunch", Role::Device),
    ("GetFenceBundle", Role::Device),
    ("ImportSites", Role::Admin),
    ("ListSites", Role::Admin),
    ("GetPolicy", Role::Admin),
    ("PutPolicy", Role::Admin),
    ("ListDevices", Role::Admin),
    ("BindDevice", Role::Admin),
    ("RevokeDevice", Role::Admin),
    ("GetSignatures", Role::Admin),
    ("PutSignatures", Role::Admin),
    ("PutSiteAccessPoints", Role::Admin),
    ("PutSiteBeacons", Role::Admin),
    ("GetRetention", Role::Admin),
    ("PutRetention", Role::Admin),
    ("GetSchedule", Role::Admin),
    ("PutSchedule", Role::Admin),
    ("CreateToken", Role::Admin),
    ("ListTokens", Role::Admin),
    ("RevokeToken", Role::Admin),
    ("RotateToken", Role::Admin),
    ("ListPunches", Role::Hr),
    ("GetDailyResults", Role::Hr),
    ("ListReviewQueue", Role::Hr),
    ("ReviewPunch", Role::Hr),
    ("RecordCorrection", Role::Hr),
    ("WatchPunches", Role::Hr),
    ("SetConsent", Role::Privacy),
    ("ListConsents", Role::Privacy),
    ("ExportEmployee", Role::Privacy),
    ("EraseEmployee", Role::Privacy),
    ("ListAuditEntries", Role::Privacy),
];

/// How a call authenticates.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    Header(&'static str),
    None,
}

fn request<T>(message: T, auth: &Auth) -> tonic::Request<T> {
    match auth {
        Auth::Bearer(token) => authed(message, token),
        Auth::Header(value) => {
            let mut r = tonic::Request::new(message);
            r.metadata_mut()
                .insert("authorization", value.parse().unwrap());
            r
        }
        Auth::None => tonic::Request::new(message),
    }
}

/// Calls `rpc` with a minimal request naming `org_id`; the answer encoded.
/// Destructive calls name things that do not exist, so the matrix can run
/// every cell against one database; no request names a secret, so a
/// secret in an answer can only come from the store.
async fn call(
    server: &TestServer,
    rpc: &str,
    auth: &Auth,
    org_id: &str,
) -> Result<Vec<u8>, Status> {
    let channel = server.channel().await;
    let mut punch = pb::punch_service_client::PunchServiceClient::new(channel.clone());
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    let mut hr = pb::attendance_service_client::AttendanceServiceClient::new(channel.clone());
    let mut privacy = PrivacyServiceClient::new(channel);
    let org = org_id.to_owned();
    let employee = |e: &str| pb::EmployeeRequest {
        org_id: org.clone(),
        employee_id: e.into(),
    };
    let now = Timestamp::now();
    macro_rules! go {
        ($client:ident . $method:ident ( $message:expr )) => {
            $client
                .$method(request($message, auth))
                .await
                .map(|r| r.into_inner().encode_to_vec())
        };
    }
    match rpc {
        "SubmitPunch" => go!(punch.submit_punch(punch_at("matrix", inside_building(1), 9.0))),
        "GetFenceBundle" => go!(punch.get_fence_bundle(pb::GetFenceBundleRequest::default())),
        "ImportSites" => go!(admin.import_sites(pb::ImportSitesRequest {
            org_id: org.clone(),
            geojson: r#"{"type":"FeatureCollection","features":[]}"#.into(),
        })),
        "ListSites" => go!(admin.list_sites(pb::ListSitesRequest {
            org_id: org.clone(),
            ..Default::default()
        })),
        "GetPolicy" => go!(admin.get_policy(pb::GetPolicyRequest {
            org_id: org.clone()
        })),
        "PutPolicy" => go!(admin.put_policy(pb::PutPolicyRequest {
            org_id: org.clone(),
            policy: None,
        })),
        "ListDevices" => go!(admin.list_devices(pb::ListDevicesRequest {
            org_id: org.clone(),
            employee_id: "emp-1".into(),
        })),
        "BindDevice" | "RevokeDevice" => {
            let message = pb::DeviceRequest {
                org_id: org.clone(),
                employee_id: "nobody".into(),
                device_id: String::new(),
            };
            if rpc == "BindDevice" {
                go!(admin.bind_device(message))
            } else {
                go!(admin.revoke_device(message))
            }
        }
        "GetSignatures" => go!(admin.get_signatures(pb::GetSignaturesRequest {
            org_id: org.clone()
        })),
        "PutSignatures" => go!(admin.put_signatures(pb::PutSignaturesRequest {
            org_id: org.clone(),
            signatures: vec![pb::CheatSignature::default()],
            use_builtin: false,
        })),
        "PutSiteAccessPoints" => go!(admin.put_site_access_points(
            pb::PutSiteAccessPointsRequest {
                org_id: org.clone(),
                site_id: "no-such-site".into(),
                access_points: Vec::new(),
            }
        )),
        "PutSiteBeacons" => go!(admin.put_site_beacons(pb::PutSiteBeaconsRequest {
            org_id: org.clone(),
            site_id: "no-such-site".into(),
            beacons: Vec::new(),
        })),
        "GetRetention" => go!(admin.get_retention(pb::GetRetentionRequest {
            org_id: org.clone()
        })),
        "PutRetention" => go!(admin.put_retention(pb::PutRetentionRequest {
            org_id: org.clone(),
            retention: None,
        })),
        "GetSchedule" => go!(admin.get_schedule(pb::GetScheduleRequest {
            org_id: org.clone()
        })),
        "PutSchedule" => go!(admin.put_schedule(pb::PutScheduleRequest {
            org_id: org.clone(),
            schedule: None,
        })),
        "CreateToken" => go!(admin.create_token(pb::CreateTokenRequest {
            org_id: org.clone(),
            role: "nobody".into(),
            ..Default::default()
        })),
        "ListTokens" => go!(admin.list_tokens(pb::ListTokensRequest {
            org_id: org.clone()
        })),
        "RevokeToken" => go!(admin.revoke_token(pb::TokenIdRequest {
            org_id: org.clone(),
            token_id: "000000000000".into(),
        })),
        "RotateToken" => go!(admin.rotate_token(pb::RotateTokenRequest {
            org_id: org.clone(),
            token_id: "000000000000".into(),
            grace_minutes: 0,
        })),
        "ListPunches" => go!(hr.list_punches(pb::ListPunchesRequest {
            org_id: org.clone(),
            from: Some(ts(now - SignedDuration::from_hours(1))),
            to: Some(ts(now + SignedDuration::from_hours(1))),
            ..Default::default()
        })),
        "GetDailyResults" => go!(hr.get_daily_results(pb::GetDailyResultsRequest {
            org_id: org.clone(),
            from_date: "2026-11-30".into(),
            to_date: "2026-11-30".into(),
            ..Default::default()
        })),
        "ListReviewQueue" => go!(hr.list_review_queue(pb::ListReviewQueueRequest {
            org_id: org.clone(),
            ..Default::default()
        })),
        "ReviewPunch" => go!(hr.review_punch(pb::ReviewPunchRequest {
            org_id: org.clone(),
            employee_id: "emp-1".into(),
            punch_id: "p-1".into(),
            approve: true,
            reason: String::new(),
        })),
        "RecordCorrection" => go!(hr.record_correction(pb::RecordCorrectionRequest {
            org_id: org.clone(),
            employee_id: "emp-1".into(),
            punch_id: "fix-1".into(),
            kind: pb::PunchKind::In.into(),
            time: None,
            site_id: String::new(),
            reason: String::new(),
        })),
        "WatchPunches" => {
            let opened = hr
                .watch_punches(request(
                    pb::WatchPunchesRequest {
                        org_id: org.clone(),
                        cursor: "0".into(),
                    },
                    auth,
                ))
                .await?;
            // The replay's first event, if any, is the answer to check.
            let mut stream = opened.into_inner();
            let first =
                tokio::time::timeout(std::time::Duration::from_millis(300), stream.message())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
            Ok(first.map(|e| e.encode_to_vec()).unwrap_or_default())
        }
        "SetConsent" => go!(privacy.set_consent(pb::SetConsentRequest {
            org_id: org.clone(),
            employee_id: "nobody".into(),
            purpose: 0,
            granted: true,
        })),
        "ListConsents" => go!(privacy.list_consents(pb::ListConsentsRequest {
            org_id: org.clone(),
            employee_id: "emp-1".into(),
        })),
        "ExportEmployee" => go!(privacy.export_employee(employee("emp-1"))),
        "EraseEmployee" => go!(privacy.erase_employee(employee("nobody"))),
        "ListAuditEntries" => go!(privacy.list_audit_entries(pb::ListAuditEntriesRequest {
            org_id: org.clone(),
            ..Default::default()
        })),
        other => panic!("no case for {other}"),
    }
}

async fn token_with(
    server: &TestServer,
    org: &str,
    role: Role,
    expires_at: Option<Timestamp>,
) -> String {
    let (token, hash) = generate_token();
    let grant = TokenGrant {
        org: OrgId::new(org).unwrap(),
        role,
        employee: (role == Role::Device).then(|| {
            EmployeeId::new(if org == "acme" {
                "aino-secret"
            } else {
                "kerttu"
            })
            .unwrap()
        }),
        expires_at,
    };
    let operator = Actor::cli(grant.org.clone(), Role::Admin);
    let entry = punchguard::app::audit::entry(&operator, "CreateToken", None, hash.id());
    server
        .app
        .store
        .create_token(hash, grant, entry)
        .await
        .unwrap();
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_for_every_caller() {
    let server = TestServer::start().await;
    // Organisation acme holds data of its own.
    let acme_admin = token_with(&server, "acme", Role::Admin, None).await;
    server
        .import(
            &acme_admin,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature",
                "properties":{"site":"acme-site-secret","radius_m":80},
                "geometry":{"type":"Point","coordinates":[26.94,60.47]}}]}"#,
        )
        .await;
    let acme_device = token_with(&server, "acme", Role::Device, None).await;
    let mut request = punch_at("acme-punch-secret", geo::Point::new(26.94, 60.47), 9.0);
    request.device = Some(pb::DeviceFacts {
        device_id: "aino-secret-phone".into(),
        ..Default::default()
    });
    server
        .punch_client()
        .await
        .submit_punch(authed(request, &acme_device))
        .await
        .unwrap();

    let roles = [Role::Device, Role::Admin, Role::Hr, Role::Privacy];
    let mut own = Vec::new();
    let mut other = Vec::new();
    for role in roles {
        own.push((role, token_with(&server, "acme", role, None).await));
        other.push((role, token_with(&server, "other", role, None).await));
    }
    let revoked = token_with(&server, "acme", Role::Admin, None).await;
    let revoked_id = punchguard::auth::TokenHash::of(&revoked).id();
    server
        .app
        .store
        .revoke_token(
            &OrgId::new("acme").unwrap(),
            &revoked_id,
            punchguard::app::audit::entry(
                &Actor::cli(OrgId::new("acme").unwrap(), Role::Admin),
                "RevokeToken",
                None,
                "",
            ),
        )
        .await
        .unwrap();
    let expired = token_with(
        &server,
        "acme",
        Role::Admin,
        Some(Timestamp::now() - SignedDuration::from_mins(1)),
    )
    .await;
    let (unknown, _) = generate_token();

    let mut cells = 0;
    for (rpc, needs) in RPCS {
        // Bad tokens: unauthenticated whatever the role needed.
        for bad in [
            Auth::None,
            Auth::Header("Bearer "),
            Auth::Header("Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
            Auth::Bearer(unknown.clone()),
            Auth::Bearer(revoked.clone()),
            Auth::Bearer(expired.clone()),
        ] {
            let status = call(&server, rpc, &bad, "").await.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{rpc}: {status:?}");
            cells += 1;
        }
        for (role, token) in &own {
            let answer = call(&server, rpc, &Auth::Bearer(token.clone()), "").await;
            if *role == needs {
                // Authorised: whatever the answer, it is not a refusal.
                if let Err(status) = &answer {
                    assert!(
                        !matches!(
                            status.code(),
                            Code::Unauthenticated | Code::PermissionDenied
                        ),
                        "{rpc} refused its own role: {status:?}"
                    );
                }
            } else {
                let status = answer.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc} as {role:?}");
            }
            cells += 1;
        }
        for (role, token) in &other {
            let auth = Auth::Bearer(token.clone());
            // Naming acme with another organisation's token: refused.
            if *role == needs && rpc != "SubmitPunch" && rpc != "GetFenceBundle" {
                let status = call(&server, rpc, &auth, "acme").await.unwrap_err();
                assert_eq!(status.code(), Code::PermissionDenied, "{rpc} naming acme");
            }
            // Its own organisation: nothing of acme's in any answer.
            if let Ok(bytes) = call(&server, rpc, &auth, "").await {
                for secret in SECRETS {
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "{rpc} as other's {role:?} leaked {secret}"
                    );
                }
            }
            cells += 2;
        }
    }
    assert!(cells > 400);
    // Control: acme's own HR does see acme's data.
    let hr = &own[2].1;
    let bytes = call(&server, "ListPunches", &Auth::Bearer(hr.clone()), "")
        .await
        .unwrap();
    assert!(bytes.windows(17).any(|w| w == b"acme-punch-secret"));
    server.stop().await;
}

#[tokio::test]
async fn tokens_rotate_expire_and_record_their_last_use() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let mut client = server.admin_client().await;
    let issued = client
        .create_token(authed(
            pb::CreateTokenRequest {
                org_id: String::new(),
                role: "hr".into(),
                employee_id: String::new(),
                expires_in_days: 30,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let hr = issued.token.clone();
    let info = issued.info.unwrap();
    assert_eq!(info.role, "hr");
    assert!(info.expires_time.is_some() && info.last_used_time.is_none());
    let list_punches = |token: String| {
        let server = &server;
        async move {
            let now = Timestamp::now();
            server
                .attendance_client()
                .await
                .list_punches(authed(
                    pb::ListPunchesRequest {
                        from: Some(ts(now - SignedDuration::from_hours(1))),
                        to: Some(ts(now)),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
        }
    };
    list_punches(hr.clone()).await.unwrap();
    server
        .app
        .token_uses
        .flush(server.app.store.as_ref())
        .await
        .unwrap();
    let listed = client
        .list_tokens(authed(pb::ListTokensRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    let hr_info = listed
        .tokens
        .iter()
        .find(|t| t.token_id == info.token_id)
        .unwrap();
    assert!(hr_info.last_used_time.is_some(), "the use was recorded");
    assert!(listed.tokens.iter().all(|t| !t.token_id.is_empty()));

    // Rotation without grace: the new token works, the old one stops.
    let rotated = client
        .rotate_token(authed(
            pb::RotateTokenRequest {
                org_id: String::new(),
                token_id: info.token_id.clone(),
                grace_minutes: 0,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    list_punches(rotated.token.clone()).await.unwrap();
    let status = list_punches(hr).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "token expired");
    // Revocation: at once.
    client
        .revoke_token(authed(
            pb::TokenIdRequest {
                org_id: String::new(),
                token_id: rotated.info.unwrap().token_id,
            },
            &admin,
        ))
        .await
        .unwrap();
    let status = list_punches(rotated.token).await.unwrap_err();
    assert_eq!(status.message(), "token revoked");
    // Bad requests name the field.
    for (request, field) in [
        (
            pb::CreateTokenRequest {
                role: "root".into(),
                ..Default::default()
            },
            "role",
        ),
        (
            pb::CreateTokenRequest {
                role: "device".into(),
                ..Default::default()
            },
            "employee_id",
        ),
        (
            pb::CreateTokenRequest {
                role: "hr".into(),
                expires_in_days: 5000,
                ..Default::default()
            },
            "expires_in_days",
        ),
    ] {
        let status = client
            .create_token(authed(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    server.stop().await;
}
