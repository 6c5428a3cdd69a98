//! Device credentials. A device proves who it is with a short access token bound to
//! (requestor, device, credential family) and renews it with rotating refresh tokens
//! (RFC 6749 §6). The family and the sequence number of its one current refresh token live
//! with the device's link, so unlinking revokes both kinds of token, any proxy that shares
//! the store checks them, and a refresh token used twice is caught (RFC 6819 §5.2.2.3).
//!
//! Tokens are HS256 JWTs under a key every proxy derives from the code key: checking one
//! costs an HMAC, not a signature verification.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::media_token::ISSUER;
use super::time::Timestamp;

/// What a device holds, as its link records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCredential {
    /// One exchange of a device secret and every token rotated from it.
    pub family: String,
    /// The sequence number of the family's current refresh token; older ones are spent.
    pub refresh_seq: u64,
}

impl DeviceCredential {
    /// A new family from 16 random bytes.
    pub fn new_family(random: [u8; 16]) -> Self {
        Self {
            family: hex::encode(random),
            refresh_seq: 1,
        }
    }
}

/// The two kinds of device token; one is never accepted as the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// What a device token asserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    iss: String,
    pub typ: TokenKind,
    /// The requestor.
    pub aud: String,
    /// The device.
    pub dev: String,
    /// The credential family.
    pub fam: String,
    /// A refresh token's sequence number in its family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused before looking at the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceTokenError {
    #[error("malformed, or not issued here")]
    Invalid,
    #[error("expired")]
    Expired,
}

/// What a presented refresh token may do, given the credential the link holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// It is current: the family moves on to this credential.
    Rotate(DeviceCredential),
    /// It was already rotated out: someone replays it, so the family is revoked.
    Reused,
    /// Its family is no longer the device's (unlinked, relinked or revoked).
    Revoked,
}

/// Plans a refresh. A sequence number ahead of the stored one can only come from a proxy
/// whose write has not reached this one yet (another region): it is current too.
pub fn plan_refresh(stored: Option<&DeviceCredential>, claims: &DeviceClaims) -> Refresh {
    let (Some(stored), Some(seq)) = (stored, claims.seq) else {
        return Refresh::Revoked;
    };
    if stored.family != claims.fam {
        Refresh::Revoked
    } else if seq < stored.refresh_seq {
        Refresh::Reused
    } else {
        Refresh::Rotate(DeviceCredential {
            family: stored.family.clone(),
            refresh_seq: seq + 1,
        })
    }
}

/// Whether an access token's family is the one the link holds now.
pub fn is_current(stored: Option<&DeviceCredential>, claims: &DeviceClaims) -> bool {
    stored.is_some_and(|c| c.family == claims.fam)
}

/// The key device tokens are signed with.
#[derive(Clone)]
pub struct DeviceTokenKey {
    signing: EncodingKey,
    verifying: DecodingKey,
}

impl DeviceTokenKey {
    /// From a key derived for the purpose (see `CodeKey::derive`).
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            signing: EncodingKey::from_secret(&secret),
            verifying: DecodingKey::from_secret(&secret),
        }
    }

    /// A token of `kind` for the `device` of `requestor` holding `credential`.
    pub fn issue(
        &self,
        kind: TokenKind,
        requestor: &str,
        device: &str,
        credential: &DeviceCredential,
        now: Timestamp,
        expires: Timestamp,
    ) -> String {
        let claims = DeviceClaims {
            iss: ISSUER.into(),
            typ: kind,
            aud: requestor.into(),
            dev: device.into(),
            fam: credential.family.clone(),
            seq: (kind == TokenKind::Refresh).then_some(credential.refresh_seq),
            iat: now.unix_secs(),
            exp: expires.unix_secs_ceil(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.signing)
            .expect("HS256 signing does not fail")
    }

    /// The claims of a token of `kind` signed here and live at `now`. The requestor and
    /// the device are the caller's to compare.
    pub fn verify(
        &self,
        kind: TokenKind,
        token: &str,
        now: Timestamp,
    ) -> Result<DeviceClaims, DeviceTokenError> {
        let claims = self.decode(kind, token)?;
        claims.live_at(now)?;
        Ok(claims)
    }

    /// The claims of a token of `kind` signed here, live or not: what a verified token's
    /// memory keeps (`live_at` is checked on every use).
    pub fn decode(&self, kind: TokenKind, token: &str) -> Result<DeviceClaims, DeviceTokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Checked by `live_at`, against the injected clock.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<DeviceClaims>(token, &self.verifying, &validation)
            .map_err(|_| DeviceTokenError::Invalid)?
            .claims;
        if claims.iss != ISSUER || claims.typ != kind {
            return Err(DeviceTokenError::Invalid);
        }
        Ok(claims)
    }
}

impl DeviceClaims {
    /// Whether the token is still within its lifetime at `now`.
    pub fn live_at(&self, now: Timestamp) -> Result<(), DeviceTokenError> {
        if now.unix_millis() >= self.exp.saturating_mul(1000) {
            return Err(DeviceTokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    fn credential(seq: u64) -> DeviceCredential {
        DeviceCredential {
            family: "f1".into(),
            refresh_seq: seq,
        }
    }

    fn refresh_claims(family: &str, seq: u64) -> DeviceClaims {
        let key = DeviceTokenKey::new([1; 32]);
        let c = DeviceCredential {
            family: family.into(),
            refresh_seq: seq,
        };
        let token = key.issue(TokenKind::Refresh, "demo", "tv", &c, at(0), at(100));
        key.verify(TokenKind::Refresh, &token, at(1)).unwrap()
    }

    #[test]
    fn tokens_carry_their_binding_and_expire() {
        let key = DeviceTokenKey::new([1; 32]);
        let token = key.issue(
            TokenKind::Access,
            "demo",
            "tv",
            &credential(3),
            at(1000),
            at(1060),
        );
        let claims = key.verify(TokenKind::Access, &token, at(1059)).unwrap();
        assert_eq!(
            (
                claims.aud.as_str(),
                claims.dev.as_str(),
                claims.fam.as_str()
            ),
            ("demo", "tv", "f1")
        );
        assert_eq!(claims.seq, None, "access tokens carry no refresh sequence");
        assert_eq!(
            key.verify(TokenKind::Access, &token, at(1060)),
            Err(DeviceTokenError::Expired)
        );
    }

    #[test]
    fn a_token_issued_mid_second_lives_its_whole_lifetime() {
        let key = DeviceTokenKey::new([1; 32]);
        let ms = Timestamp::from_unix_millis;
        // Issued at 10.9 s for one second: `exp` in whole seconds must not end it at 11 s.
        let token = key.issue(
            TokenKind::Access,
            "demo",
            "tv",
            &credential(1),
            ms(10_900),
            ms(11_900),
        );
        assert!(key.verify(TokenKind::Access, &token, ms(11_850)).is_ok());
        assert_eq!(
            key.verify(TokenKind::Access, &token, ms(12_000)),
            Err(DeviceTokenError::Expired)
        );
    }

    #[test]
    fn one_kind_is_never_taken_for_the_other_nor_another_key_s_token() {
        let key = DeviceTokenKey::new([1; 32]);
        let refresh = key.issue(
            TokenKind::Refresh,
            "demo",
            "tv",
            &credential(1),
            at(0),
            at(100),
        );
        assert_eq!(
            key.verify(TokenKind::Access, &refresh, at(1)),
            Err(DeviceTokenError::Invalid)
        );
        let other = DeviceTokenKey::new([2; 32]);
        assert_eq!(
            other.verify(TokenKind::Refresh, &refresh, at(1)),
            Err(DeviceTokenError::Invalid)
        );
        assert_eq!(
            key.verify(TokenKind::Refresh, &format!("{refresh}x"), at(1)),
            Err(DeviceTokenError::Invalid)
        );
    }

    #[test]
    fn the_current_refresh_token_rotates_and_an_older_one_is_reuse() {
        let stored = credential(4);
        assert_eq!(
            plan_refresh(Some(&stored), &refresh_claims("f1", 4)),
            Refresh::Rotate(credential(5))
        );
        assert_eq!(
            plan_refresh(Some(&stored), &refresh_claims("f1", 3)),
            Refresh::Reused
        );
        // Issued by a proxy whose write is still on its way here.
        assert_eq!(
            plan_refresh(Some(&stored), &refresh_claims("f1", 6)),
            Refresh::Rotate(credential(7))
        );
    }

    #[test]
    fn another_family_or_none_is_revoked() {
        assert_eq!(
            plan_refresh(Some(&credential(1)), &refresh_claims("f2", 1)),
            Refresh::Revoked
        );
        assert_eq!(
            plan_refresh(None, &refresh_claims("f1", 1)),
            Refresh::Revoked
        );
        assert!(is_current(Some(&credential(9)), &refresh_claims("f1", 1)));
        assert!(!is_current(None, &refresh_claims("f1", 1)));
        assert!(!is_current(Some(&credential(1)), &refresh_claims("f2", 1)));
    }

    proptest::proptest! {
        /// Arbitrary text is never a device token of either kind.
        #[test]
        fn arbitrary_device_tokens_are_refused(token in "[A-Za-z0-9_.=-]{0,200}") {
            let key = DeviceTokenKey::new([1; 32]);
            for kind in [TokenKind::Access, TokenKind::Refresh] {
                proptest::prop_assert_eq!(key.verify(kind, &token, at(0)), Err(DeviceTokenError::Invalid));
            }
        }
    }
}
