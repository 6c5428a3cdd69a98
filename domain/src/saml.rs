//! An MVPD's SAML 2.0 identity provider as a requestor declares it: where its metadata
//! comes from, which attribute names the user, and this gateway's own key pair there.
//! The XML itself (metadata, requests, signed responses) is the proxy's business.

use std::time::Duration;

use linkgate_crds::SamlSpec;

use super::policy_error::{PolicyError, ReadSecret};
use super::tenancy::Bounds;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlProvider {
    pub metadata: IdpMetadata,
    pub user_id_attribute: Option<String>,
    pub keep_attributes: Vec<String>,
    /// This gateway's key and certificate (PEM) at this provider.
    pub key_pair: Option<KeyPair>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdpMetadata {
    Inline(String),
    Url { url: url::Url, refresh: Duration },
}

#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub key_pem: Vec<u8>,
    pub certificate_pem: Vec<u8>,
}

/// A private key never reaches a log line.
impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").finish_non_exhaustive()
    }
}

impl SamlProvider {
    pub(crate) fn from_spec(
        mvpd: &str,
        spec: &SamlSpec,
        bounds: Bounds,
        secret: &ReadSecret<'_>,
    ) -> Result<Self, PolicyError> {
        let bad = |reason: String| PolicyError::BadSaml {
            id: mvpd.to_owned(),
            reason,
        };
        let metadata = match (&spec.idp_metadata, &spec.idp_metadata_url) {
            (Some(xml), None) => {
                check_metadata(xml).map_err(|e| bad(format!("idpMetadata: {e}")))?;
                IdpMetadata::Inline(xml.clone())
            }
            (None, Some(url)) => {
                let url = url::Url::parse(url).map_err(|e| bad(format!("idpMetadataUrl: {e}")))?;
                bounds
                    .check_outbound(&url)
                    .map_err(|e| bad(format!("idpMetadataUrl {e}")))?;
                IdpMetadata::Url {
                    url,
                    refresh: Duration::from_secs(spec.metadata_refresh_seconds.clamp(60, 86_400)),
                }
            }
            _ => {
                return Err(bad(
                    "set exactly one of idpMetadata and idpMetadataUrl".into()
                ));
            }
        };
        let key_pair = match (&spec.key_ref, &spec.certificate_ref) {
            (Some(key), Some(certificate)) => Some(KeyPair {
                key_pem: secret(format!("MVPD {mvpd:?} saml.keyRef"), key)?,
                certificate_pem: secret(format!("MVPD {mvpd:?} saml.certificateRef"), certificate)?,
            }),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "set keyRef and certificateRef together, or neither".into()
                ));
            }
        };
        Ok(Self {
            metadata,
            user_id_attribute: spec.user_id_attribute.clone(),
            keep_attributes: spec.keep_attributes.clone(),
            key_pair,
        })
    }
}

const METADATA_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:metadata";

/// Whether `xml` is an identity provider's metadata with a certificate to check its
/// signatures by: an `EntityDescriptor` holding an `IDPSSODescriptor` and a signing (or
/// unqualified) `KeyDescriptor` with an X.509 certificate, and no DOCTYPE.
pub fn check_metadata(xml: &str) -> Result<(), String> {
    use quick_xml::events::Event;
    use quick_xml::name::{Namespace, ResolveResult};

    let mut reader = quick_xml::NsReader::from_str(xml);
    let (mut root, mut idp, mut certificate) = (None, false, false);
    // Elements open, and whether the `KeyDescriptor` open, if any, may sign.
    let (mut depth, mut signing_key) = (0usize, None);
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let in_metadata = ns == ResolveResult::Bound(Namespace(METADATA_NS));
        let element = match &event {
            Event::DocType(_) => return Err("a DOCTYPE is not taken".into()),
            Event::Start(e) => {
                depth += 1;
                e
            }
            Event::Empty(e) => e,
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if in_metadata && e.local_name().as_ref() == b"KeyDescriptor" {
                    signing_key = None;
                }
                continue;
            }
            Event::Eof if depth > 0 => return Err("not well-formed XML: it ends early".into()),
            Event::Eof => break,
            _ => continue,
        };
        let name = element.local_name();
        let name = name.as_ref();
        if root.is_none() {
            root = Some(in_metadata && name == b"EntityDescriptor");
        }
        idp |= in_metadata && name == b"IDPSSODescriptor";
        if in_metadata && name == b"KeyDescriptor" {
            let key_use = element.try_get_attribute("use").ok().flatten();
            signing_key = Some(key_use.is_none_or(|u| u.value.as_ref() == b"signing"));
        }
        certificate |= signing_key == Some(true) && name == b"X509Certificate";
    }
    match (root, idp, certificate) {
        (Some(true), true, true) => Ok(()),
        (Some(true), true, false) => Err("it names no signing certificate".into()),
        (Some(true), false, _) => Err("it describes no identity provider".into()),
        _ => Err("it is not a SAML metadata EntityDescriptor".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_crds::SecretKeyRef;

    const METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#;

    fn spec() -> SamlSpec {
        serde_json::from_value(serde_json::json!({"idpMetadata": METADATA})).expect("a spec")
    }

    fn read(what: String, r: &SecretKeyRef) -> Result<Vec<u8>, PolicyError> {
        match r.name.as_str() {
            "sp" => Ok(format!("{} PEM", r.key).into_bytes()),
            _ => Err(PolicyError::MissingSecret {
                what,
                name: r.name.clone(),
                key: r.key.clone(),
            }),
        }
    }

    fn reference(key: &str) -> SecretKeyRef {
        SecretKeyRef {
            name: "sp".into(),
            key: key.into(),
        }
    }

    #[test]
    fn metadata_comes_from_exactly_one_place() {
        let inline = SamlProvider::from_spec("m", &spec(), Bounds::default(), &read).unwrap();
        assert_eq!(inline.metadata, IdpMetadata::Inline(METADATA.into()));

        let mut both = spec();
        both.idp_metadata_url = Some("https://idp.example/metadata".into());
        let neither = SamlSpec {
            idp_metadata: None,
            ..spec()
        };
        for spec in [both, neither] {
            let e = SamlProvider::from_spec("m", &spec, Bounds::default(), &read).unwrap_err();
            assert!(e.to_string().contains("exactly one"), "{e}");
        }
    }

    #[test]
    fn inline_metadata_must_name_a_signing_certificate() {
        assert_eq!(check_metadata(METADATA), Ok(()));
        let unqualified = METADATA.replace(r#" use="signing""#, "");
        assert_eq!(check_metadata(&unqualified), Ok(()));
        for (broken, why) in [
            (
                METADATA.replace(r#"use="signing""#, r#"use="encryption""#),
                "no signing certificate",
            ),
            (
                METADATA.replace(
                    "ds:X509Certificate>MIIB</ds:X509Certificate",
                    "ds:KeyName>k</ds:KeyName",
                ),
                "no signing certificate",
            ),
            (
                METADATA.replace("IDPSSODescriptor", "SPSSODescriptor"),
                "no identity provider",
            ),
            (
                METADATA.replace("urn:oasis:names:tc:SAML:2.0:metadata", "urn:other"),
                "not a SAML metadata",
            ),
            (format!("<!DOCTYPE x>{METADATA}"), "DOCTYPE"),
            (
                METADATA.replace("</md:EntityDescriptor>", ""),
                "not well-formed",
            ),
        ] {
            let e = check_metadata(&broken).unwrap_err();
            assert!(e.contains(why), "{e} for {broken}");
        }
        let spec = SamlSpec {
            idp_metadata: Some("<x/>".into()),
            ..spec()
        };
        let e = SamlProvider::from_spec("m", &spec, Bounds::default(), &read).unwrap_err();
        assert!(e.to_string().contains("idpMetadata: it is not"), "{e}");
    }

    #[test]
    fn a_metadata_url_is_an_outbound_address_and_refreshes_within_bounds() {
        let mut by_url = SamlSpec {
            idp_metadata: None,
            idp_metadata_url: Some("https://idp.example/metadata".into()),
            metadata_refresh_seconds: 5,
            ..spec()
        };
        let provider = SamlProvider::from_spec("m", &by_url, Bounds::default(), &read).unwrap();
        assert_eq!(
            provider.metadata,
            IdpMetadata::Url {
                url: url::Url::parse("https://idp.example/metadata").unwrap(),
                refresh: Duration::from_secs(60),
            }
        );
        by_url.idp_metadata_url = Some("http://10.0.0.1/metadata".into());
        let e = SamlProvider::from_spec("m", &by_url, Bounds::default(), &read).unwrap_err();
        assert!(e.to_string().contains("must be https"), "{e}");
    }

    #[test]
    fn the_key_pair_is_read_whole_or_not_at_all() {
        let paired = SamlSpec {
            key_ref: Some(reference("tls.key")),
            certificate_ref: Some(reference("tls.crt")),
            ..spec()
        };
        let provider = SamlProvider::from_spec("m", &paired, Bounds::default(), &read).unwrap();
        let pair = provider.key_pair.expect("a key pair");
        assert_eq!(pair.key_pem, b"tls.key PEM");
        assert_eq!(pair.certificate_pem, b"tls.crt PEM");
        assert!(!format!("{pair:?}").contains("PEM"), "no key in Debug");

        let half = SamlSpec {
            key_ref: Some(reference("tls.key")),
            ..spec()
        };
        let e = SamlProvider::from_spec("m", &half, Bounds::default(), &read).unwrap_err();
        assert!(e.to_string().contains("together"), "{e}");
    }
}
