//! linkgate's operator: reconciles `Requestor` objects (validation and status) against the
//! same rules the gateway applies.

pub mod context;
pub mod error;
pub mod metrics;
pub mod requestor;
pub mod status;
