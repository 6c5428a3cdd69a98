//! The route table of every dialect.

use http::Method;
use linkgate_crds::DeviceDialect;

use super::contract::Contract;
use super::entitlement::{self, Dialect};
use super::error::ErrorFields;
use super::{
    ApiError, ApiResponse, Call, activation, adobe, adobe_v2, matchmaker, native, oauth,
    verification,
};

/// An API route: its table entry, found once per request by the router.
#[derive(Clone, Copy)]
pub struct Route(&'static Entry);

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

/// What answers a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handler {
    NativeCodes,
    NativeCode,
    NativeLinks,
    NativeApproval,
    NativeDeviceUsers,
    NativeDeviceUser,
    NativeTempPass,
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
    AdobeCheckAuthnByCode,
    AdobeSecondScreen,
    AdobeAuthnByCode,
    AdobeAuthnToken,
    AdobeAuthorize,
    AdobeAuthzToken,
    AdobeMediaToken,
    AdobePreauthorize,
    AdobeLogout,
    AdobeUserMetadata,
    AdobeV2Register,
    AdobeV2Token,
    AdobeV2Configuration,
    AdobeV2Sessions,
    AdobeV2Session,
    AdobeV2Authenticate,
    AdobeV2Profiles,
    AdobeV2ProfilesByCode,
    AdobeV2Authorize,
    AdobeV2Preauthorize,
    AdobeV2Logout,
    OAuthDeviceAuthorization,
    OAuthToken,
    OAuthRegister,
    VerificationQr,
    ActivationEntry,
    ActivationSignIn,
    ActivationCallback,
    SamlMetadata,
    SamlAcs,
}

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Anyone: discovery, OAuth grants (their own credentials) and the pages people read.
    Anyone,
    /// Devices asking for a code; a linked device must prove it is that device.
    CodeIssuer,
    /// The requestor's backend.
    Backend,
    /// A device about itself (its access token), or the backend on its behalf.
    Device(DeviceFrom),
    /// Devices read (as `Device`), the backend changes.
    DeviceReadsBackendWrites(DeviceFrom),
    /// One of the requestor's apps: its registered client's access token (Adobe v2), or
    /// whom `deviceAuth.adobeV2` names instead.
    App,
    /// As `App`, about the device `AP-Device-Identifier` names: a device's own token only
    /// for itself, and, where devices prove themselves, only its token once it is linked.
    AppAboutDevice,
}

/// Where a device-side route names its device.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DeviceFrom {
    /// The `{device}` path parameter.
    Path,
    /// A query or body parameter of this name.
    Param(&'static str),
    /// The registration code in the path, once it was used to sign in.
    Code,
}

/// How a route checks its caller, for a given method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Anyone,
    CodeIssuer,
    Backend,
    Device(DeviceFrom),
    App,
    AppDevice,
}

use Caller::{Anyone, Backend, CodeIssuer, DeviceReadsBackendWrites};

/// A device-side route with its device in the path.
const DEVICE: Caller = Caller::Device(DeviceFrom::Path);
/// An Adobe v2 call about the device `AP-Device-Identifier` names.
const V2_DEVICE: Caller = Caller::AppAboutDevice;
/// A device-side route of the Adobe dialect, which names the device `deviceId`.
const ADOBE_DEVICE: Caller = Caller::Device(DeviceFrom::Param("deviceId"));

pub(super) struct Entry {
    path: &'static str,
    handler: Handler,
    name: &'static str,
    methods: &'static [&'static str],
    caller: Caller,
}

const fn entry(
    path: &'static str,
    handler: Handler,
    name: &'static str,
    methods: &'static [&'static str],
    caller: Caller,
) -> Entry {
    Entry {
        path,
        handler,
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
    entry("/v1/requestors/{requestor}/codes", Handler::NativeCodes, "native_codes", POST, CodeIssuer),
    entry("/v1/requestors/{requestor}/codes/{code}", Handler::NativeCode, "native_code", GET_DELETE, Backend),
    entry("/v1/requestors/{requestor}/links", Handler::NativeLinks, "native_links", POST, Backend),
    entry("/v1/requestors/{requestor}/codes/{code}/approval", Handler::NativeApproval, "native_approval", POST, Backend),
    entry("/v1/requestors/{requestor}/mvpds", Handler::NativeMvpds, "native_mvpds", GET, Anyone),
    entry("/v1/requestors/{requestor}/media-keys", Handler::NativeMediaKeys, "native_media_keys", GET, Anyone),
    entry(device!("/users"), Handler::NativeDeviceUsers, "native_device_users", GET_DELETE, DeviceReadsBackendWrites(DeviceFrom::Path)),
    entry(device!("/users/{user}"), Handler::NativeDeviceUser, "native_device_user", DELETE, Backend),
    entry(device!("/temp-passes/{mvpd}"), Handler::NativeTempPass, "native_temp_pass", DELETE, Backend),
    entry(device!("/authn"), Handler::NativeAuthn, "native_authn", GET_DELETE, DEVICE),
    entry(device!("/authn/token"), Handler::NativeAuthnToken, "native_authn_token", GET, DEVICE),
    entry(device!("/authorize"), Handler::NativeAuthorize, "native_authorize", GET, DEVICE),
    entry(device!("/authz"), Handler::NativeAuthzToken, "native_authz_token", GET, DEVICE),
    entry(device!("/preauthorize"), Handler::NativePreauthorize, "native_preauthorize", GET, DEVICE),
    entry(device!("/media-token"), Handler::NativeMediaToken, "native_media_token", GET, DEVICE),
    entry(device!("/metadata"), Handler::NativeMetadata, "native_metadata", GET, DEVICE),
    entry("/matchmaker/{requestor}/get_auth_code", Handler::MatchmakerGetAuthCode, "matchmaker_get_auth_code", GET_POST, CodeIssuer),
    entry("/matchmaker/{requestor}/link_device", Handler::MatchmakerLinkDevice, "matchmaker_link_device", POST, Backend),
    entry("/matchmaker/{requestor}/register_user", Handler::MatchmakerLinkDevice, "matchmaker_link_device", POST, Backend),
    entry("/matchmaker/{requestor}/get_user", Handler::MatchmakerGetUser, "matchmaker_get_user", GET_POST, Caller::Device(DeviceFrom::Param("device_id"))),
    entry("/matchmaker/{requestor}/unlink_device", Handler::MatchmakerUnlinkDevice, "matchmaker_unlink_device", POST, Backend),
    entry("/reggie/v1/{requestor}/regcode", Handler::AdobeRegcode, "adobe_regcode", POST, CodeIssuer),
    entry("/reggie/v1/{requestor}/regcode/{code}", Handler::AdobeRegcodeRecord, "adobe_regcode_record", GET_DELETE, Backend),
    entry("/api/v1/config/{requestor}", Handler::AdobeConfig, "adobe_config", GET, Anyone),
    entry("/api/v1/checkauthn", Handler::AdobeCheckAuthn, "adobe_checkauthn", GET, ADOBE_DEVICE),
    entry("/api/v1/checkauthn/{code}", Handler::AdobeCheckAuthnByCode, "adobe_checkauthn_code", GET, Anyone),
    entry("/api/v1/authenticate", Handler::AdobeSecondScreen, "adobe_authenticate", GET, Anyone),
    entry("/api/v1/authenticate/{code}", Handler::AdobeAuthnByCode, "adobe_authn_code", GET, Caller::Device(DeviceFrom::Code)),
    entry("/api/v1/tokens/authn", Handler::AdobeAuthnToken, "adobe_authn_token", GET, ADOBE_DEVICE),
    entry("/api/v1/authorize", Handler::AdobeAuthorize, "adobe_authorize", GET, ADOBE_DEVICE),
    entry("/api/v1/tokens/authz", Handler::AdobeAuthzToken, "adobe_authz_token", GET, ADOBE_DEVICE),
    entry("/api/v1/tokens/media", Handler::AdobeMediaToken, "adobe_media_token", GET, ADOBE_DEVICE),
    entry("/api/v1/mediatoken", Handler::AdobeMediaToken, "adobe_media_token", GET, ADOBE_DEVICE),
    entry("/api/v1/preauthorize", Handler::AdobePreauthorize, "adobe_preauthorize", GET, ADOBE_DEVICE),
    entry("/api/v1/logout", Handler::AdobeLogout, "adobe_logout", DELETE, ADOBE_DEVICE),
    entry("/api/v1/tokens/usermetadata", Handler::AdobeUserMetadata, "adobe_usermetadata", GET, ADOBE_DEVICE),
    entry("/o/client/register", Handler::AdobeV2Register, "adobe_v2_register", POST, Anyone),
    entry("/o/client/token", Handler::AdobeV2Token, "adobe_v2_token", POST, Anyone),
    entry("/api/v2/{requestor}/configuration", Handler::AdobeV2Configuration, "adobe_v2_configuration", GET, Caller::App),
    entry("/api/v2/{requestor}/sessions", Handler::AdobeV2Sessions, "adobe_v2_sessions", POST, V2_DEVICE),
    entry("/api/v2/{requestor}/sessions/{code}", Handler::AdobeV2Session, "adobe_v2_session", GET_POST, Caller::App),
    entry("/api/v2/authenticate/{requestor}/{code}", Handler::AdobeV2Authenticate, "adobe_v2_authenticate", GET, Anyone),
    entry("/api/v2/{requestor}/profiles", Handler::AdobeV2Profiles, "adobe_v2_profiles", GET, V2_DEVICE),
    entry("/api/v2/{requestor}/profiles/{mvpd}", Handler::AdobeV2Profiles, "adobe_v2_profiles", GET, V2_DEVICE),
    entry("/api/v2/{requestor}/profiles/code/{code}", Handler::AdobeV2ProfilesByCode, "adobe_v2_profiles_code", GET, Caller::App),
    entry("/api/v2/{requestor}/decisions/authorize/{mvpd}", Handler::AdobeV2Authorize, "adobe_v2_authorize", POST, V2_DEVICE),
    entry("/api/v2/{requestor}/decisions/preauthorize/{mvpd}", Handler::AdobeV2Preauthorize, "adobe_v2_preauthorize", POST, V2_DEVICE),
    entry("/api/v2/{requestor}/logout/{mvpd}", Handler::AdobeV2Logout, "adobe_v2_logout", GET, V2_DEVICE),
    entry("/oauth/{requestor}/device_authorization", Handler::OAuthDeviceAuthorization, "oauth_device_authorization", POST, CodeIssuer),
    entry("/oauth/{requestor}/token", Handler::OAuthToken, "oauth_token", POST, Anyone),
    entry("/oauth/{requestor}/register", Handler::OAuthRegister, "oauth_register", POST, Anyone),
    entry("/activate/{requestor}", Handler::ActivationEntry, "activation_entry", GET_POST, Anyone),
    entry("/activate/{requestor}/signin", Handler::ActivationSignIn, "activation_signin", POST, Anyone),
    entry("/activate/{requestor}/callback", Handler::ActivationCallback, "activation_callback", GET, Anyone),
    entry("/activate/{requestor}/qr.svg", Handler::VerificationQr, "verification_qr", GET, Anyone),
    entry("/activate/{requestor}/saml/{mvpd}/metadata", Handler::SamlMetadata, "saml_metadata", GET, Anyone),
    entry("/activate/{requestor}/saml/{mvpd}/acs", Handler::SamlAcs, "saml_acs", POST, Anyone),
];

/// The largest body a SAML identity provider may post: a signed, perhaps encrypted,
/// response with its certificates, base64 and form-encoded.
const MAX_SAML_BODY_BYTES: usize = 256 * 1024;

/// What the caller of one method of a route must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: discovery, OAuth grants and pages.
    None,
    /// Nothing for a device that is not linked; a linked device's token, or the backend's.
    WhenLinked,
    /// The requestor's backend credential.
    Backend,
    /// The device's access token, or the backend's credential.
    DeviceOrBackend,
    /// The access token of one of the requestor's registered apps.
    App,
    /// As `App`, about one device: under `deviceAuth.adobeV2: device`, once it is linked,
    /// that device's own access token instead.
    AppForDevice,
}

/// One method of one route, as the table declares it.
#[derive(Clone, Copy, Debug)]
pub struct RouteInfo {
    pub path: &'static str,
    pub method: &'static str,
    pub name: &'static str,
    pub credential: Credential,
    /// The query or body parameter naming the device, when the path does not.
    pub device_param: Option<&'static str>,
    /// What the call does, as its handler declares it.
    pub summary: &'static str,
}

/// Every method of every route: what the README's credential table and the tests that call
/// each route as a stranger are made from.
pub fn table() -> impl Iterator<Item = RouteInfo> {
    TABLE.iter().flat_map(methods_of)
}

fn methods_of(e: &'static Entry) -> impl Iterator<Item = RouteInfo> {
    e.methods.iter().map(move |&method| {
        let check = Route(e).check(&method.parse().expect("table methods parse"));
        let (credential, device_param) = match check {
            Check::Anyone => (Credential::None, None),
            Check::CodeIssuer => (Credential::WhenLinked, None),
            Check::Backend => (Credential::Backend, None),
            Check::Device(DeviceFrom::Path) => (Credential::DeviceOrBackend, None),
            Check::Device(DeviceFrom::Param(p)) => (Credential::DeviceOrBackend, Some(p)),
            Check::Device(DeviceFrom::Code) => (Credential::DeviceOrBackend, Some("{code}")),
            Check::App => (Credential::App, None),
            Check::AppDevice => (
                Credential::AppForDevice,
                Some(super::adobe_v2::device::HEADER),
            ),
        };
        RouteInfo {
            path: e.path,
            method,
            name: e.name,
            credential,
            device_param,
            summary: e.handler.contract(method).summary,
        }
    })
}

/// One method of one route with what its handler declares: what the OpenAPI document is
/// made from.
pub(super) struct Described {
    pub info: RouteInfo,
    pub contract: &'static Contract,
    pub errors: ErrorFields,
    /// Refusals are pages.
    pub page: bool,
    /// An Adobe v1 route: XML on request, apps' signed calls.
    pub adobe_v1: bool,
    /// The body names the requestor (`Route::names_requestor_in_body`).
    pub requestor_in_body: bool,
}

pub(super) fn described() -> impl Iterator<Item = Described> {
    TABLE.iter().flat_map(|e| {
        methods_of(e).map(move |info| {
            let route = Route(e);
            Described {
                contract: e.handler.contract(info.method),
                errors: route.error_fields(),
                page: route.is_page(),
                adobe_v1: route.dialect() == DeviceDialect::Adobe
                    && !e.name.starts_with("adobe_v2_")
                    && !route.is_page(),
                requestor_in_body: route.names_requestor_in_body(),
                info,
            }
        })
    })
}

pub(super) fn router() -> matchit::Router<Route> {
    let mut router = matchit::Router::new();
    for e in TABLE {
        router
            .insert(e.path, Route(e))
            .expect("the route table has no overlaps");
    }
    router
}

impl Route {
    fn entry(self) -> &'static Entry {
        self.0
    }

    /// A fixed name, for metric labels and logs.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    pub(super) fn methods(self) -> &'static [&'static str] {
        self.entry().methods
    }

    /// How the caller of `method` on this route is checked.
    pub(super) fn check(self, method: &Method) -> Check {
        match self.entry().caller {
            Anyone => Check::Anyone,
            CodeIssuer => Check::CodeIssuer,
            Backend => Check::Backend,
            Caller::Device(from) => Check::Device(from),
            DeviceReadsBackendWrites(from) if method == Method::GET => Check::Device(from),
            DeviceReadsBackendWrites(_) => Check::Backend,
            Caller::App => Check::App,
            Caller::AppAboutDevice => Check::AppDevice,
        }
    }

    /// The dialect of the route, for the requestor's backend-only setting.
    pub(super) fn dialect(self) -> DeviceDialect {
        let name = self.entry().name;
        if name.starts_with("adobe_") {
            DeviceDialect::Adobe
        } else if name.starts_with("matchmaker_") {
            DeviceDialect::Matchmaker
        } else {
            DeviceDialect::Native
        }
    }

    /// Requests that try a code on the activation page, which RFC 8628 §5.1 asks to limit:
    /// a code may come in the query, or in a body of any method and form (`has_body`).
    pub fn tries_code(
        self,
        method: &Method,
        query: &super::input::Query<'_>,
        has_body: bool,
    ) -> bool {
        match self.entry().handler {
            Handler::ActivationEntry => {
                method == Method::POST
                    || has_body
                    || ["code", "user_code"].iter().any(|p| query.get(p).is_some())
            }
            Handler::ActivationSignIn
            | Handler::AdobeCheckAuthnByCode
            | Handler::AdobeSecondScreen
            | Handler::AdobeV2Authenticate
            | Handler::AdobeV2Session
            | Handler::AdobeV2ProfilesByCode => true,
            _ => false,
        }
    }

    /// Routes a person's browser reads: refusals there are pages too.
    pub fn is_page(self) -> bool {
        matches!(
            self.entry().handler,
            Handler::ActivationEntry
                | Handler::ActivationSignIn
                | Handler::ActivationCallback
                | Handler::AdobeSecondScreen
                | Handler::AdobeV2Authenticate
                | Handler::SamlAcs
        )
    }

    /// The largest body the route reads.
    pub fn max_body(self) -> usize {
        match self.entry().handler {
            Handler::SamlAcs => MAX_SAML_BODY_BYTES,
            _ => super::MAX_BODY_BYTES,
        }
    }

    /// Routes whose requestor the body names: Adobe's registration calls, whose software
    /// statement or client ID says whose app it is.
    pub fn names_requestor_in_body(self) -> bool {
        matches!(
            self.entry().handler,
            Handler::AdobeV2Register | Handler::AdobeV2Token
        )
    }

    /// The requestor `input` names, on the routes that name it in the body; `None`
    /// elsewhere.
    pub(super) fn requestor_in_body(self, input: &super::input::Input<'_>) -> Option<String> {
        match self.entry().handler {
            Handler::AdobeV2Register => {
                let statement = input.get("software_statement")?;
                linkgate_domain::clients::Statement::audience(&statement)
            }
            Handler::AdobeV2Token => {
                let id = input.get("client_id")?;
                linkgate_domain::clients::app_requestor(&id).map(str::to_owned)
            }
            _ => None,
        }
    }

    pub(super) fn error_fields(self) -> ErrorFields {
        let name = self.entry().name;
        if name.starts_with("matchmaker_") {
            ErrorFields::Matchmaker
        } else if name == "adobe_v2_register" || name == "adobe_v2_token" {
            ErrorFields::OAuth
        } else if name.starts_with("adobe_v2_") && name != "adobe_v2_authenticate" {
            ErrorFields::AdobeV2
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
        match self.0.handler {
            Handler::NativeCodes => native::issue_code(call).await,
            Handler::NativeCode if delete => native::delete_code(call).await,
            Handler::NativeCode => native::code(call).await,
            Handler::NativeLinks => native::link(call).await,
            Handler::NativeApproval => native::approve(call).await,
            Handler::NativeDeviceUsers if delete => native::unlink_all(call).await,
            Handler::NativeDeviceUsers => native::users(call).await,
            Handler::NativeDeviceUser => native::unlink_user(call).await,
            Handler::NativeTempPass => native::reset_temp_pass(call).await,
            Handler::NativeAuthn if delete => entitlement::logout(call).await,
            Handler::NativeAuthn => native::authn(call).await,
            Handler::NativeAuthnToken => entitlement::authn_token(call, Native).await,
            Handler::NativeAuthorize => entitlement::authorize(call, Native).await,
            Handler::NativeAuthzToken => entitlement::authz_token(call, Native).await,
            Handler::NativePreauthorize => entitlement::preauthorize(call).await,
            Handler::NativeMediaToken => entitlement::media_token(call, Native).await,
            Handler::NativeMetadata => entitlement::user_metadata(call).await,
            Handler::NativeMvpds => entitlement::mvpds(call),
            Handler::NativeMediaKeys => entitlement::media_keys(call),
            Handler::MatchmakerGetAuthCode => matchmaker::get_auth_code(call).await,
            Handler::MatchmakerLinkDevice => matchmaker::link_device(call).await,
            Handler::MatchmakerGetUser => matchmaker::get_user(call).await,
            Handler::MatchmakerUnlinkDevice => matchmaker::unlink_device(call).await,
            Handler::AdobeRegcode => adobe::create_regcode(call).await,
            Handler::AdobeRegcodeRecord if delete => adobe::delete_regcode(call).await,
            Handler::AdobeRegcodeRecord => adobe::regcode(call).await,
            Handler::AdobeConfig => entitlement::mvpds(call),
            Handler::AdobeCheckAuthn => entitlement::check_authn(call, Adobe).await,
            Handler::AdobeCheckAuthnByCode => adobe::signed_in_with_code(call).await,
            Handler::AdobeSecondScreen => activation::second_screen(call).await,
            Handler::AdobeAuthnByCode => entitlement::authn_token(call, Adobe).await,
            Handler::AdobeAuthnToken => entitlement::authn_token(call, Adobe).await,
            Handler::AdobeAuthorize => entitlement::authorize(call, Adobe).await,
            Handler::AdobeAuthzToken => entitlement::authz_token(call, Adobe).await,
            Handler::AdobeMediaToken => entitlement::media_token(call, Adobe).await,
            Handler::AdobePreauthorize => entitlement::preauthorize(call).await,
            Handler::AdobeLogout => entitlement::logout(call).await,
            Handler::AdobeUserMetadata => entitlement::user_metadata(call).await,
            Handler::AdobeV2Register => adobe_v2::register(call),
            Handler::AdobeV2Token => adobe_v2::token(call),
            Handler::AdobeV2Configuration => adobe_v2::configuration(call),
            Handler::AdobeV2Sessions => adobe_v2::create_session(call).await,
            Handler::AdobeV2Session if method == Method::POST => {
                adobe_v2::resume_session(call).await
            }
            Handler::AdobeV2Session => adobe_v2::session(call).await,
            Handler::AdobeV2Authenticate => activation::v2_authenticate(call).await,
            Handler::AdobeV2Profiles => adobe_v2::profiles(call).await,
            Handler::AdobeV2ProfilesByCode => adobe_v2::profiles_by_code(call).await,
            Handler::AdobeV2Authorize => adobe_v2::authorize(call).await,
            Handler::AdobeV2Preauthorize => adobe_v2::preauthorize(call).await,
            Handler::AdobeV2Logout => adobe_v2::logout(call).await,
            Handler::OAuthDeviceAuthorization => oauth::device_authorization(call).await,
            Handler::OAuthToken => oauth::token(call).await,
            Handler::OAuthRegister => oauth::register(call),
            Handler::VerificationQr => verification::qr(call),
            Handler::ActivationEntry => activation::entry(call).await,
            Handler::ActivationSignIn => activation::sign_in(call).await,
            Handler::ActivationCallback => activation::callback(call).await,
            Handler::SamlMetadata => activation::saml_metadata(call),
            Handler::SamlAcs => activation::saml_acs(call).await,
        }
    }
}

impl Handler {
    /// What the handler `handle` dispatches `method` to takes and answers.
    fn contract(self, method: &str) -> &'static Contract {
        let delete = method == "DELETE";
        match self {
            Handler::NativeCodes => &native::ISSUE_CODE,
            Handler::NativeCode if delete => &native::DELETE_CODE,
            Handler::NativeCode => &native::CODE,
            Handler::NativeLinks => &native::LINK,
            Handler::NativeApproval => &native::APPROVE,
            Handler::NativeDeviceUsers if delete => &native::UNLINK_ALL,
            Handler::NativeDeviceUsers => &native::USERS,
            Handler::NativeDeviceUser => &native::UNLINK_USER,
            Handler::NativeTempPass => &native::RESET_TEMP_PASS,
            Handler::NativeAuthn if delete => &entitlement::NATIVE_LOGOUT,
            Handler::NativeAuthn => &native::AUTHN,
            Handler::NativeAuthnToken => &entitlement::NATIVE_AUTHN_TOKEN,
            Handler::NativeAuthorize => &entitlement::NATIVE_AUTHORIZE,
            Handler::NativeAuthzToken => &entitlement::NATIVE_AUTHZ_TOKEN,
            Handler::NativePreauthorize => &entitlement::NATIVE_PREAUTHORIZE,
            Handler::NativeMediaToken => &entitlement::NATIVE_MEDIA_TOKEN,
            Handler::NativeMetadata => &entitlement::NATIVE_USER_METADATA,
            Handler::NativeMvpds => &entitlement::MVPDS,
            Handler::NativeMediaKeys => &entitlement::MEDIA_KEYS,
            Handler::MatchmakerGetAuthCode => &matchmaker::GET_AUTH_CODE,
            Handler::MatchmakerLinkDevice => &matchmaker::LINK_DEVICE,
            Handler::MatchmakerGetUser => &matchmaker::GET_USER,
            Handler::MatchmakerUnlinkDevice => &matchmaker::UNLINK_DEVICE,
            Handler::AdobeRegcode => &adobe::CREATE_REGCODE,
            Handler::AdobeRegcodeRecord if delete => &adobe::DELETE_REGCODE,
            Handler::AdobeRegcodeRecord => &adobe::REGCODE,
            Handler::AdobeConfig => &entitlement::ADOBE_CONFIG,
            Handler::AdobeCheckAuthn => &entitlement::ADOBE_CHECK_AUTHN,
            Handler::AdobeCheckAuthnByCode => &adobe::SIGNED_IN_WITH_CODE,
            Handler::AdobeSecondScreen => &activation::SECOND_SCREEN,
            Handler::AdobeAuthnByCode => &entitlement::ADOBE_AUTHN_BY_CODE,
            Handler::AdobeAuthnToken => &entitlement::ADOBE_AUTHN_TOKEN,
            Handler::AdobeAuthorize => &entitlement::ADOBE_AUTHORIZE,
            Handler::AdobeAuthzToken => &entitlement::ADOBE_AUTHZ_TOKEN,
            Handler::AdobeMediaToken => &entitlement::ADOBE_MEDIA_TOKEN,
            Handler::AdobePreauthorize => &entitlement::ADOBE_PREAUTHORIZE,
            Handler::AdobeLogout => &entitlement::ADOBE_LOGOUT,
            Handler::AdobeUserMetadata => &entitlement::ADOBE_USER_METADATA,
            Handler::AdobeV2Register => &adobe_v2::REGISTER,
            Handler::AdobeV2Token => &adobe_v2::TOKEN,
            Handler::AdobeV2Configuration => &adobe_v2::CONFIGURATION,
            Handler::AdobeV2Sessions => &adobe_v2::CREATE_SESSION,
            Handler::AdobeV2Session if method == "POST" => &adobe_v2::RESUME_SESSION,
            Handler::AdobeV2Session => &adobe_v2::SESSION,
            Handler::AdobeV2Authenticate => &activation::V2_AUTHENTICATE,
            Handler::AdobeV2Profiles => &adobe_v2::PROFILES,
            Handler::AdobeV2ProfilesByCode => &adobe_v2::PROFILES_BY_CODE,
            Handler::AdobeV2Authorize => &adobe_v2::AUTHORIZE,
            Handler::AdobeV2Preauthorize => &adobe_v2::PREAUTHORIZE,
            Handler::AdobeV2Logout => &adobe_v2::LOGOUT,
            Handler::OAuthDeviceAuthorization => &oauth::DEVICE_AUTHORIZATION,
            Handler::OAuthToken => &oauth::TOKEN,
            Handler::OAuthRegister => &oauth::REGISTER,
            Handler::VerificationQr => &verification::QR,
            Handler::ActivationEntry => &activation::ENTRY,
            Handler::ActivationSignIn => &activation::SIGN_IN,
            Handler::ActivationCallback => &activation::CALLBACK,
            Handler::SamlMetadata => &activation::SAML_METADATA,
            Handler::SamlAcs => &activation::SAML_ACS,
        }
    }
}
