//! Signing a person in at their MVPD with SAML 2.0: this gateway as a service provider,
//! its AuthnRequest sent on the HTTP-Redirect binding, the identity provider's Response
//! taken on the HTTP-POST binding. samael (with libxmlsec1) checks the XML signature, and
//! hands back only the element the signature covers, then the Destination, Issuer,
//! InResponseTo, Status, Recipient, Audience and times. Around it, this module refuses what
//! samael would let through: metadata without a signing certificate (samael then checks
//! nothing), signature algorithms outside a short list, a response holding other than one
//! assertion (a signed one beside an unsigned one is a wrapping attempt), a DOCTYPE, an
//! assertion without an audience, an assertion or request used twice, and a transient NameID
//! as the user's name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    EncryptionMethod, EntityDescriptor, HTTP_POST_BINDING, HTTP_REDIRECT_BINDING, IndexedEndpoint,
    KeyDescriptor, SpSsoDescriptor,
};
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;

mod document;

use super::outbound::Outbound;
use super::provider_http::ProviderHttp;
use super::sign_in::SignedIn;
use linkgate_domain::saml::{IdpMetadata, KeyPair, SamlProvider};

/// This gateway as one MVPD's service provider: its entity ID (where its metadata is) and
/// where assertions are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub entity_id: String,
    pub acs: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("the provider's metadata cannot be read or used: {0}")]
    Metadata(String),
    #[error("this gateway's key pair for the provider is unusable: {0}")]
    KeyPair(String),
    #[error("the sign-in request cannot be made: {0}")]
    Request(String),
    #[error("the provider's answer is refused ({reason}): {detail}")]
    Refused {
        /// A fixed word, for metrics.
        reason: &'static str,
        detail: String,
    },
}

pub(super) fn refused(reason: &'static str, detail: impl Into<String>) -> SamlError {
    SamlError::Refused {
        reason,
        detail: detail.into(),
    }
}

/// samael's refusal, as one of a few fixed words.
fn reason(e: &samael::service_provider::Error) -> &'static str {
    use samael::service_provider::Error as E;
    match e {
        E::FailedToValidateSignature => "signature",
        E::AssertionExpired { .. }
        | E::AssertionConditionExpired { .. }
        | E::AssertionSubjectConfirmationExpired { .. }
        | E::ResponseExpired { .. } => "expired",
        E::AssertionConditionExpiredBefore { .. }
        | E::AssertionSubjectConfirmationExpiredBefore { .. } => "not_yet_valid",
        E::AssertionConditionAudienceRestrictionFailed { .. } => "audience",
        E::AssertionInResponseToInvalid { .. } | E::ResponseInResponseToInvalid { .. } => {
            "unsolicited"
        }
        E::AssertionIssuerMismatch { .. } | E::ResponseIssuerMismatch { .. } => "issuer",
        E::DestinationValidationError { .. } | E::AssertionRecipientMismatch { .. } => {
            "destination"
        }
        E::ResponseBadStatusCode { .. } => "status",
        _ => "malformed",
    }
}

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// A response outlives its use by little: samael takes no assertion issued over 90 s ago, nor
/// one past its NotOnOrAfter (with 180 s of clock skew), so its ID is remembered well past
/// that.
const REMEMBERED: Duration = Duration::from_secs(900);
const REMEMBERED_MAX: u64 = 200_000;

pub struct Saml {
    http: ProviderHttp,
    /// By metadata URL.
    metadata: Mutex<HashMap<url::Url, Kept>>,
    /// Assertion IDs (by issuer) and request IDs answered already.
    used: moka::sync::Cache<String, ()>,
}

impl Saml {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            http: ProviderHttp::new(outbound),
            metadata: Mutex::default(),
            used: moka::sync::Cache::builder()
                .max_capacity(REMEMBERED_MAX)
                .time_to_live(REMEMBERED)
                .build(),
        }
    }
}

/// An identity provider's metadata read from its URL.
#[derive(Clone)]
struct Kept {
    /// When the URL was last tried.
    checked: Instant,
    /// When this copy was read.
    read: Instant,
    metadata: Arc<EntityDescriptor>,
}

/// How long a copy serves while its URL cannot be read, and how soon the URL is tried again.
const STALE_MAX: Duration = Duration::from_secs(24 * 3600);
const RETRY: Duration = Duration::from_secs(60);

/// Whether metadata is within its `validUntil`, if it states one.
fn valid(metadata: &EntityDescriptor) -> bool {
    metadata
        .valid_until
        .is_none_or(|until| chrono::Utc::now() < until)
}

/// A fresh AuthnRequest ID: 128 random bits (samael's own carry 32), an NCName.
pub fn request_id() -> String {
    format!("_{}", hex::encode(rand::random::<[u8; 16]>()))
}

impl Saml {
    /// The identity provider's metadata: inline, or read from its URL when not checked
    /// within its refresh interval. While the provider cannot be read, the last good copy
    /// serves for up to a day (and not past its `validUntil`), and the URL is tried again a
    /// minute later, not at every sign-in.
    async fn idp(&self, provider: &SamlProvider) -> Result<Arc<EntityDescriptor>, SamlError> {
        let (url, refresh) = match &provider.metadata {
            IdpMetadata::Inline(xml) => return parse_metadata(xml).map(Arc::new),
            IdpMetadata::Url { url, refresh } => (url, *refresh),
        };
        let kept = self
            .metadata
            .lock()
            .expect("not poisoned")
            .get(url)
            .cloned();
        if let Some(kept) = &kept
            && kept.checked.elapsed() < refresh
        {
            return Ok(Arc::clone(&kept.metadata));
        }
        let read = self
            .http
            .get(url.clone())
            .await
            .map_err(|e| SamlError::Metadata(e.to_string()))
            .and_then(|body| {
                let xml =
                    String::from_utf8(body).map_err(|_| SamlError::Metadata("not UTF-8".into()))?;
                parse_metadata(&xml)
            });
        let now = Instant::now();
        let kept = match (read, kept) {
            (Ok(metadata), _) => Kept {
                checked: now,
                read: now,
                metadata: Arc::new(metadata),
            },
            (Err(e), Some(stale)) if stale.read.elapsed() < STALE_MAX && valid(&stale.metadata) => {
                tracing::warn!(error = %e, "SAML metadata not refreshed: the last copy serves");
                Kept {
                    checked: now - refresh.saturating_sub(RETRY),
                    ..stale
                }
            }
            (Err(e), _) => return Err(e),
        };
        let metadata = Arc::clone(&kept.metadata);
        self.metadata
            .lock()
            .expect("not poisoned")
            .insert(url.clone(), kept);
        Ok(metadata)
    }

    /// samael's service provider for this provider, ready to check a response.
    async fn service_provider(
        &self,
        provider: &SamlProvider,
        at: &Endpoints,
    ) -> Result<ServiceProvider, SamlError> {
        let idp = self.idp(provider).await?;
        let mut builder = ServiceProviderBuilder::default();
        builder
            .entity_id(at.entity_id.clone())
            .acs_url(at.acs.clone())
            .idp_metadata((*idp).clone())
            .allowed_signature_algorithms(vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ]);
        if let Some(pair) = &provider.key_pair {
            let (key, certificate) = key_pair(pair)?;
            builder.key(key).certificate(certificate);
        }
        let sp = builder
            .build()
            .map_err(|e| SamlError::Metadata(e.to_string()))?;
        // Without one, samael would take any response as it stands.
        match sp.idp_signing_certs() {
            Ok(Some(_)) => Ok(sp),
            Ok(None) => Err(SamlError::Metadata(
                "it names no signing certificate".into(),
            )),
            Err(e) => Err(SamlError::Metadata(e.to_string())),
        }
    }

    /// This gateway's metadata for the provider: entity ID, the ACS on the HTTP-POST
    /// binding, and its certificate (for signing and encryption) when it has a key pair.
    pub fn metadata(provider: &SamlProvider, at: &Endpoints) -> Result<String, SamlError> {
        let certificate = provider
            .key_pair
            .as_ref()
            .map(|pair| key_pair(pair).map(|(_, c)| c))
            .transpose()?;
        let described = |key_use: &str, methods: Option<Vec<EncryptionMethod>>| {
            certificate.as_ref().map(|c| KeyDescriptor {
                key_use: Some(key_use.to_owned()),
                key_info: KeyInfo {
                    id: None,
                    x509_data: Some(X509Data {
                        certificates: vec![base64_der(c)],
                    }),
                },
                encryption_methods: methods,
            })
        };
        let encryption = [
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
        ]
        .map(|algorithm| EncryptionMethod {
            algorithm: algorithm.to_owned(),
        });
        let keys = [
            described("signing", None),
            described("encryption", Some(encryption.to_vec())),
        ];
        let descriptor = SpSsoDescriptor {
            protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
            key_descriptors: Some(keys.into_iter().flatten().collect()),
            authn_requests_signed: Some(certificate.is_some()),
            want_assertions_signed: Some(true),
            assertion_consumer_services: vec![IndexedEndpoint {
                binding: HTTP_POST_BINDING.into(),
                location: at.acs.clone(),
                response_location: None,
                index: 0,
                is_default: Some(true),
            }],
            ..SpSsoDescriptor::default()
        };
        EntityDescriptor {
            entity_id: Some(at.entity_id.clone()),
            sp_sso_descriptors: Some(vec![descriptor]),
            ..EntityDescriptor::default()
        }
        .to_string()
        .map_err(|e| SamlError::Metadata(e.to_string()))
    }

    /// Where to send the browser: the provider's single sign-on URL with an AuthnRequest of
    /// ID `id` and `relay_state`, signed when this gateway has a key pair (which it must
    /// when the provider wants signed requests).
    pub async fn begin(
        &self,
        provider: &SamlProvider,
        at: &Endpoints,
        id: &str,
        relay_state: &str,
    ) -> Result<url::Url, SamlError> {
        let sp = self.service_provider(provider, at).await?;
        let sso = sp
            .sso_binding_location(HTTP_REDIRECT_BINDING)
            .ok_or_else(|| {
                SamlError::Metadata("it offers no sign-on on the HTTP-Redirect binding".into())
            })?;
        let mut request = sp
            .make_authentication_request(&sso)
            .map_err(|e| SamlError::Request(e.to_string()))?;
        id.clone_into(&mut request.id);
        let wants_signed = sp
            .idp_metadata
            .idp_sso_descriptors
            .iter()
            .flatten()
            .any(|d| d.want_authn_requests_signed == Some(true));
        // With a key pair every request is signed, as this gateway's metadata says.
        let url = match &sp.key {
            Some(key) => request.signed_redirect(relay_state, key),
            None if wants_signed => {
                return Err(SamlError::Request(
                    "the provider wants signed requests: give this MVPD a keyRef and certificateRef"
                        .into(),
                ));
            }
            None => request.redirect(relay_state),
        };
        url.map_err(|e| SamlError::Request(e.to_string()))?
            .ok_or_else(|| SamlError::Request("no destination".into()))
    }

    /// The provider's answer (`SAMLResponse`, base64) to request `request_id`, checked:
    /// who it names.
    pub async fn finish(
        &self,
        provider: &SamlProvider,
        at: &Endpoints,
        request_id: &str,
        encoded: &str,
    ) -> Result<SignedIn, SamlError> {
        let xml = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| refused("malformed", "not base64 of UTF-8 XML"))?;
        let xml = document::response(&xml)?.into_owned();
        let sp = self.service_provider(provider, at).await?;
        let request = request_id.to_owned();
        // libxmlsec1's work is CPU-bound: not on the proxy's async workers.
        let assertion = tokio::task::spawn_blocking(move || {
            sp.parse_xml_response(&xml, Some(&[request.as_str()]))
                .map_err(|e| refused(reason(&e), e.to_string()))
        })
        .await
        .map_err(|_| refused("malformed", "the check did not finish"))??;
        if !audiences(&assertion).any(|a| a == at.entity_id) {
            return Err(refused(
                "audience",
                "the assertion names no audience of this gateway",
            ));
        }
        let issuer = assertion.issuer.value.clone().unwrap_or_default();
        // Only a good answer is remembered, so a forged one cannot spend a genuine ID.
        for key in [
            format!("request {request_id}"),
            format!("{issuer} {}", assertion.id),
        ] {
            if !self.used.entry(key).or_insert(()).is_fresh() {
                return Err(refused("replayed", "the answer was used already"));
            }
        }
        signed_in(provider, &assertion)
    }
}

/// The identity provider's `EntityDescriptor`, checked as a configuration's inline one is.
fn parse_metadata(xml: &str) -> Result<EntityDescriptor, SamlError> {
    linkgate_domain::saml::check_metadata(xml).map_err(SamlError::Metadata)?;
    xml.parse::<EntityDescriptor>()
        .map_err(|e| SamlError::Metadata(e.to_string()))
}

fn audiences(assertion: &Assertion) -> impl Iterator<Item = &str> {
    assertion
        .conditions
        .iter()
        .flat_map(|c| c.audience_restrictions.iter().flatten())
        .flat_map(|r| &r.audience)
        .map(String::as_str)
}

/// The first value of each attribute, by name, and also by friendly name when `friendly`
/// (a friendly name is informational: it names no user).
fn attributes(assertion: &Assertion, friendly: bool) -> BTreeMap<&str, &str> {
    let mut found = BTreeMap::new();
    for attribute in assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
    {
        let Some(value) = attribute.values.iter().find_map(|v| v.value.as_deref()) else {
            continue;
        };
        if let Some(name) = &attribute.name {
            found.entry(name.as_str()).or_insert(value);
        }
        if let Some(name) = attribute.friendly_name.as_ref().filter(|_| friendly) {
            found.entry(name.as_str()).or_insert(value);
        }
    }
    found
}

/// Who the assertion names: the configured attribute, or a NameID that lasts.
fn signed_in(provider: &SamlProvider, assertion: &Assertion) -> Result<SignedIn, SamlError> {
    let subject = match &provider.user_id_attribute {
        Some(name) => attributes(assertion, false)
            .get(name.as_str())
            .map(|v| (*v).to_owned())
            .ok_or_else(|| {
                refused(
                    "subject",
                    format!("the assertion has no attribute {name:?}"),
                )
            })?,
        None => {
            let name_id = assertion
                .subject
                .as_ref()
                .and_then(|s| s.name_id.as_ref())
                .ok_or_else(|| refused("subject", "the assertion names no subject"))?;
            if name_id.format.as_deref() == Some(TRANSIENT) {
                return Err(refused(
                    "subject",
                    "the subject's NameID is transient: name a userIdAttribute",
                ));
            }
            name_id.value.clone()
        }
    };
    let attributes = attributes(assertion, true);
    let metadata = provider
        .keep_attributes
        .iter()
        .filter_map(|name| Some((name.clone(), (*attributes.get(name.as_str())?).to_owned())))
        .collect();
    Ok(SignedIn { subject, metadata })
}

type KeyAndCertificate = (openssl::pkey::PKey<openssl::pkey::Private>, CertificateDer);

fn key_pair(pair: &KeyPair) -> Result<KeyAndCertificate, SamlError> {
    let key = openssl::pkey::PKey::private_key_from_pem(&pair.key_pem)
        .map_err(|_| SamlError::KeyPair("the key is not a PEM private key".into()))?;
    let certificate = openssl::x509::X509::from_pem(&pair.certificate_pem)
        .and_then(|c| c.to_der())
        .map_err(|_| SamlError::KeyPair("the certificate is not a PEM certificate".into()))?;
    Ok((key, CertificateDer::from(certificate)))
}

fn base64_der(certificate: &CertificateDer) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        certificate.der_data(),
    )
}
