//! What cheaters try, and what honest people must not be punished for, one
//! row each, through the real gRPC server with the real Kotka buildings.

mod common;

use jiff::{SignedDuration, Timestamp};

use common::*;
use punchguard::auth::Role;
use punchguard::proto::v1 as pb;

fn flatten(r: &mut pb::SubmitPunchRequest) {
    for s in &mut motion(r).sensors {
        s.variance = 0.0;
    }
    motion(r).step_delta = Some(0);
}

fn ts_ago(d: SignedDuration) -> Option<prost_types::Timestamp> {
    Some(ts(Timestamp::now() - d))
}

/// WGS-84 Tiananmen and its GCJ-02 coordinates (published reference pair).
const BEIJING_WGS84: (f64, f64) = (116.404, 39.915);
const BEIJING_GCJ02: (f64, f64) = (116.41024449916938, 39.91640428150164);

/// A 110 m square office around BEIJING_WGS84, drawn on a GCJ-02 map.
fn beijing_office_gcj02() -> String {
    let h = 0.0005;
    let (x, y) = BEIJING_WGS84;
    let ring: Vec<String> = [
        (x - h, y - h),
        (x + h, y - h),
        (x + h, y + h),
        (x - h, y + h),
        (x - h, y - h),
    ]
    .iter()
    .map(|&(lon, lat)| {
        let (gx, gy) = coordtransform::wgs84_to_gcj02(lon, lat);
        format!("[{gx},{gy}]")
    })
    .collect();
    format!(
        r#"{{"type":"FeatureCollection","coordinate_system":"gcj02","features":[{{"type":"Feature",
        "properties":{{"site":"beijing-office"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}]}}"#,
        ring.join(",")
    )
}

/// Building 10 again, now with its WiFi access points.
fn building_10_with_wifi() -> String {
    let mut kotka: serde_json::Value = serde_json::from_str(KOTKA).unwrap();
    let mut feature = kotka["features"][10].take();
    feature["properties"]["wifi"] = serde_json::json!([
        {"bssid": "F0:9F:C2:10:00:01", "ssid": "Acme-Office"},
        {"bssid": "f0-9f-c2-10-00-02", "ssid": "Acme-Office"}
    ]);
    serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string()
}

fn ap(bssid: &str, ssid: &str, rssi_dbm: i32) -> pb::WifiAccessPoint {
    pb::WifiAccessPoint {
        bssid: bssid.into(),
        ssid: ssid.into(),
        rssi_dbm,
    }
}

/// ~2 km south of building 10.
fn at_home(r: &mut pb::SubmitPunchRequest) {
    let home = inside_building(10);
    let g = gps(r);
    (g.longitude, g.latitude) = (Some(home.x()), Some(home.y() - 0.018));
}

/// Building 20 with an iBeacon and a rotating Eddystone-EID beacon.
const BEACON_UUID: &str = "f7826da6-4fa2-4e98-8024-bc5b71e0893e";
const EID_KEY: [u8; 16] = *b"kotka-eid-key-01";
const EID_EXPONENT: u8 = 9; // a new id every 512 s
const EID_OFFSET_S: i64 = -1_600_000_000;

fn building_20_with_beacons() -> String {
    let mut kotka: serde_json::Value = serde_json::from_str(KOTKA).unwrap();
    let mut feature = kotka["features"][20].take();
    feature["properties"]["beacons"] = serde_json::json!([
        {"uuid": BEACON_UUID, "major": 20, "minor": 1, "min_rssi_dbm": -85},
        {"eid_identity_key": hex::encode(EID_KEY), "rotation_exponent": EID_EXPONENT, "clock_offset_s": EID_OFFSET_S}
    ]);
    serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string()
}

/// The ephemeral id building 20's rotating beacon shows at `t`.
fn eid_at(t: Timestamp) -> String {
    let counter = (t.as_second() + EID_OFFSET_S) as u32;
    hex::encode(punchguard::engine::beacons::eid(
        &EID_KEY,
        EID_EXPONENT,
        counter,
    ))
}

fn ibeacon(minor: u32, rssi_dbm: i32) -> pb::BeaconSighting {
    pb::BeaconSighting {
        id: Some(pb::beacon_sighting::Id::Ibeacon(pb::IBeaconId {
            uuid: BEACON_UUID.into(),
            major: 20,
            minor,
        })),
        rssi_dbm,
    }
}

fn eid_sighting(eid: String, rssi_dbm: i32) -> pb::BeaconSighting {
    pb::BeaconSighting {
        id: Some(pb::beacon_sighting::Id::Eid(eid)),
        rssi_dbm,
    }
}

/// Building 30 demands both a fix inside it and its own WiFi.
fn building_30_demanding_gps_and_wifi() -> String {
    let mut kotka: serde_json::Value = serde_json::from_str(KOTKA).unwrap();
    let mut feature = kotka["features"][30].take();
    feature["properties"]["wifi"] =
        serde_json::json!([{"bssid": "f0:9f:c2:30:00:01", "ssid": "Vault"}]);
    feature["properties"]["requires"] = serde_json::json!({"all_of": ["gps", "wifi"]});
    serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string()
}

fn at_building_30(r: &mut pb::SubmitPunchRequest) {
    let p = inside_building(30);
    let g = gps(r);
    (g.longitude, g.latitude) = (Some(p.x()), Some(p.y()));
}

fn at_building_20(r: &mut pb::SubmitPunchRequest) {
    let p = inside_building(20);
    let g = gps(r);
    (g.longitude, g.latitude) = (Some(p.x()), Some(p.y()));
}

struct Row {
    name: &'static str,
    tamper: fn(&mut pb::SubmitPunchRequest),
    decision: pb::Decision,
    codes: &'static [pb::FindingCode],
}

#[tokio::test]
async fn cheats_are_caught_and_honest_people_are_not_punished() {
    use pb::FindingCode::*;
    let server = TestServer::start().await;
    let admin = server.kotka_org("acme").await;
    server.import(&admin, beijing_office_gcj02()).await;
    server.import(&admin, building_10_with_wifi()).await;
    server.import(&admin, building_20_with_beacons()).await;
    server
        .import(&admin, building_30_demanding_gps_and_wifi())
        .await;
    let mut client = server.punch_client().await;

    let rows = [
        Row {
            name: "honest punch from a modern client",
            tamper: |_| {},
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "fake-GPS app with the mock flag showing",
            tamper: |r| {
                gps(r).mock_location = true;
                r.installed_packages.push("com.lexa.fakegps".into());
            },
            decision: pb::Decision::Rejected,
            codes: &[MockLocation, CheatAppInstalled],
        },
        Row {
            name: "fake-GPS app with the mock flag hidden (older client's package list)",
            tamper: |r| r.installed_packages.push("com.rosteam.gpsemulator".into()),
            decision: pb::Decision::Review,
            codes: &[CheatAppInstalled],
        },
        Row {
            name: "fake-GPS app found by the device itself",
            tamper: |r| {
                r.installed_packages.clear();
                r.matched_signature_ids = vec!["vl-hola-gpslocation".into()];
            },
            decision: pb::Decision::Review,
            codes: &[CheatAppInstalled],
        },
        Row {
            name: "app cloner running a colleague's account",
            tamper: |r| r.installed_packages.push("com.lbe.parallel.intl".into()),
            decision: pb::Decision::Review,
            codes: &[CheatAppInstalled],
        },
        Row {
            name: "emulator with flat sensors",
            tamper: |r| {
                device(r).emulator = true;
                flatten(r);
            },
            decision: pb::Decision::Rejected,
            codes: &[Emulator, SensorFlat],
        },
        Row {
            name: "emulator hiding its flag, sensors still flat",
            tamper: flatten,
            decision: pb::Decision::Review,
            codes: &[SensorFlat],
        },
        Row {
            name: "rooted phone",
            tamper: |r| device(r).rooted = true,
            decision: pb::Decision::Review,
            codes: &[Rooted],
        },
        Row {
            name: "repackaged app failing attestation",
            tamper: |r| device(r).integrity = pb::IntegrityVerdict::Failed.into(),
            decision: pb::Decision::Review,
            codes: &[IntegrityFailed],
        },
        Row {
            name: "spoofed drive to work while the phone lies on a desk",
            tamper: |r| {
                gps(r).speed_mps = Some(14.0);
                motion(r).sensors[0].variance = 0.0004;
                motion(r).step_delta = Some(0);
            },
            decision: pb::Decision::Review,
            codes: &[SensorInconsistent],
        },
        Row {
            name: "coordinates from a GCJ-02 map, labelled as such",
            tamper: |r| {
                let g = gps(r);
                (g.longitude, g.latitude) = (Some(BEIJING_GCJ02.0), Some(BEIJING_GCJ02.1));
                g.coordinate_system = pb::CoordinateSystem::Gcj02.into();
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "coordinates from a GCJ-02 map passed off as WGS-84",
            tamper: |r| {
                let g = gps(r);
                (g.longitude, g.latitude) = (Some(BEIJING_GCJ02.0), Some(BEIJING_GCJ02.1));
            },
            decision: pb::Decision::Rejected,
            codes: &[OutsideFence],
        },
        Row {
            name: "honest: a WGS-84 phone at the office drawn on a GCJ-02 map",
            tamper: |r| {
                let g = gps(r);
                (g.longitude, g.latitude) = (Some(BEIJING_WGS84.0), Some(BEIJING_WGS84.1));
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: edge of a fence with a 40 m fix",
            tamper: |r| {
                // ~22 m south of the Beijing office's southern wall.
                let g = gps(r);
                (g.longitude, g.latitude) = (Some(BEIJING_WGS84.0), Some(BEIJING_WGS84.1 - 0.0007));
                g.accuracy_m = Some(40.0);
            },
            decision: pb::Decision::Review,
            codes: &[NearFence],
        },
        Row {
            name: "honest: walking in, phone shaking, steps counted",
            tamper: |r| {
                gps(r).speed_mps = Some(1.4);
                motion(r).sensors[0].variance = 3.1;
                motion(r).step_delta = Some(11);
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: punched offline in a basement, sent two hours later",
            tamper: |r| {
                r.client_time = ts_ago(SignedDuration::from_hours(2));
                gps(r).fix_time =
                    ts_ago(SignedDuration::from_hours(2) + SignedDuration::from_secs(20));
                r.sent_time = ts_ago(SignedDuration::ZERO);
                r.queued_offline = true;
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "evil-twin hotspot named like the office WiFi, at home",
            tamper: |r| {
                at_home(r);
                r.wifi = vec![ap("02:1a:11:f0:00:09", "Acme-Office", -40)];
            },
            decision: pb::Decision::Rejected,
            codes: &[OutsideFence, WifiSsidOnly],
        },
        Row {
            name: "evil-twin hotspot plus a GPS spoofed into the office",
            tamper: |r| r.wifi = vec![ap("02:1a:11:f0:00:09", "Acme-Office", -40)],
            decision: pb::Decision::Review,
            codes: &[WifiSsidOnly],
        },
        Row {
            name: "GPS spoofed into the office, only home networks around",
            tamper: |r| {
                r.wifi = vec![
                    ap("58:d9:d5:00:00:01", "Koti-5G", -45),
                    ap("58:d9:d5:00:00:02", "Naapuri", -80),
                ]
            },
            decision: pb::Decision::Review,
            codes: &[WifiUnknown],
        },
        Row {
            name: "office access point seen but a good fix 2 km away",
            tamper: |r| {
                at_home(r);
                r.wifi = vec![ap("f0:9f:c2:10:00:01", "Acme-Office", -50)];
            },
            decision: pb::Decision::Review,
            codes: &[GpsWifiDisagree],
        },
        Row {
            name: "honest: indoors on WiFi only, no fix at all",
            tamper: |r| {
                r.gps = None;
                r.wifi = vec![
                    ap("F0:9F:C2:10:00:02", "Acme-Office", -61),
                    ap("58:d9:d5:00:00:01", "Other", -88),
                ];
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: indoors, a vague 300 m fix and the office WiFi",
            tamper: |r| {
                gps(r).accuracy_m = Some(300.0);
                r.wifi = vec![ap("f09fc2100001", "Acme-Office", -55)];
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: in the basement, no fix, the site's rotating beacon close by",
            tamper: |r| {
                r.gps = None;
                r.beacons = vec![eid_sighting(eid_at(Timestamp::now()), -62)];
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: a vague fix and the site's iBeacon",
            tamper: |r| {
                at_building_20(r);
                gps(r).accuracy_m = Some(250.0);
                r.beacons = vec![ibeacon(1, -70)];
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "a recording of the rotating beacon played back at home",
            tamper: |r| {
                at_home(r);
                r.beacons = vec![eid_sighting(
                    eid_at(Timestamp::now() - SignedDuration::from_hours(5)),
                    -55,
                )];
            },
            decision: pb::Decision::Rejected,
            codes: &[OutsideFence, BeaconReplayed],
        },
        Row {
            name: "a cloned beacon with the right UUID but an unknown minor",
            tamper: |r| {
                at_home(r);
                r.beacons = vec![ibeacon(99, -50)];
            },
            decision: pb::Decision::Rejected,
            codes: &[OutsideFence, BeaconUnknown],
        },
        Row {
            name: "a spoofed fix inside a site that also demands its WiFi",
            tamper: at_building_30,
            decision: pb::Decision::Rejected,
            codes: &[EvidenceMissing],
        },
        Row {
            name: "honest: the fix and the WiFi a demanding site asks for",
            tamper: |r| {
                at_building_30(r);
                r.wifi = vec![ap("F0:9F:C2:30:00:01", "Vault", -60)];
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
        Row {
            name: "honest: an old client that sends no device facts or sensors",
            tamper: |r| {
                r.device = None;
                r.motion = None;
                r.installed_packages.clear();
            },
            decision: pb::Decision::Accepted,
            codes: &[],
        },
    ];

    for (i, row) in rows.iter().enumerate() {
        // Each row is its own employee on their own phone, so that the
        // history rules see no earlier row.
        let device_token = server
            .token("acme", Role::Device, Some(&format!("employee-{i}")))
            .await;
        let mut request = honest(&format!("row-{i}"));
        device(&mut request).device_id = format!("device-{i}");
        (row.tamper)(&mut request);
        let verdict = client
            .submit_punch(authed(request, &device_token))
            .await
            .unwrap_or_else(|s| panic!("{}: {s:?}", row.name))
            .into_inner()
            .verdict
            .unwrap();
        let codes: Vec<_> = verdict.findings.iter().map(|f| f.code()).collect();
        assert_eq!(codes, row.codes, "{}: {verdict:?}", row.name);
        assert_eq!(
            verdict.decision(),
            row.decision,
            "{}: {verdict:?}",
            row.name
        );
        if codes.contains(&CheatAppInstalled) {
            assert_eq!(verdict.cheat_matches.len(), 1, "{}", row.name);
        }
        if row.name.contains("rotating beacon close by") {
            assert_eq!(verdict.method(), pb::LocationMethod::Beacon, "{}", row.name);
            assert_eq!(verdict.site_id, "kotka-bldg-0020", "{}", row.name);
        }
        if row.name.starts_with("honest: indoors on WiFi only") {
            assert_eq!(verdict.method(), pb::LocationMethod::Wifi, "{}", row.name);
        }
        if row.name.starts_with("honest: indoors") {
            assert_eq!(verdict.site_id, "kotka-bldg-0010", "{}", row.name);
            assert_eq!(verdict.wifi_bssids.len(), 1, "{}", row.name);
        }
    }
    server.stop().await;
}

/// Cheats that only show against what came before: each step is one punch
/// by (employee, device), and each scenario has its own people.
#[tokio::test]
async fn history_catches_teleports_shared_phones_replays_and_extra_devices() {
    use pb::FindingCode::*;
    let server = TestServer::start().await;
    let admin = server.kotka_org("acme").await;
    server.import(&admin, beijing_office_gcj02()).await;
    let mut client = server.punch_client().await;
    let mut tokens = std::collections::HashMap::new();

    struct Step {
        employee: &'static str,
        device: &'static str,
        tamper: fn(&mut pb::SubmitPunchRequest),
        decision: pb::Decision,
        codes: &'static [pb::FindingCode],
    }
    let step = |employee, device, tamper, decision, codes| Step {
        employee,
        device,
        tamper,
        decision,
        codes,
    };
    fn earlier(r: &mut pb::SubmitPunchRequest, minutes: i64) {
        // Made `minutes` ago, sent now from the offline queue.
        r.client_time = Some(ts(Timestamp::now() - SignedDuration::from_mins(minutes)));
        gps(r).fix_time = r.client_time;
        r.sent_time = Some(ts(Timestamp::now()));
        r.queued_offline = true;
    }
    let scenarios: Vec<(&str, Vec<Step>)> = vec![
        (
            "teleport from Kotka to Beijing in ten minutes",
            vec![
                step(
                    "tele",
                    "tele-phone",
                    |r| earlier(r, 10),
                    pb::Decision::Accepted,
                    &[],
                ),
                step(
                    "tele",
                    "tele-phone",
                    |r| {
                        let g = gps(r);
                        (g.longitude, g.latitude) = (Some(BEIJING_WGS84.0), Some(BEIJING_WGS84.1));
                    },
                    pb::Decision::Review,
                    &[ImpossibleTravel],
                ),
            ],
        ),
        (
            "honest: walking between two nearby sites",
            vec![
                step(
                    "walker",
                    "walker-phone",
                    |r| earlier(r, 6),
                    pb::Decision::Accepted,
                    &[],
                ),
                step(
                    "walker",
                    "walker-phone",
                    |r| {
                        let next = inside_building(11);
                        let g = gps(r);
                        (g.longitude, g.latitude) = (Some(next.x()), Some(next.y()));
                    },
                    pb::Decision::Accepted,
                    &[],
                ),
            ],
        ),
        (
            "a colleague's phone punching for a second person",
            vec![
                step("owner", "shared-phone", |_| {}, pb::Decision::Accepted, &[]),
                step(
                    "buddy",
                    "shared-phone",
                    |_| {},
                    pb::Decision::Review,
                    &[DeviceShared],
                ),
            ],
        ),
        (
            "a replayed request with an old nonce",
            vec![
                step(
                    "replayer",
                    "replay-phone",
                    |r| r.nonce = "n-42".into(),
                    pb::Decision::Accepted,
                    &[],
                ),
                step(
                    "replayer",
                    "replay-phone",
                    |r| r.nonce = "n-42".into(),
                    pb::Decision::Rejected,
                    &[Duplicate],
                ),
            ],
        ),
        (
            "a third phone after two were bound on first use",
            vec![
                step("collector", "phone-a", |_| {}, pb::Decision::Accepted, &[]),
                step("collector", "phone-b", |_| {}, pb::Decision::Accepted, &[]),
                step(
                    "collector",
                    "phone-c",
                    |_| {},
                    pb::Decision::Review,
                    &[UnboundDevice],
                ),
                step("collector", "phone-a", |_| {}, pb::Decision::Accepted, &[]),
            ],
        ),
    ];
    let mut n = 0;
    for (name, steps) in scenarios {
        for (k, s) in steps.iter().enumerate() {
            if !tokens.contains_key(s.employee) {
                tokens.insert(
                    s.employee,
                    server.token("acme", Role::Device, Some(s.employee)).await,
                );
            }
            n += 1;
            let mut request = honest(&format!("h-{n}"));
            device(&mut request).device_id = s.device.into();
            (s.tamper)(&mut request);
            let verdict = client
                .submit_punch(authed(request, &tokens[s.employee]))
                .await
                .unwrap()
                .into_inner()
                .verdict
                .unwrap();
            let codes: Vec<_> = verdict.findings.iter().map(|f| f.code()).collect();
            assert_eq!(codes, s.codes, "{name}, step {k}: {verdict:?}");
            assert_eq!(verdict.decision(), s.decision, "{name}, step {k}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_evidence_names_the_field_without_echoing_packages() {
    let server = TestServer::start().await;
    server.kotka_org("acme").await;
    let device_token = server.token("acme", Role::Device, Some("aino")).await;
    let mut client = server.punch_client().await;
    type Tamper = fn(&mut pb::SubmitPunchRequest);
    let cases: &[(&str, Tamper, &str)] = &[
        (
            "device without id",
            |r| device(r).device_id.clear(),
            "device.device_id",
        ),
        (
            "unknown platform",
            |r| device(r).platform = 42,
            "device.platform",
        ),
        (
            "huge os version",
            |r| device(r).os_version = "9".repeat(65),
            "device.os_version",
        ),
        (
            "NaN variance",
            |r| motion(r).sensors[0].variance = f64::NAN,
            "motion.sensors[0].variance",
        ),
        (
            "negative mean",
            |r| motion(r).sensors[1].mean_magnitude = -1.0,
            "motion.sensors[1].mean_magnitude",
        ),
        (
            "sensor twice",
            |r| motion(r).sensors[1].r#type = pb::SensorType::Accelerometer.into(),
            "motion.sensors[1].type",
        ),
        (
            "negative steps",
            |r| motion(r).step_delta = Some(-3),
            "motion.step_delta",
        ),
        (
            "absurd speed",
            |r| gps(r).speed_mps = Some(5000.0),
            "gps.speed_mps",
        ),
        (
            "unknown coordinate system",
            |r| gps(r).coordinate_system = 9,
            "gps.coordinate_system",
        ),
        (
            "too many packages",
            |r| r.installed_packages = vec!["a.b".into(); 2001],
            "installed_packages",
        ),
        (
            "oversized package name",
            |r| {
                r.installed_packages
                    .push(format!("org.example.private{}", "x".repeat(300)))
            },
            "installed_packages[2]",
        ),
        (
            "empty signature id",
            |r| r.matched_signature_ids = vec![String::new()],
            "matched_signature_ids[0]",
        ),
        (
            "sent time far ahead",
            |r| r.sent_time = Some(ts(Timestamp::now() + SignedDuration::from_hours(30))),
            "sent_time",
        ),
        (
            "malformed BSSID",
            |r| r.wifi = vec![ap("aa:bb:cc:dd:ee", "x", -50)],
            "wifi[0].bssid",
        ),
        (
            "broadcast BSSID",
            |r| r.wifi = vec![ap("ff:ff:ff:ff:ff:ff", "x", -50)],
            "wifi[0].bssid",
        ),
        (
            "positive RSSI",
            |r| r.wifi = vec![ap("02:00:00:00:00:01", "x", 12)],
            "wifi[0].rssi_dbm",
        ),
        (
            "long SSID",
            |r| r.wifi = vec![ap("02:00:00:00:00:01", &"s".repeat(33), -50)],
            "wifi[0].ssid",
        ),
        (
            "too many APs",
            |r| r.wifi = vec![ap("02:00:00:00:00:01", "x", -50); 65],
            "wifi",
        ),
        ("no fix, no WiFi, no beacon", |r| r.gps = None, "gps"),
        ("nonce with a newline", |r| r.nonce = "a\nb".into(), "nonce"),
        (
            "bad beacon UUID",
            |r| {
                r.beacons = vec![pb::BeaconSighting {
                    id: Some(pb::beacon_sighting::Id::Ibeacon(pb::IBeaconId {
                        uuid: "nope".into(),
                        major: 1,
                        minor: 1,
                    })),
                    rssi_dbm: -60,
                }]
            },
            "beacons[0].ibeacon.uuid",
        ),
        (
            "major out of range",
            |r| {
                r.beacons = vec![pb::BeaconSighting {
                    id: Some(pb::beacon_sighting::Id::Ibeacon(pb::IBeaconId {
                        uuid: BEACON_UUID.into(),
                        major: 70_000,
                        minor: 1,
                    })),
                    rssi_dbm: -60,
                }]
            },
            "beacons[0].ibeacon.major",
        ),
        (
            "short EID",
            |r| r.beacons = vec![eid_sighting("abcd".into(), -60)],
            "beacons[0].eid",
        ),
        (
            "beacon without id",
            |r| {
                r.beacons = vec![pb::BeaconSighting {
                    id: None,
                    rssi_dbm: -60,
                }]
            },
            "beacons[0].id",
        ),
        (
            "too many beacons",
            |r| r.beacons = vec![ibeacon(1, -60); 33],
            "beacons",
        ),
    ];
    for (name, tamper, field) in cases {
        let mut request = honest("bad");
        tamper(&mut request);
        let status = client
            .submit_punch(authed(request, &device_token))
            .await
            .expect_err(name);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{name}");
        assert_eq!(
            violated_field(&status).as_deref(),
            Some(*field),
            "{name}: {status:?}"
        );
        assert!(
            !status.message().contains("org.example.private"),
            "{name}: package echoed"
        );
    }
    server.stop().await;
}

#[test]
fn beijing_fixture_is_where_it_claims() {
    // The GCJ-02 pair really is the published conversion of the WGS-84 point.
    let (x, y) = coordtransform::wgs84_to_gcj02(BEIJING_WGS84.0, BEIJING_WGS84.1);
    assert!((x - BEIJING_GCJ02.0).abs() < 1e-9 && (y - BEIJING_GCJ02.1).abs() < 1e-9);
}
