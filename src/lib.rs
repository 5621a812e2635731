//! punchguard decides whether an attendance punch is genuine.
//!
//! A punch arrives over gRPC with its evidence, is checked against the
//! organisation's geofences and anti-cheat rules, is recorded durably, and
//! is served to HR systems.
//!
//! - [`app`]: the application layer: one function per use case, owning
//!   authorisation, validation, serialisation and audit; every door calls it.
//! - [`engine`]: the pure, synchronous decision engine (fences, rules, policy).
//! - [`attendance`]: shifts, schedules and daily results (pure).
//! - [`store`]: the `Store` trait and its backends (SQLite embedded default).
//! - [`snapshots`]: the live per-organisation snapshots, swapped atomically.
//! - [`service`]: the gRPC door: thin adapters, proto ↔ domain, error → status.
//! - [`edge`]: accepting connections: a cap, a handshake deadline, fd backoff.
//! - [`server`]: wiring: the gRPC server, health, reflection, metrics, shutdown.
//! - [`cli`]: the command line, one function per verb over [`app`].
//! - [`config`]: configuration from flags and an optional TOML file.
//! - [`auth`]: bearer tokens and roles.
//! - [`demo`]: the end-to-end demo behind `punchguard demo`.
//! - [`privacy`]: the data-subject export document.
//! - [`reports`]: daily results from the store, exports, the HTML report.
//! - [`retention`]: retention periods per category and the sweeper.
//! - [`loadgen`]: `punchguard loadgen`, load over real gRPC.
//! - [`synthetic_device`]: attesting phones of one's own (demo, loadgen, tests).
//! - [`verify`]: `punchguard verify`, re-judging punches from a file.
//! - [`webhooks`]: events pushed to the HR system, and their dispatcher.
//! - [`proto`]: code generated from `proto/`.
//! - [`metrics`]: every metric, declared in one place.

pub mod app;
pub mod attendance;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod edge;
pub mod engine;
pub mod loadgen;
pub mod metrics;
pub mod privacy;
pub mod proto;
pub mod reports;
pub mod retention;
pub mod server;
pub mod service;
pub mod snapshots;
pub mod store;
pub mod synthetic_device;
pub mod verify;
pub mod webhooks;
