//! A tiny identity provider standing in for an MVPD, for demos and tests only (served when
//! the configuration has `testMvpd`): whoever signs in is the user they name. It speaks the
//! real protocols — OpenID Connect's discovery, a JWK set, the authorization code flow with
//! PKCE (S256) and nonce, EdDSA-signed ID tokens; and SAML 2.0 (`saml`) — so that a sign-in
//! against it is a sign-in against any provider.

mod grants;
mod pages;
mod saml;

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::BytesMut;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use http::{Method, Response, StatusCode, header};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde::Serialize;
use serde_json::json;

use grants::{CODE_TTL, Grant, Grants};
use linkgate_domain::ids::UserId;
use linkgate_domain::media_token::MediaKeys;
use linkgate_domain::time::Clock;

/// The largest request body read.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Lifetime of ID and access tokens.
const TOKEN_TTL_SECONDS: i64 = 300;

pub struct TestMvpd {
    issuer: String,
    keys: MediaKeys,
    saml: saml::SamlFace,
    grants: Grants,
    clock: Arc<dyn Clock>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    name: &'a str,
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn form(raw: &[u8]) -> Params {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

impl TestMvpd {
    /// Serves as `issuer` (the URL it is reached at), with a signing key made now.
    pub fn new(issuer: &url::Url, clock: Arc<dyn Clock>) -> Self {
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a fresh Ed25519 key encodes");
        let keys = MediaKeys::from_private_pems([("test-mvpd", pem.as_bytes())])
            .expect("a fresh Ed25519 key loads");
        let issuer = issuer.as_str().trim_end_matches('/').to_owned();
        Self {
            saml: saml::SamlFace::new(&issuer),
            issuer,
            keys,
            grants: Grants::default(),
            clock,
        }
    }

    fn discovery(&self) -> serde_json::Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": at("/authorize"),
            "token_endpoint": at("/token"),
            "jwks_uri": at("/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "scopes_supported": ["openid", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": ["sub", "name", "nonce", "auth_time"],
        })
    }

    /// The sign-in page, for a well-formed authorization request.
    fn sign_in_page(&self, params: &Params) -> Response<Vec<u8>> {
        match check_request(params) {
            Ok(()) => html(StatusCode::OK, pages::sign_in("/authorize", params, None)),
            Err(why) => bad_request_page(&why),
        }
    }

    /// Signs the user in: back to the client with a code, or the form again.
    fn sign_in(&self, params: &Params) -> Response<Vec<u8>> {
        if let Err(why) = check_request(params) {
            return bad_request_page(&why);
        }
        let Some(user) = param(params, "user").filter(|u| UserId::parse(u).is_ok()) else {
            let page = pages::sign_in(
                "/authorize",
                params,
                Some("Enter a user ID: letters, digits, _, - or =."),
            );
            return html(StatusCode::BAD_REQUEST, page);
        };
        let now = self.clock.now();
        let grant = Grant {
            client_id: param(params, "client_id").unwrap_or_default().into(),
            redirect_uri: param(params, "redirect_uri").unwrap_or_default().into(),
            code_challenge: param(params, "code_challenge").map(Into::into),
            nonce: param(params, "nonce").map(Into::into),
            user: user.into(),
            expires_at: now.after(CODE_TTL),
        };
        let mut back = url::Url::parse(&grant.redirect_uri).expect("checked above");
        let code = self.grants.issue(grant, now);
        back.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = param(params, "state") {
            back.query_pairs_mut().append_pair("state", state);
        }
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, back.as_str())
            .header(header::CONTENT_LENGTH, 0)
            .body(Vec::new())
            .expect("a valid redirect")
    }

    /// The token endpoint: an ID token for a code, once.
    fn token(&self, params: &Params, basic: Option<String>) -> Response<Vec<u8>> {
        if param(params, "grant_type") != Some("authorization_code") {
            return oauth_error("unsupported_grant_type", "only authorization_code");
        }
        let Some(client_id) = basic.or_else(|| param(params, "client_id").map(Into::into)) else {
            return oauth_error("invalid_client", "client_id is required");
        };
        let (Some(code), Some(redirect_uri)) =
            (param(params, "code"), param(params, "redirect_uri"))
        else {
            return oauth_error("invalid_request", "code and redirect_uri are required");
        };
        let now = self.clock.now();
        let verifier = param(params, "code_verifier");
        let grant = match self
            .grants
            .redeem(code, &client_id, redirect_uri, verifier, now)
        {
            Ok(grant) => grant,
            Err(e) => {
                return oauth_error("invalid_grant", &e.to_string());
            }
        };
        let iat = now.unix_secs();
        let claims = IdClaims {
            iss: &self.issuer,
            sub: &grant.user,
            aud: &grant.client_id,
            iat,
            exp: iat + TOKEN_TTL_SECONDS,
            auth_time: iat,
            nonce: grant.nonce.as_deref(),
            name: &grant.user,
        };
        let id_token = self
            .keys
            .sign(&claims)
            .expect("the test MVPD has a signing key");
        let mut response = json_response(
            StatusCode::OK,
            &json!({
                "access_token": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL_SECONDS,
                "id_token": id_token,
                "scope": "openid",
            }),
        );
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        response
    }
}

/// An authorization request this provider serves: the code flow, for OpenID, back to an
/// http(s) URL, with PKCE only as S256.
fn check_request(params: &Params) -> Result<(), String> {
    if param(params, "response_type") != Some("code") {
        return Err("response_type must be code".into());
    }
    if param(params, "client_id").is_none() {
        return Err("client_id is required".into());
    }
    let redirect = param(params, "redirect_uri").ok_or("redirect_uri is required")?;
    let url = url::Url::parse(redirect).map_err(|e| format!("redirect_uri: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("redirect_uri must be http or https".into());
    }
    if !param(params, "scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")) {
        return Err("scope must include openid".into());
    }
    if param(params, "code_challenge").is_some()
        && param(params, "code_challenge_method") != Some("S256")
    {
        return Err("code_challenge_method must be S256".into());
    }
    Ok(())
}

/// The client named in HTTP Basic authentication, if any.
fn basic_client(session: &ServerSession) -> Option<String> {
    let value = session.req_header().headers.get(header::AUTHORIZATION)?;
    let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
    let pair = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let id = pair.split(':').next()?;
    url::form_urlencoded::parse(format!("id={id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

async fn read_body(session: &mut ServerSession) -> Option<BytesMut> {
    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await.ok()? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).expect("JSON serialises");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(bytes)
        .expect("valid response parts")
}

fn oauth_error(error: &str, description: &str) -> Response<Vec<u8>> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

fn html(status: StatusCode, page: String) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_LENGTH, page.len())
        .body(page.into_bytes())
        .expect("valid response parts")
}

fn bad_request_page(why: &str) -> Response<Vec<u8>> {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bad request</title></head>\
         <body><h1>This sign-in request cannot be served</h1><p>{}</p></body></html>\n",
        crate::html::escape(why)
    );
    html(StatusCode::BAD_REQUEST, page)
}

#[async_trait]
impl ServeHttp for TestMvpd {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_owned();
        let query = form(
            session
                .req_header()
                .uri
                .query()
                .unwrap_or_default()
                .as_bytes(),
        );
        let basic = basic_client(session);
        let Some(body) = read_body(session).await else {
            return oauth_error("invalid_request", "the body is too large or unreadable");
        };
        match (method, path.as_str()) {
            (Method::GET, "/.well-known/openid-configuration") => {
                json_response(StatusCode::OK, &self.discovery())
            }
            (Method::GET, "/jwks") => json_response(
                StatusCode::OK,
                &serde_json::to_value(self.keys.jwks()).expect("a JWK set serialises"),
            ),
            (Method::GET, "/authorize") => self.sign_in_page(&query),
            (Method::POST, "/authorize") => self.sign_in(&form(&body)),
            (Method::POST, "/token") => self.token(&form(&body), basic),
            (Method::GET, "/saml/metadata") => self.saml.metadata(),
            (Method::GET, "/saml/sso") => self.saml.sign_in_page(&query),
            (Method::POST, "/saml/sso") => self.saml.sign_in(&form(&body)),
            _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
        }
    }
}
