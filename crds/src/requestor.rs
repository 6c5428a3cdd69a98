use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{RegionSync, SecretKeyRef};

/// RFC 8628 §6.1: consonants only, so no words can be spelled and no letters look alike.
pub const DEFAULT_CODE_ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";
/// RFC 8628 §6.1: 8 characters of a 20-letter alphabet, about 34.5 bits.
pub const DEFAULT_CODE_LENGTH: u8 = 8;
/// 30 minutes, as a registration code lives by default in the Adobe Pass dialect.
pub const DEFAULT_CODE_TTL_SECONDS: u32 = 30 * 60;
/// 30 days, the usual authentication TTL of an MVPD.
pub const DEFAULT_AUTHN_TTL_SECONDS: u64 = 30 * 24 * 3600;
/// 24 hours, the usual authorization TTL.
pub const DEFAULT_AUTHZ_TTL_SECONDS: u64 = 24 * 3600;
/// Preauthorize answers about at most five resources unless MVPDs agree to more.
pub const DEFAULT_PREAUTHORIZE_LIMIT: u16 = 5;
/// Media tokens live about seven minutes.
pub const DEFAULT_MEDIA_TOKEN_TTL_SECONDS: u32 = 7 * 60;
/// Operator-managed media-token keys are replaced every 30 days.
pub const DEFAULT_KEY_ROTATION_SECONDS: u64 = 30 * 24 * 3600;
/// How long a registered client's access token lasts unless the spec says otherwise.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECONDS: u32 = 24 * 3600;

/// One tenant of the gateway: a channel or app brand, with everything it configures.
// Each printcolumn(...) repeats the same keys, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "linkgate.dev",
    version = "v1alpha1",
    kind = "Requestor",
    namespaced,
    status = "RequestorStatus",
    shortname = "req",
    category = "linkgate",
    doc = "A tenant of linkgate: its TV providers, registration codes and credentials.",
    printcolumn(
        name = "Display Name",
        type_ = "string",
        json_path = ".spec.displayName"
    ),
    printcolumn(
        name = "Multi-User",
        type_ = "boolean",
        json_path = ".spec.allowMultipleUsers"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    // Why it is not ready, without `-o yaml`.
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Replicated whole from the region it was authored in: a field removed there is removed in
// every region.
#[schemars(extend("x-kubernetes-map-type" = "atomic"))]
pub struct RequestorSpec {
    /// Name shown to people, e.g. on the activation page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,

    /// How the activation pages look for this requestor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<BrandingSpec>,

    /// Format and lifetime of registration codes.
    #[serde(default)]
    pub codes: CodePolicy,

    /// Whether several users may link the same device (Matchmaker's ALLOW_MULTIPLE).
    #[serde(default)]
    pub allow_multiple_users: bool,

    /// Authentication TTL of links made without an MVPD (account links).
    #[serde(default = "default_authn_ttl")]
    #[schemars(range(min = 1))]
    pub authn_ttl_seconds: u64,

    /// The TV providers users of this requestor sign in with.
    #[serde(default)]
    pub mvpds: Vec<MvpdSpec>,

    /// MVPDs devices may pick; empty means every configured one. Changing it takes effect
    /// on existing links too: a link through an MVPD no longer allowed stops authenticating.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_mvpds: Vec<String>,

    /// MVPDs refused even when allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_mvpds: Vec<String>,

    /// The most resources one preauthorize call may ask about.
    #[serde(default = "default_preauthorize_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub preauthorize_limit: u16,

    /// Signed short-lived media tokens.
    #[serde(default)]
    pub media_tokens: MediaTokenPolicy,

    /// The RFC 8628 device authorization grant.
    #[serde(default)]
    pub device_flow: DeviceFlowPolicy,

    /// How devices prove who they are on the calls they make about themselves.
    #[serde(default)]
    pub device_auth: DeviceAuthPolicy,

    /// Request rate limits on this requestor's API calls and content.
    #[serde(default)]
    pub throttling: ThrottlingPolicy,

    /// Proxies (CIDRs) whose `X-Forwarded-For` is believed: the client is the right-most
    /// address not among them. Everyone else is the client themselves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,

    /// Where (CIDRs) the requestor's backend calls from; empty: anywhere, with the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_allow_list: Vec<String>,

    /// Content proxied to origins, by path prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<ContentRouteSpec>,

    /// How the requestor's own backend authenticates its server-to-server calls.
    pub backend: BackendCredentials,
    /// The requestor's own backend, asked to resolve the user of every link: it answers
    /// `{"answer": A}` to a POST of `{requestor, deviceId, deviceType, mvpd, userId,
    /// metadata}`, where A is a user ID (link that user), `0` (a new user: the gateway makes
    /// an ID), `-1` (not authorized), `-3` (an error) or `"pending"` (approval follows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_webhook: Option<WebhookSpec>,
    /// For clients written for Adobe Pass REST API v1: the requestor ID they send, the keys
    /// of their signed calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adobe: Option<crate::AdobeCompatSpec>,
}

/// Registration code format (RFC 8628 §6.1 by default) and lifetime.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodePolicy {
    /// Characters codes are drawn from; input is upper-cased before matching.
    #[serde(default = "default_alphabet")]
    #[schemars(length(min = 2, max = 64))]
    pub alphabet: String,
    /// Number of characters in a code.
    #[serde(default = "default_length")]
    #[schemars(range(min = 4, max = 32))]
    pub length: u8,
    /// Lifetime of an unused code, at most 10 hours.
    #[serde(default = "default_code_ttl")]
    #[schemars(range(min = 30, max = 36000))]
    pub ttl_seconds: u32,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self {
            alphabet: default_alphabet(),
            length: DEFAULT_CODE_LENGTH,
            ttl_seconds: DEFAULT_CODE_TTL_SECONDS,
        }
    }
}

/// A TV provider ("multichannel video programming distributor").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MvpdSpec {
    /// Stable identifier, as devices and backends name it.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_=-]+$"))]
    pub id: String,
    /// Name shown in the provider picker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its logo (https), shown beside its name in the provider picker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://"))]
    pub logo_url: Option<String>,
    /// How long a sign-in with this provider keeps a device authenticated.
    #[serde(default = "default_authn_ttl")]
    #[schemars(range(min = 1))]
    pub authn_ttl_seconds: u64,
    /// How long an authorization decision of this provider is cached.
    #[serde(default = "default_authz_ttl")]
    #[schemars(range(min = 1))]
    pub authz_ttl_seconds: u64,
    /// Where authorization decisions come from.
    #[serde(default)]
    pub decision: DecisionSpec,
    /// Where people sign in on the activation page: the MVPD's OpenID Connect provider, or
    /// its SAML 2.0 identity provider (one of the two). With neither, the MVPD is not
    /// offered there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<crate::SamlSpec>,
    /// A rule answering for the MVPD while it is down (degraded access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degradation: Option<crate::DegradationSpec>,
    /// Makes the MVPD a TempPass: no sign-in (neither `oidc` nor `saml`), one window per
    /// device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_pass: Option<crate::TempPassSpec>,
}

/// This gateway as a client of an MVPD's OpenID Connect provider.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcSpec {
    /// The provider's issuer URL; its discovery document is read from there.
    pub issuer: String,
    /// The client ID the provider gave this gateway.
    pub client_id: String,
    /// The client secret, for a confidential client; absent for a public one (PKCE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
}

/// The MVPD's authorization decision point: a webhook, or static rules (test MVPDs).
/// Exactly one of the two is set; with neither, every resource is denied.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionSpec {
    /// An HTTP endpoint answering authorization questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Resources every user of this MVPD may play; `*` allows all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
}

/// An HTTP endpoint of the requestor's or an MVPD's: for authorization, POST `{requestor,
/// mvpd, userId, deviceId, resources}`, answered by `{decisions: [{resource, authorized,
/// reason?}]}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    /// `http://` or `https://` URL.
    pub url: String,
    /// How long to wait for the answer.
    #[serde(default = "default_webhook_timeout")]
    #[schemars(range(min = 10, max = 30000))]
    pub timeout_millis: u32,
}

/// Media token signing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaTokenPolicy {
    /// Lifetime of a media token.
    #[serde(default = "default_media_token_ttl")]
    #[schemars(range(min = 1, max = 86400))]
    pub ttl_seconds: u32,
    /// Ed25519 keys (PKCS#8 PEM) by key ID. The first signs; all verify, so a rotated-out
    /// key stays listed until the tokens it signed have expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<SigningKeyRef>,
    /// With no `signingKeys`, the operator creates a key in a Secret of its own and replaces
    /// it this often, keeping each old key for verification until its tokens have expired.
    #[serde(default = "default_key_rotation")]
    #[schemars(range(min = 1))]
    pub key_rotation_seconds: u64,
}

impl Default for MediaTokenPolicy {
    fn default() -> Self {
        Self {
            ttl_seconds: DEFAULT_MEDIA_TOKEN_TTL_SECONDS,
            signing_keys: Vec::new(),
            key_rotation_seconds: DEFAULT_KEY_ROTATION_SECONDS,
        }
    }
}

/// The RFC 8628 device authorization grant on the requestor's codes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceFlowPolicy {
    /// Where people enter the code; absent: the gateway's own activation page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri: Option<String>,
    /// The least time between two polls of one device, in seconds (RFC 8628 default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60))]
    pub interval_seconds: Option<u32>,
}

/// Default lifetime of a device's access token.
pub const DEFAULT_DEVICE_ACCESS_TOKEN_TTL_SECONDS: u32 = 3600;

/// Device credentials: every device-side call carries the device's own access token
/// (exchanged for the secret it got with its code, renewed with rotating refresh tokens)
/// or the requestor backend's credential. There is no setting that accepts neither.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceAuthPolicy {
    /// Lifetime of a device's access token, in seconds; it never outlives the link.
    #[serde(default = "default_device_access_token_ttl")]
    #[schemars(range(min = 1, max = 86_400))]
    pub access_token_ttl_seconds: u32,
    /// Dialects whose device-side calls only the requestor's backend makes (existing
    /// clients that cannot hold a device token, fronted by the programmer's service):
    /// there the backend's credential is required and device tokens are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_only: Vec<DeviceDialect>,
    /// Who makes the Adobe REST API v2 calls (`/api/v2/...`).
    #[serde(default)]
    pub adobe_v2: AdobeV2Callers,
}

impl Default for DeviceAuthPolicy {
    fn default() -> Self {
        Self {
            access_token_ttl_seconds: DEFAULT_DEVICE_ACCESS_TOKEN_TTL_SECONDS,
            backend_only: Vec::new(),
            adobe_v2: AdobeV2Callers::default(),
        }
    }
}

/// Who may make the Adobe REST API v2 calls.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AdobeV2Callers {
    /// As Adobe has it: the requestor's app, with its access token, about whichever device
    /// it names. Every copy of the app holds the same credential.
    #[default]
    App,
    /// The app's token opens sessions and the second screen's calls; the calls about a
    /// linked device (its profiles, decisions and logout, and a new session for it) need
    /// that device's own access token instead, which it takes with the `deviceSecret` its
    /// session gave it.
    Device,
    /// Only the requestor's service, server to server, with the backend's credential; app
    /// tokens are refused.
    Backend,
}

fn default_device_access_token_ttl() -> u32 {
    DEFAULT_DEVICE_ACCESS_TOKEN_TTL_SECONDS
}

/// An API dialect devices speak.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceDialect {
    Native,
    Adobe,
    Matchmaker,
}

/// The requestor's look on its pages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrandingSpec {
    /// Its logo (https), at the top of every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://"))]
    pub logo_url: Option<String>,
    /// The colour of its buttons and headings, `#rrggbb`; the text on it is black or white,
    /// whichever reads better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub accent_color: Option<String>,
}

/// Token-bucket limits; a limit set to null is off.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottlingPolicy {
    /// Per client IP (the default: 1 request/s with a burst of 10).
    #[serde(default = "default_per_client_ip")]
    pub per_client_ip: Option<RateLimit>,
    /// Per device, for calls that name one.
    #[serde(default)]
    pub per_device: Option<RateLimit>,
    /// For the whole requestor.
    #[serde(default)]
    pub per_requestor: Option<RateLimit>,
    /// Codes tried on the activation page (RFC 8628 §5.1), on top of the limits above.
    #[serde(default)]
    pub code_entry: CodeEntryLimits,
    /// IPv6 clients are limited by network: one subscriber gets a whole /64, so a key per
    /// address would give each one 2^64 buckets.
    #[serde(default = "default_ipv6_prefix")]
    #[schemars(range(min = 32, max = 128))]
    pub ipv6_prefix_length: u8,
}

fn default_ipv6_prefix() -> u8 {
    64
}

impl Default for ThrottlingPolicy {
    fn default() -> Self {
        Self {
            per_client_ip: default_per_client_ip(),
            per_device: None,
            per_requestor: None,
            code_entry: CodeEntryLimits::default(),
            ipv6_prefix_length: default_ipv6_prefix(),
        }
    }
}

/// How many codes may be tried on the activation page: every code typed, followed from a
/// link or submitted with a provider counts, right or wrong. A limit set to null is off.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeEntryLimits {
    /// Per client IP (the default: 10 per minute).
    #[serde(default = "default_code_entry_per_client_ip")]
    pub per_client_ip: Option<AttemptLimit>,
    /// Across all clients of the requestor, which bounds guessing from many addresses (the
    /// default: 600 per minute).
    #[serde(default = "default_code_entry_per_requestor")]
    pub per_requestor: Option<AttemptLimit>,
}

impl Default for CodeEntryLimits {
    fn default() -> Self {
        Self {
            per_client_ip: default_code_entry_per_client_ip(),
            per_requestor: default_code_entry_per_requestor(),
        }
    }
}

/// `attempts` at once, given back one by one over `perSeconds`; or `disabled: true`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.disabled) && self.disabled) || (has(self.attempts) && has(self.perSeconds))",
    "message": "a limit needs attempts and perSeconds, or disabled: true",
}]))]
pub struct AttemptLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub per_seconds: Option<u32>,
    /// Turns the limit off. (A null is not enough where the API server stores the spec: it
    /// drops nulls, and the default would come back.) Not `off`, which YAML 1.1 readers
    /// such as kubectl's take for the boolean false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

/// A token bucket: `perSecond` sustained, `burst` at once; or `disabled: true`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.disabled) && self.disabled) || (has(self.perSecond) && has(self.burst))",
    "message": "a limit needs perSecond and burst, or disabled: true",
}]))]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub burst: Option<u32>,
    /// Turns the limit off (as null does in a configuration file).
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A path prefix proxied to an origin.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRouteSpec {
    /// Requests whose path starts with this prefix take this route.
    #[schemars(regex(pattern = r"^/"))]
    pub prefix: String,
    /// Where they go.
    pub upstream: UpstreamSpec,
    /// When set, a valid media token for this resource is required; the origin never sees
    /// a request without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The header carrying the media token.
    #[serde(default = "default_token_header")]
    pub token_header: String,
    /// The query parameter carrying the media token, for players that cannot set headers.
    #[serde(default = "default_token_query")]
    pub token_query: String,
}

/// An origin, resolved by DNS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamSpec {
    /// A DNS name or an IP address.
    pub host: String,
    pub port: u16,
    /// Whether to speak TLS to it.
    #[serde(default)]
    pub tls: bool,
    /// How long connecting (TLS included) may take, in milliseconds.
    #[serde(default = "default_connect_timeout")]
    #[schemars(range(min = 10, max = 60_000))]
    pub connect_timeout_millis: u32,
    /// How long the origin may be silent while answering (each read, each write), in
    /// milliseconds.
    #[serde(default = "default_read_timeout")]
    #[schemars(range(min = 10, max = 600_000))]
    pub read_timeout_millis: u32,
    /// How long an idle connection to the origin is kept for reuse, in seconds.
    #[serde(default = "default_idle_timeout")]
    #[schemars(range(min = 1, max = 3600))]
    pub idle_timeout_seconds: u32,
}

fn default_connect_timeout() -> u32 {
    2_000
}

fn default_read_timeout() -> u32 {
    30_000
}

fn default_idle_timeout() -> u32 {
    60
}

/// One signing key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKeyRef {
    /// The key ID tokens name in their header.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    pub id: String,
    /// The PEM-encoded private key.
    pub private_key_secret_ref: SecretKeyRef,
}

/// Credentials of the requestor's backend for server-to-server calls (linking, unlinking):
/// registered clients with access tokens, a static API key, or both.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendCredentials {
    /// A static API key the backend may send as `Authorization: Bearer <key>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
    /// Clients registered with a software statement (RFC 7591), which get access tokens
    /// with the client-credentials grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<ClientRegistration>,
}

/// Who may register clients, and for how long their access tokens last.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientRegistration {
    /// Ed25519 public keys (PEM) whose software statements register clients.
    #[schemars(length(min = 1))]
    pub software_statement_keys: Vec<SecretKeyRef>,
    /// Lifetime of an access token.
    #[serde(default = "default_access_token_ttl")]
    #[schemars(range(min = 60, max = 86400))]
    pub access_token_ttl_seconds: u32,
    /// Client IDs no longer accepted: their secrets get no token, and the tokens they hold
    /// are refused from the moment a proxy reads this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_clients: Vec<String>,
}

impl RequestorSpec {
    /// Every Secret key the spec refers to.
    pub fn secret_refs(&self) -> impl Iterator<Item = &SecretKeyRef> {
        let clients = self.backend.clients.iter();
        let oidc = self
            .mvpds
            .iter()
            .filter_map(|m| m.oidc.as_ref()?.client_secret_ref.as_ref());
        let saml = self
            .mvpds
            .iter()
            .filter_map(|m| m.saml.as_ref())
            .flat_map(|s| s.key_ref.iter().chain(&s.certificate_ref));
        let signed_apps = self.adobe.iter().flat_map(|a| &a.signed_apps);
        self.backend
            .api_key_secret_ref
            .iter()
            .chain(clients.flat_map(|c| &c.software_statement_keys))
            .chain(oidc)
            .chain(saml)
            .chain(
                self.media_tokens
                    .signing_keys
                    .iter()
                    .map(|k| &k.private_key_secret_ref),
            )
            .chain(signed_apps.map(|a| &a.secret_ref))
    }
}

/// What the operator observed of a Requestor.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestorStatus {
    /// The generation these conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` and `Valid`, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The media-token keys the operator manages (when the spec names none), newest first:
    /// the first signs, all verify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_keys: Vec<ManagedKeyStatus>,
    /// In the region it was authored in: each peer region's copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["region"]))]
    pub regions: Vec<RegionSync>,
    /// The degradation rules in the spec, as last told in an Event (an outage bypass is
    /// audited: each one set, changed or lifted is told once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degradations: Vec<DegradationStatus>,
}

/// A degradation rule of one MVPD, as the status records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DegradationStatus {
    pub mvpd: String,
    pub rule: crate::DegradationRule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A media-token key the operator created.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedKeyStatus {
    /// The key ID tokens name in their header.
    pub id: String,
    /// Where the PEM-encoded private key is kept.
    pub secret_ref: SecretKeyRef,
    /// When the key was made.
    pub created_at: Time,
    /// When the key stops being published for verification; absent while it signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<Time>,
}

impl Requestor {
    /// The keys media tokens are signed and verified with: the spec's when it names any,
    /// otherwise those the operator manages.
    pub fn signing_keys(&self) -> Vec<SigningKeyRef> {
        if !self.spec.media_tokens.signing_keys.is_empty() {
            return self.spec.media_tokens.signing_keys.clone();
        }
        self.status
            .iter()
            .flat_map(|s| &s.media_keys)
            .map(|k| SigningKeyRef {
                id: k.id.clone(),
                private_key_secret_ref: k.secret_ref.clone(),
            })
            .collect()
    }
}

fn default_access_token_ttl() -> u32 {
    DEFAULT_ACCESS_TOKEN_TTL_SECONDS
}

fn default_key_rotation() -> u64 {
    DEFAULT_KEY_ROTATION_SECONDS
}

fn default_alphabet() -> String {
    DEFAULT_CODE_ALPHABET.to_owned()
}

fn default_length() -> u8 {
    DEFAULT_CODE_LENGTH
}

fn default_code_ttl() -> u32 {
    DEFAULT_CODE_TTL_SECONDS
}

fn default_authn_ttl() -> u64 {
    DEFAULT_AUTHN_TTL_SECONDS
}

fn default_authz_ttl() -> u64 {
    DEFAULT_AUTHZ_TTL_SECONDS
}

fn default_preauthorize_limit() -> u16 {
    DEFAULT_PREAUTHORIZE_LIMIT
}

fn default_webhook_timeout() -> u32 {
    2_000
}

fn default_per_client_ip() -> Option<RateLimit> {
    Some(RateLimit {
        per_second: Some(1),
        burst: Some(10),
        disabled: false,
    })
}

fn default_code_entry_per_client_ip() -> Option<AttemptLimit> {
    Some(AttemptLimit {
        attempts: Some(10),
        per_seconds: Some(60),
        disabled: false,
    })
}

fn default_code_entry_per_requestor() -> Option<AttemptLimit> {
    Some(AttemptLimit {
        attempts: Some(600),
        per_seconds: Some(60),
        disabled: false,
    })
}

fn default_token_header() -> String {
    "X-Media-Token".into()
}

fn default_token_query() -> String {
    "token".into()
}

fn default_media_token_ttl() -> u32 {
    DEFAULT_MEDIA_TOKEN_TTL_SECONDS
}
