//! The route table of every dialect.

use http::Method;

use super::entitlement::{self, Dialect};
use super::error::ErrorFields;
use super::{ApiError, ApiResponse, Call, adobe, matchmaker, native, oauth};

/// Every API route; its name labels metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    NativeCodes,
    NativeCode,
    NativeLinks,
    NativeDeviceUsers,
    NativeDeviceUser,
    NativeAuthn,
    NativeAuthnToken,
    NativeAuthorize,
    NativeAuthzToken,
    NativePreauthorize,
    NativeMediaToken,
    NativeMetadata,
    NativeMvpds,
    NativeMediaKeys,
    MatchmakerGetAuthCode,
    MatchmakerLinkDevice,
    MatchmakerGetUser,
    MatchmakerUnlinkDevice,
    AdobeRegcode,
    AdobeRegcodeRecord,
    AdobeConfig,
    AdobeCheckAuthn,
    AdobeAuthnToken,
    AdobeAuthorize,
    AdobeAuthzToken,
    AdobeMediaToken,
    AdobePreauthorize,
    AdobeLogout,
    AdobeUserMetadata,
    OAuthDeviceAuthorization,
    OAuthToken,
}

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Devices (and anyone): no credential.
    Device,
    /// The requestor's backend, with its key.
    Backend,
    /// Devices read, the backend changes.
    BackendWrites,
}

use Caller::{Backend, BackendWrites, Device};

struct Entry {
    path: &'static str,
    route: Route,
    name: &'static str,
    methods: &'static [&'static str],
    caller: Caller,
}

const fn entry(
    path: &'static str,
    route: Route,
    name: &'static str,
    methods: &'static [&'static str],
    caller: Caller,
) -> Entry {
    Entry {
        path,
        route,
        name,
        methods,
        caller,
    }
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];
const GET_POST: &[&str] = &["GET", "POST"];
const GET_DELETE: &[&str] = &["GET", "DELETE"];
const DELETE: &[&str] = &["DELETE"];

/// A path under one device of a requestor.
macro_rules! device {
    ($tail:literal) => {
        concat!("/v1/requestors/{requestor}/devices/{device}", $tail)
    };
}

#[rustfmt::skip]
const TABLE: &[Entry] = &[
    entry("/v1/requestors/{requestor}/codes", Route::NativeCodes, "native_codes", POST, Device),
    entry("/v1/requestors/{requestor}/codes/{code}", Route::NativeCode, "native_code", GET_DELETE, Backend),
    entry("/v1/requestors/{requestor}/links", Route::NativeLinks, "native_links", POST, Backend),
    entry("/v1/requestors/{requestor}/mvpds", Route::NativeMvpds, "native_mvpds", GET, Device),
    entry("/v1/requestors/{requestor}/media-keys", Route::NativeMediaKeys, "native_media_keys", GET, Device),
    entry(device!("/users"), Route::NativeDeviceUsers, "native_device_users", GET_DELETE, BackendWrites),
    entry(device!("/users/{user}"), Route::NativeDeviceUser, "native_device_user", DELETE, Backend),
    entry(device!("/authn"), Route::NativeAuthn, "native_authn", GET_DELETE, Device),
    entry(device!("/authn/token"), Route::NativeAuthnToken, "native_authn_token", GET, Device),
    entry(device!("/authorize"), Route::NativeAuthorize, "native_authorize", GET, Device),
    entry(device!("/authz"), Route::NativeAuthzToken, "native_authz_token", GET, Device),
    entry(device!("/preauthorize"), Route::NativePreauthorize, "native_preauthorize", GET, Device),
    entry(device!("/media-token"), Route::NativeMediaToken, "native_media_token", GET, Device),
    entry(device!("/metadata"), Route::NativeMetadata, "native_metadata", GET, Device),
    entry("/matchmaker/{requestor}/get_auth_code", Route::MatchmakerGetAuthCode, "matchmaker_get_auth_code", GET_POST, Device),
    entry("/matchmaker/{requestor}/link_device", Route::MatchmakerLinkDevice, "matchmaker_link_device", POST, Backend),
    entry("/matchmaker/{requestor}/register_user", Route::MatchmakerLinkDevice, "matchmaker_link_device", POST, Backend),
    entry("/matchmaker/{requestor}/get_user", Route::MatchmakerGetUser, "matchmaker_get_user", GET_POST, Device),
    entry("/matchmaker/{requestor}/unlink_device", Route::MatchmakerUnlinkDevice, "matchmaker_unlink_device", POST, Backend),
    entry("/reggie/v1/{requestor}/regcode", Route::AdobeRegcode, "adobe_regcode", POST, Device),
    entry("/reggie/v1/{requestor}/regcode/{code}", Route::AdobeRegcodeRecord, "adobe_regcode_record", GET_DELETE, Backend),
    entry("/api/v1/config/{requestor}", Route::AdobeConfig, "adobe_config", GET, Device),
    entry("/api/v1/checkauthn", Route::AdobeCheckAuthn, "adobe_checkauthn", GET, Device),
    entry("/api/v1/tokens/authn", Route::AdobeAuthnToken, "adobe_authn_token", GET, Device),
    entry("/api/v1/authorize", Route::AdobeAuthorize, "adobe_authorize", GET, Device),
    entry("/api/v1/tokens/authz", Route::AdobeAuthzToken, "adobe_authz_token", GET, Device),
    entry("/api/v1/tokens/media", Route::AdobeMediaToken, "adobe_media_token", GET, Device),
    entry("/api/v1/preauthorize", Route::AdobePreauthorize, "adobe_preauthorize", GET, Device),
    entry("/api/v1/logout", Route::AdobeLogout, "adobe_logout", DELETE, Device),
    entry("/api/v1/tokens/usermetadata", Route::AdobeUserMetadata, "adobe_usermetadata", GET, Device),
    entry("/oauth/{requestor}/device_authorization", Route::OAuthDeviceAuthorization, "oauth_device_authorization", POST, Device),
    entry("/oauth/{requestor}/token", Route::OAuthToken, "oauth_token", POST, Device),
];

pub(super) fn router() -> matchit::Router<Route> {
    let mut router = matchit::Router::new();
    for e in TABLE {
        router
            .insert(e.path, e.route)
            .expect("the route table has no overlaps");
    }
    router
}

impl Route {
    fn entry(self) -> &'static Entry {
        TABLE
            .iter()
            .find(|e| e.route == self)
            .expect("every route is in the table")
    }

    /// A fixed name, for metric labels and logs.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    pub(super) fn methods(self) -> &'static [&'static str] {
        self.entry().methods
    }

    /// Calls only the requestor's backend may make: linking, unlinking, reading codes.
    pub(super) fn needs_backend(self, method: &Method) -> bool {
        match self.entry().caller {
            Device => false,
            Backend => true,
            BackendWrites => method != Method::GET,
        }
    }

    pub(super) fn error_fields(self) -> ErrorFields {
        let name = self.entry().name;
        if name.starts_with("matchmaker_") {
            ErrorFields::Matchmaker
        } else if name.starts_with("oauth_") {
            ErrorFields::OAuth
        } else {
            ErrorFields::Common
        }
    }

    pub(super) async fn handle(
        self,
        method: &Method,
        call: Call<'_>,
    ) -> Result<ApiResponse, ApiError> {
        use Dialect::{Adobe, Native};
        let delete = method == Method::DELETE;
        match self {
            Route::NativeCodes => native::issue_code(call).await,
            Route::NativeCode if delete => native::delete_code(call).await,
            Route::NativeCode => native::code(call),
            Route::NativeLinks => native::link(call).await,
            Route::NativeDeviceUsers if delete => native::unlink_all(call).await,
            Route::NativeDeviceUsers => native::users(call),
            Route::NativeDeviceUser => native::unlink_user(call).await,
            Route::NativeAuthn if delete => entitlement::logout(call, Native).await,
            Route::NativeAuthn => native::authn(call),
            Route::NativeAuthnToken => entitlement::authn_token(call, Native),
            Route::NativeAuthorize => entitlement::authorize(call, Native).await,
            Route::NativeAuthzToken => entitlement::authz_token(call, Native).await,
            Route::NativePreauthorize => entitlement::preauthorize(call, Native).await,
            Route::NativeMediaToken => entitlement::media_token(call, Native).await,
            Route::NativeMetadata => entitlement::user_metadata(call, Native),
            Route::NativeMvpds => entitlement::mvpds(call),
            Route::NativeMediaKeys => entitlement::media_keys(call),
            Route::MatchmakerGetAuthCode => matchmaker::get_auth_code(call).await,
            Route::MatchmakerLinkDevice => matchmaker::link_device(call).await,
            Route::MatchmakerGetUser => matchmaker::get_user(call),
            Route::MatchmakerUnlinkDevice => matchmaker::unlink_device(call).await,
            Route::AdobeRegcode => adobe::create_regcode(call).await,
            Route::AdobeRegcodeRecord if delete => adobe::delete_regcode(call).await,
            Route::AdobeRegcodeRecord => adobe::regcode(call),
            Route::AdobeConfig => entitlement::mvpds(call),
            Route::AdobeCheckAuthn => entitlement::check_authn(call, Adobe),
            Route::AdobeAuthnToken => entitlement::authn_token(call, Adobe),
            Route::AdobeAuthorize => entitlement::authorize(call, Adobe).await,
            Route::AdobeAuthzToken => entitlement::authz_token(call, Adobe).await,
            Route::AdobeMediaToken => entitlement::media_token(call, Adobe).await,
            Route::AdobePreauthorize => entitlement::preauthorize(call, Adobe).await,
            Route::AdobeLogout => entitlement::logout(call, Adobe).await,
            Route::AdobeUserMetadata => entitlement::user_metadata(call, Adobe),
            Route::OAuthDeviceAuthorization => oauth::device_authorization(call).await,
            Route::OAuthToken => oauth::token(call).await,
        }
    }
}
