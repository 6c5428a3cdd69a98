//! Adobe Pass REST API v2, as today's programmer apps speak it: the app registers with a
//! software statement at Adobe's paths (`/o/client/register`), takes an access token
//! (`/o/client/token`), and every `/api/v2/{serviceProvider}/...` call carries it; the
//! device is named by `AP-Device-Identifier`.

mod decisions;
pub(super) mod device;
pub(super) mod error;
mod profiles;
mod sessions;

pub(super) use decisions::{authorize, preauthorize};
pub(super) use profiles::{logout, of_code as profiles_by_code, of_device as profiles};
pub(super) use sessions::{create as create_session, resume as resume_session, status as session};

use http::StatusCode;
use serde_json::json;

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
    Ok(super::oauth::no_store(json(
        StatusCode::CREATED,
        &json!({
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "client_id_issued_at": client.issued_at.unix_secs(),
            "redirect_uris": redirect_uris,
            "grant_types": [super::oauth::CLIENT_CREDENTIALS_GRANT],
            "scopes": [V2_SCOPE],
        }),
    )))
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
    Ok(super::oauth::no_store(json(
        StatusCode::CREATED,
        &json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "access_token": token,
            "created_at": now.unix_millis(),
            "expires_in": ttl,
            "token_type": "bearer",
        }),
    )))
}

/// `GET /api/v2/{serviceProvider}/configuration`: the requestor and the MVPDs its apps
/// show in their pickers.
pub(super) fn configuration(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let requestor = call.requestor;
    let mvpds: Vec<_> = requestor
        .allowed_mvpds()
        .map(|mvpd| {
            json!({
                "id": mvpd.id,
                "displayName": mvpd.display_name,
                "logoUrl": mvpd.logo_url.as_ref().map(url::Url::as_str),
                "isTempPass": mvpd.temp_pass.is_some(),
                "isProxy": false,
            })
        })
        .collect();
    let domains: Vec<_> = requestor
        .adobe
        .redirect_hosts()
        .map(|host| json!({"name": host, "mvpdInitiated": false}))
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "requestor": {
                "id": service_provider(requestor),
                "name": requestor.display_name,
                "domains": domains,
                "mvpds": mvpds,
            },
        }),
    ))
}
