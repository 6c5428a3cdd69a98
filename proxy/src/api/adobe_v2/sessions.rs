//! Authentication sessions: the app asks to authenticate a device at an MVPD and learns
//! what comes next — sign in at `url` (on this device or a second screen, with `code`),
//! supply what is missing, or go straight to decisions when the device is authenticated.

use http::StatusCode;
use serde_json::{Value, json};

use super::super::response::{ApiResponse, json};
use super::super::{ApiError, Call};
use super::{device, service_provider, v2_error};
use crate::service::{Error, IssueCode};
use linkgate_domain::code::CodeRecord;

/// What a session needs before its sign-in can start, as v2 names them.
const PARAMETERS: [(&str, &str); 3] = [
    ("mvpd", "mvpd"),
    ("domainName", "domain"),
    ("redirectUrl", "redirectUrl"),
];

/// The session's parameters: those given, checked, and the names of those missing.
struct Given {
    mvpd: Option<String>,
    redirect_url: Option<String>,
    missing: Vec<&'static str>,
}

fn given(call: &Call<'_>, stored_mvpd: Option<&str>) -> Result<Given, ApiError> {
    let mvpd = call
        .input
        .get("mvpd")
        .map(Into::into)
        .or(stored_mvpd.map(str::to_owned));
    if let Some(mvpd) = &mvpd
        && !call
            .requestor
            .allowed_mvpds()
            .any(|m| m.id == *mvpd && m.signs_in())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_mvpd",
            "the mvpd is not one this service provider's apps may sign in with",
        ));
    }
    let redirect_url: Option<String> = call.input.get("redirectUrl").map(Into::into);
    if let Some(url) = &redirect_url
        && call.requestor.adobe.return_to(url).is_none()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_redirect_url",
            "the redirectUrl is not on one of this service provider's domains",
        ));
    }
    let present = |name: &str| match name {
        "mvpd" => mvpd.is_some(),
        "redirectUrl" => redirect_url.is_some(),
        other => call.input.get(other).is_some(),
    };
    let missing = PARAMETERS
        .iter()
        .filter(|(form, _)| !present(form))
        .map(|(_, named)| *named)
        .collect();
    Ok(Given {
        mvpd,
        redirect_url,
        missing,
    })
}

/// Where the browser signs in for `code`: v2's authenticate call, carrying what the code's
/// record does not (the MVPD when chosen later, and where to return).
fn authenticate_url(call: &Call<'_>, code: &str, given: &Given) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(mvpd) = &given.mvpd {
        query.append_pair("mvpd", mvpd);
    }
    if let Some(url) = &given.redirect_url {
        query.append_pair("redirectUrl", url);
    }
    let query = query.finish();
    let sp = service_provider(call.requestor);
    match query.is_empty() {
        true => format!("/api/v2/authenticate/{sp}/{code}"),
        false => format!("/api/v2/authenticate/{sp}/{code}?{query}"),
    }
}

/// The answer for a session over `record` (its `code` as shown): sign in, or supply what
/// is missing (`next` names that step: `resume` when creating, `retry` when resuming).
fn session(call: &Call<'_>, record: &CodeRecord, code: &str, given: &Given, next: &str) -> Value {
    let sp = service_provider(call.requestor);
    let mut answer = json!({
        "actionType": "direct",
        "reasonType": "none",
        "code": code,
        "sessionId": record.id,
        "serviceProvider": sp,
        "notBefore": record.issued_at.unix_millis(),
        "notAfter": record.expires_at.unix_millis(),
    });
    if let Some(mvpd) = &given.mvpd {
        answer["mvpd"] = json!(mvpd);
    }
    if given.missing.is_empty() {
        answer["actionName"] = json!("authenticate");
        answer["actionType"] = json!("interactive");
        answer["url"] = json!(authenticate_url(call, code, given));
    } else {
        answer["actionName"] = json!(next);
        answer["missingParameters"] = json!(given.missing);
        answer["url"] = json!(format!("/api/v2/{sp}/sessions/{code}"));
    }
    answer
}

/// `POST /api/v2/{sp}/sessions`: for a device already authenticated, straight to the
/// decisions; otherwise a code and the way to sign in with it.
pub(in crate::api) async fn create(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device::identified(&call)?;
    let described = device::described(&call)?;
    let given = given(&call, None)?;
    let sp = service_provider(call.requestor);
    let entitled = call
        .entitlements
        .entitled(call.requestor, &device, given.mvpd.as_deref())
        .await;
    match entitled {
        Ok(entitled) => {
            let mvpd = entitled.user.mvpd.unwrap_or_default();
            let reason = match entitled.degraded {
                true => "degraded",
                false => "authenticated",
            };
            return Ok(json(
                StatusCode::OK,
                &json!({
                    "actionName": "authorize",
                    "actionType": "direct",
                    "reasonType": reason,
                    "url": format!("/api/v2/{sp}/decisions/authorize/{mvpd}"),
                    "sessionId": uuid::Uuid::new_v4().to_string(),
                    "mvpd": mvpd,
                    "serviceProvider": sp,
                }),
            ));
        }
        Err(Error::AuthnMissing | Error::AuthnExpired) => {}
        Err(e) => return Err(v2_error(e)),
    }
    let request = IssueCode {
        device,
        mvpd: given.mvpd.clone(),
        device_type: described,
        client: call.client_ip,
        ttl: None,
        // The app acts for the device it names, as Adobe's model has it.
        proven: true,
    };
    let issued = call
        .linking
        .issue_code(call.requestor, request)
        .await
        .map_err(v2_error)?;
    let code = issued.code.display();
    let answer = session(&call, &issued.record, &code, &given, "resume");
    Ok(json(StatusCode::OK, &answer))
}

/// The live code `{code}` names, or v2's refusal.
async fn live_code(call: &Call<'_>) -> Result<CodeRecord, ApiError> {
    let code = call.path.code.unwrap_or_default();
    match call.linking.find_code(call.requestor, code).await {
        Ok(record) => Ok(record),
        Err(Error::CodeNotFound) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_authentication_session",
            "no authentication session has this code: it was mistyped, used or has expired",
        )),
        Err(e) => Err(v2_error(e)),
    }
}

/// `POST /api/v2/{sp}/sessions/{code}`: the second screen supplies what the session lacks.
pub(in crate::api) async fn resume(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let record = live_code(&call).await?;
    let given = given(&call, record.mvpd.as_deref())?;
    let code = call.path.code.unwrap_or_default().to_owned();
    let answer = session(&call, &record, &code, &given, "retry");
    Ok(json(StatusCode::OK, &answer))
}

/// `GET /api/v2/{sp}/sessions/{code}`: what the session holds and the device it is for.
pub(in crate::api) async fn status(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let record = live_code(&call).await?;
    let sp = service_provider(call.requestor);
    let mut answer = json!({
        "existingParameters": {"serviceProvider": sp},
        "device": {"type": record.device_type, "id": record.device.as_str()},
        "notBefore": record.issued_at.unix_millis(),
        "notAfter": record.expires_at.unix_millis(),
    });
    // The code keeps its MVPD; the domain and return address travel in the sign-in's URL,
    // so the second screen names them again when it resumes.
    match &record.mvpd {
        Some(mvpd) => answer["existingParameters"]["mvpd"] = json!(mvpd),
        None => answer["missingParameters"] = json!(["mvpd"]),
    }
    Ok(json(StatusCode::OK, &answer))
}
