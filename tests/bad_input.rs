//! Bad input gets a clear error naming the field, the wrong caller gets
//! Unauthenticated or PermissionDenied, and nothing is stored in part.

mod common;

use jiff::{SignedDuration, Timestamp};
use tonic::Code;

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;

type Tamper = fn(&mut pb::SubmitPunchRequest);

fn gps(r: &mut pb::SubmitPunchRequest) -> &mut pb::GpsFix {
    r.gps.as_mut().unwrap()
}

fn hours_from_now(h: i64) -> Option<prost_types::Timestamp> {
    Some(ts(Timestamp::now() + SignedDuration::from_hours(h)))
}

async fn listed(server: &TestServer, hr: &str) -> usize {
    let now = Timestamp::now();
    server
        .attendance_client()
        .await
        .list_punches(authed(
            pb::ListPunchesRequest {
                from: Some(ts(now - SignedDuration::from_hours(24 * 40))),
                to: Some(ts(now + SignedDuration::from_hours(48))),
                ..Default::default()
            },
            hr,
        ))
        .await
        .unwrap()
        .into_inner()
        .punches
        .len()
}

/// A SubmitPunchRequest whose `gps.latitude` (a double on the wire) is
/// sent as text, as a client built from another version of the contract
/// might.
#[derive(Clone, PartialEq, prost::Message)]
struct TextLatitude {
    #[prost(string, tag = "1")]
    latitude: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MistypedPunch {
    #[prost(string, tag = "1")]
    punch_id: String,
    #[prost(message, optional, tag = "4")]
    gps: Option<TextLatitude>,
}

async fn undecodable_punch(server: &TestServer, device: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/punchguard.v1.PunchService/SubmitPunch",
    );
    let request = MistypedPunch {
        punch_id: "mistyped".into(),
        gps: Some(TextLatitude {
            latitude: "60.47".into(),
        }),
    };
    let codec = tonic_prost::ProstCodec::<MistypedPunch, pb::SubmitPunchResponse>::default();
    grpc.unary(authed(request, device), path, codec)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn the_largest_punch_the_contract_allows_fits_the_message_limit() {
    let server = TestServer::start().await;
    server.kotka_org("kotka").await;
    let device = server.token("kotka", Role::Device, Some("emp-1")).await;
    let mut request = honest("largest");
    request.installed_packages = (0..2000)
        .map(|i| format!("{i:04}{}", "p".repeat(252)))
        .collect();
    assert_eq!(request.installed_packages[0].len(), 256);
    let answer = server
        .punch_client()
        .await
        .submit_punch(authed(request, &device))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_punches_name_the_field_and_store_nothing() {
    let server = TestServer::start().await;
    server.kotka_org("kotka").await;
    let device = server.token("kotka", Role::Device, Some("emp-1")).await;
    let hr = server.token("kotka", Role::Hr, None).await;
    let mut client = server.punch_client().await;

    let cases: &[(&str, Tamper, &str)] = &[
        ("empty punch id", |r| r.punch_id.clear(), "punch_id"),
        (
            "oversized punch id",
            |r| r.punch_id = "x".repeat(129),
            "punch_id",
        ),
        (
            "control character in punch id",
            |r| r.punch_id = "a\u{0}b".into(),
            "punch_id",
        ),
        ("kind missing", |r| r.kind = 0, "kind"),
        ("kind unknown", |r| r.kind = 99, "kind"),
        (
            "client time missing",
            |r| r.client_time = None,
            "client_time",
        ),
        (
            "client time two days ahead",
            |r| r.client_time = hours_from_now(48),
            "client_time",
        ),
        (
            "client time with bad nanos",
            |r| r.client_time.as_mut().unwrap().nanos = 2_000_000_000,
            "client_time.nanos",
        ),
        (
            "client time with negative nanos",
            |r| r.client_time.as_mut().unwrap().nanos = -1,
            "client_time.nanos",
        ),
        (
            "zero-width space in punch id",
            |r| r.punch_id = "p\u{200B}1".into(),
            "punch_id",
        ),
        (
            "bidi override in nonce",
            |r| r.nonce = "n\u{202E}1".into(),
            "nonce",
        ),
        ("gps missing", |r| r.gps = None, "gps"),
        (
            "latitude missing",
            |r| gps(r).latitude = None,
            "gps.latitude",
        ),
        (
            "latitude NaN",
            |r| gps(r).latitude = Some(f64::NAN),
            "gps.latitude",
        ),
        (
            "latitude 91",
            |r| gps(r).latitude = Some(91.0),
            "gps.latitude",
        ),
        (
            "longitude -181",
            |r| gps(r).longitude = Some(-181.0),
            "gps.longitude",
        ),
        (
            "longitude infinite",
            |r| gps(r).longitude = Some(f64::INFINITY),
            "gps.longitude",
        ),
        (
            "accuracy missing",
            |r| gps(r).accuracy_m = None,
            "gps.accuracy_m",
        ),
        (
            "accuracy negative",
            |r| gps(r).accuracy_m = Some(-5.0),
            "gps.accuracy_m",
        ),
        (
            "accuracy absurd",
            |r| gps(r).accuracy_m = Some(1e9),
            "gps.accuracy_m",
        ),
        (
            "fix time missing",
            |r| gps(r).fix_time = None,
            "gps.fix_time",
        ),
        (
            "fix time far ahead",
            |r| gps(r).fix_time = hours_from_now(30),
            "gps.fix_time",
        ),
    ];
    for (i, (name, tamper, field)) in cases.iter().enumerate() {
        let mut request = punch_at(&format!("bad-{i}"), inside_building(3), 5.0);
        tamper(&mut request);
        let status = client
            .submit_punch(authed(request, &device))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(*field),
            "{name}: {status:?}"
        );
        assert!(
            status.message().starts_with(field),
            "{name}: message {:?}",
            status.message()
        );
    }

    // A message over the size limit is refused before it is decoded, with
    // the limit and what to do.
    let mut huge = punch_at("huge", inside_building(3), 5.0);
    huge.punch_id = "x".repeat(punchguard::server::MAX_PUNCH_MESSAGE + 1);
    let status = client
        .submit_punch(authed(huge, &device))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("the limit is"), "{status:?}");

    // Bytes that do not decode: INVALID_ARGUMENT naming the field.
    let status = undecodable_punch(&server, &device).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_field(&status).as_deref(), Some("gps.latitude"));

    assert_eq!(
        listed(&server, &hr).await,
        0,
        "nothing may be stored from a bad punch"
    );
    server.stop().await;
}

#[tokio::test]
async fn wrong_callers_are_refused_and_orgs_are_isolated() {
    let server = TestServer::start().await;
    let admin_a = server.kotka_org("org-a").await;
    let device_a = server.token("org-a", Role::Device, Some("emp-1")).await;
    let hr_a = server.token("org-a", Role::Hr, None).await;
    let hr_b = server.token("org-b", Role::Hr, None).await;
    let admin_b = server.token("org-b", Role::Admin, None).await;
    let mut punches = server.punch_client().await;
    let mut attendance = server.attendance_client().await;
    let mut admin = server.admin_client().await;

    punches
        .submit_punch(authed(punch_at("a-1", inside_building(1), 5.0), &device_a))
        .await
        .unwrap();
    let request = || punch_at("a-2", inside_building(1), 5.0);

    // No token, a made-up token, the wrong scheme.
    let status = punches
        .submit_punch(tonic::Request::new(request()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = punches
        .submit_punch(authed(request(), "pgt_made-up"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut basic = tonic::Request::new(request());
    basic
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_eq!(
        punches.submit_punch(basic).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // The wrong role.
    let status = punches
        .submit_punch(authed(request(), &admin_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = attendance
        .list_punches(authed(pb::ListPunchesRequest::default(), &device_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = admin
        .list_sites(authed(pb::ListSitesRequest::default(), &hr_a))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Another organisation's token: refused when it names org-a, and sees
    // nothing of org-a under its own name.
    let list_org = |org: &str| {
        let now = Timestamp::now();
        pb::ListPunchesRequest {
            org_id: org.into(),
            from: Some(ts(now - SignedDuration::from_hours(1))),
            to: Some(ts(now + SignedDuration::from_hours(1))),
            ..Default::default()
        }
    };
    let status = attendance
        .list_punches(authed(list_org("org-a"), &hr_b))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let seen_by_b = attendance
        .list_punches(authed(list_org(""), &hr_b))
        .await
        .unwrap()
        .into_inner();
    assert!(seen_by_b.punches.is_empty());
    let seen_by_a = attendance
        .list_punches(authed(list_org("org-a"), &hr_a))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_a.punches.len(), 1);

    let status = admin
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: "org-a".into(),
                geojson: COURTYARD.into(),
            },
            &admin_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let b_sites = admin
        .list_sites(authed(pb::ListSitesRequest::default(), &admin_b))
        .await
        .unwrap();
    assert!(b_sites.into_inner().sites.is_empty());
    let status = admin
        .list_sites(authed(
            pb::ListSitesRequest {
                org_id: "org-a".into(),
                ..Default::default()
            },
            &admin_b,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    server.stop().await;
}

#[tokio::test]
async fn bad_geojson_names_the_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let mut client = server.admin_client().await;
    let first = client
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: String::new(),
                geojson: COURTYARD.into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();

    let feature = |geometry: &str, properties: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[
            {{"type":"Feature","properties":{{"site":"courtyard-block","radius_m":50}},"geometry":{{"type":"Point","coordinates":[1,1]}}}},
            {{"type":"Feature","properties":{properties},"geometry":{geometry}}}]}}"#
        )
    };
    let cases = [
        (
            "malformed JSON",
            "{\"type\": \"FeatureCollection\", ".to_string(),
            "geojson",
        ),
        (
            "not a collection",
            r#"{"type":"Point","coordinates":[1,1]}"#.to_string(),
            "geojson",
        ),
        (
            "empty collection",
            r#"{"type":"FeatureCollection","features":[]}"#.to_string(),
            "geojson.features",
        ),
        (
            "self-intersecting polygon",
            feature(
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#,
                r#"{"site":"bow-tie"}"#,
            ),
            "geojson.features[1].geometry",
        ),
        (
            "circle without radius",
            feature(r#"{"type":"Point","coordinates":[1,1]}"#, r#"{"site":"c"}"#),
            "geojson.features[1].properties.radius_m",
        ),
        (
            "circle with negative radius",
            feature(
                r#"{"type":"Point","coordinates":[1,1]}"#,
                r#"{"site":"c","radius_m":-10}"#,
            ),
            "geojson.features[1].properties.radius_m",
        ),
        (
            "latitude out of range",
            feature(
                r#"{"type":"Polygon","coordinates":[[[0,0],[0,95],[1,1],[0,0]]]}"#,
                r#"{"site":"p"}"#,
            ),
            "geojson.features[1].geometry",
        ),
    ];
    for (name, geojson, field) in cases {
        let status = client
            .import_sites(authed(
                pb::ImportSitesRequest {
                    org_id: String::new(),
                    geojson,
                },
                &admin,
            ))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(field),
            "{name}: {status:?}"
        );
    }

    // Nothing changed: the one good site is as it was (its first feature in
    // every bad file above would have replaced it with a circle).
    let sites = client
        .list_sites(authed(pb::ListSitesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sites.sites, first.sites);
    let again = client
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: String::new(),
                geojson: COURTYARD.into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.sites_version,
        first.sites_version + 1,
        "no failed import moved the version"
    );

    let status = server
        .attendance_client()
        .await
        .list_punches(authed(
            pb::ListPunchesRequest {
                from: hours_from_now(0),
                to: hours_from_now(-1),
                ..Default::default()
            },
            &server.token("acme", Role::Hr, None).await,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("to"));
    server.stop().await;
}
