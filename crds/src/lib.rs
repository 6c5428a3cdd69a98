//! The custom resources of linkgate (`linkgate.dev/v1alpha1`).
//!
//! One schema serves both worlds: the operator and the proxy's Kubernetes mode read these
//! objects from the API server, and the standalone gateway reads the same `RequestorSpec`
//! shape from its YAML configuration file.

mod adobe;
mod degradation;
mod device_link;
mod region_sync;
mod requestor;
mod revision;
mod saml;
mod secret_ref;
mod stored;
mod temp_pass;

pub use adobe::{
    AdobeCompatSpec, DEFAULT_SIGNED_CALL_WINDOW_SECONDS, MAX_SIGNED_CALL_WINDOW_SECONDS,
    SignedAppSpec, SignedRequestUri,
};
pub use degradation::{DegradationRule, DegradationSpec};
pub use device_link::{
    AwaitingUserSpec, CodeStateSpec, DeviceCredentialSpec, DeviceLink, DeviceLinkPhase,
    DeviceLinkSpec, DeviceLinkStatus, LinkedUserSpec, PendingCodeSpec, SessionParamsSpec,
};
pub use region_sync::{ORIGIN_REGION_ANNOTATION, RegionSync, origin_of};
pub use requestor::{
    AdobeV2Callers, AttemptLimit, BackendCredentials, BrandingSpec, ClientRegistration,
    CodeEntryLimits, CodePolicy, ContentRouteSpec, DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    DEFAULT_AUTHN_TTL_SECONDS, DEFAULT_AUTHZ_TTL_SECONDS, DEFAULT_CODE_ALPHABET,
    DEFAULT_CODE_LENGTH, DEFAULT_CODE_TTL_SECONDS, DEFAULT_DEVICE_ACCESS_TOKEN_TTL_SECONDS,
    DEFAULT_KEY_ROTATION_SECONDS, DEFAULT_MEDIA_TOKEN_TTL_SECONDS, DEFAULT_PREAUTHORIZE_LIMIT,
    DecisionSpec, DegradationStatus, DeviceAuthPolicy, DeviceDialect, DeviceFlowPolicy,
    ManagedKeyStatus, MediaTokenPolicy, MvpdSpec, OidcSpec, RateLimit, Requestor, RequestorSpec,
    RequestorStatus, SigningKeyRef, ThrottlingPolicy, UpstreamSpec, WebhookSpec,
};
pub use revision::{Revision, RevisionError, is_region};
pub use saml::{DEFAULT_SAML_METADATA_REFRESH_SECONDS, SamlSpec};
pub use secret_ref::SecretKeyRef;
pub use stored::{Stored, Unreadable};
pub use temp_pass::{TempPassSpec, TempPassWindowSpec};

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
/// as the OpenAPI ones of a range that holds them, bounded to what the Rust type holds.
fn known_formats_only(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(fields) => {
            if let Some(serde_json::Value::String(format)) = fields.get_mut("format") {
                let range: Option<(i64, i64)> = match format.as_str() {
                    "uint8" => Some((0, u8::MAX.into())),
                    "uint16" => Some((0, u16::MAX.into())),
                    "int8" => Some((i8::MIN.into(), i8::MAX.into())),
                    "int16" => Some((i16::MIN.into(), i16::MAX.into())),
                    "uint32" => Some((0, u32::MAX.into())),
                    _ => None,
                };
                match format.as_str() {
                    "uint8" | "uint16" | "int8" | "int16" => *format = "int32".into(),
                    "uint32" | "uint64" => *format = "int64".into(),
                    _ => {}
                }
                // What the type holds, unless the schema says less: the API server then
                // refuses a number the code could not read.
                if let Some((min, max)) = range {
                    fields.entry("minimum").or_insert(min.into());
                    fields.entry("maximum").or_insert(max.into());
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

    /// Every word YAML 1.1 reads as a boolean or a null (compared in lower case, which
    /// covers each casing it knows): kubectl's reader, and Helm's, turn such a key or value
    /// into `true`, `false` or null before the API server sees it.
    const YAML_11_TRAPS: [&str; 10] = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ];

    /// The property names and enum values anywhere in `schema`, with where they are.
    fn words(schema: &serde_json::Value, at: &str, out: &mut Vec<(String, String)>) {
        let Some(fields) = schema.as_object() else {
            if let Some(items) = schema.as_array() {
                items.iter().for_each(|i| words(i, at, out));
            }
            return;
        };
        if let Some(properties) = fields.get("properties").and_then(|p| p.as_object()) {
            for (name, property) in properties {
                let here = format!("{at}.{name}");
                out.push((here.clone(), name.clone()));
                words(property, &here, out);
            }
        }
        let values = fields.get("enum").and_then(|e| e.as_array());
        for value in values.into_iter().flatten().filter_map(|v| v.as_str()) {
            out.push((format!("{at}={value}"), value.to_owned()));
        }
        for (key, value) in fields {
            if key != "properties" && key != "enum" {
                words(value, at, out);
            }
        }
    }

    #[test]
    fn no_field_name_or_enum_value_is_a_word_yaml_1_1_reads_as_a_boolean_or_null() {
        use kube::CustomResourceExt;
        let mut found = Vec::new();
        for crd in [super::Requestor::crd(), super::DeviceLink::crd()] {
            let crd = serde_json::to_value(crd).unwrap();
            words(&crd["spec"]["versions"], "", &mut found);
        }
        assert!(found.len() > 100, "the walk reaches the fields: {found:?}");
        assert!(found.iter().any(|(_, w)| w == "disabled"));
        assert!(found.iter().any(|(_, w)| w == "Linked"), "enum values too");
        let traps: Vec<_> = found
            .iter()
            .filter(|(_, w)| YAML_11_TRAPS.contains(&w.to_ascii_lowercase().as_str()))
            .collect();
        assert!(
            traps.is_empty(),
            "YAML 1.1 reads these as booleans or nulls: {traps:?}"
        );
    }
}
