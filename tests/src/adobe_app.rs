//! An app written for Adobe Pass REST API v1: every call signed with v1's `Authorization`
//! header, made here with RustCrypto's HMAC-SHA1 (not the gateway's ring), one fresh nonce
//! per call, the current time, and the path as such apps sign it: below the service's root
//! (`/regcode`, `/tokens/authn`), or whole for an app declared to sign whole paths.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;

use crate::{Gateway, read};

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

pub struct AdobeApp<'a> {
    gw: &'a Gateway,
    requestor_id: &'a str,
    public_key: &'a str,
    secret: &'a str,
    nonces: AtomicU64,
    full_paths: bool,
}

/// What most apps sign as `request_uri`: the path without `/reggie/v1/{requestor}` or
/// `/api/v1`.
pub fn below_service_root(path: &str) -> &str {
    let segments: Vec<&str> = path.splitn(5, '/').collect();
    match segments.as_slice() {
        ["", "reggie", "v1", _requestor, _] => &path[segments[..4].join("/").len()..],
        ["", "api", "v1", ..] => &path["/api/v1".len()..],
        _ => panic!("not an Adobe v1 path: {path}"),
    }
}

impl<'a> AdobeApp<'a> {
    /// The app of `requestor_id` holding the key pair `public_key`, `secret`.
    pub fn new(
        gw: &'a Gateway,
        requestor_id: &'a str,
        public_key: &'a str,
        secret: &'a str,
    ) -> Self {
        Self {
            gw,
            requestor_id,
            public_key,
            secret,
            nonces: AtomicU64::new(1),
            full_paths: false,
        }
    }

    /// The same app, signing whole paths (`/api/v1/tokens/authn`).
    pub fn signing_full_paths(self) -> Self {
        Self {
            full_paths: true,
            ..self
        }
    }

    /// The header for `method` on `path` at `time` with `nonce`, signed with `secret`.
    pub fn header(
        &self,
        method: &Method,
        path: &str,
        time: i64,
        nonce: &str,
        secret: &str,
    ) -> String {
        let signed = format!(
            "{method} requestor_id={}, nonce={nonce}, signature_method=HMAC-SHA1, request_time={time}, request_uri={path}",
            self.requestor_id
        );
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(signed.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        format!(
            "{signed}, public_key={}, signature={signature}",
            self.public_key
        )
    }

    pub fn nonce(&self) -> String {
        format!("nonce-{}", self.nonces.fetch_add(1, Ordering::Relaxed))
    }

    /// `method` on `target` (a path and query) with `authorization` as the header.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        authorization: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .gw
            .http
            .request(method, self.gw.url(target))
            .header("authorization", authorization);
        if let Some(form) = form {
            request = request.form(form);
        }
        read(request.send().await.expect("request")).await
    }

    /// A call signed as the app signs it.
    pub async fn call(
        &self,
        method: Method,
        target: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, serde_json::Value) {
        let path = target.split('?').next().unwrap_or(target);
        let path = match self.full_paths {
            true => path,
            false => below_service_root(path),
        };
        let header = self.header(&method, path, now_millis(), &self.nonce(), self.secret);
        self.send(method, target, &header, form).await
    }

    /// The regcode the app asks for `device`, as v1's `POST /reggie/v1/{requestor}/regcode`
    /// answers it (201).
    pub async fn regcode(&self, device: &str) -> serde_json::Value {
        let path = format!("/reggie/v1/{}/regcode", self.requestor_id);
        let (status, created) = self
            .call(Method::POST, &path, Some(&[("deviceId", device)]))
            .await;
        assert_eq!(status, 201, "{created}");
        created
    }
}
