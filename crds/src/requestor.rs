use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;

/// RFC 8628 §6.1: consonants only, so no words can be spelled and no letters look alike.
pub const DEFAULT_CODE_ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";
/// RFC 8628 §6.1: 8 characters of a 20-letter alphabet, about 34.5 bits.
pub const DEFAULT_CODE_LENGTH: u8 = 8;
/// 30 minutes, as a registration code lives by default in the Adobe Pass dialect.
pub const DEFAULT_CODE_TTL_SECONDS: u32 = 30 * 60;
/// 30 days, the usual authentication TTL of an MVPD.
pub const DEFAULT_AUTHN_TTL_SECONDS: u64 = 30 * 24 * 3600;

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
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestorSpec {
    /// Name shown to people, e.g. on the activation page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,

    /// Format and lifetime of registration codes.
    #[serde(default)]
    pub codes: CodePolicy,

    /// Whether several users may link the same device (Matchmaker's ALLOW_MULTIPLE).
    #[serde(default)]
    pub allow_multiple_users: bool,

    /// Authentication TTL of links made without an MVPD (account links).
    #[serde(default = "default_authn_ttl")]
    #[schemars(range(min = 60))]
    pub authn_ttl_seconds: u64,

    /// The TV providers users of this requestor sign in with.
    #[serde(default)]
    pub mvpds: Vec<MvpdSpec>,

    /// How the requestor's own backend authenticates its server-to-server calls.
    pub backend: BackendCredentials,
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
    /// How long a sign-in with this provider keeps a device authenticated.
    #[serde(default = "default_authn_ttl")]
    #[schemars(range(min = 60))]
    pub authn_ttl_seconds: u64,
}

/// Credentials of the requestor's backend for server-to-server calls (linking, unlinking).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendCredentials {
    /// The API key the backend sends as `Authorization: Bearer <key>`.
    pub api_key_secret_ref: SecretKeyRef,
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
