//! The tokens a device proves itself with: granted once its device secret is exchanged,
//! renewed by rotating refresh tokens, checked on every device-side call against the
//! credential its link holds, so that an unlink revokes them at once wherever the link's
//! removal has arrived.

use std::sync::Arc;
use std::time::Duration;

use super::Error;
use crate::metrics::Metrics;
use crate::store::{LinkKey, Store, StoreError, Versioned};
use crate::verified::Verified;
use linkgate_domain::code::{CodeHash, CodeKey};
use linkgate_domain::device_token::{
    DeviceClaims, DeviceCredential, DeviceTokenError, DeviceTokenKey, Refresh, TokenKind,
    is_current, plan_refresh,
};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::link::DeviceLink;
use linkgate_domain::requestor::RequestorPolicy;
use linkgate_domain::signed_call::SignedCallError;
use linkgate_domain::time::{Clock, Timestamp};

/// Compare-and-swap rounds before a contended credential write gives up.
const WRITE_ROUNDS: u32 = 8;

/// A growing pause after a lost race: in Kubernetes mode the operator writes the same
/// object's status right after a link changes, and a burst of those should not exhaust the
/// rounds.
async fn back_off(round: u32) {
    tokio::time::sleep(Duration::from_millis(5 << round.min(6))).await;
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: Duration,
}

/// Why a device token was refused; `reason` is its metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("no credential was sent")]
    Missing,
    #[error("the token is malformed or was not issued here")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token was revoked: the device was unlinked or its tokens replaced")]
    Revoked,
    #[error("the token is for another requestor")]
    WrongRequestor,
    #[error("the token is for another device")]
    WrongDevice,
    #[error("this requestor takes these calls from its backend only")]
    BackendOnly,
    #[error("the refresh token was already used: every token of its family is revoked")]
    RefreshReused,
    /// Not a refusal: the store could not be read, so the token could not be checked.
    #[error("the store cannot be read now; try again")]
    Unavailable,
    /// An Adobe v1 signed call that does not hold.
    #[error(transparent)]
    Signed(SignedCallError),
    #[error("the signed Authorization header's nonce was used before")]
    Replayed,
}

impl DeviceAuthError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::WrongRequestor => "wrong_requestor",
            Self::WrongDevice => "wrong_device",
            Self::BackendOnly => "backend_only",
            Self::RefreshReused => "refresh_reused",
            Self::Unavailable => "store_unavailable",
            Self::Signed(SignedCallError::OtherCall) => "signed_other_call",
            Self::Signed(SignedCallError::UnknownKey) => "signed_unknown_key",
            Self::Signed(SignedCallError::Signature) => "signed_signature",
            Self::Signed(SignedCallError::Stale) => "signed_stale",
            Self::Replayed => "signed_replayed",
        }
    }
}

impl From<DeviceTokenError> for DeviceAuthError {
    fn from(e: DeviceTokenError) -> Self {
        match e {
            DeviceTokenError::Invalid => Self::Invalid,
            DeviceTokenError::Expired => Self::Expired,
        }
    }
}

/// A refresh that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Refused(DeviceAuthError),
    #[error(transparent)]
    Server(Error),
}

/// Bound on remembered access tokens (a few hundred bytes each).
const VERIFIED_CAPACITY: u64 = 50_000;

pub struct DeviceTokens {
    key: DeviceTokenKey,
    /// Access tokens whose signature passed: a device presents the same one on every call.
    verified: Verified<DeviceClaims>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl DeviceTokens {
    pub fn new(
        code_key: &CodeKey,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            key: DeviceTokenKey::new(code_key.derive("device-tokens")),
            verified: Verified::new(VERIFIED_CAPACITY),
            store,
            clock,
            metrics,
        }
    }

    /// Counts a refusal, and hands it back.
    pub fn refused(&self, requestor: &RequestorPolicy, e: DeviceAuthError) -> DeviceAuthError {
        self.metrics
            .device_auth_failure(&requestor.name, e.reason());
        e
    }

    /// Starts a new token family for the linked `device`, replacing any earlier one, and
    /// spends the used code `code` in the same write: the device has just exchanged the
    /// secret of the code it was linked with.
    pub async fn grant(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        code: &CodeHash,
    ) -> Result<TokenPair, Error> {
        let key = LinkKey::new(&p.name, device);
        for round in 0..WRITE_ROUNDS {
            if self.store.code(code).await?.is_none() {
                return Err(Error::CodeNotFound);
            }
            let Some(stored) = self.live_link(&key).await? else {
                return Err(Error::AuthnMissing);
            };
            let credential = DeviceCredential::new_family(rand::random());
            let link = DeviceLink {
                credential: Some(credential.clone()),
                ..(*stored.link).clone()
            };
            match self
                .store
                .exchange_code(code, Some(stored.version), link)
                .await
            {
                Ok(_) => return Ok(self.pair(p, &stored.link, &credential)),
                Err(StoreError::Conflict) => back_off(round).await,
                Err(e) => return Err(Error::Store(e)),
            }
        }
        Err(Error::Contended)
    }

    /// Rotates a refresh token. A token already rotated out revokes its whole family.
    pub async fn refresh(
        &self,
        p: &RequestorPolicy,
        refresh_token: &str,
    ) -> Result<TokenPair, RefreshError> {
        let refuse = |e| RefreshError::Refused(self.refused(p, e));
        let now = self.clock.now();
        let claims = self
            .key
            .verify(TokenKind::Refresh, refresh_token, now)
            .map_err(|e| refuse(e.into()))?;
        let key = self.link_key(p, &claims).map_err(refuse)?;
        for round in 0..WRITE_ROUNDS {
            let stored = self
                .live_link(&key)
                .await
                .map_err(|e| RefreshError::Server(Error::Store(e)))?
                .ok_or_else(|| refuse(DeviceAuthError::Revoked))?;
            let (credential, outcome) = match plan_refresh(stored.link.credential.as_ref(), &claims)
            {
                Refresh::Rotate(next) => (Some(next), Ok(())),
                Refresh::Reused => (None, Err(DeviceAuthError::RefreshReused)),
                Refresh::Revoked => return Err(refuse(DeviceAuthError::Revoked)),
            };
            match self.write(&stored, credential.clone()).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => {
                    back_off(round).await;
                    continue;
                }
                Err(e) => return Err(RefreshError::Server(Error::Store(e))),
            }
            outcome.map_err(refuse)?;
            let credential = credential.expect("a rotation writes the next credential");
            return Ok(self.pair(p, &stored.link, &credential));
        }
        Err(RefreshError::Server(Error::Contended))
    }

    /// The device an access token proves, if it is live, for `p`, and of the family the
    /// device's link holds now.
    pub async fn authenticate(
        &self,
        p: &RequestorPolicy,
        access_token: &str,
    ) -> Result<DeviceId, DeviceAuthError> {
        let claims = self.verified.claims(access_token, || {
            self.key.decode(TokenKind::Access, access_token)
        })?;
        self.current_device(p, &claims).await
    }

    /// As `authenticate`, for a token whose signature passed before; `None` for any other
    /// string, which this does not check.
    pub async fn authenticate_verified(
        &self,
        p: &RequestorPolicy,
        access_token: &str,
    ) -> Option<Result<DeviceId, DeviceAuthError>> {
        let claims = self.verified.recall(access_token)?;
        Some(self.current_device(p, &claims).await)
    }

    /// The device verified claims name, while they are live, for `p`, and of the family
    /// the device's link holds now.
    async fn current_device(
        &self,
        p: &RequestorPolicy,
        claims: &DeviceClaims,
    ) -> Result<DeviceId, DeviceAuthError> {
        claims.live_at(self.clock.now())?;
        let key = self.link_key(p, claims)?;
        let stored = self
            .store
            .link(&key)
            .await
            .map_err(|_| DeviceAuthError::Unavailable)?
            .ok_or(DeviceAuthError::Revoked)?;
        if !is_current(stored.link.credential.as_ref(), claims) {
            return Err(DeviceAuthError::Revoked);
        }
        Ok(stored.link.device.clone())
    }

    fn link_key(
        &self,
        p: &RequestorPolicy,
        claims: &DeviceClaims,
    ) -> Result<LinkKey, DeviceAuthError> {
        if claims.aud != p.name {
            return Err(DeviceAuthError::WrongRequestor);
        }
        let device = DeviceId::parse(&claims.dev).map_err(|_| DeviceAuthError::Invalid)?;
        Ok(LinkKey::new(&p.name, &device))
    }

    /// The device's link while one of its users is authenticated.
    async fn live_link(&self, key: &LinkKey) -> Result<Option<Versioned>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .link(key)
            .await?
            .filter(|v| v.link.live_users(now).next().is_some()))
    }

    async fn write(
        &self,
        stored: &Versioned,
        credential: Option<DeviceCredential>,
    ) -> Result<(), StoreError> {
        let link = DeviceLink {
            credential,
            ..(*stored.link).clone()
        };
        self.store.put_link(Some(stored.version), link).await?;
        Ok(())
    }

    /// Tokens of `credential`: neither outlives the link's last authentication.
    fn pair(
        &self,
        p: &RequestorPolicy,
        link: &DeviceLink,
        credential: &DeviceCredential,
    ) -> TokenPair {
        let now = self.clock.now();
        let link_end = link.expires_at().unwrap_or(now);
        let access_end = now.after(p.device_access_ttl).min(link_end);
        let device = link.device.as_str();
        let issue =
            |kind, end: Timestamp| self.key.issue(kind, &p.name, device, credential, now, end);
        TokenPair {
            access_token: issue(TokenKind::Access, access_end),
            refresh_token: issue(TokenKind::Refresh, link_end),
            expires_in: now.until(access_end),
        }
    }
}
