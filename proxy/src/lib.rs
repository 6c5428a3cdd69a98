//! linkgate's gateway: the device-linking and entitlement API answered locally by a Pingora
//! server, over a pluggable store.

pub mod domain;
pub mod store;
pub mod metrics;
pub mod service;
pub mod api;
pub mod config;
pub mod admin;
pub mod edge;
pub mod app;
