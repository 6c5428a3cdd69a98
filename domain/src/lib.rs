//! Pure entitlement logic: registration codes, device links, requestor policies.
//!
//! Nothing here does I/O; the clock and the randomness are passed in, so every rule is
//! unit-tested deterministically.

pub mod access;
pub mod account;
pub mod adobe;
pub mod branding;
pub mod clients;
pub mod code;
pub mod decision;
pub mod degradation;
pub mod device_token;
pub mod ids;
pub mod link;
pub mod media_token;
pub mod path;
pub mod policy_error;
pub mod requestor;
pub mod requestors;
pub mod resource;
pub mod saml;
pub mod sealed;
pub mod session;
pub mod signed_call;
pub mod temp_pass;
pub mod tenancy;
pub mod time;
