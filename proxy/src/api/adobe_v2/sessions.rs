//! Authentication sessions: the app asks to authenticate a device at an MVPD and learns
//! what comes next — sign in at `url` (on this device or a second screen, with `code`),
//! supply what is missing, or go straight to decisions when the device is authenticated.

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::contract::{
    Body, Contract, Param, SAME_REQUESTOR, contract, gives, leads_to, of, optional, refusal,
};
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

/// What a session tells the app to do next.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(in crate::api) struct SessionAction<'a> {
    /// `authenticate`, `resume`, `retry` or `authorize`.
    action_name: &'static str,
    /// `interactive` (a person signs in at `url`) or `direct`.
    action_type: &'static str,
    /// `none`; when authorizing straight away, `authenticated`, `degraded` or `temporary`.
    reason_type: &'static str,
    url: String,
    session_id: String,
    service_provider: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mvpd: Option<&'a str>,
    /// The code a second screen signs in with.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    /// Epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_parameters: Option<&'a [&'static str]>,
    /// Under `deviceAuth.adobeV2: device`: what the device exchanges, once signed in, for
    /// its token.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_secret: Option<&'a str>,
}

/// The answer for a session over `record` (its `code` as shown): sign in, or supply what
/// is missing (`next` names that step: `resume` when creating, `retry` when resuming).
fn session<'a>(
    call: &'a Call<'_>,
    record: &CodeRecord,
    code: &'a str,
    given: &'a Given,
    next: &'static str,
) -> SessionAction<'a> {
    let sp = service_provider(call.requestor);
    let (action_name, action_type, url, missing_parameters) = match given.missing.is_empty() {
        true => (
            "authenticate",
            "interactive",
            authenticate_url(call, code, given),
            None,
        ),
        false => (
            next,
            "direct",
            format!("/api/v2/{sp}/sessions/{code}"),
            Some(&given.missing[..]),
        ),
    };
    SessionAction {
        action_name,
        action_type,
        reason_type: "none",
        url,
        session_id: record.id.clone(),
        service_provider: sp,
        mvpd: given.mvpd.as_deref(),
        code: Some(code),
        not_before: Some(record.issued_at.unix_millis()),
        not_after: Some(record.expires_at.unix_millis()),
        missing_parameters,
        device_secret: None,
    }
}

/// The answer sending a device that is let in at `mvpd` straight to its decisions.
fn authorize_now(call: &Call<'_>, mvpd: &str, standing: Standing) -> ApiResponse {
    let sp = service_provider(call.requestor);
    let reason = match standing {
        Standing::SignedIn => "authenticated",
        Standing::Degraded => "degraded",
        Standing::TempPass => "temporary",
    };
    let body = SessionAction {
        action_name: "authorize",
        action_type: "direct",
        reason_type: reason,
        url: format!("/api/v2/{sp}/decisions/authorize/{mvpd}"),
        session_id: uuid::Uuid::new_v4().to_string(),
        service_provider: sp,
        mvpd: Some(mvpd),
        code: None,
        not_before: None,
        not_after: None,
        missing_parameters: None,
        device_secret: None,
    };
    json(StatusCode::OK, &body)
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
    let answer = SessionAction {
        device_secret: (call.requestor.adobe_v2_callers == AdobeV2Callers::Device)
            .then_some(&*issued.device_secret),
        ..session(&call, &issued.record, &code, &given, "resume")
    };
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
    let existing = ExistingParameters {
        service_provider: service_provider(call.requestor),
        mvpd: record.mvpd.as_deref(),
        domain: kept.domain.as_deref(),
        redirect_url: kept.redirect_url.as_deref(),
    };
    let missing: Vec<&str> = PARAMETERS
        .iter()
        .zip([&existing.mvpd, &existing.domain, &existing.redirect_url])
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    let answer = SessionStatus {
        existing_parameters: existing,
        device: SessionDevice {
            kind: record.device_type.as_deref(),
            id: record.device.as_str(),
        },
        not_before: record.issued_at.unix_millis(),
        not_after: record.expires_at.unix_millis(),
        missing_parameters: (!missing.is_empty()).then_some(missing),
    };
    Ok(json(StatusCode::OK, &answer))
}

/// What a session holds, and the device it is for.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SessionStatus<'a> {
    existing_parameters: ExistingParameters<'a>,
    device: SessionDevice<'a>,
    /// Epoch milliseconds.
    not_before: i64,
    not_after: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_parameters: Option<Vec<&'a str>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ExistingParameters<'a> {
    service_provider: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mvpd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
struct SessionDevice<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    id: &'a str,
}

const SESSION_PARAMS: [Param; 3] = [
    optional("mvpd", "The MVPD the person signs in with."),
    optional("domainName", "The app's domain."),
    optional(
        "redirectUrl",
        "Where the browser returns: on one of the service provider's domains.",
    ),
];

const ACTION: Body = Body::Json(of::<SessionAction<'static>>);

const NO_SESSION: &str = "No session has this code: mistyped, used or expired (`invalid_authentication_session`), or a parameter is invalid.";

const THE_CODE: &[(&str, &str)] = &[SAME_REQUESTOR, ("path.code", "$response.body#/code")];

pub(in crate::api) const CREATE: Contract = Contract {
    params: &SESSION_PARAMS,
    headers: &[optional(
        "X-Device-Info",
        "Base64 of a JSON object describing the device (`manufacturer`, `model`, `primaryHardwareType`), at most 4 KiB.",
    )],
    links: &[
        leads_to("TheSession", "get_adobe_v2_session", THE_CODE, &[]),
        leads_to("ResumeTheSession", "post_adobe_v2_session", THE_CODE, &[]),
        leads_to(
            "ProfileOfTheCode",
            "get_adobe_v2_profiles_code",
            THE_CODE,
            &[],
        ),
    ],
    ..contract!(
        "Starts authenticating the device: a code and where to sign in, or straight to decisions.",
        [],
        [
            gives(200, "What comes next.", ACTION),
            refusal(
                400,
                "`invalid_parameter_mvpd`, `invalid_parameter_redirect_url`, or `AP-Device-Identifier` is malformed."
            ),
            refusal(
                403,
                "The device's TempPass window is spent, or a credential was refused."
            ),
        ]
    )
};

pub(in crate::api) const RESUME: Contract = Contract {
    params: &SESSION_PARAMS,
    ..contract!(
        "Supplies what the session lacks.",
        [],
        [
            gives(200, "What comes next.", ACTION),
            refusal(400, NO_SESSION)
        ]
    )
};

pub(in crate::api) const STATUS: Contract = contract!(
    "What the session holds, and the device it is for.",
    [],
    [
        gives(
            200,
            "The session.",
            Body::Json(of::<SessionStatus<'static>>)
        ),
        refusal(400, NO_SESSION),
    ]
);
