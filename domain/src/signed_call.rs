//! Adobe Pass REST API v1's signed `Authorization` header, which apps written for it send
//! on every call:
//!
//! `GET requestor_id=R, nonce=N, signature_method=HMAC-SHA1, request_time=MILLIS,
//! request_uri=/path, public_key=K, signature=BASE64`
//!
//! where the signature is HMAC-SHA1, under the secret of public key K, of everything before
//! `, public_key`. Checked here: the form, the call it names (method, path in the one form
//! the app is declared to sign, requestor), the key, the signature and the time; whether the
//! nonce was seen before is the caller's (it needs memory across calls).

use std::time::Duration;

use base64::Engine;
use ring::hmac;

pub use linkgate_crds::SignedRequestUri;

use crate::time::Timestamp;

/// The secrets of a requestor's signing apps and the window their calls' times must fall in.
#[derive(Clone, Debug)]
pub struct SignedApps {
    apps: Vec<App>,
    pub window: Duration,
}

#[derive(Clone, Debug)]
struct App {
    public_key: String,
    key: hmac::Key,
    signs: SignedRequestUri,
}

/// The path of an Adobe v1 call below its service's root, as apps sign it: `/regcode` for
/// `/reggie/v1/{R}/regcode`, `/tokens/authn` for `/api/v1/tokens/authn`; `None` for a path
/// of neither service.
pub fn below_service_root(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/reggie/v1/") {
        let (_requestor, below) = rest.split_once('/')?;
        return Some(&rest[rest.len() - below.len() - 1..]);
    }
    path.strip_prefix("/api/v1")
        .filter(|below| below.starts_with('/'))
}

impl Default for SignedApps {
    fn default() -> Self {
        Self {
            apps: Vec::new(),
            window: Duration::from_secs(linkgate_crds::DEFAULT_SIGNED_CALL_WINDOW_SECONDS.into()),
        }
    }
}

/// A signed header as sent, read but not yet checked.
#[derive(Debug, PartialEq, Eq)]
pub struct SignedCall<'a> {
    pub method: &'a str,
    pub requestor_id: &'a str,
    pub nonce: &'a str,
    pub request_time: Timestamp,
    pub request_uri: &'a str,
    pub public_key: &'a str,
    signature: &'a str,
    /// Everything the signature covers.
    signed: &'a str,
}

/// Why a signed call was refused; the header itself is never repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedCallError {
    #[error("the signed Authorization header names another requestor, method or path")]
    OtherCall,
    #[error("the signed Authorization header's public key is not one of this requestor's apps")]
    UnknownKey,
    #[error("the signed Authorization header's signature does not verify")]
    Signature,
    #[error("the signed Authorization header's request_time is outside the accepted window")]
    Stale,
}

const FIELDS: [&str; 5] = [
    "requestor_id",
    "nonce",
    "signature_method",
    "request_time",
    "request_uri",
];

impl<'a> SignedCall<'a> {
    /// Reads `header` when it has the signed form: `None` for anything else (a bearer
    /// token, say), so that other credentials are looked at as before.
    pub fn parse(header: &'a str) -> Option<Self> {
        let (method, rest) = header.split_once(' ')?;
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        // The two unsigned fields come last and alone: nothing unsigned may say anything else.
        let cut = header.find(", public_key=")?;
        let (signed, tail) = header.split_at(cut);
        let (public_key, signature) = tail
            .strip_prefix(", public_key=")?
            .split_once(", signature=")?;
        let mut values = [""; FIELDS.len()];
        let mut fields = rest[..signed.len() - method.len() - 1].split(", ");
        for (name, value) in FIELDS.iter().zip(values.iter_mut()) {
            *value = fields.next()?.strip_prefix(name)?.strip_prefix('=')?;
        }
        let [requestor_id, nonce, method_name, time, request_uri] = values;
        if fields.next().is_some() || method_name != "HMAC-SHA1" {
            return None;
        }
        let nonempty = [requestor_id, nonce, request_uri, public_key, signature];
        if nonempty.iter().any(|v| v.is_empty() || v.contains(',')) {
            return None;
        }
        Some(Self {
            method,
            requestor_id,
            nonce,
            request_time: Timestamp::from_unix_millis(time.parse().ok()?),
            request_uri,
            public_key,
            signature,
            signed,
        })
    }
}

impl SignedApps {
    /// The apps of `spec`, their secrets read through `secret`.
    pub fn new(
        apps: impl IntoIterator<Item = (String, Vec<u8>, SignedRequestUri)>,
        window: Duration,
    ) -> Result<Self, String> {
        let mut known: Vec<App> = Vec::new();
        for (public_key, secret, signs) in apps {
            if secret.is_empty() {
                return Err(format!("the secret of public key {public_key:?} is empty"));
            }
            if known.iter().any(|app| app.public_key == public_key) {
                return Err(format!("public key {public_key:?} is listed twice"));
            }
            let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret);
            known.push(App {
                public_key,
                key,
                signs,
            });
        }
        Ok(Self {
            apps: known,
            window,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }

    /// Whether `call` is a signature of this call (`method` on `path`, the request's whole
    /// path, for a requestor known by one of `requestor_ids`) by one of the apps, naming the
    /// path in the form that app signs, made within the window of `now`.
    pub fn verify(
        &self,
        call: &SignedCall<'_>,
        requestor_ids: &[&str],
        method: &str,
        path: &str,
        now: Timestamp,
    ) -> Result<(), SignedCallError> {
        let app = self
            .apps
            .iter()
            .find(|app| app.public_key == call.public_key)
            .ok_or(SignedCallError::UnknownKey)?;
        let signed_path = match app.signs {
            SignedRequestUri::BelowServiceRoot => below_service_root(path),
            SignedRequestUri::FullPath => Some(path),
        };
        if call.method != method
            || signed_path != Some(call.request_uri)
            || !requestor_ids.contains(&call.requestor_id)
        {
            return Err(SignedCallError::OtherCall);
        }
        let key = &app.key;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(call.signature)
            .map_err(|_| SignedCallError::Signature)?;
        hmac::verify(key, call.signed.as_bytes(), &signature)
            .map_err(|_| SignedCallError::Signature)?;
        let skew = now.unix_millis().abs_diff(call.request_time.unix_millis());
        if u128::from(skew) > self.window.as_millis() {
            return Err(SignedCallError::Stale);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header an app would send.
    fn sign(
        method: &str,
        requestor_id: &str,
        nonce: &str,
        request_time: Timestamp,
        path: &str,
        public_key: &str,
        secret: &[u8],
    ) -> String {
        let signed = format!(
            "{method} requestor_id={requestor_id}, nonce={nonce}, signature_method=HMAC-SHA1, request_time={}, request_uri={path}",
            request_time.unix_millis()
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, signed.as_bytes()));
        format!("{signed}, public_key={public_key}, signature={signature}")
    }

    const NOW: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);

    /// `pk1` signs paths below the service root, as most apps do; `pk-full` whole paths.
    fn apps() -> SignedApps {
        SignedApps::new(
            [
                (
                    "pk1".to_owned(),
                    b"secret-1".to_vec(),
                    SignedRequestUri::BelowServiceRoot,
                ),
                (
                    "pk-full".to_owned(),
                    b"secret-2".to_vec(),
                    SignedRequestUri::FullPath,
                ),
            ],
            Duration::from_secs(300),
        )
        .unwrap()
    }

    fn header(time: Timestamp, path: &str) -> String {
        sign("GET", "ESPN", "n-1", time, path, "pk1", b"secret-1")
    }

    #[test]
    fn the_path_below_the_service_root_is_what_follows_the_requestor_or_api_v1() {
        for (path, below) in [
            ("/reggie/v1/ESPN/regcode", Some("/regcode")),
            ("/reggie/v1/ESPN/regcode/AB12CD", Some("/regcode/AB12CD")),
            ("/api/v1/tokens/authn", Some("/tokens/authn")),
            ("/api/v1/authorize", Some("/authorize")),
            ("/api/v1/config/ESPN", Some("/config/ESPN")),
            ("/api/v1/authenticate/AB12CD", Some("/authenticate/AB12CD")),
            ("/reggie/v1/ESPN", None),
            ("/api/v1", None),
            ("/api/v10/authorize", None),
            ("/v1/requestors/espn/codes", None),
        ] {
            assert_eq!(below_service_root(path), below, "{path}");
        }
    }

    #[test]
    fn a_call_signed_as_v1_apps_sign_is_read_and_verified() {
        let h = header(NOW, "/authorize");
        let call = SignedCall::parse(&h).unwrap();
        assert_eq!(
            (call.method, call.requestor_id, call.nonce, call.public_key),
            ("GET", "ESPN", "n-1", "pk1")
        );
        assert_eq!(call.request_time, NOW);
        let ids = ["espn", "ESPN"];
        assert_eq!(
            apps().verify(&call, &ids, "GET", "/api/v1/authorize", NOW),
            Ok(())
        );
        let regcode = sign("POST", "ESPN", "n-2", NOW, "/regcode", "pk1", b"secret-1");
        let call = SignedCall::parse(&regcode).unwrap();
        let path = "/reggie/v1/ESPN/regcode";
        assert_eq!(apps().verify(&call, &ids, "POST", path, NOW), Ok(()));
    }

    #[test]
    fn each_app_is_held_to_the_one_form_it_signs() {
        let ids = ["ESPN"];
        let path = "/api/v1/authorize";
        let verify = |uri: &str, key: &str, secret: &[u8]| {
            let h = sign("GET", "ESPN", "n", NOW, uri, key, secret);
            apps().verify(&SignedCall::parse(&h).unwrap(), &ids, "GET", path, NOW)
        };
        assert_eq!(verify("/authorize", "pk1", b"secret-1"), Ok(()));
        assert_eq!(
            verify(path, "pk1", b"secret-1"),
            Err(SignedCallError::OtherCall)
        );
        assert_eq!(verify(path, "pk-full", b"secret-2"), Ok(()));
        assert_eq!(
            verify("/authorize", "pk-full", b"secret-2"),
            Err(SignedCallError::OtherCall)
        );
    }

    #[test]
    fn a_signature_for_another_call_key_or_time_is_refused() {
        let h = header(NOW, "/authorize");
        let call = SignedCall::parse(&h).unwrap();
        let ids = ["ESPN"];
        let verify = |method, path, ids: &[&str], now| apps().verify(&call, ids, method, path, now);
        assert_eq!(
            verify("DELETE", "/api/v1/authorize", &ids, NOW),
            Err(SignedCallError::OtherCall)
        );
        assert_eq!(
            verify("GET", "/api/v1/logout", &ids, NOW),
            Err(SignedCallError::OtherCall)
        );
        assert_eq!(
            verify("GET", "/api/v1/authorize", &["NBC"], NOW),
            Err(SignedCallError::OtherCall)
        );
        let late = NOW.after(Duration::from_secs(301));
        assert_eq!(
            verify("GET", "/api/v1/authorize", &ids, late),
            Err(SignedCallError::Stale)
        );
        let early = Timestamp::from_unix_millis(NOW.unix_millis() - 301_000);
        assert_eq!(
            verify("GET", "/api/v1/authorize", &ids, early),
            Err(SignedCallError::Stale)
        );

        let other_key = sign("GET", "ESPN", "n", NOW, "/p", "pk2", b"secret-1");
        let call = SignedCall::parse(&other_key).unwrap();
        assert_eq!(
            apps().verify(&call, &ids, "GET", "/api/v1/p", NOW),
            Err(SignedCallError::UnknownKey)
        );
        let wrong_secret = sign("GET", "ESPN", "n", NOW, "/p", "pk1", b"secret-2");
        let call = SignedCall::parse(&wrong_secret).unwrap();
        assert_eq!(
            apps().verify(&call, &ids, "GET", "/api/v1/p", NOW),
            Err(SignedCallError::Signature)
        );
    }

    #[test]
    fn any_byte_changed_in_the_signed_part_breaks_the_signature() {
        let h = sign(
            "GET",
            "ESPN",
            "n-1",
            NOW,
            "/api/v1/authorize",
            "pk-full",
            b"secret-2",
        );
        let cut = h.find(", public_key").unwrap();
        for i in 0..cut {
            let mut bytes = h.clone().into_bytes();
            bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
            let Ok(changed) = String::from_utf8(bytes) else {
                continue;
            };
            let Some(call) = SignedCall::parse(&changed) else {
                continue;
            };
            let ids = [call.requestor_id];
            let verified = apps().verify(
                &call,
                &ids,
                call.method,
                call.request_uri,
                call.request_time,
            );
            assert_eq!(verified, Err(SignedCallError::Signature), "byte {i}");
        }
    }

    #[test]
    fn only_the_signed_form_is_read() {
        for other in [
            "Bearer eyJhbGciOi.x.y",
            "Basic ZGVtbw==",
            "GET requestor_id=R, nonce=n, signature_method=HMAC-SHA256, request_time=1, request_uri=/p, public_key=k, signature=s",
            // A field after the signature would be unsigned.
            "GET requestor_id=R, nonce=n, signature_method=HMAC-SHA1, request_time=1, request_uri=/p, public_key=k, signature=s, request_uri=/q",
            "GET requestor_id=R, nonce=n, signature_method=HMAC-SHA1, request_time=soon, request_uri=/p, public_key=k, signature=s",
            "GET requestor_id=R, signature_method=HMAC-SHA1, request_time=1, request_uri=/p, public_key=k, signature=s",
            "GET requestor_id=, nonce=n, signature_method=HMAC-SHA1, request_time=1, request_uri=/p, public_key=k, signature=s",
        ] {
            assert_eq!(SignedCall::parse(other), None, "{other}");
        }
    }

    #[test]
    fn apps_are_listed_once_with_a_secret() {
        let window = Duration::from_secs(1);
        let app = |key: &str, secret: &[u8]| {
            (key.to_owned(), secret.to_vec(), SignedRequestUri::default())
        };
        assert!(SignedApps::new([app("k", b"a"), app("k", b"b")], window).is_err());
        assert!(SignedApps::new([app("k", b"")], window).is_err());
    }
}
