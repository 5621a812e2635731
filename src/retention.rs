//! Minimum-necessary retention: how long each category of data is kept, per
//! organisation, and the sweeper that enforces it.
//!
//! | category | default | ceiling | after that |
//! |---|---|---|---|
//! | raw evidence of accepted punches | 30 d | 90 d | coarsened |
//! | raw evidence of flagged punches | reviewed + 90 d | 365 d | coarsened |
//! | cheat findings (signature ids) | 180 d | 365 d | deleted |
//! | attendance records | 1095 d | 3650 d | deleted |
//! | audit log | 1095 d | 3650 d | deleted |
//!
//! Coarsening deletes the coordinates, accuracy, fix time, device facts,
//! access points and the exact distance, and clears the findings' text; the
//! site, method, decision, finding codes and a distance bucket stay, so the
//! attendance results do not change when evidence expires. Nonces (replay
//! protection) go with accepted evidence.
//!
//! The sweeper works in bounded batches, each one short write transaction
//! in the store's writer, so the hot path waits at most one batch. Each batch
//! is all or nothing and every step selects by age, so a sweep is idempotent
//! and an interrupted one simply resumes.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::engine::OrgId;
use crate::metrics as m;
use crate::store::{Result, Store};

/// Days each category is kept, for one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Raw evidence of accepted punches.
    pub evidence_days: u32,
    /// Raw evidence of flagged punches (REVIEW or REJECTED): counted from the
    /// review decision; an unreviewed REVIEW punch keeps it until reviewed.
    pub flagged_evidence_days: u32,
    /// Matched cheat-software signature ids and categories.
    pub cheat_findings_days: u32,
    /// The attendance record itself, and with it everything else of the punch.
    pub attendance_days: u32,
    /// Audit entries of who read or changed personal data.
    pub audit_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            evidence_days: 30,
            flagged_evidence_days: 90,
            cheat_findings_days: 180,
            attendance_days: 1095,
            audit_days: 1095,
        }
    }
}

/// The documented bounds of each period, days: (field, least, most).
pub const BOUNDS: [(&str, u32, u32); 5] = [
    ("evidence_days", 1, 90),
    ("flagged_evidence_days", 1, 365),
    ("cheat_findings_days", 1, 365),
    ("attendance_days", 1, 3650),
    // The audit log is how misuse is found out: at least three months.
    ("audit_days", 90, 3650),
];

impl RetentionPolicy {
    fn fields(&self) -> [u32; 5] {
        [
            self.evidence_days,
            self.flagged_evidence_days,
            self.cheat_findings_days,
            self.attendance_days,
            self.audit_days,
        ]
    }

    /// The first field out of its bounds, with the bounds.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        for ((field, lo, hi), value) in BOUNDS.iter().zip(self.fields()) {
            if !(*lo..=*hi).contains(&value) {
                return Err((field, format!("must be {lo}..{hi} days, got {value}")));
            }
        }
        Ok(())
    }

    /// What is older than these instants goes, as of `now`.
    pub fn cutoffs(&self, now: Timestamp) -> Cutoffs {
        let before = |days: u32| now - SignedDuration::from_hours(24 * i64::from(days));
        Cutoffs {
            evidence: before(self.evidence_days),
            flagged_evidence: before(self.flagged_evidence_days),
            cheat_findings: before(self.cheat_findings_days),
            attendance: before(self.attendance_days),
            audit: before(self.audit_days),
        }
    }
}

/// Where the accepted-evidence progress mark moves after a sweep batch
/// that coarsened `due` rows (of at most `limit`), the last received at
/// `last_received_us`: a short batch finished everything before the cutoff;
/// a full one finished up to its last row (rows at that instant are looked
/// at again). Both backends keep the mark by this rule.
pub fn evidence_mark_after(
    due: usize,
    limit: usize,
    last_received_us: Option<i64>,
    cutoff_us: i64,
) -> i64 {
    match last_received_us {
        Some(received) if due == limit => received,
        _ => cutoff_us,
    }
}

/// The steps of one sweep batch, as a backend takes them inside its
/// transaction; [`sweep_batch`] is the one order they are taken in. Times
/// are the store's microseconds; `limit` bounds each step.
#[allow(async_fn_in_trait)] // used generically, never as `dyn`
pub trait SweepSteps {
    /// Deletes attendance records received before `before`, oldest first,
    /// with everything of theirs.
    async fn delete_attendance(&mut self, before: i64, limit: usize) -> Result<u64>;
    /// Deletes cheat-software matches of punches received before `before`.
    async fn delete_cheat_findings(&mut self, before: i64, limit: usize) -> Result<u64>;
    /// How far accepted punches' evidence is known to be coarsened.
    async fn evidence_mark(&mut self) -> Result<i64>;
    async fn set_evidence_mark(&mut self, mark: i64) -> Result<()>;
    /// Accepted punches after `mark`, received before `before`, whose
    /// evidence is held: (seq, received), oldest first.
    async fn due_accepted(
        &mut self,
        mark: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64)>>;
    /// Reviewed flagged punches whose evidence period ended before `before`.
    async fn due_flagged(&mut self, before: i64, limit: usize) -> Result<Vec<i64>>;
    /// Removes the raw evidence of these punches (site, method and the
    /// distance bucket stay).
    async fn coarsen(&mut self, seqs: &[i64]) -> Result<()>;
    async fn delete_nonces(&mut self, before: i64, limit: usize) -> Result<u64>;
    async fn delete_audit(&mut self, before: i64, limit: usize) -> Result<u64>;
}

/// One bounded sweep batch of an organisation: every backend's, in this
/// order. Attendance goes first, so that what it deletes is neither
/// coarsened nor counted again.
pub async fn sweep_batch(
    steps: &mut impl SweepSteps,
    cut: &Cutoffs,
    limit: usize,
) -> Result<SweepCounts> {
    let us = crate::store::encoding::to_us;
    let attendance_deleted = steps.delete_attendance(us(cut.attendance), limit).await?;
    let cheat_findings_deleted = steps
        .delete_cheat_findings(us(cut.cheat_findings), limit)
        .await?;

    let mark = steps.evidence_mark().await?;
    let due = steps.due_accepted(mark, us(cut.evidence), limit).await?;
    steps
        .coarsen(&due.iter().map(|(seq, _)| *seq).collect::<Vec<_>>())
        .await?;
    let new_mark = evidence_mark_after(
        due.len(),
        limit,
        due.last().map(|(_, received)| *received),
        us(cut.evidence),
    );
    if new_mark > mark {
        steps.set_evidence_mark(new_mark).await?;
    }

    let flagged = steps.due_flagged(us(cut.flagged_evidence), limit).await?;
    steps.coarsen(&flagged).await?;

    Ok(SweepCounts {
        evidence_coarsened: due.len() as u64,
        flagged_evidence_coarsened: flagged.len() as u64,
        cheat_findings_deleted,
        attendance_deleted,
        nonces_deleted: steps.delete_nonces(us(cut.evidence), limit).await?,
        audit_deleted: steps.delete_audit(us(cut.audit), limit).await?,
    })
}

/// Per category, the instant before which data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub evidence: Timestamp,
    pub flagged_evidence: Timestamp,
    pub cheat_findings: Timestamp,
    pub attendance: Timestamp,
    pub audit: Timestamp,
}

/// What a sweep coarsened or deleted (or, in a dry run, would).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepCounts {
    /// Accepted punches whose evidence was coarsened.
    pub evidence_coarsened: u64,
    /// Flagged punches whose evidence was coarsened.
    pub flagged_evidence_coarsened: u64,
    /// Cheat-software matches deleted.
    pub cheat_findings_deleted: u64,
    /// Attendance records deleted (with all that remained of them).
    pub attendance_deleted: u64,
    /// Used nonces forgotten.
    pub nonces_deleted: u64,
    /// Audit entries deleted.
    pub audit_deleted: u64,
}

impl SweepCounts {
    pub fn total(&self) -> u64 {
        self.rows().iter().map(|(_, _, n)| n).sum()
    }

    /// (category, action, count) for reports and metrics.
    pub fn rows(&self) -> [(&'static str, &'static str, u64); 6] {
        [
            ("evidence", "coarsened", self.evidence_coarsened),
            (
                "flagged_evidence",
                "coarsened",
                self.flagged_evidence_coarsened,
            ),
            ("cheat_findings", "deleted", self.cheat_findings_deleted),
            ("attendance", "deleted", self.attendance_deleted),
            ("nonces", "deleted", self.nonces_deleted),
            ("audit", "deleted", self.audit_deleted),
        ]
    }

    pub fn add(&mut self, other: &SweepCounts) {
        self.evidence_coarsened += other.evidence_coarsened;
        self.flagged_evidence_coarsened += other.flagged_evidence_coarsened;
        self.cheat_findings_deleted += other.cheat_findings_deleted;
        self.attendance_deleted += other.attendance_deleted;
        self.nonces_deleted += other.nonces_deleted;
        self.audit_deleted += other.audit_deleted;
    }
}

/// Where the sweeper reads the time: the system clock in service, a clock
/// the test moves in tests.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Rows per category one batch handles at most.
pub const DEFAULT_BATCH: usize = 500;

/// Sweeps every organisation once, batch by batch, until nothing is due.
pub async fn sweep(store: &dyn Store, now: Timestamp, batch: usize) -> Result<SweepCounts> {
    let mut total = SweepCounts::default();
    for (org, _) in store.org_versions().await? {
        total.add(&sweep_org(store, &org, now, batch).await?);
    }
    Ok(total)
}

/// Sweeps one organisation until nothing is due.
pub async fn sweep_org(
    store: &dyn Store,
    org: &OrgId,
    now: Timestamp,
    batch: usize,
) -> Result<SweepCounts> {
    let cutoffs = store.load_retention(org).await?.cutoffs(now);
    let mut total = SweepCounts::default();
    loop {
        let done = store.sweep_batch(org, &cutoffs, batch).await?;
        for (category, action, n) in done.rows() {
            metrics::counter!(m::RETENTION_ROWS, "category" => category, "action" => action)
                .increment(n);
        }
        total.add(&done);
        if done.total() == 0 {
            return Ok(total);
        }
    }
}

/// What a sweep of every organisation would do now, changing nothing.
pub async fn preview(store: &dyn Store, now: Timestamp) -> Result<Vec<(OrgId, SweepCounts)>> {
    let mut report = Vec::new();
    for (org, _) in store.org_versions().await? {
        let cutoffs = store.load_retention(&org).await?.cutoffs(now);
        report.push((org.clone(), store.sweep_preview(&org, &cutoffs).await?));
    }
    Ok(report)
}

/// Runs [`sweep`] every `interval` until `shutdown`.
pub async fn run_sweeper(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch: usize,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // A sweep cut short by shutdown loses at most its open batch, which
        // rolls back; the next start sweeps it again.
        let swept = tokio::select! {
            _ = shutdown.cancelled() => return,
            swept = sweep(store.as_ref(), clock.now(), batch) => swept,
        };
        match swept {
            Ok(counts) if counts.total() > 0 => {
                tracing::info!(
                    coarsened = counts.evidence_coarsened + counts.flagged_evidence_coarsened,
                    deleted = counts.total()
                        - counts.evidence_coarsened
                        - counts.flagged_evidence_coarsened,
                    "retention sweep"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; retrying next time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_their_bounds_and_bounds_name_the_field() {
        assert_eq!(RetentionPolicy::default().check(), Ok(()));
        let long = RetentionPolicy {
            evidence_days: 91,
            ..Default::default()
        };
        assert_eq!(long.check().unwrap_err().0, "evidence_days");
        let short_audit = RetentionPolicy {
            audit_days: 30,
            ..Default::default()
        };
        assert_eq!(short_audit.check().unwrap_err().0, "audit_days");
    }

    #[test]
    fn cutoffs_lie_the_periods_back() {
        let now: Timestamp = "2026-11-30T00:00:00Z".parse().unwrap();
        let cut = RetentionPolicy::default().cutoffs(now);
        assert_eq!(cut.evidence, "2026-10-31T00:00:00Z".parse().unwrap());
        assert_eq!(cut.attendance, "2023-12-01T00:00:00Z".parse().unwrap());
    }
}
