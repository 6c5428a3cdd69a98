//! The Adobe Pass REST API v1 registration code endpoints (`/reggie/v1/...`): form
//! parameters, epoch-millisecond times.

use http::StatusCode;
use serde::Serialize;

use super::response::{ApiResponse, answer, json, no_content};
use super::{ApiError, Call};
use linkgate_domain::code::CodeRecord;

/// The namespace of v1's `<regcode>` in XML.
const REGCODE_NAMESPACE: &str = "model.mvc.reggie.pass.adobe.com";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Regcode<'a> {
    /// In XML only: the root is `ns2:regcode` in v1's namespace.
    #[serde(rename = "@xmlns:ns2", skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
    id: &'a str,
    code: &'a str,
    requestor: &'a str,
    /// Always there, empty when the device chose none: v1 clients read it unconditionally.
    mvpd: &'a str,
    generated: i64,
    expires: i64,
    info: Info<'a>,
    /// Only in the answer to the device that asked: what it exchanges for its tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_secret: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type: Option<&'a str>,
}

fn regcode_view<'a>(record: &'a CodeRecord, code: &'a str, as_xml: bool) -> Regcode<'a> {
    Regcode {
        namespace: as_xml.then_some(REGCODE_NAMESPACE),
        id: &record.id,
        code,
        requestor: &record.requestor,
        mvpd: record.mvpd.as_deref().unwrap_or_default(),
        generated: record.issued_at.unix_millis(),
        expires: record.expires_at.unix_millis(),
        info: Info {
            device_id: record.device.as_str(),
            device_type: record.device_type.as_deref(),
        },
        device_secret: None,
    }
}

pub(super) async fn create_regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let request = super::native::issue_request(&call, "ttl")?;
    let issued = call.linking.issue_code(call.requestor, request).await?;
    let view = Regcode {
        device_secret: Some(&issued.device_secret),
        ..regcode_view(&issued.record, issued.code.as_str(), call.as_xml)
    };
    Ok(answer(
        call.as_xml,
        "ns2:regcode",
        StatusCode::CREATED,
        &view,
    ))
}

pub(super) async fn regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let input = call.path.code.unwrap_or_default();
    let record = call.linking.find_code(call.requestor, input).await?;
    let code = call
        .requestor
        .codes
        .normalise(input)
        .ok_or(crate::service::Error::CodeNotFound)?;
    let view = regcode_view(&record, code.as_str(), call.as_xml);
    Ok(answer(call.as_xml, "ns2:regcode", StatusCode::OK, &view))
}

pub(super) async fn delete_regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    call.linking
        .delete_code(call.requestor, call.path.code.unwrap_or_default())
        .await?;
    Ok(no_content())
}

/// Whether a user signed in with the code (the v1 second screen polls this): 200 once they
/// have, 403 while the code waits, 404 for a code unknown or expired.
pub(super) async fn signed_in_with_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.path.code.unwrap_or_default();
    match call.linking.code_outcome(call.requestor, code).await? {
        Some(_) => Ok(json(
            StatusCode::OK,
            &serde_json::json!({"authenticated": true}),
        )),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "authenticated_profile_missing",
            "no one has signed in with this code yet",
        )),
    }
}
