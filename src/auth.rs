//! Bearer tokens: creation, hashing, roles. Pure: the store keeps the hashes,
//! the transport checks them.
//!
//! Tokens are 256 random bits, so a single SHA-256 is enough to store them
//! safely: a slow password hash protects guessable secrets, and these are not
//! guessable. A fast hash keeps authentication off the hot path's budget.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of every punchguard token, so that a leaked one is recognisable
/// by secret scanners.
const TOKEN_PREFIX: &str = "pgt_";

/// What a token may do. One token, one organisation, one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An employee's phone: submits punches for its one bound employee.
    Device,
    /// Defines sites, fences and policy.
    Admin,
    /// Reads attendance results.
    Hr,
    /// Answers data-subject requests and records consent.
    Privacy,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Device => "device",
            Role::Admin => "admin",
            Role::Hr => "hr",
            Role::Privacy => "privacy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "device" => Role::Device,
            "admin" => Role::Admin,
            "hr" => Role::Hr,
            "privacy" => Role::Privacy,
            _ => return None,
        })
    }
}

/// SHA-256 of a token, lowercase hex: the only form a token is stored in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        TokenHash(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// The token's public id: the first 12 hex digits of its hash. It names
    /// the token in audit entries and lists; it cannot be used to call.
    pub fn id(&self) -> String {
        self.0[..12].to_owned()
    }
}

/// A fresh random token and its hash.
pub fn generate_token() -> (String, TokenHash) {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system's random source failed");
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = TokenHash::of(&token);
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let (a, ha) = generate_token();
        let (b, hb) = generate_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(TokenHash::of(&a), ha);
        assert_eq!(ha.0.len(), 64);
    }
}
