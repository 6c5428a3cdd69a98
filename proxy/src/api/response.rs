//! Building responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use super::error::{ApiError, ErrorBody, ErrorFields};
use linkgate_domain::time::Timestamp;

pub type ApiResponse = Response<Bytes>;

pub fn json(status: StatusCode, body: &impl Serialize) -> ApiResponse {
    let bytes = serde_json::to_vec(body).expect("response bodies serialise");
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn no_content() -> ApiResponse {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The error as JSON, with the extra fields of the caller's dialect.
pub fn error(e: &ApiError, fields: ErrorFields) -> ApiResponse {
    let oauth = fields == ErrorFields::OAuth;
    let body = ErrorBody {
        status: e.status.as_u16(),
        code: e.code,
        message: &e.message,
        error_message: (fields == ErrorFields::Matchmaker).then_some(&*e.message),
        error: oauth.then_some(e.code),
        error_description: oauth.then_some(&*e.message),
    };
    let mut response = json(e.status, &body);
    if let Some(seconds) = e.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if e.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"linkgate\""),
        );
    }
    response
}

/// RFC 3339, as the native API writes times.
pub fn rfc3339(t: Timestamp) -> String {
    jiff::Timestamp::from_millisecond(t.unix_millis())
        .map(|t| t.to_string())
        .unwrap_or_default()
}
