//! Arbitrary text as a GeoJSON site import: a clean error or sites, never
//! a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = punchguard::engine::sites::parse_sites_geojson(text);
    }
});
