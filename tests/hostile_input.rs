//! Arbitrary bytes into every request's validation, and arbitrary text into
//! the GeoJSON import: no panic, whatever comes. (The same functions are the
//! cargo-fuzz targets in tests/fuzz, run for longer.)

use proptest::prelude::*;
use prost::Message;

use punchguard::engine::sites::parse_sites_geojson;
use punchguard::proto::v1 as pb;
use punchguard::service::convert::validate_arbitrary_requests;

/// Well-formed messages with hostile values: these reach deeper than random
/// bytes, which mostly fail to decode.
fn hostile_punch() -> impl Strategy<Value = pb::SubmitPunchRequest> {
    (
        any::<String>(),
        any::<i32>(),
        proptest::option::of(any::<f64>()),
        proptest::option::of(any::<f64>()),
        proptest::option::of(any::<f64>()),
        proptest::collection::vec((any::<String>(), any::<String>(), any::<i32>()), 0..80),
        proptest::collection::vec(any::<String>(), 0..50),
        (any::<i64>(), any::<i32>()),
    )
        .prop_map(|(id, kind, lat, lon, acc, wifi, packages, (secs, nanos))| {
            pb::SubmitPunchRequest {
                punch_id: id,
                kind,
                client_time: Some(prost_types::Timestamp {
                    seconds: secs,
                    nanos,
                }),
                gps: Some(pb::GpsFix {
                    latitude: lat,
                    longitude: lon,
                    accuracy_m: acc,
                    ..Default::default()
                }),
                wifi: wifi
                    .into_iter()
                    .map(|(bssid, ssid, rssi_dbm)| pb::WifiAccessPoint {
                        bssid,
                        ssid,
                        rssi_dbm,
                    })
                    .collect(),
                installed_packages: packages,
                ..Default::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        validate_arbitrary_requests(&bytes);
    }

    #[test]
    fn hostile_punches_never_panic(request in hostile_punch()) {
        validate_arbitrary_requests(&request.encode_to_vec());
    }

    #[test]
    fn arbitrary_geojson_never_panics(text in ".{0,2000}") {
        let _ = parse_sites_geojson(&text);
    }

    #[test]
    fn geojson_shaped_text_never_panics(
        coords in proptest::collection::vec((any::<f64>(), any::<f64>()), 0..12),
        radius in any::<f64>(),
        kind in prop_oneof![Just("Polygon"), Just("Point"), Just("MultiPolygon"), Just("LineString")],
    ) {
        let ring: Vec<String> = coords.iter().map(|(x, y)| format!("[{x:e},{y:e}]")).collect();
        let coordinates = match kind {
            "Point" => ring.first().cloned().unwrap_or_else(|| "[]".into()),
            "MultiPolygon" => format!("[[[{}]]]", ring.join(",")),
            _ => format!("[[{}]]", ring.join(",")),
        };
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature",
               "properties":{{"radius_m":{radius:e}}},
               "geometry":{{"type":"{kind}","coordinates":{coordinates}}}}}]}}"#
        );
        let _ = parse_sites_geojson(&text);
    }
}
