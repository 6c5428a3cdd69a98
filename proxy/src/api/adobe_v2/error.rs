//! Adobe v2's enhanced error codes: what every refused v2 call answers, flat, and what a
//! refused decision carries.

use serde::Serialize;
use utoipa::ToSchema;

use super::super::ApiError;

/// Adobe v2's enhanced error code.
#[derive(Serialize, ToSchema)]
pub(in crate::api) struct V2Error {
    /// What the app should do: `none`, `retry`, `authentication`, `configuration` or
    /// `application-registration`.
    action: &'static str,
    status: u16,
    code: &'static str,
    message: String,
    /// Names the refusal in the gateway's log.
    trace: String,
}

/// Adobe v2's enhanced error code for `e`: flat at the top of an answer, or a refused
/// decision's `error`; `trace` names it in the gateway's log.
pub(in crate::api) fn error_body(e: &ApiError) -> V2Error {
    let trace = uuid::Uuid::new_v4().to_string();
    if e.status.is_server_error() {
        tracing::warn!(trace, code = e.code, "a v2 call failed");
    }
    V2Error {
        action: action(e.code),
        status: e.status.as_u16(),
        code: e.code,
        message: e.message.to_string(),
        trace,
    }
}

/// The `action` Adobe's enhanced error codes pair with `code`: what the app should do.
fn action(code: &str) -> &'static str {
    match code {
        c if c.starts_with("invalid_access_token") => "application-registration",
        c if c.starts_with("authenticated_profile") || c.starts_with("temporary_access") => {
            "authentication"
        }
        "too_many_resources" => "configuration",
        c if c.starts_with("network_") || c == "too_many_requests" => "retry",
        _ => "none",
    }
}
