//! What a requestor declares so that clients written for Adobe Pass REST API v1 work
//! unchanged: the requestor ID they send and the keys their legacy signed header uses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;

/// The default and largest distance between a signed call's `request_time` and ours.
pub const DEFAULT_SIGNED_CALL_WINDOW_SECONDS: u32 = 300;
pub const MAX_SIGNED_CALL_WINDOW_SECONDS: u32 = 900;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdobeCompatSpec {
    /// The requestor ID existing clients send (v1's are upper- or camel-case, `ESPN`):
    /// calls naming it reach this requestor as its name does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    pub requestor_id: Option<String>,
    /// Apps that sign every call with v1's `Authorization` header (HMAC-SHA1 over the
    /// method, requestor ID, nonce, request time and path), by the public key they send.
    /// Such a call counts as the requestor's app: the backend's credential on the Adobe
    /// calls, `deviceAuth.backendOnly` included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_apps: Vec<SignedAppSpec>,
    /// How far a signed call's `request_time` may be from the gateway's clock, in seconds;
    /// a nonce is refused a second time within it (default 300, at most 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 900))]
    pub request_time_window_seconds: Option<u32>,
    /// Hosts the v1 second screen may send people back to when their sign-in is done (the
    /// `redirect_url` of `GET /api/v1/authenticate`); none: that call is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_hosts: Vec<String>,
}

/// One key pair of a signing app.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedAppSpec {
    /// The `public_key` the app sends.
    #[schemars(length(min = 1, max = 256))]
    pub public_key: String,
    /// The secret it signs with.
    pub secret_ref: SecretKeyRef,
    /// The path the app signs as `request_uri`; its calls are checked against that form
    /// only.
    #[serde(default)]
    pub request_uri: SignedRequestUri,
}

/// The form of `request_uri` an app signs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SignedRequestUri {
    /// The path below the service's root, as most apps sign: `/regcode` for `POST
    /// /reggie/v1/{R}/regcode`, `/tokens/authn` for `GET /api/v1/tokens/authn`.
    #[default]
    BelowServiceRoot,
    /// The whole path: `/reggie/v1/{R}/regcode`, `/api/v1/tokens/authn`.
    FullPath,
}
