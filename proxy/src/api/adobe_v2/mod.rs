//! Adobe Pass REST API v2, as today's programmer apps speak it: the app registers with a
//! software statement at Adobe's paths (`/o/client/register`), takes an access token
//! (`/o/client/token`), and every `/api/v2/{serviceProvider}/...` call carries it; the
//! device is named by `AP-Device-Identifier`.

mod decisions;
pub(super) mod device;
pub(super) mod error;
mod profiles;
mod sessions;

pub(super) use decisions::{AUTHORIZE, PREAUTHORIZE, authorize, preauthorize};
pub(super) use profiles::{LOGOUT, OF_CODE as PROFILES_BY_CODE, OF_DEVICE as PROFILES};
pub(super) use profiles::{logout, of_code as profiles_by_code, of_device as profiles};
pub(super) use sessions::{CREATE as CREATE_SESSION, RESUME as RESUME_SESSION, STATUS as SESSION};
pub(super) use sessions::{create as create_session, resume as resume_session, status as session};

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::{Body, Contract, contract, gives, of, optional, refusal, required};
use super::response::{ApiResponse, json};
use super::{ApiError, Call};
use crate::service::Error;
use linkgate_domain::clients::ClientKind;
use linkgate_domain::requestor::RequestorPolicy;

/// The name v2 apps know the requestor by: its declared Adobe requestor ID, else its name.
fn service_provider(requestor: &RequestorPolicy) -> &str {
    requestor
        .adobe
        .requestor_id
        .as_deref()
        .unwrap_or(&requestor.name)
}

/// A service error as v2's enhanced error code names it.
fn v2_error(e: Error) -> ApiError {
    let (status, code) = match &e {
        Error::AuthnMissing => (StatusCode::FORBIDDEN, "authenticated_profile_missing"),
        Error::AuthnExpired => (StatusCode::FORBIDDEN, "authenticated_profile_expired"),
        Error::AuthzDenied { .. } => (StatusCode::FORBIDDEN, "authorization_denied_by_mvpd"),
        Error::DeniedByDegradation => (
            StatusCode::FORBIDDEN,
            "authorization_denied_by_degradation_rule",
        ),
        Error::TooManyResources { .. } => (StatusCode::FORBIDDEN, "too_many_resources"),
        Error::Resource(_) => (StatusCode::BAD_REQUEST, "invalid_parameter_resources"),
        Error::DecisionPoint(crate::service::DecisionError::Timeout(_)) => {
            (StatusCode::FORBIDDEN, "network_connection_timeout")
        }
        Error::DecisionPoint(_) => (StatusCode::FORBIDDEN, "network_received_error"),
        _ => return e.into(),
    };
    ApiError::new(status, code, e.to_string())
}

/// The scope Adobe's registration grants an app.
const V2_SCOPE: &str = "api:client:v2";

/// `POST /o/client/register`: the app's client, for the requestor its software statement
/// names (JSON `{"software_statement"}`), 201.
pub(super) fn register(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let statement = call.input.require("software_statement")?;
    let client = call
        .clients
        .register(call.requestor, &statement, ClientKind::App)?;
    let redirect_uris: Vec<String> = call
        .input
        .get("redirect_uri")
        .into_iter()
        .map(Into::into)
        .collect();
    let body = AppClient {
        client_id: &client.client_id,
        client_secret: &client.client_secret,
        client_id_issued_at: client.issued_at.unix_secs(),
        redirect_uris,
        grant_types: [super::oauth::CLIENT_CREDENTIALS_GRANT],
        scopes: [V2_SCOPE],
    };
    Ok(super::oauth::no_store(json(StatusCode::CREATED, &body)))
}

/// `POST /o/client/token`: the client-credentials grant for an app's client, 201 with the
/// access token every v2 call carries.
pub(super) fn token(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let grant = call.input.require("grant_type")?;
    if grant != super::oauth::CLIENT_CREDENTIALS_GRANT {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only the client_credentials grant is offered here",
        ));
    }
    let id = call.input.require("client_id")?;
    let secret = call.input.require("client_secret")?;
    let (token, ttl, now) = call.clients.token(call.requestor, &id, &secret)?;
    let body = AppToken {
        id: uuid::Uuid::new_v4().to_string(),
        access_token: &token,
        created_at: now.unix_millis(),
        expires_in: ttl,
        token_type: "bearer",
    };
    Ok(super::oauth::no_store(json(StatusCode::CREATED, &body)))
}

/// `GET /api/v2/{serviceProvider}/configuration`: the requestor and the MVPDs its apps
/// show in their pickers.
pub(super) fn configuration(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let requestor = call.requestor;
    let mvpds = requestor
        .allowed_mvpds()
        .map(|mvpd| ConfiguredMvpd {
            id: &mvpd.id,
            display_name: &mvpd.display_name,
            logo_url: mvpd.logo_url.as_ref().map(url::Url::as_str),
            is_temp_pass: mvpd.temp_pass.is_some(),
            is_proxy: false,
        })
        .collect();
    let domains = requestor
        .adobe
        .redirect_hosts()
        .map(|name| Domain {
            name,
            mvpd_initiated: false,
        })
        .collect();
    let body = Configuration {
        requestor: ConfiguredRequestor {
            id: service_provider(requestor),
            name: &requestor.display_name,
            domains,
            mvpds,
        },
    };
    Ok(json(StatusCode::OK, &body))
}

/// A registered app's client (RFC 7591 as Adobe answers it).
#[derive(Serialize, ToSchema)]
struct AppClient<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    client_id_issued_at: i64,
    redirect_uris: Vec<String>,
    grant_types: [&'static str; 1],
    scopes: [&'static str; 1],
}

#[derive(Serialize, ToSchema)]
struct AppToken<'a> {
    id: String,
    access_token: &'a str,
    /// Epoch milliseconds.
    created_at: i64,
    /// Seconds.
    expires_in: u32,
    /// Always `bearer`.
    token_type: &'static str,
}

#[derive(Serialize, ToSchema)]
struct Configuration<'a> {
    requestor: ConfiguredRequestor<'a>,
}

#[derive(Serialize, ToSchema)]
struct ConfiguredRequestor<'a> {
    /// The service provider's ID, as the v2 paths name it.
    id: &'a str,
    name: &'a str,
    domains: Vec<Domain<'a>>,
    mvpds: Vec<ConfiguredMvpd<'a>>,
}

/// A domain the requestor's apps return to after sign-in.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Domain<'a> {
    name: &'a str,
    mvpd_initiated: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ConfiguredMvpd<'a> {
    id: &'a str,
    display_name: &'a str,
    logo_url: Option<&'a str>,
    is_temp_pass: bool,
    is_proxy: bool,
}

pub(super) const REGISTER: Contract = contract!(
    "Registers an app with a software statement (its audience names the requestor).",
    [
        required(
            "software_statement",
            "A JWT signed with one of the requestor's software statement keys."
        ),
        optional("redirect_uri", "Echoed in `redirect_uris`."),
    ],
    [
        gives(
            201,
            "The app's client.",
            Body::Json(of::<AppClient<'static>>)
        ),
        refusal(
            400,
            "The statement is invalid (`invalid_software_statement`)."
        ),
        refusal(403, "The requestor takes no apps (`clients_disabled`)."),
        refusal(404, "The statement names no known requestor."),
    ]
);

pub(super) const TOKEN: Contract = contract!(
    "The client-credentials grant: the access token every v2 call carries.",
    [
        required("grant_type", "`client_credentials`."),
        required("client_id", "The app's client ID."),
        required("client_secret", "The app's client secret."),
    ],
    [
        gives(
            201,
            "The access token.",
            Body::Json(of::<AppToken<'static>>)
        ),
        refusal(
            400,
            "Not `client_credentials` (`unsupported_grant_type`), or a parameter is missing."
        ),
        refusal(401, "The client is refused (`invalid_client`)."),
    ]
);

pub(super) const CONFIGURATION: Contract = contract!(
    "The service provider and the MVPDs its apps offer.",
    [],
    [gives(
        200,
        "The configuration.",
        Body::Json(of::<Configuration<'static>>)
    )]
);
