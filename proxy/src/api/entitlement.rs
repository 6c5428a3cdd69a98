//! Authentication, authorization, preauthorization, media tokens, logout and user
//! metadata, in the native dialect (device in the path, RFC 3339 times) and the Adobe
//! Pass dialect (`deviceId` and `requestor` parameters, epoch-millisecond times).

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::response::{ApiResponse, answer, json, no_content, rfc3339};
use super::{ApiError, Call};
use crate::service::Error;
use linkgate_domain::link::{LinkError, Unlink};
use linkgate_domain::resource::Resource;
use linkgate_domain::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Native,
    Adobe,
}

impl Dialect {
    fn time(self, t: Timestamp) -> Value {
        match self {
            Dialect::Native => Value::String(rfc3339(t)),
            Dialect::Adobe => Value::from(t.unix_millis()),
        }
    }

    fn expiry(self, t: Timestamp) -> Expiry {
        match self {
            Dialect::Native => Expiry {
                expires_at: Some(rfc3339(t)),
                expires: None,
            },
            Dialect::Adobe => Expiry {
                expires_at: None,
                expires: Some(t.unix_millis()),
            },
        }
    }
}

/// An expiry as each dialect writes it: `expiresAt` in RFC 3339, or `expires` in epoch ms.
/// Its two fields are copied into each answer rather than flattened into it: serde writes a
/// struct with a flattened field as a map of unknown length, entry by entry, a slower path.
struct Expiry {
    expires_at: Option<String>,
    expires: Option<i64>,
}

/// The answers of the calls a device makes most (every start, every play), written
/// straight from borrowed fields rather than through a `serde_json::Value`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthnBody<'a> {
    requestor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
    user_id: &'a str,
    mvpd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthzBody<'a> {
    resource: &'a str,
    requestor: &'a str,
    mvpd: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
}

fn with_status(e: Error, status: StatusCode) -> ApiError {
    ApiError { status, ..e.into() }
}

pub(super) async fn check_authn(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let user = call.entitlements.authn(call.requestor, &device).await?;
    let Expiry {
        expires_at,
        expires,
    } = d.expiry(user.authn_expires_at);
    let body = AuthnBody {
        requestor: &call.requestor.name,
        device_id: Some(device.as_str()),
        user_id: user.user.as_str(),
        mvpd: user.mvpd.as_deref(),
        expires_at,
        expires,
    };
    Ok(answer(call.as_xml, "authentication", StatusCode::OK, &body))
}

/// The authentication token: 404 when there is none, 410 when it has expired.
pub(super) async fn authn_token(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    match call.entitlements.authn(call.requestor, &device).await {
        Ok(user) => {
            let Expiry {
                expires_at,
                expires,
            } = d.expiry(user.authn_expires_at);
            let body = AuthnBody {
                requestor: &call.requestor.name,
                device_id: None,
                user_id: user.user.as_str(),
                mvpd: user.mvpd.as_deref(),
                expires_at,
                expires,
            };
            Ok(answer(call.as_xml, "authentication", StatusCode::OK, &body))
        }
        Err(e @ Error::AuthnExpired) => Err(with_status(e, StatusCode::GONE)),
        Err(e @ Error::AuthnMissing) => Err(with_status(e, StatusCode::NOT_FOUND)),
        Err(e) => Err(e.into()),
    }
}

fn authz_body<'a>(
    call: &'a Call<'_>,
    d: Dialect,
    authz: &'a crate::service::Authz,
) -> AuthzBody<'a> {
    let Expiry {
        expires_at,
        expires,
    } = d.expiry(authz.expires_at);
    AuthzBody {
        resource: &authz.resource,
        requestor: &call.requestor.name,
        mvpd: &authz.mvpd,
        expires_at,
        expires,
    }
}

/// The `resource` parameter: an ID, or an MRSS document known by its channel title.
fn resource(call: &Call<'_>) -> Result<Resource, ApiError> {
    let input = call.input.require("resource")?;
    Ok(Resource::parse(&input).map_err(Error::from)?)
}

pub(super) async fn authorize(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let resource = resource(&call)?;
    let authz = call
        .entitlements
        .authorize(call.requestor, &device, &resource)
        .await?;
    let body = authz_body(&call, d, &authz);
    Ok(answer(call.as_xml, "authorization", StatusCode::OK, &body))
}

/// The cached authorization: 412 without authentication, 404 none, 410 expired.
pub(super) async fn authz_token(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let resource = resource(&call)?;
    let authz = call
        .entitlements
        .authz_token(call.requestor, &device, &resource.id)
        .await?;
    let body = authz_body(&call, d, &authz);
    Ok(answer(call.as_xml, "authorization", StatusCode::OK, &body))
}

pub(super) async fn preauthorize(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let resources: Vec<String> = call
        .input
        .require("resource")?
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let answers = call
        .entitlements
        .preauthorize(call.requestor, &device, &resources, None)
        .await?;
    let resources: Vec<Value> = answers
        .iter()
        .map(|a| {
            let mut r = json!({"id": a.resource, "authorized": a.authorized});
            if let Some(error) = a.error {
                r["error"] = Value::from(error);
            }
            r
        })
        .collect();
    // In XML, v1 lists `<resource>` elements under `<resources>`.
    let body = match call.as_xml {
        true => json!({ "resource": resources }),
        false => json!({ "resources": resources }),
    };
    Ok(answer(call.as_xml, "resources", StatusCode::OK, &body))
}

pub(super) async fn media_token(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let resource = resource(&call)?;
    let (token, claims) = call
        .entitlements
        .media_token(call.requestor, &device, &resource, None)
        .await?;
    let expires = Timestamp::from_unix_millis(claims.exp * 1000);
    let body = match d {
        Dialect::Native => json!({
            "token": token,
            "resource": claims.res,
            "requestor": claims.aud,
            "userId": claims.sub,
            "mvpd": claims.mvpd,
            "expiresAt": d.time(expires),
        }),
        Dialect::Adobe => json!({
            "resource": claims.res,
            "requestor": claims.aud,
            "expires": d.time(expires),
            "serializedToken": token,
            "userId": claims.sub,
            "mvpdId": claims.mvpd,
        }),
    };
    Ok(answer(call.as_xml, "play", StatusCode::OK, &body))
}

/// Removes the device's authentication; logging out twice is not an error.
pub(super) async fn logout(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    match call
        .linking
        .unlink(call.requestor, &device, Unlink::Everyone)
        .await
    {
        Ok(()) | Err(Error::Link(LinkError::NoUserOnDevice)) => Ok(no_content()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn user_metadata(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let user = call.entitlements.authn(call.requestor, &device).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "userId": user.user.as_str(),
            "mvpd": user.mvpd,
            "data": user.metadata,
        }),
    ))
}

/// The MVPDs a device may offer for sign-in.
pub(super) fn mvpds(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let mvpds: Vec<Value> = call
        .requestor
        .allowed_mvpds()
        .map(|m| json!({"id": m.id, "displayName": m.display_name}))
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "requestor": call.requestor.name,
            "displayName": call.requestor.display_name,
            "mvpds": mvpds,
        }),
    ))
}

/// The public keys media tokens verify with, as a JWK set.
pub(super) fn media_keys(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    Ok(json(StatusCode::OK, &call.requestor.media_keys.jwks()))
}
