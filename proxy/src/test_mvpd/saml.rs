//! The test MVPD's SAML 2.0 face, beside its OpenID Connect one: an identity provider that
//! takes an AuthnRequest on the HTTP-Redirect binding, signs in whoever names themselves,
//! and answers on the HTTP-POST binding with a Response signed (RSA-SHA256, samael with
//! libxmlsec1) under a key made at each start. Any service provider is served, as any
//! OpenID client is: this is for demos and tests only.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use http::{Response, StatusCode, header};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::idp::response_builder::{ResponseAttribute, build_response_template};
use samael::idp::sp_extractor::RequiredAttribute;
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    Endpoint, EntityDescriptor, HTTP_REDIRECT_BINDING, IdpSsoDescriptor, KeyDescriptor,
};
use samael::schema::AuthnRequest;
use samael::signature::DigestAlgorithm;
use samael::traits::ToXml;

use super::{Params, bad_request_page, html, pages, param};
use linkgate_domain::ids::UserId;

/// How long an assertion may be used, from its issue.
const ASSERTION_SECONDS: i64 = 300;
/// The largest inflated AuthnRequest read.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;
const URI_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

pub struct SamlFace {
    entity_id: String,
    sso: String,
    key_der: Vec<u8>,
    certificate: CertificateDer,
}

impl SamlFace {
    /// The face of the provider reached at `issuer`.
    pub fn new(issuer: &str) -> Self {
        let made = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).and_then(|idp| {
            let certificate = idp.create_certificate(&CertificateParams {
                common_name: "linkgate test MVPD",
                issuer_name: "linkgate test MVPD",
                days_until_expiration: 365,
            })?;
            Ok((idp.export_private_key_der()?, certificate))
        });
        let (key_der, certificate) = made.expect("OpenSSL makes an RSA key and certificate");
        Self {
            entity_id: format!("{issuer}/saml/metadata"),
            sso: format!("{issuer}/saml/sso"),
            key_der,
            certificate,
        }
    }

    /// Its metadata: entity ID, signing certificate, single sign-on on the redirect binding.
    pub fn metadata(&self) -> Response<Vec<u8>> {
        let descriptor = IdpSsoDescriptor {
            id: None,
            valid_until: None,
            cache_duration: None,
            protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".into()),
            error_url: None,
            signature: None,
            key_descriptors: vec![KeyDescriptor {
                key_use: Some("signing".into()),
                key_info: KeyInfo {
                    id: None,
                    x509_data: Some(X509Data {
                        certificates: vec![STANDARD.encode(self.certificate.der_data())],
                    }),
                },
                encryption_methods: None,
            }],
            organization: None,
            contact_people: Vec::new(),
            artifact_resolution_service: Vec::new(),
            single_logout_services: Vec::new(),
            manage_name_id_services: Vec::new(),
            name_id_formats: vec!["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()],
            want_authn_requests_signed: Some(false),
            single_sign_on_services: vec![Endpoint {
                binding: HTTP_REDIRECT_BINDING.into(),
                location: self.sso.clone(),
                response_location: None,
            }],
            name_id_mapping_services: Vec::new(),
            assertion_id_request_services: Vec::new(),
            attribute_profiles: Vec::new(),
            attributes: Vec::new(),
        };
        let xml = EntityDescriptor {
            entity_id: Some(self.entity_id.clone()),
            idp_sso_descriptors: Some(vec![descriptor]),
            ..EntityDescriptor::default()
        }
        .to_string()
        .expect("the test MVPD's metadata serialises");
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/samlmetadata+xml")
            .header(header::CONTENT_LENGTH, xml.len())
            .body(xml.into_bytes())
            .expect("valid response parts")
    }

    /// The sign-in form, for a readable AuthnRequest.
    pub fn sign_in_page(&self, query: &Params) -> Response<Vec<u8>> {
        match request(query) {
            Ok(_) => html(
                StatusCode::OK,
                pages::sign_in("/saml/sso", &carried(query), None),
            ),
            Err(why) => bad_request_page(&why),
        }
    }

    /// Signs the user in: the signed Response in a form for the service provider, or the
    /// sign-in form again.
    pub fn sign_in(&self, form: &Params) -> Response<Vec<u8>> {
        let request = match request(form) {
            Ok(request) => request,
            Err(why) => return bad_request_page(&why),
        };
        let Some(user) = param(form, "user").filter(|u| UserId::parse(u).is_ok()) else {
            let message = Some("Enter a user ID: letters, digits, _, - or =.");
            let page = pages::sign_in("/saml/sso", &carried(form), message);
            return html(StatusCode::BAD_REQUEST, page);
        };
        match self.respond(&request, user) {
            Ok((acs, signed)) => {
                let relay_state = param(form, "RelayState").unwrap_or_default();
                html(StatusCode::OK, pages::saml_post(&acs, &signed, relay_state))
            }
            Err(why) => bad_request_page(&why),
        }
    }

    /// Where the answer goes, and the answer (base64): a Response to `request` naming `user`,
    /// signed.
    fn respond(&self, request: &AuthnRequest, user: &str) -> Result<(String, String), String> {
        let acs = request
            .assertion_consumer_service_url
            .clone()
            .filter(|acs| {
                url::Url::parse(acs).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            })
            .ok_or("the request names no http(s) AssertionConsumerServiceURL")?;
        let audience = request
            .issuer
            .as_ref()
            .and_then(|i| i.value.clone())
            .ok_or("the request names no issuer")?;
        let uid = ResponseAttribute {
            required_attribute: RequiredAttribute {
                name: "uid".into(),
                format: Some(URI_FORMAT.into()),
            },
            value: user,
        };
        let mut response = build_response_template(
            &self.certificate,
            user,
            &audience,
            &self.entity_id,
            &acs,
            &request.id,
            &[uid],
        );
        // samael's template digests with SHA-1, which service providers (this gateway among
        // them) refuse.
        for reference in response
            .signature
            .iter_mut()
            .flat_map(|s| s.signed_info.reference.iter_mut())
        {
            reference.digest_method.algorithm = DigestAlgorithm::Sha256;
        }
        // Bounded in time, as the Web SSO profile asks of a bearer assertion.
        let now = Utc::now();
        let until = now + Duration::seconds(ASSERTION_SECONDS);
        if let Some(assertion) = response.assertion.as_mut() {
            if let Some(conditions) = assertion.conditions.as_mut() {
                conditions.not_before = Some(now);
                conditions.not_on_or_after = Some(until);
            }
            let confirmations = assertion
                .subject
                .iter_mut()
                .flat_map(|s| s.subject_confirmations.iter_mut().flatten());
            for data in confirmations.filter_map(|c| c.subject_confirmation_data.as_mut()) {
                data.not_on_or_after = Some(until);
            }
        }
        let unsigned = response.to_string().map_err(|e| e.to_string())?;
        let signed = Crypto::sign_xml(unsigned, &self.key_der).map_err(|e| e.to_string())?;
        Ok((acs, STANDARD.encode(signed)))
    }
}

/// What the sign-in form carries back: the request and its RelayState.
fn carried(params: &Params) -> Params {
    params
        .iter()
        .filter(|(name, _)| name == "SAMLRequest" || name == "RelayState")
        .cloned()
        .collect()
}

/// The AuthnRequest of the redirect binding: base64 of its deflated XML.
fn request(params: &Params) -> Result<AuthnRequest, String> {
    let encoded = param(params, "SAMLRequest").ok_or("SAMLRequest is required")?;
    let deflated = STANDARD
        .decode(encoded)
        .map_err(|_| "SAMLRequest is not base64")?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_REQUEST_BYTES)
        .read_to_string(&mut xml)
        .map_err(|_| "SAMLRequest is not deflated XML")?;
    xml.parse::<AuthnRequest>()
        .map_err(|e| format!("SAMLRequest is not an AuthnRequest: {e}"))
}
