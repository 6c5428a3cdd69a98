//! Profiles: who the device is authenticated as, at which MVPD, until when; and logout,
//! which ends that.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::super::contract::{Body, Contract, contract, gives, of, required};
use super::super::response::{ApiResponse, json};
use super::super::{ApiError, Call};
use super::{device, v2_error};
use crate::service::{Entitled, Error, Standing, TempPasses};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::link::{LinkError, Unlink};

/// The issuer of profiles nobody signed in for (a degradation rule's, a TempPass window's):
/// this gateway, not the MVPD.
const OWN_ISSUER: &str = "linkgate";

/// The device's profile at its MVPD, as v2 writes it: its window, issuer and attributes
/// (the user's ID and the metadata kept with the link), in plain text; a profile nobody
/// signed in for has no user, and says why it exists.
fn profile(entitled: &Entitled) -> Profile {
    let user = &entitled.user;
    let (kind, issuer) = match entitled.standing {
        Standing::SignedIn => ("regular", user.mvpd.clone().unwrap_or_default()),
        Standing::Degraded => ("degraded", OWN_ISSUER.to_owned()),
        Standing::TempPass => ("temporary", OWN_ISSUER.to_owned()),
    };
    let mut attributes = BTreeMap::new();
    match entitled.standing {
        Standing::SignedIn => {
            attributes.insert("userID".to_owned(), Attribute::plain(user.user.to_string()));
        }
        Standing::TempPass => {
            let ends = user.authn_expires_at.unix_millis().to_string();
            attributes.insert("expiration_date".to_owned(), Attribute::plain(ends));
        }
        Standing::Degraded => {}
    }
    for (name, value) in &user.metadata {
        attributes.insert(name.clone(), Attribute::plain(value.clone()));
    }
    Profile {
        not_before: user.linked_at.unix_millis(),
        not_after: user.authn_expires_at.unix_millis(),
        issuer,
        kind,
        attributes,
    }
}

/// The device's profiles, by MVPD.
#[derive(Serialize, ToSchema)]
struct Profiles {
    profiles: BTreeMap<String, Profile>,
}

/// Who the device is authenticated as at one MVPD, until when.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Profile {
    /// Epoch milliseconds.
    not_before: i64,
    not_after: i64,
    /// The MVPD, or `linkgate` for a profile nobody signed in for.
    issuer: String,
    /// `regular`, `degraded` or `temporary`.
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: BTreeMap<String, Attribute>,
}

#[derive(Serialize, ToSchema)]
struct Attribute {
    value: String,
    /// Always `plain`.
    state: &'static str,
}

impl Attribute {
    fn plain(value: String) -> Self {
        Self {
            value,
            state: "plain",
        }
    }
}

/// What a logout left to do, by MVPD.
#[derive(Serialize, ToSchema)]
struct Logouts<'a> {
    logouts: BTreeMap<&'a str, LogoutAction<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LogoutAction<'a> {
    /// `complete`, or `invalid` when the device was not authenticated there.
    action_name: &'static str,
    /// Always `none`: nothing is left to do at the MVPD.
    action_type: &'static str,
    mvpd: &'a str,
}

/// The device's profiles, that at `only` when given: the one it signed in for, one at each
/// MVPD whose `authnAll` rule is in force, one at each TempPass MVPD where its window is
/// open; none is an empty map. The device's link is
/// read once.
async fn profiles_of(
    call: &Call<'_>,
    device: &DeviceId,
    only: Option<&str>,
) -> Result<ApiResponse, ApiError> {
    let mut profiles = BTreeMap::new();
    match call.entitlements.authn(call.requestor, device).await {
        Ok(user) if only.is_none_or(|m| user.mvpd.as_deref() == Some(m)) => {
            let mvpd = user.mvpd.clone().unwrap_or_default();
            let entitled = Entitled {
                user,
                standing: Standing::SignedIn,
            };
            profiles.insert(mvpd, profile(&entitled));
        }
        Ok(_) | Err(Error::AuthnMissing | Error::AuthnExpired) => {}
        Err(e) => return Err(v2_error(e)),
    }
    // Beside it, one at each MVPD asked about whose `authnAll` rule is in force.
    let asked: Vec<&str> = match only {
        Some(mvpd) => vec![mvpd],
        None => call
            .requestor
            .allowed_mvpds()
            .map(|m| m.id.as_str())
            .collect(),
    };
    for mvpd in asked {
        if profiles.contains_key(mvpd) {
            continue;
        }
        if let Some(user) = call.entitlements.stand_in(call.requestor, mvpd) {
            let entitled = Entitled {
                user,
                standing: Standing::Degraded,
            };
            profiles.insert(mvpd.to_owned(), profile(&entitled));
        }
    }
    // And one at each TempPass MVPD where its window is open.
    let windows = call
        .entitlements
        .temp_passes()
        .open_windows(call.requestor, device);
    for user in windows.await.map_err(v2_error)? {
        let mvpd = user.mvpd.clone().unwrap_or_default();
        if only.is_none_or(|m| m == mvpd) {
            let standing = Standing::TempPass;
            profiles.insert(mvpd, profile(&Entitled { user, standing }));
        }
    }
    Ok(json(StatusCode::OK, &Profiles { profiles }))
}

/// `GET /api/v2/{sp}/profiles` and `/profiles/{mvpd}`: the device's own.
pub(in crate::api) async fn of_device(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device::of(&call)?;
    profiles_of(&call, &device, call.path.mvpd).await
}

/// `GET /api/v2/{sp}/profiles/code/{code}`: the profile a sign-in with the code made, for
/// the second screen that drove it.
pub(in crate::api) async fn of_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.path.code.unwrap_or_default();
    let record = match call.linking.signed_in_code(call.requestor, code).await {
        Ok(record) => record,
        Err(Error::CodeNotFound) => {
            let profiles = BTreeMap::new();
            return Ok(json(StatusCode::OK, &Profiles { profiles }));
        }
        Err(e) => return Err(v2_error(e)),
    };
    profiles_of(&call, &record.device, None).await
}

/// `GET /api/v2/{sp}/logout/{mvpd}?redirectUrl=`: the device's authentication removed;
/// nothing is left to do at the MVPD. At a TempPass MVPD the open window ends (spent: a
/// logout never gives a device a second one).
pub(in crate::api) async fn logout(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device::of(&call)?;
    let mvpd = call.path.mvpd.unwrap_or_default();
    let redirect = call.input.require("redirectUrl")?;
    if call.requestor.adobe.return_to(&redirect).is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_redirect_url",
            "the redirectUrl is not on one of this service provider's domains",
        ));
    }
    if TempPasses::mvpd(call.requestor, mvpd).is_some() {
        let ended = call
            .entitlements
            .temp_passes()
            .end(call.requestor, &device, mvpd);
        let action = match ended.await.map_err(v2_error)? {
            true => "complete",
            false => "invalid",
        };
        return Ok(logged_out(mvpd, action));
    }
    let action = match call.entitlements.authn(call.requestor, &device).await {
        Ok(user) if user.mvpd.as_deref() == Some(mvpd) => {
            match call
                .linking
                .unlink(call.requestor, &device, Unlink::Everyone)
                .await
            {
                Ok(()) | Err(Error::Link(LinkError::NoUserOnDevice)) => "complete",
                Err(e) => return Err(v2_error(e)),
            }
        }
        Ok(_) | Err(Error::AuthnMissing | Error::AuthnExpired) => "invalid",
        Err(e) => return Err(v2_error(e)),
    };
    Ok(logged_out(mvpd, action))
}

fn logged_out(mvpd: &str, action: &'static str) -> ApiResponse {
    let done = LogoutAction {
        action_name: action,
        action_type: "none",
        mvpd,
    };
    let body = Logouts {
        logouts: BTreeMap::from([(mvpd, done)]),
    };
    json(StatusCode::OK, &body)
}

const PROFILES_ANSWER: Body = Body::Json(of::<Profiles>);

pub(in crate::api) const OF_DEVICE: Contract = contract!(
    "The device's profiles (at `{mvpd}` only, when given): signed in, degraded, TempPass.",
    [],
    [gives(
        200,
        "The profiles by MVPD (none: an empty map).",
        PROFILES_ANSWER
    )]
);

pub(in crate::api) const OF_CODE: Contract = contract!(
    "The profile a sign-in with the code made, for the second screen that drove it.",
    [],
    [gives(
        200,
        "The profiles by MVPD (none yet: an empty map).",
        PROFILES_ANSWER
    )]
);

pub(in crate::api) const LOGOUT: Contract = contract!(
    "Ends the device's authentication at the MVPD (a TempPass window: spent).",
    [required(
        "redirectUrl",
        "Where the app goes next: on one of the service provider's domains."
    )],
    [gives(
        200,
        "What the logout left to do.",
        Body::Json(of::<Logouts<'static>>)
    )]
);
