//! The route table of every dialect.

use http::Method;

use super::{ApiError, ApiResponse, Call, adobe, matchmaker, native};

/// Every API route; its name labels metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    NativeCodes,
    NativeCode,
    NativeLinks,
    NativeDeviceUsers,
    NativeDeviceUser,
    NativeAuthn,
    MatchmakerGetAuthCode,
    MatchmakerLinkDevice,
    MatchmakerGetUser,
    MatchmakerUnlinkDevice,
    AdobeRegcode,
    AdobeRegcodeRecord,
}

const TABLE: &[(&str, Route)] = &[
    ("/v1/requestors/{requestor}/codes", Route::NativeCodes),
    ("/v1/requestors/{requestor}/codes/{code}", Route::NativeCode),
    ("/v1/requestors/{requestor}/links", Route::NativeLinks),
    (
        "/v1/requestors/{requestor}/devices/{device}/users",
        Route::NativeDeviceUsers,
    ),
    (
        "/v1/requestors/{requestor}/devices/{device}/users/{user}",
        Route::NativeDeviceUser,
    ),
    (
        "/v1/requestors/{requestor}/devices/{device}/authn",
        Route::NativeAuthn,
    ),
    (
        "/matchmaker/{requestor}/get_auth_code",
        Route::MatchmakerGetAuthCode,
    ),
    (
        "/matchmaker/{requestor}/link_device",
        Route::MatchmakerLinkDevice,
    ),
    (
        "/matchmaker/{requestor}/register_user",
        Route::MatchmakerLinkDevice,
    ),
    ("/matchmaker/{requestor}/get_user", Route::MatchmakerGetUser),
    (
        "/matchmaker/{requestor}/unlink_device",
        Route::MatchmakerUnlinkDevice,
    ),
    ("/reggie/v1/{requestor}/regcode", Route::AdobeRegcode),
    (
        "/reggie/v1/{requestor}/regcode/{code}",
        Route::AdobeRegcodeRecord,
    ),
];

pub(super) fn router() -> matchit::Router<Route> {
    let mut router = matchit::Router::new();
    for (path, route) in TABLE {
        router
            .insert(*path, *route)
            .expect("the route table has no overlaps");
    }
    router
}

impl Route {
    /// A fixed name, for metric labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            Route::NativeCodes => "native_codes",
            Route::NativeCode => "native_code",
            Route::NativeLinks => "native_links",
            Route::NativeDeviceUsers => "native_device_users",
            Route::NativeDeviceUser => "native_device_user",
            Route::NativeAuthn => "native_authn",
            Route::MatchmakerGetAuthCode => "matchmaker_get_auth_code",
            Route::MatchmakerLinkDevice => "matchmaker_link_device",
            Route::MatchmakerGetUser => "matchmaker_get_user",
            Route::MatchmakerUnlinkDevice => "matchmaker_unlink_device",
            Route::AdobeRegcode => "adobe_regcode",
            Route::AdobeRegcodeRecord => "adobe_regcode_record",
        }
    }

    pub(super) fn methods(self) -> &'static [&'static str] {
        match self {
            Route::NativeCodes | Route::NativeLinks | Route::AdobeRegcode => &["POST"],
            Route::NativeCode | Route::AdobeRegcodeRecord => &["GET", "DELETE"],
            Route::NativeDeviceUsers => &["GET", "DELETE"],
            Route::NativeDeviceUser => &["DELETE"],
            Route::NativeAuthn => &["GET"],
            Route::MatchmakerGetAuthCode | Route::MatchmakerGetUser => &["GET", "POST"],
            Route::MatchmakerLinkDevice | Route::MatchmakerUnlinkDevice => &["POST"],
        }
    }

    /// Calls only the requestor's backend may make: linking, unlinking, reading codes.
    /// Devices issue codes and ask about themselves without a credential.
    pub(super) fn needs_backend(self, method: &Method) -> bool {
        match self {
            Route::NativeCodes
            | Route::NativeAuthn
            | Route::MatchmakerGetAuthCode
            | Route::MatchmakerGetUser
            | Route::AdobeRegcode => false,
            Route::NativeDeviceUsers => method != Method::GET,
            Route::NativeCode
            | Route::NativeLinks
            | Route::NativeDeviceUser
            | Route::MatchmakerLinkDevice
            | Route::MatchmakerUnlinkDevice
            | Route::AdobeRegcodeRecord => true,
        }
    }

    pub(super) fn is_matchmaker(self) -> bool {
        matches!(
            self,
            Route::MatchmakerGetAuthCode
                | Route::MatchmakerLinkDevice
                | Route::MatchmakerGetUser
                | Route::MatchmakerUnlinkDevice
        )
    }

    pub(super) async fn handle(
        self,
        method: &Method,
        call: Call<'_>,
    ) -> Result<ApiResponse, ApiError> {
        let delete = method == Method::DELETE;
        match self {
            Route::NativeCodes => native::issue_code(call).await,
            Route::NativeCode if delete => native::delete_code(call).await,
            Route::NativeCode => native::code(call),
            Route::NativeLinks => native::link(call).await,
            Route::NativeDeviceUsers if delete => native::unlink_all(call).await,
            Route::NativeDeviceUsers => native::users(call),
            Route::NativeDeviceUser => native::unlink_user(call).await,
            Route::NativeAuthn => native::authn(call),
            Route::MatchmakerGetAuthCode => matchmaker::get_auth_code(call).await,
            Route::MatchmakerLinkDevice => matchmaker::link_device(call).await,
            Route::MatchmakerGetUser => matchmaker::get_user(call),
            Route::MatchmakerUnlinkDevice => matchmaker::unlink_device(call).await,
            Route::AdobeRegcode => adobe::create_regcode(call).await,
            Route::AdobeRegcodeRecord if delete => adobe::delete_regcode(call).await,
            Route::AdobeRegcodeRecord => adobe::regcode(call),
        }
    }
}
