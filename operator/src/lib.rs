//! linkgate's operator: reconciles `Requestor` objects (validation and status) against the
//! same rules the gateway applies and makes and rotates their media-token keys, collects
//! expired `DeviceLink`s and reports their phase, replicates them to peer regions; one replica at a time, elected by a Lease.

pub mod context;
pub mod device_link;
pub mod error;
pub mod key_secret;
pub mod keys;
pub mod leader;
pub mod lifecycle;
pub mod metrics;
#[cfg(test)]
mod mock_api;
pub mod replication;
pub mod requestor;
pub mod status;
