//! Reading a bounded request body and writing a locally generated response.

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, header};
use pingora::http::ResponseHeader;
use pingora::prelude::Session;

use crate::api::{ApiError, ApiResponse};

/// Reads the whole body; `None` once a refusal was answered instead (see `bounded_body`).
pub async fn read_body(session: &mut Session, limit: usize) -> pingora::Result<Option<Bytes>> {
    match bounded_body(session, limit).await? {
        Ok(body) => Ok(Some(body)),
        Err(refusal) => {
            respond(session, refusal).await?;
            Ok(None)
        }
    }
}

/// The whole body, or the refusal to answer: 413 when it exceeds `limit` (the route's), a
/// declared length refused before reading, a chunked body as soon as it goes over.
async fn bounded_body(
    session: &mut Session,
    limit: usize,
) -> pingora::Result<Result<Bytes, ApiResponse>> {
    let declared = session
        .req_header()
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(Err(too_large(session, limit)));
    }
    let mut body = BytesMut::new();
    loop {
        let chunk = match session.read_request_body().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(Ok(body.freeze())),
            // Broken framing (a bad chunk size, a body cut short) is the client's: a 400.
            Err(e) => {
                tracing::debug!(error = %e, "malformed request body");
                return Ok(Err(malformed(session)));
            }
        };
        if body.len() + chunk.len() > limit {
            return Ok(Err(too_large(session, limit)));
        }
        body.extend_from_slice(&chunk);
    }
}

fn malformed(session: &mut Session) -> ApiResponse {
    // Where the next request would start is unknown: the connection cannot be reused.
    session.set_keepalive(None);
    crate::api::error_response(&ApiError::new(
        http::StatusCode::BAD_REQUEST,
        "invalid_body",
        "the request body is not validly framed",
    ))
}

/// Whether a body follows the request's header, whatever its method.
pub fn has_body(header: &pingora::http::RequestHeader) -> bool {
    let declared = header
        .headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0");
    declared || header.headers.contains_key(header::TRANSFER_ENCODING)
}

fn too_large(session: &mut Session, limit: usize) -> ApiResponse {
    // The rest of the body is never read, so the connection cannot be reused.
    session.set_keepalive(None);
    crate::api::error_response(&ApiError::payload_too_large(limit))
}

/// Writes the response header and body; the connection stays open for the next request
/// (Pingora's error helpers would close it).
pub async fn respond(session: &mut Session, response: ApiResponse) -> pingora::Result<()> {
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    // The answer's own header map, moved rather than copied name by name: a local answer
    // keeps no original case to preserve (standard names go out title-cased either way).
    let header = ResponseHeader::from(parts);
    let empty = body.is_empty();
    session
        .write_response_header(Box::new(header), empty)
        .await?;
    if !empty {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
