//! Server-side sessions: a person signs in with an HR, admin or privacy
//! token once, and the browser holds only a random session id in an
//! HttpOnly, SameSite=Strict cookie (Secure under TLS).
//!
//! The session keeps the token's hash, never the token, and the console
//! asks the application layer about that hash on every request: a revoked,
//! rotated-out or expired token ends its sessions at once. Sessions live in
//! this process's memory, so a restart signs everyone out, and behind a
//! load balancer the console needs sticky sessions (documented).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::TokenHash;

/// A session unused this long is over.
const IDLE_EXPIRY: Duration = Duration::from_secs(30 * 60);
/// A session is over this long after sign-in, however busy.
const ABSOLUTE_EXPIRY: Duration = Duration::from_secs(12 * 60 * 60);
/// Most sessions held at once; past it the least recently used goes. Only
/// a valid token opens one, so this bounds memory, not access.
const MAX_SESSIONS: usize = 10_000;
/// Random bytes in a session id and in a CSRF token.
const SECRET_BYTES: usize = 32;

/// One signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: TokenHash,
    /// Sent back with every form; a request from another site cannot know it.
    pub csrf: String,
    started: Instant,
    last_seen: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// A fresh random secret, hex.
fn secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

impl Sessions {
    /// Opens a session for the holder of `token`; returns its id. A new id
    /// every time, whatever the browser sent before (no session fixation).
    pub fn open(&self, token: TokenHash) -> (String, Session) {
        let now = Instant::now();
        let session = Session {
            token,
            csrf: secret(),
            started: now,
            last_seen: now,
        };
        let id = secret();
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        by_id.retain(|_, s| s.live(now));
        if by_id.len() >= MAX_SESSIONS
            && let Some(oldest) = by_id
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
        {
            by_id.remove(&oldest);
        }
        by_id.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session `id` names, its idle clock restarted; an expired
    /// one is removed.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut by_id = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        let session = by_id.get_mut(id)?;
        if !session.live(now) {
            by_id.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id` (sign-out, or its token no longer valid).
    pub fn close(&self, id: &str) {
        self.by_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

impl Session {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE_EXPIRY
            && now.duration_since(self.started) < ABSOLUTE_EXPIRY
    }

    /// Whether `presented` is this session's CSRF token. Their digests are
    /// compared, so the time taken says nothing about how much of a guess
    /// was right.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.csrf.as_bytes()) == Sha256::digest(presented.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sign_in_gets_a_new_id_and_a_closed_session_is_gone() {
        let sessions = Sessions::default();
        let (a, _) = sessions.open(TokenHash::of("t"));
        let (b, _) = sessions.open(TokenHash::of("t"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * SECRET_BYTES);
        assert!(sessions.touch(&a).is_some());
        sessions.close(&a);
        assert!(sessions.touch(&a).is_none());
        assert!(sessions.touch(&b).is_some());
        assert!(sessions.touch("made-up").is_none());
    }

    #[test]
    fn expiry_idle_and_absolute() {
        let now = Instant::now();
        let mut s = Session {
            token: TokenHash::of("t"),
            csrf: secret(),
            started: now,
            last_seen: now,
        };
        assert!(s.live(now));
        assert!(!s.live(now + IDLE_EXPIRY));
        s.last_seen = now + ABSOLUTE_EXPIRY - Duration::from_secs(1);
        assert!(s.live(now + ABSOLUTE_EXPIRY - Duration::from_secs(1)));
        assert!(!s.live(now + ABSOLUTE_EXPIRY));
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&secret()));
    }
}
