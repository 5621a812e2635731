//! The gRPC door: one thin adapter per service. Each handler
//! authenticates, converts the request into domain types once, calls its
//! use case in [`crate::app`], and converts the answer back. The domain
//! error becomes a status in one place (`status`).

pub mod admin;
pub mod attendance;
pub mod attestation;
pub mod auth;
pub mod convert;
pub mod limits;
pub mod privacy;
pub mod punch;
pub mod status;
