//! OAuth for devices and for the requestor's backend: the RFC 8628 device authorization
//! grant (`device_authorization`, `token`), RFC 7591 client registration (`register`) and
//! the client-credentials grant (`token`), with OAuth's error fields (`error`,
//! `error_description`) added to ours.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use linkgate_domain::clients::ClientKind;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::{
    Body, Contract, Kind, SAME_REQUESTOR, contract, gives, leads_to, of, optional, refusal,
    required,
};
use super::response::{ApiResponse, json};
use super::{ApiError, Call, verification};
use crate::service::{PollError, RefreshError, TokenPair};
use linkgate_domain::ids::DeviceId;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(super) const CLIENT_CREDENTIALS_GRANT: &str = "client_credentials";
const REFRESH_TOKEN_GRANT: &str = "refresh_token";

fn oauth_error(status: StatusCode, error: &'static str, message: impl ToString) -> ApiError {
    ApiError::new(status, error, message.to_string())
}

/// The client ID and secret of HTTP Basic authentication (RFC 6749 §2.3.1).
fn basic_credentials(call: &Call<'_>) -> Option<(String, String)> {
    let pair = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok())?;
    let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
    Some((percent_decode(id), percent_decode(secret)))
}

/// The client is the requestor's app: its `client_id` is the requestor's name, sent in the
/// body or as the user of HTTP Basic authentication (public clients have no secret).
fn check_client(call: &Call<'_>) -> Result<(), ApiError> {
    let client = call
        .input
        .get("client_id")
        .map(|c| c.into_owned())
        .or_else(|| basic_credentials(call).map(|(id, _)| id));
    match client {
        Some(id) if id == call.requestor.name => Ok(()),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id must be the requestor's name",
        )),
    }
}

/// RFC 6749 §2.3.1 form-encodes Basic credentials.
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub(super) async fn device_authorization(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    check_client(&call)?;
    let device = call
        .input
        .get("device_id")
        .map(|d| DeviceId::parse(&d))
        .transpose()?;
    let proven = device.as_ref().is_some_and(|d| call.principal.acts_for(d));
    let started = call
        .device_flow
        .start(call.requestor, device, call.client_ip, proven)
        .await?;
    let user_code = started.user_code.display();
    let verification_uri = verification::uri(&call);
    let complete = verification::complete(&call, &user_code)?;
    let body = DeviceAuthorization {
        device_code: &started.device_code,
        user_code: &user_code,
        verification_uri: &verification_uri,
        verification_uri_complete: complete.as_str(),
        expires_in: started.expires_in.as_secs(),
        interval: started.interval.as_secs(),
        device_id: started.device.as_str(),
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}

/// RFC 7591: a software statement the requestor trusts registers a client.
pub(super) fn register(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let statement = call.input.require("software_statement")?;
    let client = call
        .clients
        .register(call.requestor, &statement, ClientKind::Backend)?;
    let body = BackendClient {
        client_id: &client.client_id,
        client_secret: &client.client_secret,
        client_id_issued_at: client.issued_at.unix_secs(),
        client_secret_expires_at: 0,
        software_id: &client.software_id,
        software_version: client.software_version.as_deref(),
        grant_types: [CLIENT_CREDENTIALS_GRANT],
        token_endpoint_auth_method: "client_secret_basic",
    };
    Ok(no_store(json(StatusCode::CREATED, &body)))
}

/// The client-credentials grant: a registered client's access token for backend calls,
/// its credentials in HTTP Basic authentication or the body.
fn client_credentials(call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let (id, secret) = match basic_credentials(call) {
        Some(pair) => pair,
        None => (
            call.input.require("client_id")?.into_owned(),
            call.input.require("client_secret")?.into_owned(),
        ),
    };
    let (token, ttl, _) = call.clients.token(call.requestor, &id, &secret)?;
    let body = ClientToken {
        access_token: &token,
        token_type: "Bearer",
        expires_in: ttl,
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}

pub(super) async fn token(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let grant = call.input.get("grant_type").unwrap_or_default();
    if grant == CLIENT_CREDENTIALS_GRANT {
        return client_credentials(&call);
    }
    check_client(&call)?;
    if grant == REFRESH_TOKEN_GRANT {
        return refresh(&call).await;
    }
    if grant != DEVICE_CODE_GRANT {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("{DEVICE_CODE_GRANT}, {REFRESH_TOKEN_GRANT} or {CLIENT_CREDENTIALS_GRANT}"),
        ));
    }
    let Some(device_code) = call.input.get("device_code") else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "device_code is required",
        ));
    };
    let granted = match call.device_flow.poll(call.requestor, &device_code).await {
        Ok(granted) => granted,
        Err(PollError::Server(e)) => return Err(e.into()),
        Err(e) => {
            let error = match e {
                PollError::AuthorizationPending => "authorization_pending",
                PollError::SlowDown(_) => "slow_down",
                PollError::AccessDenied => "access_denied",
                PollError::ExpiredToken => "expired_token",
                PollError::InvalidGrant | PollError::Server(_) => "invalid_grant",
            };
            return Err(oauth_error(StatusCode::BAD_REQUEST, error, e));
        }
    };
    let body = DeviceTokenPair {
        device_id: Some(granted.device.as_str()),
        user_id: Some(granted.user.as_str()),
        ..token_body(&granted.tokens)
    };
    Ok(no_store(json(StatusCode::OK, &body)))
}

/// RFC 6749 §6: a device's refresh token for a new pair; the old one is spent.
async fn refresh(call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let presented = call.input.require("refresh_token")?;
    match call.device_tokens.refresh(call.requestor, &presented).await {
        Ok(tokens) => Ok(no_store(json(StatusCode::OK, &token_body(&tokens)))),
        Err(RefreshError::Server(e)) => Err(e.into()),
        Err(RefreshError::Refused(e)) => {
            Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", e))
        }
    }
}

/// RFC 6749 §5.1, for a device's tokens.
fn token_body(tokens: &TokenPair) -> DeviceTokenPair<'_> {
    DeviceTokenPair {
        access_token: &tokens.access_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in.as_secs(),
        refresh_token: &tokens.refresh_token,
        device_id: None,
        user_id: None,
    }
}

/// RFC 6749 §5.1: token responses must not be cached.
pub(super) fn no_store(mut response: ApiResponse) -> ApiResponse {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// RFC 8628 §3.2.
#[derive(Serialize, ToSchema)]
struct DeviceAuthorization<'a> {
    /// The device's secret: what it polls the token endpoint with.
    device_code: &'a str,
    user_code: &'a str,
    verification_uri: &'a str,
    verification_uri_complete: &'a str,
    expires_in: u64,
    /// Seconds between polls.
    interval: u64,
    device_id: &'a str,
}

/// RFC 7591 §3.2.1: a registered backend client.
#[derive(Serialize, ToSchema)]
struct BackendClient<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    client_id_issued_at: i64,
    /// Always 0: the secret does not expire.
    client_secret_expires_at: u64,
    software_id: &'a str,
    software_version: Option<&'a str>,
    grant_types: [&'static str; 1],
    token_endpoint_auth_method: &'static str,
}

/// RFC 6749 §5.1, for a backend client.
#[derive(Serialize, ToSchema)]
struct ClientToken<'a> {
    access_token: &'a str,
    /// Always `Bearer`.
    token_type: &'static str,
    expires_in: u32,
}

/// RFC 6749 §5.1, for a device: the first pair names the device and its user.
#[derive(Serialize, ToSchema)]
struct DeviceTokenPair<'a> {
    access_token: &'a str,
    /// Always `Bearer`.
    token_type: &'static str,
    expires_in: u64,
    /// Spent by its first use.
    refresh_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

pub(super) const DEVICE_AUTHORIZATION: Contract = Contract {
    links: &[leads_to(
        "PollForTokens",
        "post_oauth_token",
        &[SAME_REQUESTOR],
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", "$request.path.requestor"),
            ("device_code", "$response.body#/device_code"),
        ],
    )],
    ..contract!(
        "RFC 8628: a device code and the code a person types.",
        [
            required("client_id", "The requestor's name (or HTTP Basic's user)."),
            optional("device_id", "The device's ID; one is made when absent.").of(Kind::DeviceId),
        ],
        [
            gives(
                200,
                "The device's codes and where the person goes.",
                Body::Json(of::<DeviceAuthorization<'static>>)
            ),
            refusal(
                401,
                "`client_id` is not the requestor's name (`invalid_client`), or the device is linked and the call has not its token."
            ),
        ]
    )
};

pub(super) const TOKEN: Contract = contract!(
    "Tokens: the device code grant, a refresh, or a backend client's credentials.",
    [
        required(
            "grant_type",
            "`urn:ietf:params:oauth:grant-type:device_code`, `refresh_token` or `client_credentials`."
        ),
        optional(
            "client_id",
            "The requestor's name; a backend client's ID for `client_credentials`."
        ),
        optional(
            "client_secret",
            "A backend client's secret (or HTTP Basic)."
        ),
        optional("device_code", "The device code, for the device code grant."),
        optional("refresh_token", "The refresh token, for a refresh."),
    ],
    [
        gives(
            200,
            "A device's tokens, or a backend client's.",
            Body::OneOf(&[of::<DeviceTokenPair<'static>>, of::<ClientToken<'static>>]),
        ),
        refusal(
            400,
            "`authorization_pending`, `slow_down`, `access_denied`, `expired_token`, `invalid_grant`, `unsupported_grant_type` or `invalid_request`."
        ),
        refusal(401, "The client is refused (`invalid_client`)."),
    ]
);

pub(super) const REGISTER: Contract = contract!(
    "RFC 7591: registers a backend client with a software statement the requestor trusts.",
    [required(
        "software_statement",
        "A JWT signed with one of the requestor's software statement keys."
    )],
    [
        gives(
            201,
            "The client and its secret.",
            Body::Json(of::<BackendClient<'static>>)
        ),
        refusal(
            400,
            "The statement is invalid (`invalid_software_statement`)."
        ),
        refusal(
            403,
            "The requestor takes no backend clients (`clients_disabled`)."
        ),
    ]
);
