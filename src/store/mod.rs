//! Durable storage behind small capability traits ([`TokenStore`],
//! [`ConfigStore`], [`PunchStore`], [`AttendanceStore`], [`PrivacyStore`]),
//! gathered in [`Store`], so that the application never knows which
//! database it talks to. The SQLite backend is the embedded default.
//!
//! Contract every backend keeps:
//! - `record_punch` answers only after the punch is durable (committed and
//!   synced); a punch id already recorded for the employee returns the first
//!   record, marked duplicate, and stores nothing new;
//! - every write is all or nothing;
//! - every change takes the audit entry that records it and writes it in
//!   the change's own transaction when the change happened (see
//!   [`Audited`]): never a change without its entry, nor an entry for a
//!   change not made;
//! - every read and write is scoped to one organisation.

pub mod encoding;

/// The store's traits, for callers of `dyn Store`.
pub mod prelude {
    pub use super::{
        AttendanceStore, AttestationStore, CalendarStore, ConfigStore, PrivacyStore, PunchStore,
        Store, TokenStore, WebhookStore,
    };
}
pub mod policy_json;
pub mod postgres;
pub mod recent;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::attendance::{CalendarEntry, Schedule};
use crate::auth::{Role, TokenHash};
use crate::engine::attestation::{AppIdentity, AttestedFacts, DeviceKey};
use crate::engine::beacons::SiteBeacon;
use crate::engine::signatures::SignatureList;
use crate::engine::sites::SiteDefinition;
use crate::engine::wifi::AccessPoint;
use crate::engine::{
    ConsentPurpose, Decision, DeviceId, DistanceBucket, EmployeeId, History, OrgId, Policy, Punch,
    PunchId, PunchKind, SiteId, Verdict,
};
use crate::retention::{Cutoffs, RetentionPolicy, SweepCounts};
use crate::webhooks::EventKind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_detail(.0))]
    Postgres(tokio_postgres::Error),
    /// The database cannot be reached (connection lost, server down): the
    /// request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A fault of the store's own machinery (a task that panicked), not of
    /// the data or the database.
    #[error("internal store error: {0}")]
    Internal(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shut down")]
    Closed,
    #[error("database schema version {found} is newer than this punchguard supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// tokio-postgres displays a server error as just "db error": say what it was.
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the data lives: a SQLite file (the embedded default) or a
/// PostgreSQL database shared by replicas. Parsed from `--database`: a
/// `postgres://` or `postgresql://` URL, otherwise a file path.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(
            if s.starts_with("postgres://") || s.starts_with("postgresql://") {
                Database::Postgres(s.to_owned())
            } else {
                Database::Sqlite(PathBuf::from(s.strip_prefix("sqlite://").unwrap_or(s)))
            },
        )
    }
}

impl std::fmt::Display for Database {
    /// Never shows a URL's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match url.split_once('@') {
                Some((_, host)) => write!(f, "postgres://…@{host}"),
                None => f.write_str(url),
            },
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({self})")
    }
}

impl<'de> serde::Deserialize<'de> for Database {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(text.parse().unwrap_or_else(|never| match never {}))
    }
}

/// Opens (creating and migrating as needed) the store `database` names.
pub async fn open(database: &Database) -> Result<Arc<dyn Store>> {
    Ok(match database {
        Database::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path)?),
        Database::Postgres(url) => Arc::new(postgres::PostgresStore::open(url).await?),
    })
}

/// Raised once when a store can no longer write (its writer thread or punch
/// batcher died): the server stops saying SERVING and exits non-zero, so
/// that its supervisor restarts it, instead of answering every write with
/// an error while health checks pass.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    raised: tokio_util::sync::CancellationToken,
    reason: Arc<std::sync::OnceLock<String>>,
}

impl Failure {
    /// Raises the failure; the first reason given is the one kept.
    pub fn raise(&self, reason: String) {
        tracing::error!(reason = %reason, "the store can no longer write");
        let _ = self.reason.set(reason);
        self.raised.cancel();
    }

    /// Why the store failed, once it has.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Resolves with the reason once the failure is raised.
    pub async fn raised(&self) -> String {
        self.raised.cancelled().await;
        self.reason().unwrap_or("unknown").to_owned()
    }

    /// The error a write answers with when the writer is gone: internal (a
    /// bug or a dead thread, not retryable) once the failure is raised,
    /// otherwise the store was closed on purpose.
    pub fn writer_gone(&self) -> StoreError {
        match self.reason() {
            Some(why) => StoreError::Internal(format!("the writer stopped: {why}")),
            None => StoreError::Closed,
        }
    }
}

/// A panic's message, for the failure it raises.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Held while one employee's punch is judged and recorded, so that no other
/// process judges one of theirs meanwhile (see [`Store::lease_employee`]);
/// released when dropped.
#[must_use = "the lease ends when dropped"]
pub struct EmployeeLease(Option<Box<dyn FnOnce() + Send>>);

impl EmployeeLease {
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        EmployeeLease(Some(Box::new(release)))
    }

    /// A lease with nothing to release: the store has one writing process.
    pub fn local() -> Self {
        EmployeeLease(None)
    }
}

impl Drop for EmployeeLease {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// What a valid bearer token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub org: OrgId,
    pub role: Role,
    /// Set for device tokens: the one employee the device punches for.
    pub employee: Option<EmployeeId>,
    /// After this the token no longer works; `None`: it does not expire.
    pub expires_at: Option<Timestamp>,
}

/// A stored token: its grant and its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// See [`TokenHash::id`].
    pub id: String,
    pub grant: TokenGrant,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// What rotating a live token does: the new token's grant and when the old
/// one stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The old grant, with the same lifetime the old token was given,
    /// counted from `now`: a rotated 90-day token gets 90 days, never
    /// "forever".
    pub grant: TokenGrant,
    /// The end of the grace period, or the old expiry if that comes first.
    pub old_expires_at: Timestamp,
}

impl TokenRecord {
    /// The rotation of this token at `now` with a grace period ending at
    /// `grace_until`; `None` when the token no longer works. Every backend
    /// applies it inside the transaction that reads the old token.
    pub fn rotation(&self, now: Timestamp, grace_until: Timestamp) -> Option<Rotation> {
        if self.refusal(now).is_some() {
            return None;
        }
        let expires_at = self
            .grant
            .expires_at
            .map(|at| now + at.duration_since(self.created_at));
        Some(Rotation {
            grant: TokenGrant {
                expires_at,
                ..self.grant.clone()
            },
            old_expires_at: self
                .grant
                .expires_at
                .map_or(grace_until, |at| at.min(grace_until)),
        })
    }

    /// Why the token does not work at `now`, if it does not.
    pub fn refusal(&self, now: Timestamp) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("token revoked")
        } else if self.grant.expires_at.is_some_and(|at| at <= now) {
            Some("token expired")
        } else {
            None
        }
    }
}

/// One recorded punch with its verdict (the attendance record; evidence is
/// stored beside it, under its own retention).
#[derive(Debug, Clone, PartialEq)]
pub struct PunchRow {
    /// Store-assigned, strictly increasing in commit order.
    pub seq: i64,
    pub org: OrgId,
    pub employee: EmployeeId,
    pub punch_id: PunchId,
    pub kind: PunchKind,
    pub client_time: Timestamp,
    pub received_at: Timestamp,
    /// The verdict as recorded; once the evidence is coarsened, without the
    /// exact distance and with the findings' text cleared (codes stay).
    pub verdict: Verdict,
    /// Kept when the exact distance goes.
    pub distance_bucket: Option<DistanceBucket>,
    /// The raw evidence (fix, device facts, access points) is still held.
    pub evidence_kept: bool,
    /// HR's decision on a REVIEW punch, once made.
    pub review: Option<Review>,
}

impl PunchRow {
    /// The row of a punch just recorded under `seq`: evidence held, no review.
    pub fn fresh(seq: i64, punch: &Punch, verdict: &Verdict) -> Self {
        PunchRow {
            seq,
            org: punch.org.clone(),
            employee: punch.employee.clone(),
            punch_id: punch.punch_id.clone(),
            kind: punch.kind,
            client_time: punch.client_time,
            received_at: punch.received_at,
            verdict: verdict.clone(),
            distance_bucket: verdict.distance_m.map(DistanceBucket::of),
            evidence_kept: true,
            review: None,
        }
    }
}

/// The outcome of a change: whether it changed anything, and so whether its
/// audit entry is written (in the change's transaction). A change refused
/// (no such token, nothing held about the employee) leaves no entry.
pub trait Audited {
    fn happened(&self) -> bool;
}

macro_rules! always_audited {
    ($($t:ty),*) => { $(impl Audited for $t { fn happened(&self) -> bool { true } })* };
}
always_audited!((), u64, TokenRecord, DeviceBinding, ConsentRecord);

impl<T> Audited for Option<T> {
    fn happened(&self) -> bool {
        self.is_some()
    }
}

impl Audited for ReviewOutcome {
    fn happened(&self) -> bool {
        matches!(self, ReviewOutcome::Reviewed(_))
    }
}

impl Audited for ErasureCounts {
    fn happened(&self) -> bool {
        !self.is_empty()
    }
}

/// HR's decision on a punch awaiting review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Approved punches count towards attendance; rejected ones do not.
    pub approved: bool,
    pub reason: String,
    /// The reviewer's token id.
    pub reviewer: String,
    pub at: Timestamp,
}

/// The outcome of [`Store::review_punch`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewOutcome {
    Reviewed(Box<PunchRow>),
    /// No such punch in the organisation.
    NotFound,
    /// The punch was not flagged for review.
    NotAwaitingReview(Decision),
    /// Already decided; the first decision stands.
    AlreadyDecided(Review),
}

impl ReviewOutcome {
    /// Whether `row` (the punch named, if found) may be reviewed now: the
    /// row, or the outcome that refuses the review. The same rule for every
    /// backend; each checks it inside the transaction that records it.
    pub fn precondition(row: Option<PunchRow>) -> std::result::Result<PunchRow, ReviewOutcome> {
        let row = row.ok_or(ReviewOutcome::NotFound)?;
        if let Some(first) = row.review {
            return Err(ReviewOutcome::AlreadyDecided(first));
        }
        if row.verdict.decision != Decision::Review {
            return Err(ReviewOutcome::NotAwaitingReview(row.verdict.decision));
        }
        Ok(row)
    }
}

/// The outcome of [`Store::record_punch`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub row: PunchRow,
    /// The punch id had been recorded before; `row` is the first record.
    pub duplicate: bool,
}

/// Which of a punch's two instants a listing ranges and orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// When the server received it (commit order, more or less): the live
    /// feed's and `ListPunches`' order.
    #[default]
    Received,
    /// When it was punched, by the phone's clock (`client_time`): an
    /// offline punch belongs to the day it was made, not the day it
    /// arrived. Reports and exports group punches by it.
    Punched,
}

impl Clock {
    /// The column holding this instant, in both backends.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Clock::Received => "received_us",
            Clock::Punched => "client_us",
        }
    }

    /// This instant of `row`.
    pub fn of(self, row: &PunchRow) -> Timestamp {
        match self {
            Clock::Received => row.received_at,
            Clock::Punched => row.client_time,
        }
    }
}

/// Keyset position in a listing's order: the instant its [`Clock`] reads,
/// then the seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PunchCursor {
    pub at: Timestamp,
    pub seq: i64,
}

impl PunchCursor {
    /// The position of `row` in a listing by `clock`.
    pub fn of(row: &PunchRow, clock: Clock) -> Self {
        PunchCursor {
            at: clock.of(row),
            seq: row.seq,
        }
    }
}

/// A page request for [`Store::list_punches`].
#[derive(Debug, Clone, PartialEq)]
pub struct PunchQuery {
    pub org: OrgId,
    /// What `from`, `to` and the order are by.
    pub clock: Clock,
    /// Inclusive.
    pub from: Timestamp,
    /// Exclusive.
    pub to: Timestamp,
    /// Only punches strictly after this position.
    pub after: Option<PunchCursor>,
    pub limit: usize,
}

/// What [`Store::put_site_radios`] replaces.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteRadios {
    AccessPoints(Vec<AccessPoint>),
    Beacons(Vec<SiteBeacon>),
}

/// A device bound to an employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBinding {
    pub employee: EmployeeId,
    pub device: DeviceId,
    pub bound_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// An employee's consent for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub employee: EmployeeId,
    pub purpose: ConsentPurpose,
    pub granted: bool,
    pub changed_at: Timestamp,
}

/// One entry of the audit log: who read or changed what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The caller's token id (never the token).
    pub actor: String,
    pub role: Role,
    /// The RPC or CLI action, e.g. `ExportEmployee`.
    pub action: String,
    /// The employee whose data was read or changed, if one was.
    pub employee: Option<EmployeeId>,
    /// What else identifies the action (a time range, a site id); never an
    /// employee id (that is `employee`, which erasure anonymises).
    pub detail: String,
}

/// A stored audit entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// A page request for [`Store::list_audit`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub org: OrgId,
    /// Only entries about this employee.
    pub employee: Option<EmployeeId>,
    /// Only entries after this id.
    pub after_id: i64,
    pub limit: usize,
}

/// The raw evidence of a punch while it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvidence {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub fix_time: Option<Timestamp>,
    pub mock_location: Option<bool>,
    pub speed_mps: Option<f64>,
    pub device_id: Option<DeviceId>,
    pub rooted: Option<bool>,
    pub emulator: Option<bool>,
    pub integrity: Option<String>,
}

/// Everything the store holds about one employee (a data-subject export).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmployeeData {
    /// Each punch with its evidence while kept, oldest first.
    pub punches: Vec<(PunchRow, Option<StoredEvidence>)>,
    pub devices: Vec<DeviceBinding>,
    pub consents: Vec<ConsentRecord>,
    /// Audit entries about the employee: who read or changed their data.
    pub audit: Vec<AuditRecord>,
    /// Their roster days and leave.
    pub calendar: Vec<CalendarEntry>,
}

impl EmployeeData {
    pub fn is_empty(&self) -> bool {
        self.punches.is_empty()
            && self.devices.is_empty()
            && self.consents.is_empty()
            && self.audit.is_empty()
            && self.calendar.is_empty()
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureCounts {
    pub punches: u64,
    pub devices: u64,
    pub consents: u64,
    pub tokens: u64,
    pub nonces: u64,
    /// Audit entries about the employee, kept with the employee removed.
    pub audit_anonymised: u64,
    /// Settings that named the employee (the schedule's assignments, the
    /// policy's field staff), rewritten without them.
    pub settings: u64,
    /// Their roster days and leave.
    pub calendar: u64,
}

impl ErasureCounts {
    pub fn is_empty(&self) -> bool {
        *self == ErasureCounts::default()
    }
}

/// What to look up for the history rules before deciding a punch.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub org: OrgId,
    pub employee: EmployeeId,
    pub device: Option<DeviceId>,
    pub nonce: Option<String>,
    /// Look up the device's attested key too (when attestation can matter
    /// to this punch: see `app::punches`).
    pub attested: bool,
    /// Other employees on the device count from this time on.
    pub shared_since: Timestamp,
}

impl HistoryQuery {
    pub fn for_punch(punch: &Punch, shared_since: Timestamp) -> Self {
        HistoryQuery {
            org: punch.org.clone(),
            employee: punch.employee.clone(),
            device: punch.device.as_ref().map(|d| d.device_id.clone()),
            nonce: punch.nonce.clone(),
            shared_since,
            attested: false,
        }
    }
}

/// Bearer tokens: stored hashed, with their grant and life.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token (hashed), creating its organisation if needed.
    async fn create_token(
        &self,
        hash: TokenHash,
        grant: TokenGrant,
        audit: AuditEntry,
    ) -> Result<TokenRecord>;

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>>;

    /// The organisation's tokens, newest first.
    async fn list_tokens(&self, org: &OrgId) -> Result<Vec<TokenRecord>>;

    /// Revokes a token of the organisation; `None` when it has no such token.
    async fn revoke_token(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>>;

    /// Issues `new` in place of the organisation's token `id` as
    /// [`TokenRecord::rotation`] says, the old one working until
    /// `grace_until` at the latest, in one transaction; `None` when there is
    /// no such live token.
    async fn rotate_token(
        &self,
        org: &OrgId,
        id: &str,
        new: TokenHash,
        grace_until: Timestamp,
        audit: AuditEntry,
    ) -> Result<Option<TokenRecord>>;

    /// Records that tokens were used (ids with the time of use).
    async fn touch_tokens(&self, used: Vec<(String, Timestamp)>) -> Result<()>;
}

/// An organisation's configuration: sites and fences, policy, signatures,
/// retention periods, schedule. A change to what the engine reads (sites,
/// policy, signatures) bumps the version that snapshots rebuild on.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// Creates the organisation if it does not exist yet.
    async fn ensure_org(&self, org: &OrgId) -> Result<()>;

    /// Replaces the named sites (all their fences) in one transaction and
    /// returns the organisation's new fence-set version.
    async fn put_sites(
        &self,
        org: &OrgId,
        sites: Vec<SiteDefinition>,
        audit: AuditEntry,
    ) -> Result<u64>;

    /// Replaces one kind of radio evidence of an existing site, leaving its
    /// fences and the other kind alone; bumps the configuration version.
    /// `None` when the site does not exist.
    async fn put_site_radios(
        &self,
        org: &OrgId,
        site: &SiteId,
        radios: SiteRadios,
        audit: AuditEntry,
    ) -> Result<Option<(u64, SiteDefinition)>>;

    /// All of an organisation's sites with the version they form.
    async fn load_sites(&self, org: &OrgId) -> Result<(u64, Vec<SiteDefinition>)>;

    /// Site `id` of the organisation, if it has it.
    async fn site(&self, org: &OrgId, id: &SiteId) -> Result<Option<SiteDefinition>>;

    /// Sites in id order after `after`, at most `limit`.
    async fn list_sites(
        &self,
        org: &OrgId,
        after: Option<SiteId>,
        limit: usize,
    ) -> Result<Vec<SiteDefinition>>;

    /// Replaces the organisation's policy and bumps its configuration
    /// version (the same version as its sites, so snapshots rebuild).
    async fn put_policy(&self, org: &OrgId, policy: Policy, audit: AuditEntry) -> Result<u64>;

    /// The organisation's policy; the defaults when none was stored.
    async fn load_policy(&self, org: &OrgId) -> Result<Policy>;

    /// Replaces the organisation's signature list (`None`: back to the
    /// shipped list) and bumps its configuration version.
    async fn put_signatures(
        &self,
        org: &OrgId,
        list: Option<SignatureList>,
        audit: AuditEntry,
    ) -> Result<u64>;

    /// The organisation's own signature list, if it has one.
    async fn load_signatures(&self, org: &OrgId) -> Result<Option<SignatureList>>;

    /// Every organisation with its fence-set version, to notice changes made
    /// by another process (the CLI, another replica).
    async fn org_versions(&self) -> Result<Vec<(OrgId, u64)>>;

    /// Replaces the organisation's retention periods.
    async fn put_retention(
        &self,
        org: &OrgId,
        retention: RetentionPolicy,
        audit: AuditEntry,
    ) -> Result<()>;

    /// The organisation's retention periods; the defaults when none were set.
    async fn load_retention(&self, org: &OrgId) -> Result<RetentionPolicy>;

    /// Replaces the organisation's schedule (checked by the caller).
    async fn put_schedule(&self, org: &OrgId, schedule: Schedule, audit: AuditEntry) -> Result<()>;

    /// The organisation's schedule, if it has one.
    async fn load_schedule(&self, org: &OrgId) -> Result<Option<Schedule>>;

    /// Replaces the organisation's schedule with `schedule` only if the
    /// stored one is still `expected` (a compare-and-swap for changes of
    /// part of it); false, and nothing written, otherwise.
    async fn swap_schedule(
        &self,
        org: &OrgId,
        expected: &Schedule,
        schedule: Schedule,
        audit: AuditEntry,
    ) -> Result<bool>;
}

/// One change to an organisation's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarChange {
    /// Adds the entry, or replaces the one with its key.
    Put(CalendarEntry),
    /// Removes the entry with this key (see [`CalendarEntry::key`]).
    Remove(String),
    /// Removes the holidays on local dates `from..=to`.
    ClearHolidays { from: Date, to: Date },
}

/// What the calendar holds beside the weekly schedule: holidays, roster
/// days and leave (see `attendance`).
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// Applies `changes` in order in one transaction with the audit entry;
    /// how many entries they added, replaced or removed.
    async fn change_calendar(
        &self,
        org: &OrgId,
        changes: Vec<CalendarChange>,
        audit: AuditEntry,
    ) -> Result<u64>;

    /// The entries that can touch local dates `from..=to`: the
    /// organisation's holidays, and the roster days and leave of `employee`
    /// (of everyone with `None`).
    async fn load_calendar(
        &self,
        org: &OrgId,
        employee: Option<&EmployeeId>,
        from: Date,
        to: Date,
    ) -> Result<Vec<CalendarEntry>>;
}

/// A webhook as configured, with its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    pub secret: String,
    pub created_at: Timestamp,
}

/// How far a webhook's receiver has acknowledged each stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursors {
    /// The last punch seq sent.
    pub punches: i64,
    /// The last review order sent.
    pub reviews: i64,
    /// The last local date reported closed whole.
    pub closed_through: Date,
    /// The next date is being reported: its employees up to this one are.
    pub closing_after: Option<EmployeeId>,
}

/// A webhook with where its deliveries stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    pub org: OrgId,
    pub config: WebhookConfig,
    pub cursors: WebhookCursors,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub kind: EventKind,
    /// 1 for the first try.
    pub attempt: u32,
    pub at: Timestamp,
    /// The receiver's HTTP status, when one came.
    pub status: Option<u16>,
    /// Why it failed; `None` on success.
    pub error: Option<String>,
    pub duration_ms: u32,
}

/// Delivery attempts kept per webhook.
pub const MAX_DELIVERIES_KEPT: i64 = 1000;

/// Webhooks: their configuration, their cursors, the review stream they
/// follow, and the delivery log.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates the webhook or changes its url, events and secret, keeping
    /// its cursors. A new webhook starts after the organisation's latest
    /// punch and review, and with `closed_through` as given.
    async fn put_webhook(
        &self,
        org: &OrgId,
        config: WebhookConfig,
        closed_through: Date,
        audit: AuditEntry,
    ) -> Result<StoredWebhook>;

    /// Deletes the webhook and its delivery log; `None` when there was none.
    async fn delete_webhook(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<WebhookConfig>>;

    /// The organisation's webhooks (every organisation's with `None`).
    async fn webhooks(&self, org: Option<&OrgId>) -> Result<Vec<StoredWebhook>>;

    /// Moves a webhook's cursors (after its receiver acknowledged).
    async fn advance_webhook(&self, org: &OrgId, id: &str, cursors: WebhookCursors) -> Result<()>;

    /// The organisation's reviewed punches whose review order is after
    /// `after`, in review order, with that order.
    async fn reviews_after(
        &self,
        org: &OrgId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, PunchRow)>>;

    /// Appends delivery attempts to a webhook's log, keeping the newest
    /// [`MAX_DELIVERIES_KEPT`].
    async fn log_deliveries(&self, org: &OrgId, id: &str, deliveries: Vec<Delivery>) -> Result<()>;

    /// A webhook's delivery attempts, newest first.
    async fn deliveries(&self, org: &OrgId, id: &str, limit: usize) -> Result<Vec<Delivery>>;

    /// Claims the sending of webhook `id` for this process while the lease
    /// lives; `None` while another process (a replica) has it.
    async fn claim_webhook(&self, org: &OrgId, id: &str) -> Result<Option<EmployeeLease>>;
}

/// The hot path: the history a punch is judged on, the lease that
/// serialises an employee across processes, the durable record; and the
/// device bindings and consents that history holds.
#[async_trait]
pub trait PunchStore: Send + Sync {
    /// Excludes other processes from judging `employee`'s punches until the
    /// lease is dropped: the caller has already serialised them within its
    /// own process. A store written by one process only answers at once.
    async fn lease_employee(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeLease>;

    /// The employee's and device's history the rules read (see [`History`]).
    async fn history(&self, query: HistoryQuery) -> Result<History>;

    /// Records a punch and its verdict durably (see the module contract),
    /// with what it changes in the history: the device bound on first use
    /// (see `engine::binds_device`), the nonce used.
    async fn record_punch(&self, punch: &Punch, verdict: &Verdict) -> Result<Recorded>;

    /// An employee's device bindings, revoked ones included, oldest first.
    async fn list_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<DeviceBinding>>;

    /// Binds (or re-binds) a device to an employee.
    async fn bind_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<DeviceBinding>;

    /// Revokes a binding and unbinds the device's attested key; a device
    /// enrolled but not yet bound is recorded as revoked. `None` when the
    /// device was neither bound nor enrolled.
    async fn revoke_device(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        device: &DeviceId,
        audit: AuditEntry,
    ) -> Result<Option<DeviceBinding>>;

    /// Records consent given (`granted`) or withdrawn.
    async fn set_consent(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        purpose: ConsentPurpose,
        granted: bool,
        audit: AuditEntry,
    ) -> Result<ConsentRecord>;

    async fn list_consents(&self, org: &OrgId, employee: &EmployeeId)
    -> Result<Vec<ConsentRecord>>;
}

/// Recorded punches as HR reads them: ranges, an employee's days, the
/// review queue and its decisions, the live feed.
#[async_trait]
pub trait AttendanceStore: Send + Sync {
    async fn list_punches(&self, query: PunchQuery) -> Result<Vec<PunchRow>>;

    /// One employee's punches punched (client time) in `from..to`, in
    /// punch-time order.
    async fn employee_punches(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PunchRow>>;

    /// Punches awaiting review (REVIEW, not yet decided), oldest first,
    /// after `after_seq`.
    async fn review_queue(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>>;

    /// Records HR's correction in one transaction: the punch (accepted,
    /// placed by no evidence), HR's approving `review` of it and the audit
    /// entry. `None`, and nothing written, when the employee already has a
    /// punch of that id.
    async fn record_correction(
        &self,
        punch: &Punch,
        verdict: &Verdict,
        review: Review,
        audit: AuditEntry,
    ) -> Result<Option<PunchRow>>;

    /// Records HR's decision on a REVIEW punch, once.
    async fn review_punch(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        punch_id: &PunchId,
        review: Review,
        audit: AuditEntry,
    ) -> Result<ReviewOutcome>;

    /// The organisation's punches after `after_seq` in commit order (the
    /// live feed's resume point).
    async fn punches_after(
        &self,
        org: &OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PunchRow>>;

    /// The organisation's newest punch seq; 0 when it has none.
    async fn latest_seq(&self, org: &OrgId) -> Result<i64>;

    /// The raw evidence still held for these punches of the organisation.
    async fn punch_evidence(
        &self,
        org: &OrgId,
        seqs: Vec<i64>,
    ) -> Result<Vec<(i64, StoredEvidence)>>;
}

/// The organisation's punches in `from..to` by `clock`, in that order, at
/// most `max`: every page of [`AttendanceStore::list_punches`] read in turn.
pub async fn punches_between(
    store: &dyn Store,
    org: &OrgId,
    clock: Clock,
    from: Timestamp,
    to: Timestamp,
    max: usize,
) -> Result<Vec<PunchRow>> {
    let mut rows = Vec::new();
    let mut after = None;
    while rows.len() < max {
        let page = store
            .list_punches(PunchQuery {
                org: org.clone(),
                clock,
                from,
                to,
                after,
                limit: 1000.min(max - rows.len()),
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(PunchCursor::of(last, clock));
        rows.extend(page);
    }
    Ok(rows)
}

/// Retention sweeps, the audit log, a person's data and its erasure.
#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// One bounded sweep step for one organisation, all or nothing: at most
    /// `limit` rows of each category past its cutoff are coarsened or
    /// deleted. Returns what it did; all zero when nothing is due.
    async fn sweep_batch(
        &self,
        org: &OrgId,
        cutoffs: &Cutoffs,
        limit: usize,
    ) -> Result<SweepCounts>;

    /// What sweeping the organisation to `cutoffs` would do, changing nothing.
    async fn sweep_preview(&self, org: &OrgId, cutoffs: &Cutoffs) -> Result<SweepCounts>;

    /// Appends to the organisation's audit log.
    async fn append_audit(&self, org: &OrgId, entry: AuditEntry) -> Result<()>;

    /// Audit entries in log order.
    async fn list_audit(&self, query: AuditQuery) -> Result<Vec<AuditRecord>>;

    /// Everything held about one employee.
    async fn employee_data(&self, org: &OrgId, employee: &EmployeeId) -> Result<EmployeeData>;

    /// Deletes the employee's punches (with their evidence and findings),
    /// devices, consents, device tokens and nonces, and removes them from
    /// the audit log's entries, in one transaction; then makes sure no copy
    /// is left in the database files. Keeps only anonymous counts.
    async fn erase_employee(
        &self,
        org: &OrgId,
        employee: &EmployeeId,
        audit: AuditEntry,
    ) -> Result<ErasureCounts>;
}

/// An enrolment challenge outstanding: random, bound to the device token
/// that asked and the device it named, short-lived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentChallenge {
    pub challenge: Vec<u8>,
    pub device: DeviceId,
    pub employee: EmployeeId,
    pub token_id: String,
    pub expires_at: Timestamp,
}

/// A device's attested key, bound to the employee it enrolled for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub employee: EmployeeId,
    pub device: DeviceId,
    pub key: DeviceKey,
    pub facts: AttestedFacts,
    pub enrolled_at: Timestamp,
}

/// An organisation's attestation settings as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttestationSettings {
    pub app: AppIdentity,
    /// A status list in Google's JSON format; `None`: the shipped snapshot.
    pub revocations: Option<String>,
}

/// Device attestation: enrolment challenges, the keys devices enrolled, and
/// what an organisation calls its genuine app. The assertion counter is
/// written with the punch (see [`PunchStore::record_punch`]).
#[async_trait]
pub trait AttestationStore: Send + Sync {
    /// Stores a challenge, sweeping the organisation's expired ones.
    async fn put_challenge(&self, org: &OrgId, challenge: EnrolmentChallenge) -> Result<()>;

    /// Takes (deletes) a challenge, so that it serves once: `None` when it
    /// is unknown or already taken. Expiry is the caller's to check.
    async fn take_challenge(
        &self,
        org: &OrgId,
        challenge: &[u8],
    ) -> Result<Option<EnrolmentChallenge>>;

    /// Binds an attested key to a device, replacing one it enrolled before
    /// (whose assertion counter goes with it).
    async fn enrol_device(
        &self,
        org: &OrgId,
        enrolment: Enrolment,
        audit: AuditEntry,
    ) -> Result<()>;

    /// The devices the employee enrolled, oldest first.
    async fn enrolled_devices(&self, org: &OrgId, employee: &EmployeeId) -> Result<Vec<Enrolment>>;

    /// Replaces the organisation's attestation settings and bumps its
    /// configuration version (snapshots carry them).
    async fn put_attestation_settings(
        &self,
        org: &OrgId,
        settings: AttestationSettings,
        audit: AuditEntry,
    ) -> Result<u64>;

    /// The organisation's attestation settings; empty when never set.
    async fn load_attestation_settings(&self, org: &OrgId) -> Result<AttestationSettings>;
}

/// Every capability of a store, and its life: one value behind
/// `Arc<dyn Store>` serves them all. Bring the capability traits into scope
/// with `use crate::store::prelude::*`.
#[async_trait]
pub trait Store:
    TokenStore
    + ConfigStore
    + PunchStore
    + AttendanceStore
    + PrivacyStore
    + AttestationStore
    + CalendarStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
    /// Finishes pending writes and stops the writer. Later writes fail with
    /// [`StoreError::Closed`].
    async fn close(&self) -> Result<()>;

    /// Raised when the store can no longer write (see [`Failure`]).
    fn failure(&self) -> Failure;
}
