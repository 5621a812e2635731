//! Google's attestation status list: certificates revoked or suspended by
//! serial number, in the format served at
//! <https://android.googleapis.com/attestation/status>:
//! `{"entries": {"<serial, lowercase hex>": {"status": "REVOKED", "reason": …}}}`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

/// The shipped snapshot (`data/attestation/revocation-status.json`); an
/// admin replaces it per organisation without a restart.
const SHIPPED: &str = include_str!("../../../data/attestation/revocation-status.json");
/// Largest list accepted: Google's has a few thousand entries (~300 KiB).
pub const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// Serial (lowercase hex, no leading zeros) to status.
    entries: HashMap<String, Status>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Status {
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct Document {
    entries: HashMap<String, Status>,
}

impl RevocationList {
    /// The shipped snapshot, parsed once and shared.
    pub fn shipped() -> Arc<Self> {
        static PARSED: OnceLock<Arc<RevocationList>> = OnceLock::new();
        PARSED
            .get_or_init(|| {
                Arc::new(Self::parse(SHIPPED.as_bytes()).expect("the shipped status list parses"))
            })
            .clone()
    }

    /// Reads a list in Google's JSON format.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        if json.len() > MAX_LIST_BYTES {
            return Err(format!("longer than {MAX_LIST_BYTES} bytes"));
        }
        let document: Document = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let mut entries = HashMap::with_capacity(document.entries.len());
        for (serial, status) in document.entries {
            let normal = normalise(&serial)
                .ok_or_else(|| format!("entry {serial:?} is not a hexadecimal serial number"))?;
            if !matches!(status.status.as_str(), "REVOKED" | "SUSPENDED") {
                return Err(format!(
                    "entry {serial:?} has status {:?}; expected REVOKED or SUSPENDED",
                    status.status
                ));
            }
            entries.insert(normal, status);
        }
        Ok(Self { entries })
    }

    /// Whether the certificate with this serial (lowercase hex) is revoked
    /// or suspended: both mean its key is not to be trusted now.
    pub fn is_revoked(&self, serial: &str) -> bool {
        self.entries.contains_key(serial)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Lowercase hex without leading zeros, as Java's `BigInteger.toString(16)`
/// writes a serial (which is how Google's list keys them).
pub fn normalise(serial: &str) -> Option<String> {
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = serial.trim_start_matches('0').to_ascii_lowercase();
    Some(if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed
    })
}

/// A certificate serial (big-endian bytes) in the list's form.
pub fn serial_hex(raw: &[u8]) -> String {
    normalise(&hex::encode(raw)).unwrap_or_else(|| "0".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_snapshot_reads() {
        let list = RevocationList::shipped();
        assert!(list.is_revoked("8350192447815228107"));
        assert!(list.is_revoked("cc66e9a93713b6e643b26c15879786f7"));
        assert!(!list.is_revoked("1"));
    }

    #[test]
    fn serials_compare_without_case_or_leading_zeros() {
        let list =
            RevocationList::parse(br#"{"entries":{"00ABcd":{"status":"REVOKED"}}}"#).unwrap();
        assert!(list.is_revoked(&serial_hex(&[0x00, 0xab, 0xcd])));
        assert!(RevocationList::parse(br#"{"entries":{"xyz":{"status":"REVOKED"}}}"#).is_err());
        assert!(RevocationList::parse(br#"{"entries":{"ab":{"status":"FINE"}}}"#).is_err());
        assert!(RevocationList::parse(b"[]").is_err());
    }
}
