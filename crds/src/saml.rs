//! An MVPD's SAML 2.0 identity provider, and this gateway as its service provider.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::SecretKeyRef;

/// How often an identity provider's metadata read from a URL is read again, by default.
pub const DEFAULT_SAML_METADATA_REFRESH_SECONDS: u64 = 3600;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SamlSpec {
    /// The identity provider's metadata (its `EntityDescriptor`), inline. Exactly one of
    /// this and `idpMetadataUrl` is set. It must name a signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_metadata: Option<String>,
    /// Where the identity provider publishes its metadata (https, or http on loopback);
    /// read again every `metadataRefreshSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_metadata_url: Option<String>,
    #[serde(default = "default_refresh")]
    #[schemars(range(min = 60, max = 86400))]
    pub metadata_refresh_seconds: u64,
    /// The assertion attribute, by its `Name` (a `FriendlyName` is informational), whose
    /// value is the user ID; without it, the subject's NameID (which must then not be
    /// transient).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub user_id_attribute: Option<String>,
    /// Attributes kept with the link as its metadata, by name or friendly name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_attributes: Vec<String>,
    /// This gateway's private key (PEM) for this provider: it signs the authentication
    /// requests when the provider wants them signed, and decrypts encrypted assertions.
    /// Set with `certificateRef`, or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<SecretKeyRef>,
    /// The certificate (PEM) of that key, published in this gateway's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_ref: Option<SecretKeyRef>,
}

fn default_refresh() -> u64 {
    DEFAULT_SAML_METADATA_REFRESH_SECONDS
}
