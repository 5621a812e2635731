//! An organisation's policy over gRPC: defaults, changes that take effect on
//! the next punch, field staff, and bounds.

mod common;

use jiff::{SignedDuration, Timestamp};
use tonic::Code;

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;

#[tokio::test]
async fn policy_changes_take_effect_on_the_next_punch() {
    let server = TestServer::start().await;
    let admin = server.kotka_org("acme").await;
    let mut admin_client = server.admin_client().await;
    let defaults = admin_client
        .get_policy(authed(pb::GetPolicyRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(defaults.max_accuracy_m, 100.0);
    assert_eq!(defaults.max_fix_age_s, 120);
    assert_eq!(defaults.max_clock_skew_s, 300);
    assert!((defaults.max_travel_speed_kmh - 250.0).abs() < 1e-9);
    assert!(defaults.actions.is_empty() && defaults.field_staff.is_empty());

    let mut changed = defaults.clone();
    changed.max_accuracy_m = 50.0;
    changed.field_staff = vec!["sales-rep".into()];
    changed.actions = vec![pb::FindingAction {
        code: pb::FindingCode::ClockSkew.into(),
        action: pb::Action::Ignore.into(),
    }];
    let stored = admin_client
        .put_policy(authed(
            pb::PutPolicyRequest {
                org_id: String::new(),
                policy: Some(changed.clone()),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored, changed);
    let read_back = admin_client
        .get_policy(authed(pb::GetPolicyRequest::default(), &admin))
        .await
        .unwrap();
    assert_eq!(read_back.into_inner(), changed);

    let punches = server.punch_client().await;
    let submit = |employee: &'static str, request: pb::SubmitPunchRequest| {
        let server = &server;
        let mut punches = punches.clone();
        async move {
            let token = server.token("acme", Role::Device, Some(employee)).await;
            punches
                .submit_punch(authed(request, &token))
                .await
                .unwrap()
                .into_inner()
                .verdict
                .unwrap()
        }
    };
    // A 70 m fix is now too vague.
    let vague = submit("clerk", punch_at("vague", inside_building(3), 70.0)).await;
    assert_eq!(vague.decision(), pb::Decision::Review);
    assert_eq!(vague.findings[0].code(), pb::FindingCode::LowAccuracy);
    // A skewed clock is now ignored: reported, not decisive.
    let mut skewed = punch_at("skewed", inside_building(4), 8.0);
    skewed.client_time = Some(ts(Timestamp::now() - SignedDuration::from_mins(30)));
    skewed.gps.as_mut().unwrap().fix_time = skewed.client_time;
    let skewed = submit("clerk-2", skewed).await;
    assert_eq!(skewed.decision(), pb::Decision::Accepted);
    assert_eq!(skewed.findings[0].action(), pb::Action::Ignore);
    // Field staff at a customer's, 2 km from any fence: accepted, with the
    // nearest site and the distance recorded.
    let away = inside_building(10);
    let customer = geo::Point::new(away.x(), away.y() - 0.02);
    let rep = submit("sales-rep", punch_at("visit", customer, 10.0)).await;
    assert_eq!(rep.decision(), pb::Decision::Accepted, "{rep:?}");
    assert_eq!(rep.findings[0].code(), pb::FindingCode::OutsideFence);
    assert_eq!(rep.findings[0].action(), pb::Action::Ignore);
    assert!(rep.distance_m.unwrap() > 100.0 && !rep.nearest_site_id.is_empty());
    // Anyone else there is still outside.
    let clerk = submit("clerk-3", punch_at("visit", customer, 10.0)).await;
    assert_eq!(clerk.decision(), pb::Decision::Rejected);
    server.stop().await;
}

#[tokio::test]
async fn bad_policies_name_the_field_and_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.token("acme", Role::Admin, None).await;
    let mut client = server.admin_client().await;
    let defaults = client
        .get_policy(authed(pb::GetPolicyRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    type Tamper = fn(&mut pb::OrgPolicy);
    let cases: &[(&str, Tamper, &str)] = &[
        (
            "accuracy below bound",
            |p| p.max_accuracy_m = 1.0,
            "policy.max_accuracy_m",
        ),
        (
            "accuracy NaN",
            |p| p.max_accuracy_m = f64::NAN,
            "policy.max_accuracy_m",
        ),
        (
            "fix age zero",
            |p| p.max_fix_age_s = 0,
            "policy.max_fix_age_s",
        ),
        (
            "skew a week",
            |p| p.max_clock_skew_s = 7 * 86_400,
            "policy.max_clock_skew_s",
        ),
        (
            "no devices",
            |p| p.max_devices_per_employee = 0,
            "policy.max_devices_per_employee",
        ),
        (
            "warp speed",
            |p| p.max_travel_speed_kmh = 1e6,
            "policy.max_travel_speed_kmh",
        ),
        (
            "action missing",
            |p| {
                p.actions = vec![pb::FindingAction {
                    code: pb::FindingCode::Rooted.into(),
                    action: 0,
                }]
            },
            "policy.actions[0].action",
        ),
        (
            "unknown code",
            |p| {
                p.actions = vec![pb::FindingAction {
                    code: 999,
                    action: pb::Action::Ignore.into(),
                }]
            },
            "policy.actions[0].code",
        ),
        (
            "code twice",
            |p| {
                let a = pb::FindingAction {
                    code: pb::FindingCode::Rooted.into(),
                    action: pb::Action::Ignore.into(),
                };
                p.actions = vec![a, a];
            },
            "policy.actions[1].code",
        ),
        (
            "empty field-staff id",
            |p| p.field_staff = vec![String::new()],
            "policy.field_staff[0]",
        ),
    ];
    for (name, tamper, field) in cases {
        let mut policy = defaults.clone();
        tamper(&mut policy);
        let status = client
            .put_policy(authed(
                pb::PutPolicyRequest {
                    org_id: String::new(),
                    policy: Some(policy),
                },
                &admin,
            ))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(*field),
            "{name}: {status:?}"
        );
    }
    let missing = client
        .put_policy(authed(pb::PutPolicyRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&missing).as_deref(), Some("policy"));
    let still = client
        .get_policy(authed(pb::GetPolicyRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still, defaults, "no failed put may change the policy");

    let hr = server.token("acme", Role::Hr, None).await;
    let status = client
        .get_policy(authed(pb::GetPolicyRequest::default(), &hr))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let other = server.token("other", Role::Admin, None).await;
    let status = client
        .get_policy(authed(
            pb::GetPolicyRequest {
                org_id: "acme".into(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    server.stop().await;
}

/// Devices bind on first use up to the limit; an admin binds more, revokes,
/// and lists them, and the next punch sees each change.
#[tokio::test]
async fn admins_bind_and_revoke_devices() {
    let server = TestServer::start().await;
    let admin = server.kotka_org("acme").await;
    let device_token = server.token("acme", Role::Device, Some("collector")).await;
    let mut punches = server.punch_client().await;
    let mut admin_client = server.admin_client().await;
    let mut n = 0;
    let mut punch_from = async |device: &str| {
        n += 1;
        let mut request = punch_at(&format!("p{n}"), inside_building(3), 8.0);
        request.device = Some(pb::DeviceFacts {
            device_id: device.into(),
            ..Default::default()
        });
        let verdict = punches
            .submit_punch(authed(request, &device_token))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap();
        verdict
            .findings
            .iter()
            .map(|f| f.code())
            .collect::<Vec<_>>()
    };
    assert!(punch_from("phone-a").await.is_empty());
    assert!(punch_from("phone-b").await.is_empty());
    assert_eq!(
        punch_from("phone-c").await,
        [pb::FindingCode::UnboundDevice]
    );

    let request = |device: &str| pb::DeviceRequest {
        org_id: String::new(),
        employee_id: "collector".into(),
        device_id: device.into(),
    };
    let bound = admin_client
        .bind_device(authed(request("phone-c"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(bound.revoked_time.is_none());
    assert!(
        punch_from("phone-c").await.is_empty(),
        "bound by the admin beyond the limit"
    );

    let revoked = admin_client
        .revoke_device(authed(request("phone-a"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked_time.is_some());
    assert_eq!(
        punch_from("phone-a").await,
        [pb::FindingCode::UnboundDevice]
    );

    let listed = admin_client
        .list_devices(authed(
            pb::ListDevicesRequest {
                org_id: String::new(),
                employee_id: "collector".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .devices;
    let mut ids: Vec<_> = listed
        .iter()
        .map(|d| (d.device_id.as_str(), d.revoked_time.is_some()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [("phone-a", true), ("phone-b", false), ("phone-c", false)]
    );

    let status = admin_client
        .revoke_device(authed(request("phone-z"), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = admin_client
        .bind_device(authed(
            pb::DeviceRequest {
                device_id: String::new(),
                ..request("x")
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("device_id"));
    server.stop().await;
}

/// Automatic punches need the employee's consent on record; a privacy
/// officer records or withdraws it, and the next punch sees the change.
#[tokio::test]
async fn auto_punches_need_consent() {
    let server = TestServer::start().await;
    server.kotka_org("acme").await;
    let privacy = server.token("acme", Role::Privacy, None).await;
    let device = server.token("acme", Role::Device, Some("aino")).await;
    let mut punches = server.punch_client().await;
    let mut consents = punchguard::proto::v1::privacy_service_client::PrivacyServiceClient::new(
        server.channel().await,
    );
    let mut n = 0;
    let mut auto_punch = async |kind: pb::PunchKind| {
        n += 1;
        let mut request = punch_at(&format!("auto-{n}"), inside_building(3), 8.0);
        request.kind = kind.into();
        punches
            .submit_punch(authed(request, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap()
    };
    let without = auto_punch(pb::PunchKind::Auto).await;
    assert_eq!(without.decision(), pb::Decision::Rejected);
    assert_eq!(without.findings[0].code(), pb::FindingCode::ConsentMissing);
    assert_eq!(
        auto_punch(pb::PunchKind::In).await.decision(),
        pb::Decision::Accepted,
        "manual punches need no consent"
    );

    let set = |granted| pb::SetConsentRequest {
        org_id: String::new(),
        employee_id: "aino".into(),
        purpose: pb::ConsentPurpose::AutoPunch.into(),
        granted,
    };
    let given = consents
        .set_consent(authed(set(true), &privacy))
        .await
        .unwrap()
        .into_inner();
    assert!(given.granted && given.changed_time.is_some());
    assert_eq!(
        auto_punch(pb::PunchKind::Auto).await.decision(),
        pb::Decision::Accepted
    );

    consents
        .set_consent(authed(set(false), &privacy))
        .await
        .unwrap();
    assert_eq!(
        auto_punch(pb::PunchKind::Auto).await.findings[0].code(),
        pb::FindingCode::ConsentMissing
    );
    let listed = consents
        .list_consents(authed(
            pb::ListConsentsRequest {
                org_id: String::new(),
                employee_id: "aino".into(),
            },
            &privacy,
        ))
        .await
        .unwrap()
        .into_inner()
        .consents;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].granted);

    let status = consents
        .set_consent(authed(
            pb::SetConsentRequest {
                purpose: 0,
                ..set(true)
            },
            &privacy,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&status).as_deref(), Some("purpose"));
    let admin = server.token("acme", Role::Admin, None).await;
    let status = consents
        .set_consent(authed(set(true), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    server.stop().await;
}

/// An organisation's own cheat-software list replaces the shipped one for
/// punches and bundles; bad entries name their field; it can go back.
#[tokio::test]
async fn organisations_can_bring_their_own_signature_list() {
    let server = TestServer::start().await;
    let admin = server.kotka_org("acme").await;
    let device = server.token("acme", Role::Device, Some("aino")).await;
    let mut admin_client = server.admin_client().await;
    let mut punches = server.punch_client().await;
    let shipped = admin_client
        .get_signatures(authed(pb::GetSignaturesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(
        shipped.builtin
            && shipped
                .signatures
                .iter()
                .any(|s| s.package == "com.lexa.fakegps")
    );

    let own = pb::CheatSignature {
        id: "corp-tracker-spoof".into(),
        package: "com.example.spoofer".into(),
        cert_sha256: "AB".repeat(32),
        category: "virtual_location".into(),
        name: "Example spoofer".into(),
    };
    let put = |signatures: Vec<pb::CheatSignature>, use_builtin| pb::PutSignaturesRequest {
        org_id: String::new(),
        signatures,
        use_builtin,
    };
    let stored = admin_client
        .put_signatures(authed(put(vec![own.clone()], false), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(!stored.builtin);
    assert_eq!(
        stored.signatures[0].cert_sha256,
        "ab".repeat(32),
        "hashes are normalised"
    );

    let mut n = 0;
    let mut punch_with = async |packages: Vec<&str>| {
        n += 1;
        let mut request = punch_at(&format!("s{n}"), inside_building(3), 8.0);
        request.installed_packages = packages.into_iter().map(String::from).collect();
        punches
            .submit_punch(authed(request, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap()
    };
    let caught = punch_with(vec!["com.example.spoofer"]).await;
    assert_eq!(caught.cheat_matches[0].signature_id, "corp-tracker-spoof");
    let not_listed = punch_with(vec!["com.lexa.fakegps"]).await;
    assert!(
        not_listed.cheat_matches.is_empty(),
        "the shipped list no longer applies"
    );
    let bundle = server
        .punch_client()
        .await
        .get_fence_bundle(authed(pb::GetFenceBundleRequest::default(), &device))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bundle.signatures.len(), 1);

    for (bad, field) in [
        (
            pb::CheatSignature {
                cert_sha256: "xyz".into(),
                ..own.clone()
            },
            "signatures[0].cert_sha256",
        ),
        (
            pb::CheatSignature {
                category: "spyware".into(),
                ..own.clone()
            },
            "signatures[0].category",
        ),
        (
            pb::CheatSignature {
                package: String::new(),
                ..own.clone()
            },
            "signatures[0].package",
        ),
        (
            pb::CheatSignature {
                id: String::new(),
                ..own.clone()
            },
            "signatures[0].id",
        ),
    ] {
        let status = admin_client
            .put_signatures(authed(put(vec![bad], false), &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    let status = admin_client
        .put_signatures(authed(put(vec![own.clone(), own.clone()], false), &admin))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&status).as_deref(),
        Some("signatures"),
        "duplicate ids"
    );

    let back = admin_client
        .put_signatures(authed(put(Vec::new(), true), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(back.builtin);
    assert_eq!(
        punch_with(vec!["com.lexa.fakegps"])
            .await
            .cheat_matches
            .len(),
        1
    );
    server.stop().await;
}

/// A WiFi-and-beacon-only punch: no fix, so only radio evidence can place it.
fn radio_punch(id: &str, wifi: &[&str], ibeacon_minor: Option<u32>) -> pb::SubmitPunchRequest {
    let mut request = punch_at(id, inside_building(0), 10.0);
    request.gps = None;
    request.wifi = wifi
        .iter()
        .map(|bssid| pb::WifiAccessPoint {
            bssid: (*bssid).into(),
            ssid: "Depot".into(),
            rssi_dbm: -60,
        })
        .collect();
    request.beacons = ibeacon_minor
        .map(|minor| pb::BeaconSighting {
            id: Some(pb::beacon_sighting::Id::Ibeacon(pb::IBeaconId {
                uuid: "f7826da6-4fa2-4e98-8024-bc5b71e0893e".into(),
                major: 7,
                minor,
            })),
            rssi_dbm: -65,
        })
        .into_iter()
        .collect();
    request
}

#[tokio::test]
async fn admins_put_a_sites_access_points_and_beacons_without_touching_its_fences() {
    let server = TestServer::start().await;
    let admin = server.token("depot-org", Role::Admin, None).await;
    server
        .import(
            &admin,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature",
                "properties":{"site":"depot","radius_m":60},
                "geometry":{"type":"Point","coordinates":[26.94,60.47]}}]}"#,
        )
        .await;
    let device = server
        .token("depot-org", Role::Device, Some("driver"))
        .await;
    let mut admin_client = server.admin_client().await;
    let mut punch_client = server.punch_client().await;
    let mut submit = async |request: pb::SubmitPunchRequest| {
        punch_client
            .submit_punch(authed(request, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap()
    };

    // Before: the depot's WiFi is unknown, so a WiFi-only punch locates nowhere.
    let before = submit(radio_punch("p1", &["aa:bb:cc:00:00:01"], None)).await;
    assert_eq!(before.site_id, "");
    assert_ne!(before.decision(), pb::Decision::Accepted);

    let site = admin_client
        .put_site_access_points(authed(
            pb::PutSiteAccessPointsRequest {
                org_id: String::new(),
                site_id: "depot".into(),
                access_points: vec![pb::SiteAccessPoint {
                    bssid: "AA-BB-CC-00-00-01".into(),
                    ssid: "Depot".into(),
                }],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(site.circle_fences, 1, "the fence stays");
    assert_eq!(site.wifi_bssids, ["aa:bb:cc:00:00:01"]);
    assert_eq!(site.access_points[0].ssid, "Depot");
    let on_wifi = submit(radio_punch("p2", &["aabbcc000001"], None)).await;
    assert_eq!(on_wifi.decision(), pb::Decision::Accepted);
    assert_eq!(on_wifi.site_id, "depot");
    assert_eq!(on_wifi.method(), pb::LocationMethod::Wifi);

    let eid = pb::SiteBeacon {
        kind: Some(pb::site_beacon::Kind::Eid(pb::EidBeacon {
            identity_key: vec![7; 16],
            rotation_exponent: 10,
            clock_offset_s: 0,
        })),
        min_rssi_dbm: None,
    };
    let ibeacon = pb::SiteBeacon {
        kind: Some(pb::site_beacon::Kind::Ibeacon(pb::IBeaconId {
            uuid: "F7826DA6-4FA2-4E98-8024-BC5B71E0893E".into(),
            major: 7,
            minor: 3,
        })),
        min_rssi_dbm: Some(-80),
    };
    let site = admin_client
        .put_site_beacons(authed(
            pb::PutSiteBeaconsRequest {
                org_id: String::new(),
                site_id: "depot".into(),
                beacons: vec![ibeacon, eid.clone()],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(site.ibeacons.len(), 1);
    assert_eq!(site.eid_beacons, 1);
    assert_eq!(site.wifi_bssids.len(), 1, "the access points stay");
    let on_beacon = submit(radio_punch("p3", &[], Some(3))).await;
    assert_eq!(on_beacon.decision(), pb::Decision::Accepted);
    assert_eq!(on_beacon.method(), pb::LocationMethod::Beacon);

    // Emptying the access points takes effect on the next punch too.
    admin_client
        .put_site_access_points(authed(
            pb::PutSiteAccessPointsRequest {
                site_id: "depot".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap();
    let after = submit(radio_punch("p4", &["aa:bb:cc:00:00:01"], None)).await;
    assert_eq!(after.site_id, "");
    let listed = admin_client
        .list_sites(authed(pb::ListSitesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.sites[0].access_points.is_empty());
    assert_eq!(listed.sites[0].eid_beacons, 1);

    // Refusals name the field and change nothing.
    let bad_ap = |site_id: &str, bssids: &[&str]| pb::PutSiteAccessPointsRequest {
        org_id: String::new(),
        site_id: site_id.into(),
        access_points: bssids
            .iter()
            .map(|b| pb::SiteAccessPoint {
                bssid: (*b).into(),
                ssid: String::new(),
            })
            .collect(),
    };
    let cases = [
        (
            bad_ap("depot", &["aa:bb:cc:00:00:01", "not-a-mac"]),
            "access_points[1].bssid",
        ),
        (
            bad_ap("depot", &["aa:bb:cc:00:00:01", "AABBCC000001"]),
            "access_points[1].bssid",
        ),
        (bad_ap("", &[]), "site_id"),
    ];
    for (request, field) in cases {
        let status = admin_client
            .put_site_access_points(authed(request, &admin))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status).as_deref(), Some(field));
    }
    let mut short_key = eid;
    if let Some(pb::site_beacon::Kind::Eid(e)) = &mut short_key.kind {
        e.identity_key.pop();
    }
    let status = admin_client
        .put_site_beacons(authed(
            pb::PutSiteBeaconsRequest {
                org_id: String::new(),
                site_id: "depot".into(),
                beacons: vec![short_key],
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&status).as_deref(),
        Some("beacons[0].eid.identity_key")
    );
    let status = admin_client
        .put_site_access_points(authed(bad_ap("warehouse", &[]), &admin))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let unchanged = admin_client
        .list_sites(authed(pb::ListSitesRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.sites.len(), 1);
    assert_eq!(unchanged.sites[0].eid_beacons, 1);
    assert_eq!(unchanged.sites[0].ibeacons.len(), 1);
    server.stop().await;
}
