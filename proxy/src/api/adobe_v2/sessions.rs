//! Authentication sessions: the app asks to authenticate a device at an MVPD and learns
//! what comes next — sign in at `url` (on this device or a second screen, with `code`),
//! supply what is missing, or go straight to decisions when the device is authenticated.

use http::StatusCode;
use serde_json::{Value, json};

use super::super::response::{ApiResponse, json};
use super::super::{ApiError, Call};
use super::{device, service_provider, v2_error};
use crate::service::{Error, IssueCode, Standing, TempPasses};
use linkgate_domain::code::{CodeRecord, SessionParams};
use linkgate_domain::requestor::AdobeV2Callers;

/// What a session needs before its sign-in can start, as v2 names them when missing.
const PARAMETERS: [&str; 3] = ["mvpd", "domain", "redirectUrl"];

/// The session's parameters: those given (else those the code keeps), checked, and the
/// names of those missing.
struct Given {
    mvpd: Option<String>,
    domain: Option<String>,
    redirect_url: Option<String>,
    missing: Vec<&'static str>,
}

fn given(call: &Call<'_>, stored: Option<&CodeRecord>) -> Result<Given, ApiError> {
    let kept = stored.and_then(|r| r.session.as_deref());
    let input = |name: &str| call.input.get(name).map(String::from);
    let mvpd = input("mvpd").or_else(|| stored.and_then(|r| r.mvpd.clone()));
    if let Some(mvpd) = &mvpd
        && call.requestor.sign_in_mvpd(mvpd).is_none()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_mvpd",
            "the mvpd is not one this service provider's apps may sign in with",
        ));
    }
    let domain = input("domainName").or_else(|| kept.and_then(|k| k.domain.clone()));
    let redirect_url = input("redirectUrl").or_else(|| kept.and_then(|k| k.redirect_url.clone()));
    if let Some(url) = &redirect_url
        && call.requestor.adobe.return_to(url).is_none()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_redirect_url",
            "the redirectUrl is not on one of this service provider's domains",
        ));
    }
    let present = [mvpd.is_some(), domain.is_some(), redirect_url.is_some()];
    let missing = PARAMETERS
        .iter()
        .zip(present)
        .filter(|(_, present)| !present)
        .map(|(named, _)| *named)
        .collect();
    Ok(Given {
        mvpd,
        domain,
        redirect_url,
        missing,
    })
}

impl Given {
    /// What the code keeps of the session besides its MVPD.
    fn kept(&self) -> Option<SessionParams> {
        (self.domain.is_some() || self.redirect_url.is_some()).then(|| SessionParams {
            domain: self.domain.clone(),
            redirect_url: self.redirect_url.clone(),
        })
    }
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

/// The answer sending a device that is let in at `mvpd` straight to its decisions.
fn authorize_now(call: &Call<'_>, mvpd: &str, standing: Standing) -> ApiResponse {
    let sp = service_provider(call.requestor);
    let reason = match standing {
        Standing::SignedIn => "authenticated",
        Standing::Degraded => "degraded",
        Standing::TempPass => "temporary",
    };
    json(
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
    )
}

/// `POST /api/v2/{sp}/sessions`: for a device already authenticated, straight to the
/// decisions; at a TempPass MVPD, its window opened (once); otherwise a code and the way
/// to sign in with it.
pub(in crate::api) async fn create(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device::of(&call)?;
    let described = device::described(&call)?;
    let asked = call.input.get("mvpd");
    let asked = asked.as_deref();
    let entitled = call
        .entitlements
        .entitled(call.requestor, &device, asked)
        .await;
    match entitled {
        Ok(entitled) => {
            let mvpd = entitled.user.mvpd.unwrap_or_default();
            return Ok(authorize_now(&call, &mvpd, entitled.standing));
        }
        Err(Error::AuthnMissing | Error::AuthnExpired) => {}
        Err(e) => return Err(v2_error(e)),
    }
    if let Some(mvpd) = asked.and_then(|m| TempPasses::mvpd(call.requestor, m)) {
        let passes = call.entitlements.temp_passes();
        passes
            .open(call.requestor, &device, mvpd)
            .await
            .map_err(v2_error)?;
        return Ok(authorize_now(&call, &mvpd.id, Standing::TempPass));
    }
    let given = given(&call, None)?;
    let request = IssueCode {
        device,
        mvpd: given.mvpd.clone(),
        device_type: described,
        client: call.client_ip,
        session: given.kept(),
        ttl: None,
        // The call was admitted for this device: by its own token, by the app's as Adobe's
        // model has it, or, where devices prove themselves, by the app's for a device that
        // is not linked.
        proven: true,
    };
    let issued = call
        .linking
        .issue_code(call.requestor, request)
        .await
        .map_err(v2_error)?;
    let code = issued.code.display();
    let mut answer = session(&call, &issued.record, &code, &given, "resume");
    if call.requestor.adobe_v2_callers == AdobeV2Callers::Device {
        // What the device exchanges, once signed in, for the token its calls need.
        answer["deviceSecret"] = json!(issued.device_secret);
    }
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
    let given = given(&call, Some(&record))?;
    let code = call.path.code.unwrap_or_default().to_owned();
    let answer = session(&call, &record, &code, &given, "retry");
    Ok(json(StatusCode::OK, &answer))
}

/// `GET /api/v2/{sp}/sessions/{code}`: what the session holds and the device it is for.
pub(in crate::api) async fn status(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let record = live_code(&call).await?;
    let kept = record.session.as_deref().cloned().unwrap_or_default();
    let sp = service_provider(call.requestor);
    let mut existing = json!({"serviceProvider": sp});
    let mut missing = Vec::new();
    for (name, value) in [
        ("mvpd", record.mvpd.clone()),
        ("domain", kept.domain),
        ("redirectUrl", kept.redirect_url),
    ] {
        match value {
            Some(value) => existing[name] = json!(value),
            None => missing.push(name),
        }
    }
    let mut answer = json!({
        "existingParameters": existing,
        "device": {"type": record.device_type, "id": record.device.as_str()},
        "notBefore": record.issued_at.unix_millis(),
        "notAfter": record.expires_at.unix_millis(),
    });
    if !missing.is_empty() {
        answer["missingParameters"] = json!(missing);
    }
    Ok(json(StatusCode::OK, &answer))
}
