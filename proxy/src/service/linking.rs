use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use rand::Rng;
use rand::rngs::StdRng;

use super::Error;
use super::account::AccountClient;
use super::outbound::Outbound;
use crate::metrics::Metrics;
use crate::store::{LinkKey, Store, StoreError};
use linkgate_domain::access::rough_network;
use linkgate_domain::account::AccountAnswer;
use linkgate_domain::code::{
    AwaitingUser, Code, CodeHash, CodeKey, CodeRecord, CodeState, SessionParams,
};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{self, DeviceLink, LinkedUser, Unlink};
use linkgate_domain::requestor::{MAX_CODE_TTL, Mvpd, RequestorPolicy};
use linkgate_domain::time::Clock;

/// Draws before giving up on finding a free code. With a sane code space a collision is
/// already rare; 32 misses in a row mean the space is nearly full.
const CODE_DRAWS: usize = 32;
/// Compare-and-swap rounds before a write under contention gives up.
const WRITE_ROUNDS: usize = 8;

/// Registration codes and device links.
pub struct Linking {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    code_key: CodeKey,
    /// A CSPRNG (ChaCha), seeded once from the OS; behind a lock only while drawing.
    rng: Mutex<StdRng>,
    metrics: Arc<Metrics>,
    accounts: AccountClient,
}

/// What became of a link asked for.
#[derive(Debug)]
pub enum Linked {
    /// Made: the device's link as it now is, and the user linked (which the account
    /// webhook may have chosen).
    Now { link: Arc<DeviceLink>, user: UserId },
    /// Held until the requestor's backend approves it.
    AwaitingApproval,
}

/// A device asking for a code.
#[derive(Debug, Clone)]
pub struct IssueCode {
    pub device: DeviceId,
    pub mvpd: Option<String>,
    pub device_type: Option<String>,
    /// The address the device asked from (only its network is kept).
    pub client: IpAddr,
    /// What an Adobe v2 session asks for with the code.
    pub session: Option<SessionParams>,
    /// Overrides the requestor's code TTL, up to the maximum.
    pub ttl: Option<Duration>,
    /// Whether the caller proved it is the device (its access token) or the backend: a
    /// device that is linked gets a new code only then, so that nobody else can add a user
    /// to it and take its credential.
    pub proven: bool,
}

/// A code just issued: the clear code and the device secret exist only in this answer.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: Code,
    pub record: CodeRecord,
    /// What the device exchanges for its tokens once linked (RFC 8628's device code).
    pub device_secret: String,
}

impl Linking {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        code_key: CodeKey,
        rng: StdRng,
        metrics: Arc<Metrics>,
        outbound: Arc<Outbound>,
    ) -> Self {
        Self {
            store,
            clock,
            code_key,
            rng: Mutex::new(rng),
            metrics,
            accounts: AccountClient::new(outbound),
        }
    }

    pub async fn issue_code(
        &self,
        requestor: &RequestorPolicy,
        request: IssueCode,
    ) -> Result<IssuedCode, Error> {
        let ttl = match request.ttl {
            Some(ttl) if ttl.is_zero() || ttl > MAX_CODE_TTL => {
                return Err(Error::CodeTtl {
                    max: MAX_CODE_TTL.as_secs(),
                });
            }
            Some(ttl) => ttl,
            None => requestor.code_ttl,
        };
        if let Some(mvpd) = &request.mvpd {
            allowed_mvpd(requestor, mvpd)?;
        }
        if !request.proven && self.is_linked(requestor, &request.device).await? {
            return Err(Error::DeviceCredentialRequired);
        }
        let device_secret = URL_SAFE_NO_PAD.encode(self.rng.lock().random::<[u8; 32]>());
        let device_code = Some(
            self.code_key
                .hash_device_code(&requestor.name, &device_secret),
        );
        for _ in 0..CODE_DRAWS {
            let (code, id) = {
                let mut rng = self.rng.lock();
                let code = requestor.codes.generate(&mut *rng);
                let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                (code, id)
            };
            let now = self.clock.now();
            let record = CodeRecord {
                hash: self.code_key.hash(&requestor.name, &code),
                id: id.to_string(),
                requestor: requestor.name.clone(),
                device: request.device.clone(),
                issued_at: now,
                expires_at: now.after(ttl),
                mvpd: request.mvpd.clone(),
                device_type: request.device_type.clone(),
                requested_from: Some(rough_network(request.client)),
                session: request.session.clone().map(Box::new),
                device_code,
                state: CodeState::Pending,
                awaiting: None,
            };
            match self.store.issue_code(record.clone(), now).await {
                Ok(()) => {
                    self.metrics.code_issued(&requestor.name);
                    return Ok(IssuedCode {
                        code,
                        record,
                        device_secret,
                    });
                }
                Err(StoreError::CodeTaken) => continue,
                Err(e) => return Err(Error::Store(e)),
            }
        }
        Err(Error::CodeSpaceExhausted)
    }

    /// Whether the device has a user whose authentication is valid.
    pub async fn is_linked(
        &self,
        requestor: &RequestorPolicy,
        device: &DeviceId,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let stored = self
            .store
            .link(&LinkKey::new(&requestor.name, device))
            .await?;
        Ok(stored.is_some_and(|v| v.link.live_users(now).next().is_some()))
    }

    /// The live record of a code as a person typed it.
    pub async fn find_code(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
    ) -> Result<CodeRecord, Error> {
        let record = self.unexpired_code(requestor, input).await?;
        Some(record)
            .filter(|r| r.is_live(self.clock.now()))
            .ok_or(Error::CodeNotFound)
    }

    /// The stored record of a code as a person typed it, in any state, until it expires.
    async fn unexpired_code(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
    ) -> Result<CodeRecord, Error> {
        let code = requestor
            .codes
            .normalise(input)
            .ok_or(Error::CodeNotFound)?;
        self.store
            .code(&self.code_key.hash(&requestor.name, &code))
            .await?
            .filter(|record| !record.is_expired(self.clock.now()))
            .ok_or(Error::CodeNotFound)
    }

    /// The record of a code a user has signed in with, kept until the code expires or its
    /// device exchanges its secret; `CodeNotFound` for any other code.
    pub async fn signed_in_code(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
    ) -> Result<CodeRecord, Error> {
        self.code_outcome(requestor, input)
            .await?
            .ok_or(Error::CodeNotFound)
    }

    /// Whether the sign-in with a code is done (`Some`), still awaited (`None`); a code
    /// unknown or expired is `CodeNotFound`.
    pub async fn code_outcome(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
    ) -> Result<Option<CodeRecord>, Error> {
        let record = self.unexpired_code(requestor, input).await?;
        Ok((record.state == CodeState::Redeemed).then_some(record))
    }

    pub async fn delete_code(&self, requestor: &RequestorPolicy, input: &str) -> Result<(), Error> {
        let record = self.find_code(requestor, input).await?;
        match self.refuse(&record).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::CodeNotFound),
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// Takes the code out of use; a device polling with a device code learns that it was
    /// refused.
    async fn refuse(&self, record: &CodeRecord) -> Result<bool, StoreError> {
        match record.device_code {
            Some(_) => {
                self.store
                    .set_code_state(&record.hash, CodeState::Denied, None)
                    .await
            }
            None => self.store.delete_code(&record.hash).await,
        }
    }

    /// Links `user` to the device showing the code `input`, consuming the code; with an
    /// account webhook, as the requestor's backend answers.
    pub async fn link(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
        user: UserId,
        mvpd: Option<&str>,
        metadata: BTreeMap<String, String>,
    ) -> Result<Linked, Error> {
        let record = self.find_code(requestor, input).await?;
        let mvpd = match mvpd.or(record.mvpd.as_deref()) {
            Some(id) => Some(allowed_mvpd(requestor, id)?.id.clone()),
            None => None,
        };
        let asked = AwaitingUser {
            user,
            mvpd,
            metadata,
        };
        let Some(hook) = &requestor.account_webhook else {
            return self.redeem(requestor, &record.hash, asked).await;
        };
        let answer = self
            .accounts
            .resolve(hook, &record, &asked)
            .await
            .map_err(Error::AccountWebhook)?;
        self.follow(requestor, &record, asked, answer).await
    }

    /// The requestor's backend decides a link held for its approval: `answer` is a user ID,
    /// 0 (a new user) or -1 (refused).
    pub async fn approve(
        &self,
        requestor: &RequestorPolicy,
        input: &str,
        answer: &serde_json::Value,
    ) -> Result<Linked, Error> {
        let code = requestor
            .codes
            .normalise(input)
            .ok_or(Error::NotAwaitingApproval)?;
        let record = self
            .store
            .code(&self.code_key.hash(&requestor.name, &code))
            .await?
            .filter(|r| r.state == CodeState::Approving && !r.is_expired(self.clock.now()))
            .ok_or(Error::NotAwaitingApproval)?;
        let asked = *record.awaiting.clone().ok_or(Error::NotAwaitingApproval)?;
        match AccountAnswer::parse(answer).map_err(Error::BadApproval)? {
            AccountAnswer::Pending | AccountAnswer::Error => Err(Error::BadApproval(
                "an approval answers a user ID, 0 (a new user) or -1 (refused)".into(),
            )),
            decided => self.follow(requestor, &record, asked, decided).await,
        }
    }

    /// Acts on the backend's answer about the user `asked` for the link with `record`.
    async fn follow(
        &self,
        requestor: &RequestorPolicy,
        record: &CodeRecord,
        asked: AwaitingUser,
        answer: AccountAnswer,
    ) -> Result<Linked, Error> {
        match answer {
            AccountAnswer::User(user) => {
                let asked = AwaitingUser { user, ..asked };
                self.redeem(requestor, &record.hash, asked).await
            }
            AccountAnswer::NewUser => {
                let id: u128 = self.rng.lock().random();
                let user = UserId::parse(&format!("u-{id:032x}"))?;
                self.redeem(requestor, &record.hash, AwaitingUser { user, ..asked })
                    .await
            }
            AccountAnswer::Unauthorized => {
                self.refuse(record).await.map_err(Error::Store)?;
                Err(Error::AccountUnauthorized)
            }
            AccountAnswer::Error => Err(Error::AccountError),
            AccountAnswer::Pending => {
                let held = self
                    .store
                    .set_code_state(&record.hash, CodeState::Approving, Some(asked))
                    .await
                    .map_err(Error::RegistrationFailed)?;
                if held {
                    Ok(Linked::AwaitingApproval)
                } else {
                    Err(Error::CodeNotFound)
                }
            }
        }
    }

    /// Links `asked` to the device of the code `hash`, consuming the code.
    async fn redeem(
        &self,
        requestor: &RequestorPolicy,
        hash: &CodeHash,
        asked: AwaitingUser,
    ) -> Result<Linked, Error> {
        for _ in 0..WRITE_ROUNDS {
            let now = self.clock.now();
            let record = self
                .store
                .code(hash)
                .await
                .map_err(Error::RegistrationFailed)?
                .filter(|r| r.state.is_redeemable() && !r.is_expired(now))
                .ok_or(Error::CodeNotFound)?;
            let mvpd = asked.mvpd.as_deref().and_then(|id| requestor.mvpd(id));
            let key = LinkKey::new(&requestor.name, &record.device);
            let existing = self
                .store
                .link(&key)
                .await
                .map_err(Error::RegistrationFailed)?;
            let linked_user = LinkedUser {
                user: asked.user.clone(),
                mvpd: asked.mvpd.clone(),
                linked_at: now,
                authn_expires_at: now.after(requestor.authn_ttl(mvpd)),
                metadata: asked.metadata.clone(),
            };
            let new_link = link::add_user(
                existing.as_ref().map(|v| &*v.link),
                &requestor.name,
                &record.device,
                requestor.allow_multiple_users,
                linked_user,
                now,
            )?;
            let expected = existing.map(|v| v.version);
            match self
                .store
                .redeem_code(&record.hash, expected, new_link.clone())
                .await
            {
                Ok(_) => {
                    self.metrics.device_linked(&requestor.name);
                    return Ok(Linked::Now {
                        link: Arc::new(new_link),
                        user: asked.user,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(Error::RegistrationFailed(e)),
            }
        }
        Err(Error::Contended)
    }

    /// The users whose authentication of the device is valid now, with an MVPD the
    /// requestor still works with.
    pub async fn authenticated_users(
        &self,
        requestor: &RequestorPolicy,
        device: &DeviceId,
    ) -> Result<Vec<LinkedUser>, Error> {
        let key = LinkKey::new(&requestor.name, device);
        let Some(stored) = self.store.link(&key).await? else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        Ok(stored
            .link
            .live_users(now)
            .filter(|u| u.mvpd.as_deref().is_none_or(|m| requestor.mvpd_allowed(m)))
            .cloned()
            .collect())
    }

    pub async fn unlink(
        &self,
        requestor: &RequestorPolicy,
        device: &DeviceId,
        which: Unlink<'_>,
    ) -> Result<(), Error> {
        let key = LinkKey::new(&requestor.name, device);
        for _ in 0..WRITE_ROUNDS {
            let existing = self.store.link(&key).await.map_err(Error::UnlinkFailed)?;
            let remaining = link::remove_users(
                existing.as_ref().map(|v| &*v.link),
                requestor.allow_multiple_users,
                which,
                self.clock.now(),
            )?;
            // remove_users refuses a missing link, so there is a version here.
            let Some(version) = existing.map(|v| v.version) else {
                return Err(link::LinkError::NoUserOnDevice.into());
            };
            let written = match remaining {
                Some(link) => self.store.put_link(Some(version), link).await.map(drop),
                None => self.store.delete_link(&key, version).await,
            };
            match written {
                Ok(()) => {
                    self.metrics.device_unlinked(&requestor.name);
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(Error::UnlinkFailed(e)),
            }
        }
        Err(Error::Contended)
    }
}

/// The MVPD `id`, if the requestor works with it and allows it.
fn allowed_mvpd<'p>(requestor: &'p RequestorPolicy, id: &str) -> Result<&'p Mvpd, Error> {
    match requestor.mvpd(id) {
        None => Err(Error::UnknownMvpd(id.to_owned())),
        Some(_) if !requestor.mvpd_allowed(id) => Err(Error::MvpdNotAllowed(id.to_owned())),
        Some(mvpd) => Ok(mvpd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use linkgate_crds::RequestorSpec;
    use linkgate_domain::time::ManualClock;
    use rand::SeedableRng;

    fn policy(extra: &str) -> RequestorPolicy {
        let yaml = format!(
            "backend: {{apiKeySecretRef: {{name: b, key: k}}}}\nmvpds: [{{id: test-mvpd, authnTtlSeconds: 600}}]\n{extra}"
        );
        let spec: RequestorSpec = serde_yaml_ng::from_str(&yaml).unwrap();
        let secrets = |_: &linkgate_crds::SecretKeyRef| Some(b"key".to_vec());
        RequestorPolicy::from_spec(
            "demo",
            &spec,
            &secrets,
            linkgate_domain::tenancy::Bounds::default(),
        )
        .unwrap()
    }

    fn linking(clock: Arc<ManualClock>) -> Linking {
        Linking::new(
            Arc::new(MemoryStore::new()),
            clock,
            CodeKey::new(b"test key"),
            StdRng::seed_from_u64(42),
            Arc::new(Metrics::new()),
            Arc::default(),
        )
    }

    fn issue(device: &str) -> IssueCode {
        IssueCode {
            device: DeviceId::parse(device).unwrap(),
            mvpd: None,
            device_type: None,
            client: "203.0.113.9".parse().unwrap(),
            session: None,
            ttl: None,
            proven: false,
        }
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[tokio::test]
    async fn a_code_expires_after_the_requestor_s_ttl() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let svc = linking(Arc::clone(&clock));
        let p = policy("codes: {ttlSeconds: 60}");
        let issued = svc.issue_code(&p, issue("tv")).await.unwrap();
        clock.advance(Duration::from_secs(59));
        assert!(svc.find_code(&p, &issued.code.display()).await.is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            svc.find_code(&p, issued.code.as_str()).await,
            Err(Error::CodeNotFound)
        ));
    }

    #[tokio::test]
    async fn a_linked_device_gets_a_new_code_only_with_proof() {
        let svc = linking(Arc::new(ManualClock::at(0)));
        let p = policy("allowMultipleUsers: true");
        let first = svc.issue_code(&p, issue("tv")).await.unwrap();
        let link = svc.link(
            &p,
            first.code.as_str(),
            user("alice"),
            None,
            Default::default(),
        );
        link.await.unwrap();
        assert!(matches!(
            svc.issue_code(&p, issue("tv")).await,
            Err(Error::DeviceCredentialRequired)
        ));
        let proven = IssueCode {
            proven: true,
            ..issue("tv")
        };
        let second = svc.issue_code(&p, proven).await.unwrap();
        assert_eq!(second.device_secret.len(), 43, "32 random bytes, base64url");
        assert_ne!(second.device_secret, first.device_secret);
    }

    #[tokio::test]
    async fn authentication_lasts_the_mvpd_s_ttl() {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let svc = linking(Arc::clone(&clock));
        let p = policy("");
        let tv = DeviceId::parse("tv").unwrap();
        let issued = svc.issue_code(&p, issue("tv")).await.unwrap();
        svc.link(
            &p,
            issued.code.as_str(),
            user("alice"),
            Some("test-mvpd"),
            Default::default(),
        )
        .await
        .unwrap();
        clock.advance(Duration::from_secs(599));
        assert_eq!(svc.authenticated_users(&p, &tv).await.unwrap().len(), 1);
        clock.advance(Duration::from_secs(1));
        assert!(svc.authenticated_users(&p, &tv).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_link_through_a_removed_mvpd_no_longer_authenticates() {
        let clock = Arc::new(ManualClock::at(0));
        let svc = linking(clock);
        let p = policy("");
        let tv = DeviceId::parse("tv").unwrap();
        let issued = svc.issue_code(&p, issue("tv")).await.unwrap();
        svc.link(
            &p,
            issued.code.as_str(),
            user("alice"),
            Some("test-mvpd"),
            Default::default(),
        )
        .await
        .unwrap();
        let without_mvpd = {
            let mut p = p.clone();
            p.mvpds.clear();
            p
        };
        assert_eq!(svc.authenticated_users(&p, &tv).await.unwrap().len(), 1);
        assert!(
            svc.authenticated_users(&without_mvpd, &tv)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn two_users_racing_for_one_code_yield_exactly_one_link() {
        let svc = Arc::new(linking(Arc::new(ManualClock::at(0))));
        let p = Arc::new(policy(""));
        let code = svc.issue_code(&p, issue("tv")).await.unwrap().code;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (svc, p, code) = (Arc::clone(&svc), Arc::clone(&p), code.clone());
            tasks.push(tokio::spawn(async move {
                svc.link(
                    &p,
                    code.as_str(),
                    user(&format!("u{i}")),
                    None,
                    Default::default(),
                )
                .await
                .is_ok()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn a_full_code_space_is_reported_not_looped_on() {
        let svc = linking(Arc::new(ManualClock::at(0)));
        // 2^4 = 16 codes.
        let p = policy("codes: {alphabet: AB, length: 4}");
        let mut exhausted = false;
        for i in 0..64 {
            match svc.issue_code(&p, issue(&format!("d{i}"))).await {
                Ok(_) => {}
                Err(Error::CodeSpaceExhausted) => {
                    exhausted = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(exhausted);
    }
}
