//! The walking skeleton end to end over real gRPC, a real SQLite file and
//! the real Kotka building footprints.

mod common;

use geo::Point;
use jiff::{SignedDuration, Timestamp};

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;

fn list_all_request(page_size: u32, page_token: String) -> pb::ListPunchesRequest {
    let now = Timestamp::now();
    pb::ListPunchesRequest {
        org_id: String::new(),
        from: Some(ts(now - SignedDuration::from_hours(1))),
        to: Some(ts(now + SignedDuration::from_hours(1))),
        page_size,
        page_token,
    }
}

async fn list_all(server: &TestServer, hr: &str) -> Vec<pb::PunchRecord> {
    let mut client = server.attendance_client().await;
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_punches(authed(list_all_request(2, token), hr))
            .await
            .unwrap()
            .into_inner();
        all.extend(page.punches);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

fn codes(verdict: &pb::Verdict) -> Vec<pb::FindingCode> {
    verdict.findings.iter().map(|f| f.code()).collect()
}

#[tokio::test]
async fn genuine_outside_courtyard_and_resubmitted_punches() {
    let server = TestServer::start().await;
    server.kotka_org("kotka").await;
    let device = server.token("kotka", Role::Device, Some("emp-1")).await;
    let hr = server.token("kotka", Role::Hr, None).await;
    let mut punches = server.punch_client().await;

    // Genuine: inside building 10.
    let genuine = punches
        .submit_punch(authed(
            punch_at("p-genuine", inside_building(10), 8.0),
            &device,
        ))
        .await
        .unwrap()
        .into_inner();
    let verdict = genuine.verdict.unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted, "{verdict:?}");
    assert_eq!(verdict.site_id, "kotka-bldg-0010");
    assert_eq!(verdict.method(), pb::LocationMethod::Gps);
    assert_eq!(verdict.distance_m, Some(0.0));
    assert!(!genuine.duplicate);

    // Outside: 0.02° (~2.2 km) south of building 10; the reported distance is
    // the true nearest-fence distance, by a scan of every fence. (Another
    // employee: for emp-1 the jump from building 10 would be a teleport.)
    let inside = inside_building(10);
    let away = Point::new(inside.x(), inside.y() - 0.02);
    let device_2 = server.token("kotka", Role::Device, Some("emp-2")).await;
    let outside = punches
        .submit_punch(authed(punch_at("p-outside", away, 10.0), &device_2))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(outside.decision(), pb::Decision::Rejected);
    assert_eq!(codes(&outside), vec![pb::FindingCode::OutsideFence]);
    assert!(outside.site_id.is_empty());
    let scanned = kotka_sites()
        .iter()
        .flat_map(|s| s.fences.iter())
        .map(|f| f.distance_m(away))
        .fold(f64::INFINITY, f64::min);
    let reported = outside.distance_m.unwrap();
    assert!(
        (reported - scanned).abs() < 0.01,
        "reported {reported}, scan {scanned}"
    );
    assert!(reported > 100.0 && reported < 2300.0, "distance {reported}");

    // Courtyard: a point in the hole of a building is outside it. (Another
    // org: in the Kotka set the same footprint has no hole.)
    let block_admin = server.token("block", Role::Admin, None).await;
    let block_device = server.token("block", Role::Device, Some("emp-1")).await;
    server
        .admin_client()
        .await
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: String::new(),
                geojson: COURTYARD.into(),
            },
            &block_admin,
        ))
        .await
        .unwrap();
    let courtyard_json: serde_json::Value = serde_json::from_str(COURTYARD).unwrap();
    let c = &courtyard_json["features"][0]["properties"]["courtyard_point"];
    let courtyard = Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    let in_courtyard = punches
        .submit_punch(authed(
            punch_at("p-courtyard", courtyard, 3.0),
            &block_device,
        ))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_ne!(
        in_courtyard.method(),
        pb::LocationMethod::Gps,
        "{in_courtyard:?}"
    );
    assert_eq!(in_courtyard.nearest_site_id, "courtyard-block");
    assert!(in_courtyard.distance_m.unwrap() > 3.0);
    assert_eq!(in_courtyard.decision(), pb::Decision::Rejected);

    // Resubmitted: same id, even with different content, gets the first verdict.
    let again = punches
        .submit_punch(authed(punch_at("p-genuine", away, 500.0), &device))
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.verdict.unwrap(), verdict);
    assert_eq!(again.received_time, genuine.received_time);

    let listed = list_all(&server, &hr).await;
    let ids: Vec<_> = listed.iter().map(|p| p.punch_id.as_str()).collect();
    assert_eq!(
        ids,
        ["p-genuine", "p-outside"],
        "the other org's punch is not listed"
    );
    let employees: Vec<_> = listed.iter().map(|p| p.employee_id.as_str()).collect();
    assert_eq!(employees, ["emp-1", "emp-2"]);
    assert_eq!(listed[0].verdict.as_ref().unwrap(), &verdict);
    server.stop().await;
}

#[tokio::test]
async fn imported_fences_take_effect_at_once_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let circle = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"site":"pop-up","radius_m":120},
        "geometry":{"type":"Point","coordinates":[24.9384,60.1699]}}]}"#;
    let near_centre = Point::new(24.9384, 60.1699 + 0.0009); // ~100 m north
    let database = dir.path().join("punchguard.db");
    let server = TestServer::start_at(database.clone()).await;
    let admin = server.token("acme", Role::Admin, None).await;
    let device = server.token("acme", Role::Device, Some("emp-9")).await;
    let mut punches = server.punch_client().await;
    let before = punches
        .submit_punch(authed(punch_at("before", near_centre, 5.0), &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(before.decision(), pb::Decision::Rejected);
    assert_eq!(
        before.distance_m, None,
        "an org without fences has no distance"
    );

    let imported = server
        .admin_client()
        .await
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: "acme".into(),
                geojson: circle.into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.sites.len(), 1);
    assert_eq!(imported.sites[0].circle_fences, 1);
    let after = punches
        .submit_punch(authed(punch_at("after", near_centre, 5.0), &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(after.decision(), pb::Decision::Accepted);
    assert_eq!(after.site_id, "pop-up");

    // Restart on the same file: the fences are still there.
    server.stop().await;
    let server = TestServer::start_at(database).await;
    let mut punches = server.punch_client().await;
    let restarted = punches
        .submit_punch(authed(punch_at("after-restart", near_centre, 5.0), &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(restarted.site_id, "pop-up");
    let sites = server
        .admin_client()
        .await
        .list_sites(authed(pb::ListSitesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        sites
            .sites
            .iter()
            .map(|s| s.site_id.as_str())
            .collect::<Vec<_>>(),
        ["pop-up"]
    );
    server.stop().await;
}

/// Honest edge cases that are evidence, not malformed requests: a phone
/// clock reset to 1990 and a provider that reports no accuracy estimate.
#[tokio::test]
async fn odd_but_honest_devices_get_a_verdict_not_an_error() {
    let server = TestServer::start().await;
    server.kotka_org("kotka").await;
    let device = server.token("kotka", Role::Device, Some("emp-1")).await;
    let mut punches = server.punch_client().await;

    let mut reset_clock = punch_at("reset-clock", inside_building(5), 8.0);
    let in_1990 = prost_types::Timestamp {
        seconds: 631_152_000,
        nanos: 0,
    };
    reset_clock.client_time = Some(in_1990);
    reset_clock.gps.as_mut().unwrap().fix_time = Some(in_1990);
    let verdict = punches
        .submit_punch(authed(reset_clock, &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(codes(&verdict), vec![pb::FindingCode::ClockSkew]);
    assert_eq!(verdict.decision(), pb::Decision::Review);

    let no_estimate = punch_at("no-estimate", inside_building(5), 0.0);
    let verdict = punches
        .submit_punch(authed(no_estimate, &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted);
    server.stop().await;
}

/// The fence bundle a phone downloads: every site with simplified fences
/// and access points, the signature list, a version, and not-modified when
/// the phone already has it.
#[tokio::test]
async fn fence_bundle_follows_the_configuration_version() {
    let server = TestServer::start().await;
    let admin = server.kotka_org("kotka").await;
    let device = server.token("kotka", Role::Device, Some("emp-1")).await;
    let mut punches = server.punch_client().await;
    let bundle = punches
        .get_fence_bundle(authed(
            pb::GetFenceBundleRequest { known_version: 0 },
            &device,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!bundle.not_modified && bundle.version > 0);
    assert_eq!(bundle.sites.len(), 2171);
    assert!(
        bundle
            .signatures
            .iter()
            .any(|s| s.package == "com.lexa.fakegps")
    );
    let first = &bundle.sites[0];
    let Some(pb::bundle_fence::Shape::Polygon(polygon)) = &first.fences[0].shape else {
        panic!("a Kotka building is a polygon");
    };
    let ring = &polygon.rings[0].coordinates;
    assert!(
        ring.len() >= 8 && ring.len() % 2 == 0,
        "at least 4 lon/lat pairs"
    );
    assert_eq!(ring[..2], ring[ring.len() - 2..], "rings are closed");

    let again = punches
        .get_fence_bundle(authed(
            pb::GetFenceBundleRequest {
                known_version: bundle.version,
            },
            &device,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.not_modified && again.sites.is_empty());

    let wifi = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"site":"annex","radius_m":40,"wifi":[{"bssid":"F0-9F-C2-00-00-01","ssid":"Annex"}],
            "beacons":[{"uuid":"F7826DA6-4FA2-4E98-8024-BC5B71E0893E","major":3,"minor":4},
                       {"eid_identity_key":"00112233445566778899aabbccddeeff","rotation_exponent":10}]},
        "geometry":{"type":"Point","coordinates":[26.95,60.52]}}]}"#;
    server
        .admin_client()
        .await
        .import_sites(authed(
            pb::ImportSitesRequest {
                org_id: String::new(),
                geojson: wifi.into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let changed = punches
        .get_fence_bundle(authed(
            pb::GetFenceBundleRequest {
                known_version: bundle.version,
            },
            &device,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!changed.not_modified && changed.version > bundle.version);
    let annex = changed.sites.iter().find(|s| s.site_id == "annex").unwrap();
    assert_eq!(annex.wifi_bssids, ["f0:9f:c2:00:00:01"]);
    let listed = server
        .admin_client()
        .await
        .list_sites(authed(pb::ListSitesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    let annex_listed = listed.sites.iter().find(|s| s.site_id == "annex").unwrap();
    assert_eq!(annex_listed.wifi_bssids, ["f0:9f:c2:00:00:01"]);
    assert_eq!(
        (annex_listed.ibeacons.len(), annex_listed.eid_beacons),
        (1, 1)
    );
    assert_eq!(
        annex.ibeacons.len(),
        1,
        "iBeacons only: EID keys never leave the server"
    );
    assert_eq!(
        annex.ibeacons[0].uuid,
        "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
    );

    let hr = server.token("kotka", Role::Hr, None).await;
    let status = punches
        .get_fence_bundle(authed(pb::GetFenceBundleRequest::default(), &hr))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    server.stop().await;
}

/// The Kotka features as GeoJSON lines, one Feature a line.
fn kotka_lines() -> String {
    let collection: serde_json::Value = serde_json::from_str(KOTKA).unwrap();
    collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::to_string(f).unwrap() + "\n")
        .collect()
}

async fn stream_import(
    server: &TestServer,
    admin: &str,
    lines: String,
    chunk: usize,
) -> Result<pb::ImportSitesSummary, tonic::Status> {
    // Chunks cut anywhere, mid-feature and mid-character included.
    let chunks: Vec<pb::ImportSitesChunk> = lines
        .as_bytes()
        .chunks(chunk)
        .map(|c| pb::ImportSitesChunk {
            geojson_lines: c.to_vec(),
        })
        .collect();
    server
        .admin_client()
        .await
        .import_sites_stream(authed(tokio_stream::iter(chunks), admin))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn geojson_lines_stream_in_and_match_the_collection_import() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let whole = server.import(&admin, KOTKA).await;
    let whole_fences: u32 = whole
        .sites
        .iter()
        .map(|s| s.polygon_fences + s.circle_fences)
        .sum();

    let other = server.token("streamed", Role::Admin, None).await;
    let summary = stream_import(&server, &other, kotka_lines(), 7919)
        .await
        .unwrap();
    assert_eq!(summary.sites as usize, whole.sites.len());
    assert_eq!(summary.fences, whole_fences);
    // The streamed organisation judges a punch as the other does.
    let device = server.token("streamed", Role::Device, Some("aino")).await;
    let verdict = server
        .punch_client()
        .await
        .submit_punch(authed(punch_at("s1", inside_building(10), 8.0), &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert_eq!(verdict.decision(), pb::Decision::Accepted);

    // A bad line is named by its feature's index; nothing is stored.
    let mut lines: Vec<String> = kotka_lines().lines().map(str::to_owned).collect();
    lines[5] = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]}}"#.into();
    lines[7] = "{not json".into();
    let status = stream_import(&server, &other, lines.join("\n"), 4096)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let fields = violated_fields(&status);
    assert!(fields[0].starts_with("geojson.features[5]"), "{fields:?}");
    assert!(fields[1].starts_with("geojson.features[7]"), "{fields:?}");
    let empty = stream_import(&server, &other, "\n\n".into(), 1)
        .await
        .unwrap_err();
    assert_eq!(violated_field(&empty).as_deref(), Some("geojson.features"));
}
