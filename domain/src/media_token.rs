//! Media tokens: short-lived EdDSA-signed JWTs (RFC 7519, RFC 8037) binding a requestor, a
//! resource, a device and a user. Anyone holding the published keys (a JWK set) can check
//! them offline; the key ID in the header picks the key, so keys rotate without a flag day.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// Who issues media tokens.
pub const ISSUER: &str = "linkgate";

/// What a media token asserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaClaims {
    pub iss: String,
    /// The requestor.
    pub aud: String,
    /// The user.
    pub sub: String,
    /// The device.
    pub dev: String,
    /// The resource the token entitles to.
    pub res: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// A unique ID, so one token can be told from another.
    pub jti: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed EdDSA JWT: {0}")]
    Format(String),
    #[error("the token names an unknown key {0:?}")]
    UnknownKey(String),
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token expired")]
    Expired,
    #[error("the token is for resource {0:?}")]
    WrongResource(String),
    #[error("the token is for requestor {0:?}")]
    WrongRequestor(String),
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key {id:?} is not an Ed25519 PKCS#8 PEM key: {reason}")]
pub struct KeyError {
    pub id: String,
    pub reason: String,
}

/// A requestor's keys: the first signs, every one verifies.
#[derive(Clone)]
pub struct MediaKeys {
    signer: Option<(String, EncodingKey)>,
    verifiers: HashMap<String, DecodingKey>,
    /// The public keys as JWKs, in order.
    public: Vec<Jwk>,
}

/// A public key as a JSON Web Key (RFC 8037 `OKP`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(rename = "use", default)]
    pub use_: Option<String>,
}

/// A JSON Web Key Set, as published.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaKeys")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl MediaKeys {
    /// Loads private keys given as `(key ID, PEM)`, the signing one first.
    pub fn from_private_pems<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, KeyError> {
        let mut out = Self {
            signer: None,
            verifiers: HashMap::new(),
            public: Vec::new(),
        };
        for (id, pem) in keys {
            let error = |reason: String| KeyError {
                id: id.to_owned(),
                reason,
            };
            let text = std::str::from_utf8(pem).map_err(|e| error(e.to_string()))?;
            let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(text)
                .map_err(|e| error(e.to_string()))?;
            let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
            if out.signer.is_none() {
                let encoding = EncodingKey::from_ed_pem(pem).map_err(|e| error(e.to_string()))?;
                out.signer = Some((id.to_owned(), encoding));
            }
            let decoding = DecodingKey::from_ed_components(&x).map_err(|e| error(e.to_string()))?;
            out.verifiers.insert(id.to_owned(), decoding);
            out.public.push(Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x,
                kid: id.to_owned(),
                alg: Some("EdDSA".into()),
                use_: Some("sig".into()),
            });
        }
        Ok(out)
    }

    /// Verification only, from a published key set.
    pub fn from_jwks(set: &JwkSet) -> Result<Self, KeyError> {
        let mut out = Self {
            signer: None,
            verifiers: HashMap::new(),
            public: set.keys.clone(),
        };
        for jwk in &set.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(KeyError {
                    id: jwk.kid.clone(),
                    reason: format!("unsupported key type {}/{}", jwk.kty, jwk.crv),
                });
            }
            let decoding = DecodingKey::from_ed_components(&jwk.x).map_err(|e| KeyError {
                id: jwk.kid.clone(),
                reason: e.to_string(),
            })?;
            out.verifiers.insert(jwk.kid.clone(), decoding);
        }
        Ok(out)
    }

    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.public.clone(),
        }
    }

    /// Signs `claims` (media token or device access token claims); `None` when there is
    /// no signing key.
    pub fn sign(&self, claims: &impl Serialize) -> Option<String> {
        let (kid, key) = self.signer.as_ref()?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, key).ok()
    }

    /// Checks format, key, signature, expiry, requestor and resource, in that order.
    pub fn verify(
        &self,
        token: &str,
        requestor: &str,
        resource: &str,
        now: Timestamp,
    ) -> Result<MediaClaims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Format(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Format(format!("algorithm {:?}", header.alg)));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenError::Format("no key ID".into()))?;
        let key = self
            .verifiers
            .get(&kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.clone()))?;
        // Expiry and audience are checked below against the injected clock, with errors
        // of our own; the library checks the signature and the claim shapes.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<MediaClaims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::Signature,
                _ => TokenError::Format(e.to_string()),
            })?
            .claims;
        claims.check(requestor, resource, now)?;
        Ok(claims)
    }
}

impl MediaClaims {
    /// The checks after the signature's: issuer, expiry, requestor, resource.
    pub fn check(&self, requestor: &str, resource: &str, now: Timestamp) -> Result<(), TokenError> {
        if self.iss != ISSUER {
            return Err(TokenError::Format(format!("issuer {:?}", self.iss)));
        }
        if now.unix_millis() >= self.exp.saturating_mul(1000) {
            return Err(TokenError::Expired);
        }
        if self.aud != requestor {
            return Err(TokenError::WrongRequestor(self.aud.clone()));
        }
        if self.res != resource {
            return Err(TokenError::WrongResource(self.res.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test keys, generated with `openssl genpkey -algorithm ed25519`.
    pub(crate) const KEY_A: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIFRBqFfhycBuiBwEhNp4Oo+0kKhvjHBwU0qSAk2CngIh
-----END PRIVATE KEY-----
";
    pub(crate) const KEY_B: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKBlVwU/I+FqI4C04B8W4CcIYE+JO00lnetttGXsQkzR
-----END PRIVATE KEY-----
";

    fn claims(exp: i64) -> MediaClaims {
        MediaClaims {
            iss: ISSUER.into(),
            aud: "demo".into(),
            sub: "alice".into(),
            dev: "tv".into(),
            res: "news".into(),
            mvpd: Some("test-mvpd".into()),
            iat: 0,
            exp,
            jti: "t1".into(),
        }
    }

    fn keys(list: &[(&'static str, &'static str)]) -> MediaKeys {
        MediaKeys::from_private_pems(list.iter().map(|(id, pem)| (*id, pem.as_bytes()))).unwrap()
    }

    const NOW: Timestamp = Timestamp::from_unix_millis(100_000);

    #[test]
    fn a_signed_token_verifies_with_the_private_or_published_keys() {
        let k = keys(&[("a", KEY_A)]);
        let token = k.sign(&claims(200)).unwrap();
        assert_eq!(k.verify(&token, "demo", "news", NOW), Ok(claims(200)));
        let published = MediaKeys::from_jwks(&k.jwks()).unwrap();
        assert!(!published.can_sign());
        assert_eq!(
            published.verify(&token, "demo", "news", NOW),
            Ok(claims(200))
        );
    }

    #[test]
    fn every_binding_is_checked() {
        let k = keys(&[("a", KEY_A)]);
        let token = k.sign(&claims(200)).unwrap();
        assert_eq!(
            k.verify(&token, "demo", "sports", NOW),
            Err(TokenError::WrongResource("news".into()))
        );
        assert_eq!(
            k.verify(&token, "other", "news", NOW),
            Err(TokenError::WrongRequestor("demo".into()))
        );
        assert_eq!(
            k.verify(&token, "demo", "news", Timestamp::from_unix_millis(200_000)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tampering_and_foreign_keys_are_caught() {
        let k = keys(&[("a", KEY_A)]);
        let token = k.sign(&claims(200)).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = MediaClaims {
            res: "premium".into(),
            ..claims(200)
        };
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            k.verify(&parts.join("."), "demo", "premium", NOW),
            Err(TokenError::Signature)
        );
        let other = keys(&[("a", KEY_B)]);
        assert_eq!(
            other.verify(&token, "demo", "news", NOW),
            Err(TokenError::Signature)
        );
        let unknown = keys(&[("b", KEY_B)]);
        assert_eq!(
            unknown.verify(&token, "demo", "news", NOW),
            Err(TokenError::UnknownKey("a".into()))
        );
        assert!(matches!(
            k.verify("not.a.token", "demo", "news", NOW),
            Err(TokenError::Format(_))
        ));
    }

    #[test]
    fn after_rotation_old_tokens_still_verify() {
        let old = keys(&[("a", KEY_A)]);
        let token = old.sign(&claims(200)).unwrap();
        let rotated = keys(&[("b", KEY_B), ("a", KEY_A)]);
        assert!(rotated.verify(&token, "demo", "news", NOW).is_ok());
        let fresh = rotated.sign(&claims(200)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn bad_keys_are_reported_by_id() {
        let err = MediaKeys::from_private_pems([("k1", b"not a key".as_slice())]).unwrap_err();
        assert_eq!(err.id, "k1");
    }

    proptest::proptest! {
        /// Arbitrary text, JWT-shaped or not, is refused without a panic.
        #[test]
        fn arbitrary_media_tokens_are_refused(token in "[A-Za-z0-9_.=-]{0,200}") {
            let k = keys(&[("a", KEY_A)]);
            proptest::prop_assert!(k.verify(&token, "demo", "news", NOW).is_err());
        }
    }
}
