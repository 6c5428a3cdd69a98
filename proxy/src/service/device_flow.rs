//! The RFC 8628 device authorization grant, on the same registration codes: the user code
//! is a registration code, the device code a high-entropy secret known only by its hash.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;

use super::{Entitlements, Error, IssueCode, Linking};
use crate::domain::code::{Code, CodeHash, CodeKey, CodeState};
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::media_token::{DeviceAccessClaims, ISSUER};
use crate::domain::requestor::{MAX_CODE_TTL, RequestorPolicy};
use crate::domain::time::{Clock, Timestamp};
use crate::store::Store;

/// RFC 8628 §3.5: a device told to slow down adds five seconds to its interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A started device authorization.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: Code,
    pub device: DeviceId,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// A granted access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: Duration,
    pub device: DeviceId,
    pub user: UserId,
}

/// The token endpoint's refusals (RFC 8628 §3.5, RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("the user has not entered the code yet")]
    AuthorizationPending,
    #[error("polling too fast: wait {0} seconds between polls")]
    SlowDown(u64),
    #[error("the code was refused")]
    AccessDenied,
    #[error("the code expired: start again")]
    ExpiredToken,
    #[error("unknown or already used device code")]
    InvalidGrant,
    #[error(transparent)]
    Server(Error),
}

/// When a device code last polled, and how often it may.
#[derive(Clone, Copy)]
struct Pace {
    last: Timestamp,
    interval: Duration,
}

pub struct DeviceFlow {
    linking: Arc<Linking>,
    entitlements: Arc<Entitlements>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    code_key: CodeKey,
    /// Polling pace per device code; held in memory, a restart only forgets the pace.
    paces: Mutex<HashMap<CodeHash, Pace>>,
}

impl DeviceFlow {
    pub fn new(
        linking: Arc<Linking>,
        entitlements: Arc<Entitlements>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        code_key: CodeKey,
    ) -> Self {
        Self {
            linking,
            entitlements,
            store,
            clock,
            code_key,
            paces: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a user code bound to a fresh device code. A device that names itself keeps
    /// its ID; otherwise it gets one.
    pub async fn start(
        &self,
        p: &RequestorPolicy,
        device: Option<DeviceId>,
    ) -> Result<DeviceAuthorization, Error> {
        let device_code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let device = match device {
            Some(device) => device,
            None => DeviceId::parse(&format!("oauth-{}", uuid::Uuid::new_v4().simple()))?,
        };
        let issued = self
            .linking
            .issue_code(
                p,
                IssueCode {
                    device: device.clone(),
                    mvpd: None,
                    device_type: None,
                    ttl: None,
                    device_code: Some(self.code_key.hash_device_code(&p.name, &device_code)),
                },
            )
            .await?;
        Ok(DeviceAuthorization {
            device_code,
            user_code: issued.code,
            device,
            expires_in: issued.record.issued_at.until(issued.record.expires_at),
            interval: p.poll_interval,
        })
    }

    /// One poll of the token endpoint.
    pub async fn poll(
        &self,
        p: &RequestorPolicy,
        device_code: &str,
    ) -> Result<AccessToken, PollError> {
        let hash = self.code_key.hash_device_code(&p.name, device_code);
        let record = self
            .store
            .code_by_device_code(&hash)
            .ok_or(PollError::InvalidGrant)?;
        let now = self.clock.now();
        self.pace(hash, p.poll_interval, now)?;
        if record.is_expired(now) {
            return Err(PollError::ExpiredToken);
        }
        match record.state {
            CodeState::Pending | CodeState::Approving => Err(PollError::AuthorizationPending),
            CodeState::Denied => Err(PollError::AccessDenied),
            CodeState::Redeemed => {
                let user = self
                    .entitlements
                    .authn(p, &record.device)
                    .map_err(|_| PollError::AccessDenied)?;
                let claims = DeviceAccessClaims {
                    iss: ISSUER.into(),
                    aud: p.name.clone(),
                    sub: user.user.to_string(),
                    dev: record.device.to_string(),
                    iat: now.unix_millis() / 1000,
                    exp: user.authn_expires_at.unix_millis() / 1000,
                    jti: uuid::Uuid::new_v4().to_string(),
                };
                let token = p
                    .media_keys
                    .sign(&claims)
                    .ok_or(PollError::Server(Error::NoSigningKey))?;
                // One token per device code: the code is used up.
                self.store
                    .delete_code(&record.hash)
                    .await
                    .map_err(|e| PollError::Server(Error::Store(e)))?;
                self.paces.lock().remove(&hash);
                Ok(AccessToken {
                    token,
                    expires_in: now.until(user.authn_expires_at),
                    device: record.device,
                    user: user.user,
                })
            }
        }
    }

    /// Refuses a poll that comes sooner than the device's interval, and lengthens it.
    fn pace(&self, hash: CodeHash, interval: Duration, now: Timestamp) -> Result<(), PollError> {
        let mut paces = self.paces.lock();
        if paces.len() > 10_000 {
            // Drop the pace of device codes that stopped polling long ago.
            let horizon = now.unix_millis() - MAX_CODE_TTL.as_millis() as i64;
            paces.retain(|_, pace| pace.last.unix_millis() > horizon);
        }
        let pace = paces.entry(hash).or_insert(Pace {
            last: Timestamp::from_unix_millis(i64::MIN),
            interval,
        });
        let too_soon = now < pace.last.after(pace.interval);
        pace.last = now;
        if too_soon {
            pace.interval += SLOW_DOWN_STEP;
            return Err(PollError::SlowDown(pace.interval.as_secs()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::ManualClock;
    use crate::metrics::Metrics;
    use crate::service::DecisionClient;
    use crate::store::MemoryStore;
    use rand::SeedableRng;

    fn flow(clock: Arc<ManualClock>) -> (DeviceFlow, RequestorPolicy) {
        let store = Arc::new(MemoryStore::new());
        let metrics = Arc::new(Metrics::new());
        let key = CodeKey::new(b"k");
        let linking = Arc::new(Linking::new(
            store.clone(),
            clock.clone(),
            key.clone(),
            rand::rngs::StdRng::seed_from_u64(3),
            metrics.clone(),
        ));
        let entitlements = Arc::new(Entitlements::new(
            store.clone(),
            clock.clone(),
            DecisionClient::new(),
            metrics,
        ));
        let spec = serde_yaml_ng::from_str(
            "backend: {apiKeySecretRef: {name: b, key: k}}\ncodes: {ttlSeconds: 60}\ndeviceFlow: {intervalSeconds: 2}\n",
        )
        .unwrap();
        let secrets = |_: &linkgate_crds::SecretKeyRef| Some(b"key".to_vec());
        let policy = RequestorPolicy::from_spec("tv", &spec, &secrets).unwrap();
        (
            DeviceFlow::new(linking, entitlements, store, clock, key),
            policy,
        )
    }

    #[tokio::test]
    async fn polls_are_paced_and_the_code_expires() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let (flow, p) = flow(clock.clone());
        let started = flow.start(&p, None).await.unwrap();
        assert!(started.device.as_str().starts_with("oauth-"));
        assert_eq!(started.expires_in, Duration::from_secs(60));
        let code = &started.device_code;
        assert!(matches!(
            flow.poll(&p, code).await,
            Err(PollError::AuthorizationPending)
        ));
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            flow.poll(&p, code).await,
            Err(PollError::SlowDown(7))
        ));
        // The interval is now 7 s from the last poll.
        clock.advance(Duration::from_secs(6));
        assert!(matches!(
            flow.poll(&p, code).await,
            Err(PollError::SlowDown(12))
        ));
        clock.advance(Duration::from_secs(12));
        assert!(matches!(
            flow.poll(&p, code).await,
            Err(PollError::AuthorizationPending)
        ));
        clock.advance(Duration::from_secs(60));
        assert!(matches!(
            flow.poll(&p, code).await,
            Err(PollError::ExpiredToken)
        ));
        assert!(matches!(
            flow.poll(&p, "other").await,
            Err(PollError::InvalidGrant)
        ));
    }
}
