//! linkgate's gateway: the device-linking and entitlement API answered locally by a Pingora
//! server, over a pluggable store.

pub mod admin;
pub mod api;
pub mod app;
pub mod cluster;
pub mod config;
pub mod edge;
pub mod html;
mod io_runtime;
pub mod listen;
pub mod metrics;
pub mod published;
pub mod reload;
pub mod service;
pub mod store;
pub mod test_mvpd;
pub mod verified;
