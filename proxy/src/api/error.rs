//! One error shape for every dialect: `{status, code, message}`, with a stable machine
//! code. The Matchmaker dialect also carries its clients' `error_message` field.

use std::borrow::Cow;

use http::StatusCode;
use serde::Serialize;

use crate::domain::ids::IdError;
use crate::domain::link::LinkError;
use crate::service::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
}

#[derive(Serialize)]
pub(super) struct ErrorBody<'a> {
    pub status: u16,
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
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
        let code = match e {
            IdError::Device => "illegal_device_id",
            IdError::User => "illegal_user_id",
        };
        Self::new(StatusCode::BAD_REQUEST, code, e.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let (status, code) = match &e {
            Error::Id(id) => return (*id).into(),
            Error::Link(LinkError::AlreadyRegisteredToYou) => {
                (S::CONFLICT, "device_already_registered_to_user")
            }
            Error::Link(LinkError::RegisteredToAnotherUser) => {
                (S::CONFLICT, "device_registered_to_another_user")
            }
            Error::Link(LinkError::NoUserOnDevice) => (S::NOT_FOUND, "no_user_on_device"),
            Error::Link(LinkError::UserIdRequired) => (S::BAD_REQUEST, "user_id_required"),
            Error::CodeNotFound => (S::NOT_FOUND, "code_not_found"),
            Error::UnknownMvpd(_) => (S::BAD_REQUEST, "unknown_mvpd"),
            Error::CodeTtl { .. } => (S::BAD_REQUEST, "invalid_parameter_value"),
            Error::NoUser => (S::NOT_FOUND, "no_such_user"),
            Error::CodeSpaceExhausted => (S::SERVICE_UNAVAILABLE, "code_space_exhausted"),
            Error::Contended => (S::SERVICE_UNAVAILABLE, "contended"),
            Error::RegistrationFailed(_) => (S::SERVICE_UNAVAILABLE, "registration_failed"),
            Error::UnlinkFailed(_) => (S::SERVICE_UNAVAILABLE, "unlink_failed"),
            Error::Store(_) => (S::SERVICE_UNAVAILABLE, "store_unavailable"),
        };
        if status.is_server_error() {
            tracing::warn!(error = ?e, "request failed in the store");
        }
        Self::new(status, code, e.to_string())
    }
}
