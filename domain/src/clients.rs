//! Registered clients of a requestor (RFC 7591 registration, RFC 6749 client credentials):
//! its backend's servers, and its apps as Adobe Pass REST API v2 registers them. Nothing
//! about a client is stored: its secret is a keyed hash of its ID and its access tokens are
//! signed, both with a key every proxy derives from the code key, so any proxy checks what
//! another issued.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::time::Timestamp;

/// The issuer of access tokens.
const ISSUER: &str = "linkgate";

/// Why a statement, a client or a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("the software statement is not valid: {0}")]
    Statement(String),
    #[error("unknown client or wrong secret")]
    Client,
    #[error("the access token is not valid: {0}")]
    Token(String),
}

/// What a registered client is: its kind is part of its ID, so a secret or token of one
/// kind never passes for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// The requestor's backend: its server-to-server calls.
    Backend,
    /// One of the requestor's apps, on devices (Adobe v2's registration): its token is the
    /// app's, shared by every copy of it, so it proves the app and never the backend.
    App,
}

/// Between an app client's requestor and the rest of its ID. Adobe's token call names no
/// requestor, so an app's client ID carries it; no backend client ID has this character.
const APP_SEPARATOR: char = '~';

impl ClientKind {
    pub fn of(client_id: &str) -> Self {
        match client_id.contains(APP_SEPARATOR) {
            true => ClientKind::App,
            false => ClientKind::Backend,
        }
    }

    /// The ID of the client `instance` of `software_id`, for `requestor`.
    pub fn client_id(self, requestor: &str, software_id: &str, instance: u64) -> String {
        match self {
            ClientKind::Backend => format!("{software_id}.{instance:016x}"),
            ClientKind::App => format!("{requestor}{APP_SEPARATOR}{software_id}.{instance:016x}"),
        }
    }
}

/// The requestor an app's client ID names (which its secret then proves).
pub fn app_requestor(client_id: &str) -> Option<&str> {
    client_id
        .split_once(APP_SEPARATOR)
        .map(|(requestor, _)| requestor)
}

/// What a software statement asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub software_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The requestor the statement is for.
    pub aud: String,
    /// Seconds since the epoch after which it no longer registers clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

impl Statement {
    /// The requestor `jwt` says it is for, read without checking it: only to find whose
    /// keys then verify it (Adobe's registration call names the requestor nowhere else).
    pub fn audience(jwt: &str) -> Option<String> {
        use base64::Engine;
        #[derive(Deserialize)]
        struct Audience {
            aud: String,
        }
        let claims = jwt.split('.').nth(1)?;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims.trim_end_matches('='))
            .ok()?;
        Some(serde_json::from_slice::<Audience>(&claims).ok()?.aud)
    }

    /// Signs the statement with an Ed25519 private key (PKCS#8 PEM), as its issuer does.
    pub fn sign(&self, private_pem: &[u8]) -> Result<String, String> {
        let key = EncodingKey::from_ed_pem(private_pem).map_err(|e| e.to_string())?;
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), self, &key).map_err(|e| e.to_string())
    }

    /// Verifies `jwt` (EdDSA) against `keys`, for `requestor`, at `now`.
    pub fn verify(
        jwt: &str,
        keys: &[DecodingKey],
        requestor: &str,
        now: Timestamp,
    ) -> Result<Self, ClientError> {
        let bad = |why: String| ClientError::Statement(why);
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let statement = keys
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Self>(jwt, key, &validation).ok())
            .ok_or_else(|| bad("no trusted key signed it, or it is malformed".into()))?
            .claims;
        if statement.aud != requestor {
            return Err(bad(format!("it is for {:?}", statement.aud)));
        }
        if statement
            .exp
            .is_some_and(|exp| now.unix_millis() >= exp.saturating_mul(1000))
        {
            return Err(bad("it has expired".into()));
        }
        let id = &statement.software_id;
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(bad(
                "software_id must be 1–64 letters, digits, '.', '_' or '-'".into(),
            ));
        }
        Ok(statement)
    }
}

#[derive(Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
}

/// The key client secrets and access tokens are made with.
#[derive(Clone)]
pub struct ClientKey {
    secrets: Hmac<Sha256>,
    signing: EncodingKey,
    verifying: DecodingKey,
}

impl ClientKey {
    /// From two keys derived for the purpose (see `CodeKey::derive`).
    pub fn new(secrets: [u8; 32], tokens: [u8; 32]) -> Self {
        Self {
            secrets: Hmac::new_from_slice(&secrets).expect("HMAC accepts 32-byte keys"),
            signing: EncodingKey::from_secret(&tokens),
            verifying: DecodingKey::from_secret(&tokens),
        }
    }

    /// The secret of `client` of `requestor`.
    pub fn client_secret(&self, requestor: &str, client: &str) -> String {
        use base64::Engine;
        let mut mac = self.secrets.clone();
        mac.update(requestor.as_bytes());
        mac.update(b"\0");
        mac.update(client.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `secret` is `client`'s, in time independent of where it differs.
    pub fn check_secret(
        &self,
        requestor: &str,
        client: &str,
        secret: &str,
    ) -> Result<(), ClientError> {
        let expected = self.client_secret(requestor, client);
        let same: bool = expected.as_bytes().ct_eq(secret.as_bytes()).into();
        same.then_some(()).ok_or(ClientError::Client)
    }

    /// An access token for `client` of `requestor`, valid for `ttl_seconds` from `now`.
    pub fn access_token(
        &self,
        requestor: &str,
        client: &str,
        now: Timestamp,
        ttl_seconds: u32,
    ) -> String {
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: requestor.into(),
            sub: client.into(),
            iat: now.unix_secs(),
            exp: now.unix_secs_ceil() + i64::from(ttl_seconds),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.signing)
            .expect("HS256 signing does not fail")
    }

    /// The client an access token for `requestor` was issued to, if it is valid at `now`.
    pub fn verify_access_token(
        &self,
        token: &str,
        requestor: &str,
        now: Timestamp,
    ) -> Result<String, ClientError> {
        let bad = |why: &str| ClientError::Token(why.into());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.verifying, &validation)
            .map_err(|_| bad("malformed or not signed here"))?
            .claims;
        if claims.iss != ISSUER || claims.aud != requestor {
            return Err(bad("issued for another requestor"));
        }
        if now.unix_millis() >= claims.exp.saturating_mul(1000) {
            return Err(bad("expired"));
        }
        Ok(claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINvTo5IIN01atW141ANgjLWyPwI+q4drAt0AnJEzWBDP\n-----END PRIVATE KEY-----\n";

    const STATEMENT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAW0U2wzVlor6p4YqFjUOXOl/haR+g1RP25ftM+DEKTzI=\n-----END PUBLIC KEY-----\n";

    fn keys() -> Vec<DecodingKey> {
        vec![DecodingKey::from_ed_pem(STATEMENT_PUBLIC_KEY.as_bytes()).unwrap()]
    }

    fn statement(claims: serde_json::Value) -> String {
        let statement: Statement = serde_json::from_value(claims).unwrap();
        statement.sign(STATEMENT_KEY.as_bytes()).unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    #[test]
    fn a_statement_for_the_requestor_signed_by_a_trusted_key_registers() {
        let jwt =
            statement(serde_json::json!({"software_id": "backend-1", "aud": "demo", "exp": 2000}));
        let s = Statement::verify(&jwt, &keys(), "demo", at(1000)).unwrap();
        assert_eq!(s.software_id, "backend-1");
        for (jwt, requestor, now) in [
            (jwt.clone(), "other", at(1000)),
            (jwt.clone(), "demo", at(2000)),
            (
                statement(serde_json::json!({"software_id": "a b", "aud": "demo"})),
                "demo",
                at(0),
            ),
            (format!("{jwt}x"), "demo", at(1000)),
        ] {
            assert!(
                Statement::verify(&jwt, &keys(), requestor, now).is_err(),
                "{requestor}"
            );
        }
    }

    #[test]
    fn an_app_s_client_id_names_its_requestor_and_kind() {
        let app = ClientKind::App.client_id("demo", "tv-app", 7);
        assert_eq!(app, "demo~tv-app.0000000000000007");
        assert_eq!(ClientKind::of(&app), ClientKind::App);
        assert_eq!(app_requestor(&app), Some("demo"));
        let backend = ClientKind::Backend.client_id("demo", "tv-app", 7);
        assert_eq!(ClientKind::of(&backend), ClientKind::Backend);
        assert_eq!(app_requestor(&backend), None);
        let jwt = statement(serde_json::json!({"software_id": "tv-app", "aud": "demo"}));
        assert_eq!(Statement::audience(&jwt).as_deref(), Some("demo"));
        assert_eq!(Statement::audience("not.a-jwt"), None);
    }

    #[test]
    fn secrets_and_tokens_are_bound_to_their_client_and_requestor() {
        let key = ClientKey::new([1; 32], [2; 32]);
        let secret = key.client_secret("demo", "backend-1.a");
        assert!(key.check_secret("demo", "backend-1.a", &secret).is_ok());
        assert!(key.check_secret("demo", "backend-1.b", &secret).is_err());
        assert!(key.check_secret("other", "backend-1.a", &secret).is_err());
        let token = key.access_token("demo", "backend-1.a", at(1000), 60);
        assert_eq!(
            key.verify_access_token(&token, "demo", at(1059)).unwrap(),
            "backend-1.a"
        );
        assert!(key.verify_access_token(&token, "demo", at(1060)).is_err());
        assert!(key.verify_access_token(&token, "other", at(1000)).is_err());
        let elsewhere = ClientKey::new([1; 32], [3; 32]);
        assert!(
            elsewhere
                .verify_access_token(&token, "demo", at(1000))
                .is_err()
        );
    }
}
