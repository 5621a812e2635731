//! Arbitrary bytes as every request message, then through the validation
//! the service runs: never a panic, every failure a clean error.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    punchguard::service::convert::validate_arbitrary_requests(bytes);
});
