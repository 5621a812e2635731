//! Arbitrary bytes through every attestation parser: a certificate chain
//! (whole, and split in two), the KeyDescription, an App Attest object and
//! assertion, a revocation list. Never a panic, whatever the bytes.
#![no_main]

use punchguard::engine::attestation::{Anchors, RevocationList, android, apple};

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let at = jiff::Timestamp::from_second(1_700_000_000).expect("in range");
    let half = bytes.len() / 2;
    let _ = android::verify(&[bytes.to_vec()], b"c", None, Anchors::shipped(), at);
    let _ = android::verify(
        &[bytes[..half].to_vec(), bytes[half..].to_vec()],
        b"c",
        None,
        Anchors::shipped(),
        at,
    );
    let _ = android::parse_key_description(bytes);
    let _ = apple::verify_attestation(bytes, &[0; 32], b"c", None, Anchors::shipped(), at);
    let _ = apple::parse_assertion(bytes);
    let _ = RevocationList::parse(bytes);
});
