//! Authentication, authorization, preauthorization, media tokens, logout and user
//! metadata, in the native dialect (device in the path, RFC 3339 times) and the Adobe
//! Pass dialect (`deviceId` and `requestor` parameters, epoch-millisecond times).

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::{Body, Contract, Kind, Param, contract, gives, of, refusal, required};
use super::response::{ApiResponse, answer, json, no_content, rfc3339, xml};
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Authentication, xml(name = "authentication"))]
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Authorization, xml(name = "authorization"))]
struct AuthzBody<'a> {
    resource: &'a str,
    requestor: &'a str,
    mvpd: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
}

/// The root elements of the answers Adobe v1 callers may ask for as XML; their schemas name
/// the same (tested below).
const AUTHENTICATION_ROOT: &str = "authentication";
const AUTHORIZATION_ROOT: &str = "authorization";
const RESOURCES_ROOT: &str = "resources";
const PLAY_ROOT: &str = "play";

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
    Ok(answer(
        call.as_xml,
        AUTHENTICATION_ROOT,
        StatusCode::OK,
        &body,
    ))
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
            Ok(answer(
                call.as_xml,
                AUTHENTICATION_ROOT,
                StatusCode::OK,
                &body,
            ))
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
    Ok(answer(
        call.as_xml,
        AUTHORIZATION_ROOT,
        StatusCode::OK,
        &body,
    ))
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
    Ok(answer(
        call.as_xml,
        AUTHORIZATION_ROOT,
        StatusCode::OK,
        &body,
    ))
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
    let resources = answers
        .iter()
        .map(|a| Preauthorized {
            id: &a.resource,
            authorized: a.authorized,
            error: a.error,
        })
        .collect();
    let body = Preauthorization { resources };
    Ok(match call.as_xml {
        true => {
            let elements = ResourceElements {
                resource: &body.resources,
            };
            xml(StatusCode::OK, RESOURCES_ROOT, &elements)
        }
        false => json(StatusCode::OK, &body),
    })
}

/// Preauthorization's answer in XML: `<resource>` elements under `<resources>`.
#[derive(Serialize)]
struct ResourceElements<'a> {
    resource: &'a [Preauthorized<'a>],
}

/// Preauthorization's answer; in XML, `<resource>` elements under `<resources>`.
#[derive(Serialize, ToSchema)]
#[schema(xml(name = "resources"))]
struct Preauthorization<'a> {
    resources: Vec<Preauthorized<'a>>,
}

#[derive(Serialize, ToSchema)]
struct Preauthorized<'a> {
    id: &'a str,
    authorized: bool,
    /// Why it is not authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// A media token, as the native API writes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(xml(name = "play"))]
struct NativeMediaToken {
    /// The signed token (a JWT) the edge checks.
    token: String,
    resource: String,
    requestor: String,
    user_id: String,
    mvpd: Option<String>,
    expires_at: String,
}

/// A media token, as Adobe v1 writes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(xml(name = "play"))]
struct AdobeMediaToken {
    resource: String,
    requestor: String,
    /// Epoch milliseconds.
    expires: i64,
    serialized_token: String,
    user_id: String,
    mvpd_id: Option<String>,
}

pub(super) async fn media_token(call: Call<'_>, d: Dialect) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let resource = resource(&call)?;
    let (token, claims) = call
        .entitlements
        .media_token(call.requestor, &device, &resource, None)
        .await?;
    let expires = Timestamp::from_unix_millis(claims.exp * 1000);
    Ok(match d {
        Dialect::Native => {
            let body = NativeMediaToken {
                token,
                resource: claims.res,
                requestor: claims.aud,
                user_id: claims.sub,
                mvpd: claims.mvpd,
                expires_at: rfc3339(expires),
            };
            answer(call.as_xml, PLAY_ROOT, StatusCode::OK, &body)
        }
        Dialect::Adobe => {
            let body = AdobeMediaToken {
                resource: claims.res,
                requestor: claims.aud,
                expires: expires.unix_millis(),
                serialized_token: token,
                user_id: claims.sub,
                mvpd_id: claims.mvpd,
            };
            answer(call.as_xml, PLAY_ROOT, StatusCode::OK, &body)
        }
    })
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
    let body = UserMetadata {
        user_id: user.user.as_str(),
        mvpd: user.mvpd.as_deref(),
        data: &user.metadata,
    };
    Ok(json(StatusCode::OK, &body))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserMetadata<'a> {
    user_id: &'a str,
    mvpd: Option<&'a str>,
    /// What the backend kept with the user's link.
    data: &'a BTreeMap<String, String>,
}

/// The MVPDs a device may offer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Mvpds<'a> {
    requestor: &'a str,
    display_name: &'a str,
    mvpds: Vec<Mvpd<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Mvpd<'a> {
    id: &'a str,
    display_name: &'a str,
}

/// The MVPDs a device may offer for sign-in.
pub(super) fn mvpds(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let mvpds = call
        .requestor
        .allowed_mvpds()
        .map(|m| Mvpd {
            id: &m.id,
            display_name: &m.display_name,
        })
        .collect();
    let body = Mvpds {
        requestor: &call.requestor.name,
        display_name: &call.requestor.display_name,
        mvpds,
    };
    Ok(json(StatusCode::OK, &body))
}

/// The public keys media tokens verify with, as a JWK set.
pub(super) fn media_keys(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    Ok(json(StatusCode::OK, &call.requestor.media_keys.jwks()))
}

const DEVICE_ID: Param = required("deviceId", "The device's ID.").of(Kind::DeviceId);
const RESOURCE: Param = required(
    "resource",
    "The resource: its ID, or an MRSS document naming it.",
)
.of(Kind::Resource);
const RESOURCES: Param = required("resource", "Resource IDs, comma-separated.");

const AUTHENTICATION: Body = Body::JsonOrXml(of::<AuthnBody<'static>>);
const AUTHORIZATION: Body = Body::JsonOrXml(of::<AuthzBody<'static>>);

const NOT_AUTHENTICATED: &str = "Not authenticated (`authenticated_profile_missing`, `authenticated_profile_expired`), or a credential was refused.";
const DECISION_POINT_FAILED: &str = "The MVPD's decision point failed or answered something else.";
const DECISION_POINT_SLOW: &str = "The MVPD's decision point did not answer in time.";

/// The authentication token: 404 none, 410 expired.
macro_rules! authn_token {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(200, "Who the device is authenticated as, until when.", AUTHENTICATION),
            refusal(404, "Not authenticated (`authenticated_profile_missing`)."),
            refusal(410, "The authentication expired (`authenticated_profile_expired`)."),
        ])
    };
}

macro_rules! authorize {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(200, "Authorized, until when.", AUTHORIZATION),
            refusal(403, "Denied by the MVPD (`authorization_denied_by_mvpd`) or a degradation rule; not authenticated; or a credential was refused."),
            refusal(502, DECISION_POINT_FAILED),
            refusal(504, DECISION_POINT_SLOW),
        ])
    };
}

macro_rules! authz_token {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(200, "The cached decision.", AUTHORIZATION),
            refusal(404, "No decision cached (`authorization_missing`)."),
            refusal(410, "The decision expired (`authorization_expired`)."),
            refusal(412, "The device is not authenticated."),
        ])
    };
}

macro_rules! preauthorize {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(200, "A decision per resource.", Body::JsonOrXml(of::<Preauthorization<'static>>)),
            refusal(403, NOT_AUTHENTICATED),
            refusal(502, DECISION_POINT_FAILED),
            refusal(504, DECISION_POINT_SLOW),
        ])
    };
}

macro_rules! media_token {
    ($summary:expr, [$($param:expr),*], $body:ty) => {
        contract!($summary, [$($param),*], [
            gives(200, "A media token for the resource.", Body::JsonOrXml(of::<$body>)),
            refusal(403, "Not authorized, not authenticated, or a credential was refused."),
            refusal(502, DECISION_POINT_FAILED),
            refusal(503, "No media signing key, or the store cannot answer."),
            refusal(504, DECISION_POINT_SLOW),
        ])
    };
}

macro_rules! user_metadata {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(200, "The user and what the backend kept with the link.", Body::Json(of::<UserMetadata<'static>>)),
            refusal(403, NOT_AUTHENTICATED),
        ])
    };
}

macro_rules! logout {
    ($summary:expr, [$($param:expr),*]) => {
        contract!($summary, [$($param),*], [
            gives(204, "Logged out (also when it was not signed in); its tokens are revoked.", Body::Empty),
        ])
    };
}

pub(super) const NATIVE_AUTHN_TOKEN: Contract =
    authn_token!("The device's authentication token.", []);
pub(super) const ADOBE_AUTHN_TOKEN: Contract =
    authn_token!("The device's authentication token.", [DEVICE_ID]);
pub(super) const ADOBE_AUTHN_BY_CODE: Contract = authn_token!(
    "The authentication token of the device the signed-in code was for.",
    []
);
pub(super) const ADOBE_CHECK_AUTHN: Contract = contract!(
    "Whether the device is authenticated.",
    [DEVICE_ID],
    [
        gives(200, "Authenticated.", AUTHENTICATION),
        refusal(403, NOT_AUTHENTICATED),
    ]
);
pub(super) const NATIVE_AUTHORIZE: Contract = authorize!(
    "Asks the MVPD whether the device's user may play the resource.",
    [RESOURCE]
);
pub(super) const ADOBE_AUTHORIZE: Contract = authorize!(
    "Asks the MVPD whether the device's user may play the resource.",
    [DEVICE_ID, RESOURCE]
);
pub(super) const NATIVE_AUTHZ_TOKEN: Contract =
    authz_token!("The cached authorization for the resource.", [RESOURCE]);
pub(super) const ADOBE_AUTHZ_TOKEN: Contract = authz_token!(
    "The cached authorization for the resource.",
    [DEVICE_ID, RESOURCE]
);
pub(super) const NATIVE_PREAUTHORIZE: Contract = preauthorize!(
    "Which of the resources the device's user may play.",
    [RESOURCES]
);
pub(super) const ADOBE_PREAUTHORIZE: Contract = preauthorize!(
    "Which of the resources the device's user may play.",
    [DEVICE_ID, RESOURCES]
);
pub(super) const NATIVE_MEDIA_TOKEN: Contract = media_token!(
    "A short-lived signed token to play the resource.",
    [RESOURCE],
    NativeMediaToken
);
pub(super) const ADOBE_MEDIA_TOKEN: Contract = media_token!(
    "A short-lived signed token to play the resource.",
    [DEVICE_ID, RESOURCE],
    AdobeMediaToken
);
pub(super) const NATIVE_USER_METADATA: Contract =
    user_metadata!("The device's user and their metadata.", []);
pub(super) const ADOBE_USER_METADATA: Contract =
    user_metadata!("The device's user and their metadata.", [DEVICE_ID]);
pub(super) const NATIVE_LOGOUT: Contract =
    logout!("Logs the device out: its users are unlinked.", []);
pub(super) const ADOBE_LOGOUT: Contract =
    logout!("Logs the device out: its users are unlinked.", [DEVICE_ID]);

pub(super) const MVPDS: Contract = contract!(
    "The MVPDs a device may offer (allowed, not blocked).",
    [],
    [gives(
        200,
        "The requestor and its MVPDs.",
        Body::Json(of::<Mvpds<'static>>)
    ),]
);
pub(super) const ADOBE_CONFIG: Contract = MVPDS;
pub(super) const MEDIA_KEYS: Contract = contract!(
    "The public keys media tokens verify with.",
    [],
    [gives(
        200,
        "A JWK set.",
        Body::Json(of::<linkgate_domain::media_token::JwkSet>)
    ),]
);

#[cfg(test)]
mod tests {
    use super::super::contract::xml_root;
    use super::*;

    #[test]
    fn xml_answers_have_the_roots_their_schemas_name() {
        assert_eq!(xml_root::<AuthnBody<'_>>(), AUTHENTICATION_ROOT);
        assert_eq!(xml_root::<AuthzBody<'_>>(), AUTHORIZATION_ROOT);
        assert_eq!(xml_root::<Preauthorization<'_>>(), RESOURCES_ROOT);
        assert_eq!(xml_root::<NativeMediaToken>(), PLAY_ROOT);
        assert_eq!(xml_root::<AdobeMediaToken>(), PLAY_ROOT);
    }
}
