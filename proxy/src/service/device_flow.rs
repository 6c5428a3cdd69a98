//! The RFC 8628 device authorization grant, on the same registration codes: the user code
//! is a registration code, the device code a high-entropy secret known only by its hash.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::{DeviceTokens, Entitlements, Error, IssueCode, Linking, TokenPair};
use crate::store::Store;
use linkgate_domain::code::{Code, CodeHash, CodeKey, CodeState};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::requestor::{MAX_CODE_TTL, RequestorPolicy};
use linkgate_domain::time::{Clock, Timestamp};

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

/// The device's first tokens.
#[derive(Debug, Clone)]
pub struct Granted {
    pub tokens: TokenPair,
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
    tokens: Arc<DeviceTokens>,
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
        tokens: Arc<DeviceTokens>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        code_key: CodeKey,
    ) -> Self {
        Self {
            linking,
            entitlements,
            tokens,
            store,
            clock,
            code_key,
            paces: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a user code and its device code (the code's device secret). A device that
    /// names itself keeps its ID; otherwise it gets one. `proven`: see `IssueCode`.
    pub async fn start(
        &self,
        p: &RequestorPolicy,
        device: Option<DeviceId>,
        client: IpAddr,
        proven: bool,
    ) -> Result<DeviceAuthorization, Error> {
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
                    client,
                    session: None,
                    ttl: None,
                    proven,
                },
            )
            .await?;
        Ok(DeviceAuthorization {
            device_code: issued.device_secret,
            user_code: issued.code,
            device,
            expires_in: issued.record.issued_at.until(issued.record.expires_at),
            interval: p.poll_interval,
        })
    }

    /// One poll of the token endpoint: once the code is used, the device's first tokens.
    pub async fn poll(&self, p: &RequestorPolicy, device_code: &str) -> Result<Granted, PollError> {
        let hash = self.code_key.hash_device_code(&p.name, device_code);
        let record = self
            .store
            .code_by_device_code(&hash)
            .await
            .map_err(|e| PollError::Server(Error::Store(e)))?
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
                let user =
                    self.entitlements
                        .authn(p, &record.device)
                        .await
                        .map_err(|e| match e {
                            Error::Store(_) => PollError::Server(e),
                            _ => PollError::AccessDenied,
                        })?;
                // One grant per device code: the grant spends the code.
                let tokens = match self.tokens.grant(p, &record.device, &record.hash).await {
                    Ok(tokens) => tokens,
                    Err(Error::AuthnMissing) => return Err(PollError::AccessDenied),
                    Err(Error::CodeNotFound) => return Err(PollError::InvalidGrant),
                    Err(e) => return Err(PollError::Server(e)),
                };
                self.paces.lock().remove(&hash);
                Ok(Granted {
                    tokens,
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
    use crate::metrics::Metrics;
    use crate::service::{DecisionClient, DeviceAuthError, RefreshError};
    use crate::store::MemoryStore;
    use linkgate_domain::time::ManualClock;
    use rand::SeedableRng;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    struct Setup {
        flow: DeviceFlow,
        linking: Arc<Linking>,
        tokens: Arc<DeviceTokens>,
        p: RequestorPolicy,
    }

    fn setup(clock: Arc<ManualClock>) -> Setup {
        let store = Arc::new(MemoryStore::new());
        let metrics = Arc::new(Metrics::new());
        let key = CodeKey::new(b"k");
        let linking = Arc::new(Linking::new(
            store.clone(),
            clock.clone(),
            key.clone(),
            rand::rngs::StdRng::seed_from_u64(3),
            metrics.clone(),
            Arc::default(),
        ));
        let entitlements = Arc::new(Entitlements::new(
            store.clone(),
            clock.clone(),
            DecisionClient::new(Arc::default()),
            metrics.clone(),
        ));
        let tokens = Arc::new(DeviceTokens::new(
            &key,
            store.clone(),
            clock.clone(),
            metrics,
        ));
        let spec = serde_yaml_ng::from_str(
            "backend: {apiKeySecretRef: {name: b, key: k}}\ncodes: {ttlSeconds: 60}\ndeviceFlow: {intervalSeconds: 2}\nauthnTtlSeconds: 5400\n",
        )
        .unwrap();
        let secrets = |_: &linkgate_crds::SecretKeyRef| Some(b"key".to_vec());
        let p = RequestorPolicy::from_spec(
            "tv",
            &spec,
            &secrets,
            linkgate_domain::tenancy::Bounds::default(),
        )
        .unwrap();
        let flow = DeviceFlow::new(
            linking.clone(),
            entitlements,
            tokens.clone(),
            store,
            clock,
            key,
        );
        Setup {
            flow,
            linking,
            tokens,
            p,
        }
    }

    /// Device `tv` asked for a code, and alice linked it.
    async fn linked(s: &Setup) -> DeviceAuthorization {
        let tv = DeviceId::parse("tv").unwrap();
        let started = s.flow.start(&s.p, Some(tv), LOOPBACK, false).await.unwrap();
        let alice = UserId::parse("alice").unwrap();
        let link = s.linking.link(
            &s.p,
            started.user_code.as_str(),
            alice,
            None,
            Default::default(),
        );
        link.await.unwrap();
        started
    }

    /// A linked device that exchanged its device code.
    async fn granted(s: &Setup) -> Granted {
        let started = linked(s).await;
        s.flow.poll(&s.p, &started.device_code).await.unwrap()
    }

    #[tokio::test]
    async fn the_device_code_grants_tokens_once_and_they_prove_the_device() {
        let s = setup(Arc::new(ManualClock::at(1_000_000)));
        let tv = DeviceId::parse("tv").unwrap();
        let started = linked(&s).await;
        let granted = s.flow.poll(&s.p, &started.device_code).await.unwrap();
        assert_eq!(granted.tokens.expires_in, Duration::from_secs(3600));
        assert_eq!(
            s.tokens
                .authenticate(&s.p, &granted.tokens.access_token)
                .await,
            Ok(tv)
        );
        assert!(matches!(
            s.flow.poll(&s.p, &started.device_code).await,
            Err(PollError::InvalidGrant)
        ));
        let mut other = s.p.clone();
        other.name = "other".into();
        assert_eq!(
            s.tokens
                .authenticate(&other, &granted.tokens.access_token)
                .await,
            Err(DeviceAuthError::WrongRequestor)
        );
        assert_eq!(
            s.tokens
                .authenticate(&s.p, &granted.tokens.refresh_token)
                .await,
            Err(DeviceAuthError::Invalid),
            "a refresh token is no access token"
        );
    }

    #[tokio::test]
    async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_family() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let s = setup(clock.clone());
        let first = granted(&s).await.tokens;
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            s.tokens.authenticate(&s.p, &first.access_token).await,
            Err(DeviceAuthError::Expired)
        );
        let second = s.tokens.refresh(&s.p, &first.refresh_token).await.unwrap();
        assert!(
            s.tokens
                .authenticate(&s.p, &second.access_token)
                .await
                .is_ok()
        );
        assert!(matches!(
            s.tokens.refresh(&s.p, &first.refresh_token).await,
            Err(RefreshError::Refused(DeviceAuthError::RefreshReused))
        ));
        assert_refused(&s, &second, DeviceAuthError::Revoked).await;
    }

    /// Both of `tokens` are refused for `why`.
    async fn assert_refused(s: &Setup, tokens: &TokenPair, why: DeviceAuthError) {
        assert_eq!(
            s.tokens.authenticate(&s.p, &tokens.access_token).await,
            Err(why)
        );
        match s.tokens.refresh(&s.p, &tokens.refresh_token).await {
            Err(RefreshError::Refused(refused)) => assert_eq!(refused, why),
            other => panic!("refresh: {other:?}"),
        }
    }

    #[tokio::test]
    async fn no_token_outlives_the_link_s_authentication() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let s = setup(clock.clone());
        let first = granted(&s).await.tokens;
        clock.advance(Duration::from_secs(3600));
        let second = s.tokens.refresh(&s.p, &first.refresh_token).await.unwrap();
        // The link authenticates 5400 s: the second access token ends with it, not 3600 s on.
        assert_eq!(second.expires_in, Duration::from_secs(1800));
        clock.advance(Duration::from_secs(1800));
        assert_refused(&s, &second, DeviceAuthError::Expired).await;
    }

    #[tokio::test]
    async fn unlinking_revokes_both_tokens_at_once() {
        let s = setup(Arc::new(ManualClock::at(1_000_000)));
        let tokens = granted(&s).await.tokens;
        let tv = DeviceId::parse("tv").unwrap();
        s.linking
            .unlink(&s.p, &tv, linkgate_domain::link::Unlink::Everyone)
            .await
            .unwrap();
        assert_refused(&s, &tokens, DeviceAuthError::Revoked).await;
    }

    #[tokio::test]
    async fn polls_are_paced_and_the_code_expires() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let Setup { flow, p, .. } = setup(clock.clone());
        let started = flow.start(&p, None, LOOPBACK, false).await.unwrap();
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
