//! linkgate's gateway: the device-linking and entitlement API answered locally by a Pingora
//! server, over a pluggable store.

pub mod domain;
pub mod store;
