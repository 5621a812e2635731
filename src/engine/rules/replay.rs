//! DUPLICATE: a nonce the device already used. A captured request replayed
//! later carries its old nonce; an honest retry reuses its punch id instead
//! and gets the first verdict back before any rule runs.

use super::Observation;
use crate::engine::history::History;
use crate::engine::types::FindingCode;

pub fn check(history: &History) -> Option<Observation> {
    history.nonce_seen.then(|| {
        (
            FindingCode::Duplicate,
            "the request's nonce was already used by this device".to_string(),
        )
    })
}
