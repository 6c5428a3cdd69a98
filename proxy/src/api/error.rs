//! One error shape for every dialect: `{status, code, message}`, with a stable machine
//! code. The Matchmaker and OAuth dialects also carry the fields their clients read.

use std::borrow::Cow;

use http::StatusCode;
use serde::Serialize;

use crate::service::{DecisionError, Error};
use linkgate_domain::clients::ClientError;
use linkgate_domain::ids::IdError;
use linkgate_domain::link::LinkError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// Seconds for `Retry-After`: on 429s, and on 503s while the store cannot answer.
    pub retry_after: Option<u64>,
}

/// The error of every dialect but Adobe v2's (v1's XML `<error>` too).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error, xml(name = "error"))]
pub(super) struct ErrorBody<'a> {
    pub status: u16,
    pub code: &'a str,
    pub message: &'a str,
    /// Matchmaker clients read this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
    /// OAuth 2.0 clients read these (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<&'a str>,
}

/// Which dialect's extra error fields to add to the common shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFields {
    Common,
    Matchmaker,
    OAuth,
    /// Adobe v1's `<error>`, for a caller that asked for XML.
    Xml,
    /// Adobe v2's enhanced error code, flat: `action`, `status`, `code`, `message`, `trace`.
    AdobeV2,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unknown_requestor(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_requestor",
            format!("no requestor named {name:?}"),
        )
    }

    pub fn missing_parameter(name: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            format!("the parameter {name:?} is required"),
        )
    }

    pub fn invalid_parameter(name: &'static str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_value",
            format!("the parameter {name:?} is invalid: {why}"),
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }
}

impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        Error::Id(e).into()
    }
}

/// When to try again after the store could not answer.
pub(super) const STORE_RETRY_AFTER_SECONDS: u64 = 1;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let status = match &e {
            Error::Id(_) | Error::Link(LinkError::UserIdRequired) => S::BAD_REQUEST,
            Error::Link(LinkError::AlreadyRegisteredToYou | LinkError::RegisteredToAnotherUser) => {
                S::CONFLICT
            }
            Error::Link(LinkError::NoUserOnDevice) | Error::CodeNotFound | Error::NoUser => {
                S::NOT_FOUND
            }
            Error::UnknownMvpd(_)
            | Error::CodeTtl { .. }
            | Error::MvpdNotAllowed(_)
            | Error::TooManyResources { .. }
            | Error::Resource(_) => S::BAD_REQUEST,
            Error::AuthnMissing
            | Error::AuthnExpired
            | Error::AuthzDenied { .. }
            | Error::DeniedByDegradation
            | Error::TempPassSpent => S::FORBIDDEN,
            Error::AuthnRequired => S::PRECONDITION_FAILED,
            Error::AuthzMissing => S::NOT_FOUND,
            Error::AuthzExpired => S::GONE,
            Error::DecisionPoint(DecisionError::Timeout(_))
            | Error::AccountWebhook(DecisionError::Timeout(_)) => S::GATEWAY_TIMEOUT,
            Error::DecisionPoint(_) | Error::AccountWebhook(_) | Error::AccountError => {
                S::BAD_GATEWAY
            }
            Error::AccountUnauthorized => S::FORBIDDEN,
            Error::NotAwaitingApproval => S::NOT_FOUND,
            Error::BadApproval(_) | Error::Client(ClientError::Statement(_)) => S::BAD_REQUEST,
            Error::Client(_) | Error::DeviceCredentialRequired => S::UNAUTHORIZED,
            Error::ClientsDisabled => S::FORBIDDEN,
            Error::CodeSpaceExhausted
            | Error::Contended
            | Error::RegistrationFailed(_)
            | Error::UnlinkFailed(_)
            | Error::Store(_)
            | Error::NoSigningKey => S::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::warn!(error = ?e, "request failed");
        }
        let refused = Self::new(status, e.code(), e.to_string());
        match e {
            // The store comes back (a database restarting, a failover, a contended link):
            // the caller is told when to try again rather than left to guess.
            Error::Contended
            | Error::RegistrationFailed(_)
            | Error::UnlinkFailed(_)
            | Error::Store(_) => refused.retry_after(STORE_RETRY_AFTER_SECONDS),
            _ => refused,
        }
    }
}
