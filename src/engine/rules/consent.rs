//! CONSENT_MISSING: an automatic punch (the app punched when it opened in
//! range) from an employee who has not consented to automatic punching, or
//! who withdrew it. Their manual punches are not affected.

use super::Observation;
use crate::engine::history::History;
use crate::engine::types::{FindingCode, PunchKind};

pub fn check(kind: PunchKind, history: &History) -> Option<Observation> {
    (kind == PunchKind::Auto && !history.auto_punch_consent).then(|| {
        (
            FindingCode::ConsentMissing,
            "an automatic punch without the employee's consent to automatic punching".to_string(),
        )
    })
}
