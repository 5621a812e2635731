//! Known cheat software on the device, found by the device (signature ids)
//! or by the server from an older client's package list. The package list
//! is only read here; what comes out is signature ids, never package names
//! of the employee's other apps.

use super::Observation;
use crate::engine::signatures::SignatureList;
use crate::engine::types::{AppEvidence, CheatMatch, FindingCode};

/// The signatures matched, in a stable order, and the finding if any.
pub fn check(
    apps: &AppEvidence,
    signatures: &SignatureList,
) -> (Vec<CheatMatch>, Option<Observation>) {
    // Ids the device reports that this list does not know come from a newer
    // bundle than the server's; they are skipped, not trusted blindly.
    let mut found: Vec<_> = apps
        .matched_signature_ids
        .iter()
        .filter_map(|id| signatures.by_id(id))
        .chain(
            apps.installed_packages
                .0
                .iter()
                .filter_map(|p| signatures.by_package(p)),
        )
        .map(|s| CheatMatch {
            signature_id: s.id.clone(),
            category: s.category,
        })
        .collect();
    found.sort_by(|a, b| a.signature_id.cmp(&b.signature_id));
    found.dedup_by(|a, b| a.signature_id == b.signature_id);
    if found.is_empty() {
        return (found, None);
    }
    let listed: Vec<String> = found
        .iter()
        .map(|m| format!("{} ({})", m.signature_id, m.category.as_str()))
        .collect();
    let observation = (
        FindingCode::CheatAppInstalled,
        format!("known cheat software on the device: {}", listed.join(", ")),
    );
    (found, Some(observation))
}
