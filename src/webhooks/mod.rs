//! Webhooks: events pushed to the HR system, at least once, in order.
//!
//! There is no separate outbox table to write on the hot path: the durable
//! records are the outbox. `punch.recorded` events are the organisation's
//! punches in record order (their seq), `punch.reviewed` events its reviews
//! in the order they committed (their review order), and `day.closed`
//! events its daily results once a date can change no more. Each webhook
//! keeps a durable cursor into each stream and moves it only after the
//! receiver answered 2xx, so a restart or a receiver down for hours resends
//! from the last acknowledged event (at least once); events are sent one at
//! a time, so a receiver sees each stream in order.
//!
//! This module is pure: the event bodies, the signature, the URL rule.
//! [`dispatch`] does the I/O.

pub mod dispatch;

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::engine::OrgId;

/// Most webhooks an organisation may have.
pub const MAX_WEBHOOKS: usize = 10;
/// How far a signature's timestamp may be from the receiver's clock before
/// the receiver should refuse the request as a replay (documented for
/// receivers; the sender signs with the time of each attempt).
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// The header that carries `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "punchguard-signature";
/// The header that carries the event's id (receivers dedupe on it).
pub const EVENT_ID_HEADER: &str = "punchguard-event-id";

/// What a webhook can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    PunchRecorded,
    PunchReviewed,
    DayClosed,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [
        EventKind::PunchRecorded,
        EventKind::PunchReviewed,
        EventKind::DayClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PunchRecorded => "punch.recorded",
            EventKind::PunchReviewed => "punch.reviewed",
            EventKind::DayClosed => "day.closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event as it is POSTed: `data` is the line of the matching export
/// (`punchguard export punches` / `daily`), so a receiver parses one shape.
#[derive(Debug, Serialize)]
pub struct Event<D: Serialize> {
    /// Unique per organisation and stable across resends: dedupe on it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub org_id: String,
    /// The stream position the event comes from: a punch's record order
    /// (punch.recorded), a review's order (punch.reviewed), or the date.
    pub sequence: String,
    pub created: Timestamp,
    pub data: D,
}

impl<D: Serialize> Event<D> {
    pub fn new(kind: EventKind, org: &OrgId, id: String, sequence: String, data: D) -> Self {
        Event {
            id,
            kind: kind.as_str(),
            org_id: org.as_str().to_owned(),
            sequence,
            created: Timestamp::now(),
            data,
        }
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serialises")
    }
}

/// The event id of a punch's record (its seq) or review (its order).
pub fn punch_event_id(kind: EventKind, position: i64) -> String {
    format!("{}/{position}", kind.as_str())
}

/// The event id of one employee's closed date.
pub fn day_event_id(date: Date, employee: &str) -> String {
    format!("{}/{date}/{employee}", EventKind::DayClosed.as_str())
}

/// The signature header's value for `body` sent at `at`: HMAC-SHA256 with
/// the webhook's secret over `"{unix seconds}.{body}"`, as Stripe signs.
pub fn signature(secret: &str, at: Timestamp, body: &[u8]) -> String {
    let tag = ring::hmac::sign(&signing_key(secret), &signed(at.as_second(), body));
    format!("t={},v1={}", at.as_second(), hex::encode(tag.as_ref()))
}

fn signing_key(secret: &str) -> ring::hmac::Key {
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes())
}

/// What is signed: `"{unix seconds}.{body}"`.
fn signed(at_secs: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = at_secs.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    signed
}

/// What a receiver does with a request: checks the signature against the
/// secret and the timestamp against its clock (within
/// [`REPLAY_WINDOW_SECS`]). Used by the tests and the README's example.
pub fn verify(secret: &str, header: &str, body: &[u8], now: Timestamp) -> Result<(), &'static str> {
    let mut at = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => at = t.parse::<i64>().ok(),
            Some(("v1", tag)) => tags.push(hex::decode(tag).map_err(|_| "a v1 that is not hex")?),
            _ => {}
        }
    }
    let at = at.ok_or("no t=")?;
    if (now.as_second() - at).abs() > REPLAY_WINDOW_SECS {
        return Err("outside the replay window");
    }
    let (key, signed) = (signing_key(secret), signed(at, body));
    tags.iter()
        .any(|tag| ring::hmac::verify(&key, &signed, tag).is_ok())
        .then_some(())
        .ok_or("no v1 signature matches")
}

/// A new signing secret: 32 random bytes, hex, prefixed.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("whsec_{}", hex::encode(bytes))
}

/// Why a webhook URL is refused: HTTPS only, except to a loopback host
/// (a receiver on the same machine, or a test).
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    let host = uri.host().ok_or("no host")?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err("http only to a loopback address; use https".into()),
        _ => Err("must be https://".into()),
    }
    .and_then(|()| {
        if url.len() > 2048 {
            Err("at most 2048 bytes".into())
        } else {
            Ok(())
        }
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The last local date whose results are final at `now` in `tz`: a date's
/// shifts can claim punches until its overnight shift ends (before the
/// next midnight) plus the claim margin, so date D closes at 04:00 on D+2.
pub fn last_closed_date(tz: &jiff::tz::TimeZone, now: Timestamp) -> Date {
    let local = tz.to_datetime(now - crate::attendance::CLAIM_MARGIN);
    local
        .date()
        .checked_sub(jiff::Span::new().days(2))
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let at: Timestamp = "2026-12-07T09:00:00Z".parse().unwrap();
        let header = signature("whsec_a", at, b"{\"id\":1}");
        assert!(header.starts_with(&format!("t={},v1=", at.as_second())));
        assert_eq!(verify("whsec_a", &header, b"{\"id\":1}", at), Ok(()));
        assert!(verify("whsec_b", &header, b"{\"id\":1}", at).is_err());
        assert!(verify("whsec_a", &header, b"{\"id\":2}", at).is_err());
        let late = at + jiff::SignedDuration::from_secs(REPLAY_WINDOW_SECS + 1);
        assert_eq!(
            verify("whsec_a", &header, b"{\"id\":1}", late),
            Err("outside the replay window")
        );
    }

    #[test]
    fn urls_are_https_or_loopback() {
        assert!(check_url("https://hr.example.com/hooks/punchguard").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://[::1]:8080/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        assert!(check_url("http://hr.example.com/hook").is_err());
        assert!(check_url("http://10.0.0.1/hook").is_err());
        assert!(check_url("ftp://hr.example.com/").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn a_date_closes_at_four_two_days_later() {
        let tz = jiff::tz::TimeZone::get("Europe/Helsinki").unwrap();
        let at = |s: &str| {
            tz.to_timestamp(jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", s).unwrap())
                .unwrap()
        };
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            last_closed_date(&tz, at("2026-03-04T03:59")),
            d("2026-03-01")
        );
        assert_eq!(
            last_closed_date(&tz, at("2026-03-04T04:00")),
            d("2026-03-02")
        );
    }
}
