//! The custom resources of linkgate (`linkgate.dev/v1alpha1`).
//!
//! One schema serves both worlds: the operator and the proxy's Kubernetes mode read these
//! objects from the API server, and the standalone gateway reads the same `RequestorSpec`
//! shape from its YAML configuration file.

mod adobe;
mod device_link;
mod region_sync;
mod requestor;
mod revision;
mod saml;
mod secret_ref;

pub use adobe::{
    AdobeCompatSpec, DEFAULT_SIGNED_CALL_WINDOW_SECONDS, MAX_SIGNED_CALL_WINDOW_SECONDS,
    SignedAppSpec,
};
pub use device_link::{
    AwaitingUserSpec, CodeStateSpec, DeviceCredentialSpec, DeviceLink, DeviceLinkPhase,
    DeviceLinkSpec, DeviceLinkStatus, LinkedUserSpec, PendingCodeSpec,
};
pub use region_sync::{ORIGIN_REGION_ANNOTATION, RegionSync, origin_of};
pub use requestor::{
    AttemptLimit, BackendCredentials, ClientRegistration, CodeEntryLimits, CodePolicy,
    ContentRouteSpec, DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_AUTHN_TTL_SECONDS,
    DEFAULT_AUTHZ_TTL_SECONDS, DEFAULT_CODE_ALPHABET, DEFAULT_CODE_LENGTH,
    DEFAULT_CODE_TTL_SECONDS, DEFAULT_DEVICE_ACCESS_TOKEN_TTL_SECONDS,
    DEFAULT_KEY_ROTATION_SECONDS, DEFAULT_MEDIA_TOKEN_TTL_SECONDS, DEFAULT_PREAUTHORIZE_LIMIT,
    DecisionSpec, DeviceAuthPolicy, DeviceDialect, DeviceFlowPolicy, ManagedKeyStatus,
    MediaTokenPolicy, MvpdSpec, OidcSpec, RateLimit, Requestor, RequestorSpec, RequestorStatus,
    SigningKeyRef, ThrottlingPolicy, UpstreamSpec, WebhookSpec,
};
pub use revision::{Revision, RevisionError, is_region};
pub use saml::{DEFAULT_SAML_METADATA_REFRESH_SECONDS, SamlSpec};
pub use secret_ref::SecretKeyRef;

/// The API group of every linkgate resource.
pub const GROUP: &str = "linkgate.dev";

/// Generates the CustomResourceDefinitions as the multi-document YAML committed in `crds/`.
pub fn crd_yaml() -> Result<String, serde_yaml_ng::Error> {
    use kube::CustomResourceExt;
    let mut out = String::new();
    for crd in [Requestor::crd(), DeviceLink::crd()] {
        let mut crd = serde_json::to_value(crd).expect("a CRD serialises");
        known_formats_only(&mut crd);
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

/// Rewrites the integer formats the API server does not know (schemars names Rust's
/// unsigned and small types: `uint64`, `uint8`…), which it would warn about at every apply,
/// as the OpenAPI ones of a range that holds them; the schema's `minimum: 0` keeps them
/// unsigned.
fn known_formats_only(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(fields) => {
            if let Some(serde_json::Value::String(format)) = fields.get_mut("format") {
                match format.as_str() {
                    "uint8" | "uint16" | "int8" | "int16" => *format = "int32".into(),
                    "uint32" | "uint64" => *format = "int64".into(),
                    _ => {}
                }
            }
            fields.values_mut().for_each(known_formats_only);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(known_formats_only),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_crds_name_only_formats_the_api_server_knows() {
        let yaml = super::crd_yaml().unwrap();
        let formats: std::collections::BTreeSet<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("format: "))
            .collect();
        let known = ["int32", "int64", "date-time"];
        assert!(formats.iter().all(|f| known.contains(f)), "{formats:?}");
        assert!(formats.contains("int64"));
    }
}
