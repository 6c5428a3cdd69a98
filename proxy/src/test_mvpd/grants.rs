//! Authorization codes of the test MVPD: issued at sign-in, redeemed once, bound to the
//! client, its redirect URI and, with PKCE (S256 only), the verifier of its challenge.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use linkgate_domain::time::Timestamp;

/// How long a code may wait to be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// What a sign-in granted, waiting for the client to redeem its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub user: String,
    pub expires_at: Timestamp,
}

/// Why a code was not redeemed (OAuth's `invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("unknown, used or expired code")]
    UnknownCode,
    #[error("the code was issued to another client or redirect URI")]
    WrongClient,
    #[error("code_verifier does not match the code_challenge")]
    Verifier,
}

#[derive(Default)]
pub struct Grants {
    pending: Mutex<HashMap<String, Grant>>,
}

impl Grants {
    /// Keeps `grant` under a new code; returns the code.
    pub fn issue(&self, grant: Grant, now: Timestamp) -> String {
        let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let mut pending = self.pending.lock();
        // Unredeemed codes go at the next sign-in: the map holds only live ones.
        pending.retain(|_, g| g.expires_at > now);
        pending.insert(code.clone(), grant);
        code
    }

    /// Redeems `code` once, for the client and redirect URI it was issued to.
    pub fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        now: Timestamp,
    ) -> Result<Grant, GrantError> {
        // Removed whatever follows: a code is tried once.
        let grant = self
            .pending
            .lock()
            .remove(code)
            .filter(|g| g.expires_at > now)
            .ok_or(GrantError::UnknownCode)?;
        if grant.client_id != client_id || grant.redirect_uri != redirect_uri {
            return Err(GrantError::WrongClient);
        }
        match (&grant.code_challenge, verifier) {
            (None, _) => Ok(grant),
            (Some(challenge), Some(verifier))
                if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge =>
            {
                Ok(grant)
            }
            (Some(_), _) => Err(GrantError::Verifier),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn grant(now: Timestamp) -> Grant {
        Grant {
            client_id: "demo".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: Some(CHALLENGE.into()),
            nonce: Some("n".into()),
            user: "alice".into(),
            expires_at: Timestamp::from_unix_millis(now.unix_millis() + 60_000),
        }
    }

    #[test]
    fn a_code_is_redeemed_once_with_the_verifier_of_its_challenge() {
        let (grants, now) = (Grants::default(), Timestamp::from_unix_millis(0));
        let code = grants.issue(grant(now), now);
        let redeem = |verifier| grants.redeem(&code, "demo", "http://127.0.0.1/cb", verifier, now);
        assert_eq!(redeem(Some(VERIFIER)).unwrap().user, "alice");
        assert_eq!(redeem(Some(VERIFIER)), Err(GrantError::UnknownCode));
    }

    #[test]
    fn a_wrong_verifier_client_or_late_redemption_is_refused_and_spends_the_code() {
        let (grants, now) = (Grants::default(), Timestamp::from_unix_millis(0));
        let cb = "http://127.0.0.1/cb";
        let code = grants.issue(grant(now), now);
        assert_eq!(
            grants.redeem(&code, "demo", cb, Some("wrong"), now),
            Err(GrantError::Verifier)
        );
        assert_eq!(
            grants.redeem(&code, "demo", cb, Some(VERIFIER), now),
            Err(GrantError::UnknownCode)
        );
        let code = grants.issue(grant(now), now);
        assert_eq!(
            grants.redeem(&code, "other", cb, Some(VERIFIER), now),
            Err(GrantError::WrongClient)
        );
        let code = grants.issue(grant(now), now);
        assert_eq!(
            grants.redeem(&code, "demo", cb, None, now),
            Err(GrantError::Verifier)
        );
        let code = grants.issue(grant(now), now);
        let late = Timestamp::from_unix_millis(60_000);
        assert_eq!(
            grants.redeem(&code, "demo", cb, Some(VERIFIER), late),
            Err(GrantError::UnknownCode)
        );
    }
}
