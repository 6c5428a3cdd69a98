//! The Matchmaker dialect (seed 000): snake_case parameters, its JSON answers and its
//! error strings, verbatim.

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::answers::{
    ACCOUNT_REFUSED, ACCOUNT_WEBHOOK_FAILED, ACCOUNT_WEBHOOK_SLOW, ALREADY_LINKED,
    LINKED_DEVICE_NEEDS_ITS_TOKEN, NO_SUCH_CODE, PENDING_ABOUT,
};
use super::contract::{
    Body, Contract, Kind, SAME_REQUESTOR, contract, gives, leads_to, of, optional, refusal,
    required,
};
use super::native::{PENDING_APPROVAL, PendingApproval};
use super::response::{ApiResponse, json};
use super::{ApiError, Call};
use crate::service::{Error, IssueCode, Linked};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::Unlink;

pub(super) async fn get_auth_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = DeviceId::parse_matchmaker(&call.input.require("device_id")?)?;
    let request = IssueCode {
        proven: call.principal.acts_for(&device),
        device,
        mvpd: None,
        device_type: None,
        client: call.client_ip,
        session: None,
        ttl: None,
    };
    let issued = call.linking.issue_code(call.requestor, request).await?;
    let body = AuthCode {
        device_id: issued.record.device.as_str(),
        auth_code: issued.code.as_str(),
        device_secret: &issued.device_secret,
    };
    Ok(json(StatusCode::OK, &body))
}

pub(super) async fn link_device(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.input.require("auth_code")?;
    let user = UserId::parse_matchmaker(&call.input.require("user_id")?)?;
    let linked = call
        .linking
        .link(call.requestor, &code, user, None, Default::default())
        .await?;
    Ok(match linked {
        // The account webhook may have named another user than the one asked for.
        Linked::Now { link, user } => json(
            StatusCode::OK,
            &LinkedUser {
                device_id: link.device.as_str(),
                user_id: user.as_str(),
            },
        ),
        Linked::AwaitingApproval => json(StatusCode::ACCEPTED, &PENDING_APPROVAL),
    })
}

pub(super) async fn get_user(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let users = call
        .linking
        .authenticated_users(call.requestor, &device)
        .await?;
    if users.is_empty() {
        return Err(Error::NoUser.into());
    }
    let ids: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
    let body = DeviceUsers {
        device_id: device.as_str(),
        user_id: ids,
    };
    Ok(json(StatusCode::OK, &body))
}

pub(super) async fn unlink_device(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = DeviceId::parse_matchmaker(&call.input.require("device_id")?)?;
    let user = call
        .input
        .get("user_id")
        .map(|u| UserId::parse_matchmaker(&u))
        .transpose()?;
    let which = user.as_ref().map_or(Unlink::TheUser, Unlink::User);
    call.linking.unlink(call.requestor, &device, which).await?;
    let body = Deleted {
        deleted: "Account/device relationship terminated.",
    };
    Ok(json(StatusCode::OK, &body))
}

#[derive(Serialize, ToSchema)]
#[schema(as = MatchmakerAuthCode)]
struct AuthCode<'a> {
    device_id: &'a str,
    auth_code: &'a str,
    /// What the device exchanges, once linked, for its tokens.
    device_secret: &'a str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MatchmakerLinked)]
struct LinkedUser<'a> {
    device_id: &'a str,
    /// The user linked: the one asked for, or whom the account webhook named.
    user_id: &'a str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MatchmakerUsers)]
struct DeviceUsers<'a> {
    device_id: &'a str,
    user_id: Vec<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MatchmakerUnlinked)]
struct Deleted {
    deleted: &'static str,
}

const DEVICE_ID: &str = "The device's ID.";

pub(super) const GET_AUTH_CODE: Contract = Contract {
    links: &[leads_to(
        "LinkTheDevice",
        "post_matchmaker_link_device",
        &[SAME_REQUESTOR],
        &[("auth_code", "$response.body#/auth_code")],
    )],
    ..contract!(
        "A code for the device to show.",
        [required("device_id", DEVICE_ID).of(Kind::UserId)],
        [
            gives(
                200,
                "The code and the device's secret.",
                Body::Json(of::<AuthCode<'static>>)
            ),
            LINKED_DEVICE_NEEDS_ITS_TOKEN,
        ]
    )
};

const ABOUT_THE_DEVICE: &[(&str, &str)] = &[("device_id", "$response.body#/device_id")];

pub(super) const LINK_DEVICE: Contract = Contract {
    links: &[
        leads_to(
            "TheDevicesUsers",
            "post_matchmaker_get_user",
            &[SAME_REQUESTOR],
            ABOUT_THE_DEVICE,
        ),
        leads_to(
            "UnlinkTheDevice",
            "post_matchmaker_unlink_device",
            &[SAME_REQUESTOR],
            ABOUT_THE_DEVICE,
        ),
    ],
    ..contract!(
        "Links the device that shows `auth_code` to the user.",
        [
            required("auth_code", "The code the device shows."),
            required("user_id", "The user's ID.").of(Kind::UserId),
        ],
        [
            gives(200, "Linked.", Body::Json(of::<LinkedUser<'static>>)),
            gives(202, PENDING_ABOUT, Body::Json(of::<PendingApproval>)),
            ACCOUNT_REFUSED,
            NO_SUCH_CODE,
            ALREADY_LINKED,
            ACCOUNT_WEBHOOK_FAILED,
            ACCOUNT_WEBHOOK_SLOW,
        ]
    )
};

pub(super) const GET_USER: Contract = contract!(
    "The device's users.",
    [required("device_id", DEVICE_ID).of(Kind::UserId)],
    [
        gives(
            200,
            "The device and its users.",
            Body::Json(of::<DeviceUsers<'static>>)
        ),
        refusal(404, "The device has no user."),
    ]
);

pub(super) const UNLINK_DEVICE: Contract = contract!(
    "Unlinks the device's user (`user_id`, or its only one).",
    [
        required("device_id", DEVICE_ID).of(Kind::UserId),
        optional(
            "user_id",
            "The user to unlink; without it, the device's only user."
        ),
    ],
    [
        gives(200, "Unlinked.", Body::Json(of::<Deleted>)),
        refusal(404, "The user is not on the device."),
    ]
);
