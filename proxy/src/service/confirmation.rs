//! The second screen's confirmation: before anyone is sent to a TV provider, a person on
//! this gateway's own page says that the device it names is the screen in front of them
//! (RFC 8628 §5.4: a code sent by someone else must not be one click from linking).
//!
//! The page gives the browser a random secret in a cookie and its form a token, a MAC of
//! that secret with the requestor and the code. A sign-in starts only from a POST carrying
//! both: another site can make a browser post a form, but can neither read the token of
//! the page nor send the cookie along (it is `SameSite=Strict`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use linkgate_domain::code::CodeKey;

pub struct Confirmation {
    key: [u8; 32],
}

impl Confirmation {
    pub fn new(code_key: &CodeKey) -> Self {
        Self {
            key: code_key.derive("activation-confirmation"),
        }
    }

    /// A new browser's secret, for its cookie.
    pub fn browser_secret() -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    }

    /// Whether a cookie's value is a secret this gateway would have made (so a browser's
    /// own is kept, and anything else replaced).
    pub fn is_browser_secret(value: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|bytes| bytes.len() == 32)
    }

    /// The form token binding `browser`'s secret to confirming `code` of `requestor`.
    pub fn token(&self, browser: &str, requestor: &str, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(browser, requestor, code).finalize().into_bytes())
    }

    /// Whether `token` is the one the page gave this browser for this code (compared in
    /// constant time).
    pub fn holds(&self, browser: &str, requestor: &str, code: &str, token: &str) -> bool {
        let Ok(token) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.mac(browser, requestor, code)
            .verify_slice(&token)
            .is_ok()
    }

    fn mac(&self, browser: &str, requestor: &str, code: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        // Each part with its length, so no two triples run together alike.
        for part in [browser, requestor, code] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirmation(key: u8) -> Confirmation {
        Confirmation::new(&CodeKey::new(&[key; 32]))
    }

    #[test]
    fn a_token_holds_only_for_its_browser_requestor_code_and_key() {
        let c = confirmation(1);
        let browser = Confirmation::browser_secret();
        let token = c.token(&browser, "demo", "WDJBMJHT");
        assert!(c.holds(&browser, "demo", "WDJBMJHT", &token));
        let other = Confirmation::browser_secret();
        assert_ne!(browser, other);
        assert!(Confirmation::is_browser_secret(&browser));
        assert!(!Confirmation::is_browser_secret("short"));
        assert!(
            !c.holds(&other, "demo", "WDJBMJHT", &token),
            "another browser"
        );
        assert!(
            !c.holds(&browser, "other", "WDJBMJHT", &token),
            "another requestor"
        );
        assert!(
            !c.holds(&browser, "demo", "WDJBMJHX", &token),
            "another code"
        );
        assert!(
            !confirmation(2).holds(&browser, "demo", "WDJBMJHT", &token),
            "another key"
        );
        assert!(!c.holds(&browser, "demo", "WDJBMJHT", ""), "no token");
        assert!(!c.holds(&browser, "demo", "WDJBMJHT", "!!"), "not base64");
        let mut altered = token.into_bytes();
        altered[0] ^= 1;
        let altered = String::from_utf8(altered).unwrap();
        assert!(!c.holds(&browser, "demo", "WDJBMJHT", &altered));
    }

    #[test]
    fn parts_do_not_run_together() {
        let c = confirmation(1);
        assert_ne!(c.token("ab", "c", "d"), c.token("a", "bc", "d"));
    }
}
