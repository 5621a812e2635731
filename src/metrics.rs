//! Every metric punchguard emits, declared in one place with its description.
//!
//! Labels carry only bounded, non-personal values (decisions, finding codes,
//! RPC names, status codes): never an organisation, employee, token,
//! coordinate or network identifier.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram};

pub const PUNCHES: &str = "punchguard_punches_total";
pub const PUNCH_DUPLICATES: &str = "punchguard_punch_duplicates_total";
pub const FINDINGS: &str = "punchguard_findings_total";
pub const PUNCH_SECONDS: &str = "punchguard_punch_seconds";
pub const ENGINE_SECONDS: &str = "punchguard_engine_seconds";
pub const REQUEST_ERRORS: &str = "punchguard_request_errors_total";
pub const GROUP_COMMIT_SIZE: &str = "punchguard_store_group_commit_size";
pub const GROUP_COMMIT_SECONDS: &str = "punchguard_store_group_commit_seconds";
pub const GROUP_COMMIT_FAILURES: &str = "punchguard_store_group_commit_failures_total";
pub const SNAPSHOT_BUILDS: &str = "punchguard_snapshot_builds_total";
pub const SNAPSHOT_BUILD_SECONDS: &str = "punchguard_snapshot_build_seconds";
pub const RETENTION_ROWS: &str = "punchguard_retention_rows_total";
pub const AUDIT_ENTRIES: &str = "punchguard_audit_entries_total";
pub const RATE_LIMITED: &str = "punchguard_rate_limited_total";
pub const SHED: &str = "punchguard_shed_total";
pub const CONNECTIONS_CUT: &str = "punchguard_connections_cut_total";
pub const ACCEPT_ERRORS: &str = "punchguard_accept_errors_total";
pub const ENROLMENTS: &str = "punchguard_device_enrolments_total";
pub const WEBHOOK_DELIVERIES: &str = "punchguard_webhook_deliveries_total";

/// Registers descriptions with the installed recorder (call once after installing it).
pub fn describe() {
    describe_counter!(PUNCHES, "Punches recorded, by decision.");
    describe_counter!(
        PUNCH_DUPLICATES,
        "Resubmitted punch ids answered with the first verdict."
    );
    describe_counter!(FINDINGS, "Findings on recorded punches, by code.");
    describe_histogram!(
        PUNCH_SECONDS,
        "SubmitPunch time from authentication to durable record."
    );
    describe_histogram!(ENGINE_SECONDS, "Time the engine takes to decide one punch.");
    describe_counter!(
        REQUEST_ERRORS,
        "Requests answered with an error, by RPC and gRPC code."
    );
    describe_histogram!(GROUP_COMMIT_SIZE, "Writes sharing one store transaction.");
    describe_histogram!(
        GROUP_COMMIT_SECONDS,
        "Time to apply and commit one group of writes."
    );
    describe_counter!(
        GROUP_COMMIT_FAILURES,
        "Group commits that failed (every write in them failed)."
    );
    describe_counter!(
        SNAPSHOT_BUILDS,
        "Organisation snapshots (fence indexes) built."
    );
    describe_counter!(
        RETENTION_ROWS,
        "Rows the retention sweeper coarsened or deleted, by category and action."
    );
    describe_counter!(AUDIT_ENTRIES, "Audit log entries appended, by role.");
    describe_counter!(
        RATE_LIMITED,
        "Calls refused by a rate limit, by scope (device, org)."
    );
    describe_counter!(SHED, "Punches shed because too many were in flight.");
    describe_counter!(
        CONNECTIONS_CUT,
        "Connections closed before their handshake, by why: the connection cap or the handshake deadline."
    );
    describe_counter!(
        ACCEPT_ERRORS,
        "Failed accepts, by kind: fd_limit (out of file descriptors) or other."
    );
    describe_counter!(
        ENROLMENTS,
        "Device enrolments, by platform and outcome (trusted, untrusted)."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, by event type and outcome (ok, failed)."
    );
    describe_histogram!(
        SNAPSHOT_BUILD_SECONDS,
        "Time to load and index one organisation's fences."
    );
}

/// Histogram buckets, in seconds, for the latency histograms.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5,
];

/// Histogram buckets for group sizes.
pub const GROUP_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

pub fn record_group_commit(size: usize, took: Duration, ok: bool) {
    histogram!(GROUP_COMMIT_SIZE).record(size as f64);
    histogram!(GROUP_COMMIT_SECONDS).record(took);
    if !ok {
        counter!(GROUP_COMMIT_FAILURES).increment(1);
    }
}

pub fn record_request_error(rpc: &'static str, code: tonic::Code) {
    counter!(REQUEST_ERRORS, "rpc" => rpc, "code" => format!("{code:?}")).increment(1);
}
