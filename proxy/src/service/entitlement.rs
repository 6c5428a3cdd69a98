//! Authentication checks, authorization with a cache of decisions, preauthorization and
//! media tokens.
//!
//! Decisions are cached per (requestor, device, user, resource) for the MVPD's authZ TTL,
//! denials for at most five minutes, and concurrent identical questions share one call to
//! the decision point. Expired decisions are kept a while longer so that an authZ token
//! lookup can say "expired" (410) rather than "never" (404).

use std::sync::Arc;
use std::time::Duration;

use moka::Expiry;
use moka::future::Cache;

use super::Error;
use super::decision_point::{Ask, DecisionClient, DecisionError};
use crate::metrics::Metrics;
use crate::store::{LinkKey, Store};
use linkgate_domain::decision::Decision;
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::LinkedUser;
use linkgate_domain::media_token::{ISSUER, MediaClaims};
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use linkgate_domain::resource::Resource;
use linkgate_domain::session::{self, Authn};
use linkgate_domain::time::{Clock, Timestamp};

/// Denials are cached briefly, so a user who just subscribed is not kept waiting a day.
const DENIAL_TTL: Duration = Duration::from_secs(5 * 60);
/// How long an expired decision is remembered, to answer 410 instead of 404.
const KEEP_EXPIRED: Duration = Duration::from_secs(60 * 60);
/// Bound on cached decisions, so memory stays flat under many devices.
const CACHE_CAPACITY: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AuthzKey {
    requestor: String,
    device: DeviceId,
    user: UserId,
    resource: String,
}

/// A cached authorization decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Authz {
    pub resource: String,
    pub user: UserId,
    pub mvpd: String,
    pub authorized: bool,
    pub reason: Option<String>,
    pub expires_at: Timestamp,
    /// How long the cache keeps it (its TTL plus the time it is remembered expired).
    retain: Duration,
}

/// The answer about one resource of a preauthorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preauthorized {
    pub resource: String,
    pub authorized: bool,
    /// Why not, when the decision point could not be asked.
    pub error: Option<&'static str>,
}

struct RetainFor;

impl Expiry<AuthzKey, Arc<Authz>> for RetainFor {
    fn expire_after_create(
        &self,
        _key: &AuthzKey,
        value: &Arc<Authz>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.retain)
    }
}

pub struct Entitlements {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    decisions: DecisionClient,
    cache: Cache<AuthzKey, Arc<Authz>>,
    metrics: Arc<Metrics>,
}

impl Entitlements {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        decisions: DecisionClient,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            clock,
            decisions,
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .expire_after(RetainFor)
                .build(),
            metrics,
        }
    }

    /// The user the device is authenticated as, or why it is not.
    pub async fn authn(&self, p: &RequestorPolicy, device: &DeviceId) -> Result<LinkedUser, Error> {
        let stored = self.store.link(&LinkKey::new(&p.name, device)).await?;
        let now = self.clock.now();
        match session::authn(stored.as_ref().map(|v| &*v.link), now, |m| {
            p.mvpd_allowed(m)
        }) {
            Authn::Authenticated(user) => Ok(user.clone()),
            Authn::Expired(_) => Err(Error::AuthnExpired),
            Authn::Missing => Err(Error::AuthnMissing),
        }
    }

    /// Asks (or recalls) whether the device's user may play `resource`, remembered by its
    /// ID.
    pub async fn authorize(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resource: &Resource,
    ) -> Result<Arc<Authz>, Error> {
        let user = self.authn(p, device).await?;
        let mvpd = user.mvpd.clone().ok_or_else(|| Error::AuthzDenied {
            reason: "an account link carries no MVPD to ask".into(),
        })?;
        let key = self.key(p, device, &user.user, &resource.id);
        if let Some(cached) = self.cache.get(&key).await {
            if cached.expires_at > self.clock.now() {
                return self.verdict(p, cached);
            }
            self.cache.invalidate(&key).await;
        }
        let mvpd = p.mvpd(&mvpd).ok_or(Error::AuthnMissing)?;
        let resources = [resource.id.clone()];
        let fetch = async {
            let ask = Ask {
                requestor: &p.name,
                user: user.user.as_str(),
                device: device.as_str(),
                resources: &resources,
                documents: resource
                    .document
                    .as_deref()
                    .map(|d| (resource.id.as_str(), d))
                    .into_iter()
                    .collect(),
            };
            let decision = self
                .decisions
                .decide(mvpd, ask)
                .await?
                .pop()
                .ok_or_else(|| DecisionError::InvalidAnswer("no decision".into()))?;
            Ok::<_, DecisionError>(self.entry(p, &user, decision))
        };
        let entry = self
            .cache
            .try_get_with(key, fetch)
            .await
            .map_err(|shared| Error::DecisionPoint((*shared).clone()))?;
        self.verdict(p, entry)
    }

    /// The cached decision about `resource`, without asking anyone.
    pub async fn authz_token(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resource: &str,
    ) -> Result<Arc<Authz>, Error> {
        let user = match self.authn(p, device).await {
            Err(Error::AuthnMissing | Error::AuthnExpired) => Err(Error::AuthnRequired),
            other => other,
        }?;
        let key = self.key(p, device, &user.user, resource);
        match self.cache.get(&key).await {
            Some(a) if !a.authorized => Err(Error::AuthzMissing),
            Some(a) if a.expires_at <= self.clock.now() => Err(Error::AuthzExpired),
            Some(a) => Ok(a),
            None => Err(Error::AuthzMissing),
        }
    }

    /// Decisions about several resources with one question to the decision point for those
    /// not cached. A resource it could not answer about is not authorized.
    pub async fn preauthorize(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resources: &[String],
    ) -> Result<Vec<Preauthorized>, Error> {
        if resources.len() > p.preauthorize_limit {
            return Err(Error::TooManyResources {
                limit: p.preauthorize_limit,
            });
        }
        let user = self.authn(p, device).await?;
        let mvpd = user
            .mvpd
            .as_deref()
            .and_then(|m| p.mvpd(m))
            .ok_or_else(|| Error::AuthzDenied {
                reason: "an account link carries no MVPD to ask".into(),
            })?;
        let now = self.clock.now();
        let mut answers: Vec<Option<Preauthorized>> = Vec::with_capacity(resources.len());
        let mut missing = Vec::new();
        for resource in resources {
            let key = self.key(p, device, &user.user, resource);
            match self.cache.get(&key).await {
                Some(a) if a.expires_at > now => answers.push(Some(Preauthorized {
                    resource: resource.clone(),
                    authorized: a.authorized,
                    error: None,
                })),
                _ => {
                    answers.push(None);
                    missing.push(resource.clone());
                }
            }
        }
        let mut fresh = match missing.is_empty() {
            true => Vec::new(),
            false => self.ask_and_cache(p, device, &user, mvpd, &missing).await,
        }
        .into_iter();
        Ok(answers
            .into_iter()
            .map(|a| {
                a.or_else(|| fresh.next())
                    .expect("one fresh answer per missing resource")
            })
            .collect())
    }

    /// One question to the decision point about `resources`, in their order, each answer
    /// cached; when it cannot answer, none is authorized.
    async fn ask_and_cache(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        user: &LinkedUser,
        mvpd: &Mvpd,
        resources: &[String],
    ) -> Vec<Preauthorized> {
        let ask = Ask {
            requestor: &p.name,
            user: user.user.as_str(),
            device: device.as_str(),
            resources,
            documents: Default::default(),
        };
        let decisions = match self.decisions.decide(mvpd, ask).await {
            Ok(decisions) => decisions,
            Err(e) => {
                let error = Some(Error::DecisionPoint(e).code());
                return resources
                    .iter()
                    .map(|r| Preauthorized {
                        resource: r.clone(),
                        authorized: false,
                        error,
                    })
                    .collect();
            }
        };
        let mut out = Vec::with_capacity(decisions.len());
        for d in decisions {
            let key = self.key(p, device, &user.user, &d.resource);
            let entry = self.entry(p, user, d);
            self.metrics.authorization(&p.name, entry.authorized);
            out.push(Preauthorized {
                resource: entry.resource.clone(),
                authorized: entry.authorized,
                error: None,
            });
            self.cache.insert(key, entry).await;
        }
        out
    }

    /// A signed media token for a resource the device's user is authorized for.
    pub async fn media_token(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resource: &Resource,
    ) -> Result<(String, MediaClaims), Error> {
        let authz = self.authorize(p, device, resource).await?;
        let now = self.clock.now();
        let claims = MediaClaims {
            iss: ISSUER.into(),
            aud: p.name.clone(),
            sub: authz.user.to_string(),
            dev: device.to_string(),
            res: resource.id.clone(),
            mvpd: Some(authz.mvpd.clone()),
            iat: now.unix_secs(),
            exp: now.after(p.media_token_ttl).unix_secs_ceil(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = p.media_keys.sign(&claims).ok_or(Error::NoSigningKey)?;
        self.metrics.media_token_issued(&p.name);
        Ok((token, claims))
    }

    fn key(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        user: &UserId,
        resource: &str,
    ) -> AuthzKey {
        AuthzKey {
            requestor: p.name.clone(),
            device: device.clone(),
            user: user.clone(),
            resource: resource.to_owned(),
        }
    }

    fn entry(&self, p: &RequestorPolicy, user: &LinkedUser, d: Decision) -> Arc<Authz> {
        let mvpd = user.mvpd.clone().unwrap_or_default();
        let ttl = p.mvpd(&mvpd).map_or(DENIAL_TTL, |m| m.authz_ttl);
        let ttl = if d.authorized {
            ttl
        } else {
            ttl.min(DENIAL_TTL)
        };
        Arc::new(Authz {
            resource: d.resource,
            user: user.user.clone(),
            mvpd,
            authorized: d.authorized,
            reason: d.reason,
            expires_at: self.clock.now().after(ttl),
            retain: ttl + KEEP_EXPIRED,
        })
    }

    fn verdict(&self, p: &RequestorPolicy, authz: Arc<Authz>) -> Result<Arc<Authz>, Error> {
        self.metrics.authorization(&p.name, authz.authorized);
        if authz.authorized {
            Ok(authz)
        } else {
            Err(Error::AuthzDenied {
                reason: authz
                    .reason
                    .clone()
                    .unwrap_or_else(|| "denied by the MVPD".into()),
            })
        }
    }
}
