//! The Matchmaker dialect (seed 000): snake_case parameters, its JSON answers and its
//! error strings, verbatim.

use http::StatusCode;
use serde_json::json;

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
    Ok(json(
        StatusCode::OK,
        &json!({
            "device_id": issued.record.device.as_str(),
            "auth_code": issued.code.as_str(),
            "device_secret": issued.device_secret,
        }),
    ))
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
            &json!({ "device_id": link.device.as_str(), "user_id": user.as_str() }),
        ),
        Linked::AwaitingApproval => json(
            StatusCode::ACCEPTED,
            &json!({ "status": "pending_approval" }),
        ),
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
    Ok(json(
        StatusCode::OK,
        &json!({ "device_id": device.as_str(), "user_id": ids }),
    ))
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
    Ok(json(
        StatusCode::OK,
        &json!({ "deleted": "Account/device relationship terminated." }),
    ))
}
