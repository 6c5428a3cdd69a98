//! Building responses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use super::error::{ApiError, ErrorBody, ErrorFields};
use linkgate_domain::time::Timestamp;

pub type ApiResponse = Response<Bytes>;

/// v1's XML error element, as `ErrorBody`'s schema names it too (tested below).
const ERROR_ROOT: &str = "error";

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

/// `body` as XML under `root`: Adobe v1 clients ask for it with `format=xml` or
/// `Accept: application/xml`.
pub fn xml(status: StatusCode, root: &str, body: &impl Serialize) -> ApiResponse {
    let mut text = String::from(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#);
    quick_xml::se::to_writer_with_root(&mut text, root, body).expect("response bodies serialise");
    let mut response = Response::new(Bytes::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

/// JSON, or XML under `root` when the caller asked for XML.
pub fn answer(as_xml: bool, root: &str, status: StatusCode, body: &impl Serialize) -> ApiResponse {
    if as_xml {
        xml(status, root, body)
    } else {
        json(status, body)
    }
}

pub fn no_content() -> ApiResponse {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The error as JSON with the extra fields of the caller's dialect, or as v1's XML `<error>`.
pub fn error(e: &ApiError, fields: ErrorFields) -> ApiResponse {
    if fields == ErrorFields::AdobeV2 {
        return with_error_headers(e, adobe_v2_error(e));
    }
    let oauth = fields == ErrorFields::OAuth;
    let body = ErrorBody {
        status: e.status.as_u16(),
        code: e.code,
        message: &e.message,
        error_message: (fields == ErrorFields::Matchmaker).then_some(&*e.message),
        error: oauth.then_some(e.code),
        error_description: oauth.then_some(&*e.message),
    };
    let response = answer(fields == ErrorFields::Xml, ERROR_ROOT, e.status, &body);
    with_error_headers(e, response)
}

/// Adobe v2's enhanced error code, its fields flat at the top of the answer.
fn adobe_v2_error(e: &ApiError) -> ApiResponse {
    json(e.status, &super::adobe_v2::error::error_body(e))
}

/// `Retry-After` for a wait, and the scheme a refused credential should use.
fn with_error_headers(e: &ApiError, mut response: ApiResponse) -> ApiResponse {
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

#[cfg(test)]
mod tests {
    use super::super::contract::xml_root;
    use super::*;

    #[test]
    fn the_xml_error_s_root_is_the_one_its_schema_names() {
        assert_eq!(xml_root::<ErrorBody<'_>>(), ERROR_ROOT);
    }
}
