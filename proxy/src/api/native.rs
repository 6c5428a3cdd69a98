//! The native API, `/v1/requestors/{requestor}/...`: JSON, camelCase, RFC 3339 times.

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::answers::{
    ACCOUNT_REFUSED, ACCOUNT_WEBHOOK_FAILED, ACCOUNT_WEBHOOK_SLOW, ALREADY_LINKED, CODE_DROPPED,
    LINKED_DEVICE_NEEDS_ITS_TOKEN, NO_FREE_CODE, NO_SUCH_CODE, PENDING_ABOUT,
};
use super::contract::{
    Body, Contract, Kind, Link, SAME_REQUESTOR, contract, gives, leads_to, of, optional, refusal,
    required,
};
use super::response::{ApiResponse, json, no_content, rfc3339};
use super::{ApiError, Call};
use crate::service::{IssueCode, IssuedCode, Linked};
use linkgate_domain::code::{Code, CodeRecord};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{LinkedUser, Unlink};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Code)]
struct CodeView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_code: Option<String>,
    requestor: &'a str,
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mvpd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type: Option<&'a str>,
    issued_at: String,
    expires_at: String,
    /// Only in the answer to the device that asked: what it exchanges for its tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_secret: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LinkedUser)]
struct UserView<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mvpd: Option<&'a str>,
    linked_at: String,
    authn_expires_at: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    metadata: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Device)]
struct DeviceView<'a> {
    requestor: &'a str,
    device_id: &'a str,
    users: Vec<UserView<'a>>,
}

/// A code record; the clear code only in the answer to the device that asked for it.
fn code_view<'a>(record: &'a CodeRecord, code: Option<&'a Code>) -> CodeView<'a> {
    CodeView {
        code: code.map(Code::as_str),
        display_code: code.map(Code::display),
        requestor: &record.requestor,
        device_id: record.device.as_str(),
        mvpd: record.mvpd.as_deref(),
        device_type: record.device_type.as_deref(),
        issued_at: rfc3339(record.issued_at),
        expires_at: rfc3339(record.expires_at),
        device_secret: None,
    }
}

fn user_view(u: &LinkedUser) -> UserView<'_> {
    UserView {
        user_id: u.user.as_str(),
        mvpd: u.mvpd.as_deref(),
        linked_at: rfc3339(u.linked_at),
        authn_expires_at: rfc3339(u.authn_expires_at),
        metadata: &u.metadata,
    }
}

fn device_view<'a>(
    requestor: &'a str,
    device: &'a DeviceId,
    users: &'a [LinkedUser],
) -> DeviceView<'a> {
    DeviceView {
        requestor,
        device_id: device.as_str(),
        users: users.iter().map(user_view).collect(),
    }
}

/// A device's request for a code: `deviceId`, `mvpd`, `deviceType`, and the TTL in
/// seconds under the dialect's name for it.
pub(super) fn issue_request(
    call: &Call<'_>,
    ttl_param: &'static str,
) -> Result<IssueCode, ApiError> {
    let device = DeviceId::parse(&call.input.require("deviceId")?)?;
    Ok(IssueCode {
        proven: call.principal.acts_for(&device),
        device,
        mvpd: call.input.get("mvpd").map(Into::into),
        device_type: call.input.get("deviceType").map(Into::into),
        client: call.client_ip,
        session: None,
        ttl: call.input.seconds(ttl_param)?,
    })
}

pub(super) async fn issue_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let request = issue_request(&call, "ttlSeconds")?;
    let IssuedCode {
        code,
        record,
        device_secret,
    } = call.linking.issue_code(call.requestor, request).await?;
    let view = CodeView {
        device_secret: Some(&device_secret),
        ..code_view(&record, Some(&code))
    };
    Ok(json(StatusCode::CREATED, &view))
}

pub(super) async fn code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let record = call
        .linking
        .find_code(call.requestor, call.path.code.unwrap_or_default())
        .await?;
    Ok(json(StatusCode::OK, &code_view(&record, None)))
}

pub(super) async fn delete_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    call.linking
        .delete_code(call.requestor, call.path.code.unwrap_or_default())
        .await?;
    Ok(no_content())
}

pub(super) async fn link(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.input.require("code")?;
    let user = UserId::parse(&call.input.require("userId")?)?;
    let metadata = call.input.string_map("metadata")?;
    let mvpd = call.input.get("mvpd");
    let linked = call
        .linking
        .link(call.requestor, &code, user, mvpd.as_deref(), metadata)
        .await?;
    Ok(linked_view(linked))
}

/// The requestor's backend decides a link it answered "pending" for.
pub(super) async fn approve(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let answer = call.input.require("answer")?;
    // A JSON number and its digits in a form mean the same: 0, -1 or a numeric user ID.
    let answer = answer
        .parse::<i64>()
        .map_or_else(|_| serde_json::Value::from(answer.as_ref()), Into::into);
    let code = call.path.code.unwrap_or_default();
    let linked = call.linking.approve(call.requestor, code, &answer).await?;
    Ok(linked_view(linked))
}

/// A link the account webhook held until the backend approves it.
#[derive(Serialize, ToSchema)]
pub(super) struct PendingApproval {
    /// Always `pending_approval`.
    status: &'static str,
}

pub(super) const PENDING_APPROVAL: PendingApproval = PendingApproval {
    status: "pending_approval",
};

/// 201 with the device's users, or 202 while the requestor's backend has yet to approve.
fn linked_view(linked: Linked) -> ApiResponse {
    match linked {
        Linked::Now { link, .. } => json(
            StatusCode::CREATED,
            &device_view(&link.requestor, &link.device, &link.users),
        ),
        Linked::AwaitingApproval => json(StatusCode::ACCEPTED, &PENDING_APPROVAL),
    }
}

/// The device in the path of a backend call.
fn device(call: &Call<'_>) -> Result<DeviceId, ApiError> {
    Ok(DeviceId::parse(call.path.device.unwrap_or_default())?)
}

pub(super) async fn users(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    let users = call
        .linking
        .authenticated_users(call.requestor, &device)
        .await?;
    Ok(json(
        StatusCode::OK,
        &device_view(&call.requestor.name, &device, &users),
    ))
}

pub(super) async fn authn(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = call.device()?;
    call.entitlements.authn(call.requestor, &device).await?;
    let users = call
        .linking
        .authenticated_users(call.requestor, &device)
        .await?;
    Ok(json(
        StatusCode::OK,
        &device_view(&call.requestor.name, &device, &users),
    ))
}

pub(super) async fn unlink_all(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device(&call)?;
    call.linking
        .unlink(call.requestor, &device, Unlink::Everyone)
        .await?;
    Ok(no_content())
}

/// `DELETE .../devices/{device}/temp-passes/{mvpd}`: the backend forgets the device's
/// TempPass window at `{mvpd}`, so that it may open another; 404 when it had none.
pub(super) async fn reset_temp_pass(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device(&call)?;
    let mvpd = call.path.mvpd.unwrap_or_default();
    // Any MVPD the device has a window at, even one no longer a TempPass (the window would
    // be spent again were it to become one).
    let passes = call.entitlements.temp_passes();
    match passes.reset(call.requestor, &device, mvpd).await? {
        true => Ok(no_content()),
        false => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "temp_pass_not_found",
            "the device has no window at that MVPD",
        )),
    }
}

pub(super) async fn unlink_user(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let device = device(&call)?;
    let user = UserId::parse(call.path.user.unwrap_or_default())?;
    call.linking
        .unlink(call.requestor, &device, Unlink::User(&user))
        .await?;
    Ok(no_content())
}

const DEVICE_ID: &str = "The device's ID: letters, digits, `_`, `-` and `=`, at most 128.";

/// A device-side call about the device an answer names.
const fn about_device(name: &'static str, operation: &'static str) -> Link {
    leads_to(
        name,
        operation,
        &[SAME_REQUESTOR, ("path.device", "$response.body#/deviceId")],
        &[],
    )
}

pub(super) const ISSUE_CODE: Contract = Contract {
    links: &[
        leads_to(
            "LinkTheCode",
            "post_native_links",
            &[SAME_REQUESTOR],
            &[("code", "$response.body#/code")],
        ),
        leads_to(
            "ReadTheCode",
            "get_native_code",
            &[SAME_REQUESTOR, ("path.code", "$response.body#/code")],
            &[],
        ),
        leads_to(
            "DropTheCode",
            "delete_native_code",
            &[SAME_REQUESTOR, ("path.code", "$response.body#/code")],
            &[],
        ),
    ],
    ..contract!(
        "A code for a device to show; a new one retires the device's previous code.",
        [
            required("deviceId", DEVICE_ID).of(Kind::DeviceId),
            optional(
                "mvpd",
                "The MVPD the person will sign in with, when already chosen."
            ),
            optional(
                "deviceType",
                "What kind of device it is, kept with the code."
            ),
            optional(
                "ttlSeconds",
                "How long the code lives, within the requestor's bounds."
            )
            .of(Kind::Seconds),
        ],
        [
            gives(
                201,
                "The code, its display form and the device's secret.",
                Body::Json(of::<CodeView<'static>>)
            ),
            LINKED_DEVICE_NEEDS_ITS_TOKEN,
            NO_FREE_CODE,
        ]
    )
};

pub(super) const CODE: Contract = contract!(
    "A code's record (never the device's secret).",
    [],
    [
        gives(
            200,
            "The code's record.",
            Body::Json(of::<CodeView<'static>>)
        ),
        NO_SUCH_CODE,
    ]
);

pub(super) const DELETE_CODE: Contract = contract!(
    "Takes a code out of use.",
    [],
    [CODE_DROPPED, NO_SUCH_CODE,]
);

const LINKED: &str = "The device and its users.";

pub(super) const LINK: Contract = Contract {
    links: &[
        about_device("DeviceAuthentication", "get_native_authn"),
        about_device("DeviceAuthenticationToken", "get_native_authn_token"),
        about_device("DeviceAuthorization", "get_native_authorize"),
        about_device("DeviceMediaToken", "get_native_media_token"),
        about_device("DeviceMetadata", "get_native_metadata"),
        about_device("DeviceLogout", "delete_native_authn"),
        about_device("DeviceUnlink", "delete_native_device_users"),
    ],
    ..contract!(
        "Links the device that shows `code` to a user.",
        [
            required("code", "The code the device shows, as typed."),
            required("userId", "The user's ID.").of(Kind::UserId),
            optional("mvpd", "The MVPD the user signed in with."),
            optional("metadata", "Strings kept with the user's link.").of(Kind::Strings),
        ],
        [
            gives(201, LINKED, Body::Json(of::<DeviceView<'static>>)),
            gives(202, PENDING_ABOUT, Body::Json(of::<PendingApproval>)),
            ACCOUNT_REFUSED,
            NO_SUCH_CODE,
            ALREADY_LINKED,
            ACCOUNT_WEBHOOK_FAILED,
            ACCOUNT_WEBHOOK_SLOW,
        ]
    )
};

pub(super) const APPROVE: Contract = contract!(
    "Decides a link the account webhook held: a user ID, `0` (a new user) or `-1`.",
    [required(
        "answer",
        "A user ID, `0` for a new user, or `-1` to refuse."
    )],
    [
        gives(201, LINKED, Body::Json(of::<DeviceView<'static>>)),
        refusal(
            403,
            "Refused with `-1` (`account_unauthorized`), or a credential was refused."
        ),
        refusal(404, "No link waits on this code (`approval_not_found`)."),
        ALREADY_LINKED,
    ]
);

pub(super) const USERS: Contract = contract!(
    "The device's authenticated users (possibly none).",
    [],
    [gives(200, LINKED, Body::Json(of::<DeviceView<'static>>))]
);

pub(super) const AUTHN: Contract = contract!(
    "Whether the device is authenticated, with its users.",
    [],
    [
        gives(200, LINKED, Body::Json(of::<DeviceView<'static>>)),
        refusal(
            403,
            "Not authenticated (`authenticated_profile_missing`), or a credential was refused."
        ),
    ]
);

pub(super) const UNLINK_ALL: Contract = contract!(
    "Unlinks every user of the device.",
    [],
    [
        gives(
            204,
            "Unlinked; the device's tokens are revoked.",
            Body::Empty
        ),
        refusal(404, "The device has no user (`no_user_on_device`)."),
    ]
);

pub(super) const UNLINK_USER: Contract = contract!(
    "Unlinks one user of the device.",
    [],
    [
        gives(204, "Unlinked.", Body::Empty),
        refusal(404, "The user is not on the device (`no_user_on_device`)."),
    ]
);

pub(super) const RESET_TEMP_PASS: Contract = contract!(
    "Forgets the device's TempPass window at the MVPD, so it may open another.",
    [],
    [
        gives(204, "Forgotten.", Body::Empty),
        refusal(
            404,
            "The device has no window at that MVPD (`temp_pass_not_found`)."
        ),
    ]
);
