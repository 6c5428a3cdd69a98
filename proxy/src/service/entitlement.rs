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
use super::temp_passes::TempPasses;
use crate::metrics::Metrics;
use crate::store::{LinkKey, Store};
use linkgate_domain::decision::Decision;
use linkgate_domain::degradation::DegradationRule;
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::LinkedUser;
use linkgate_domain::media_token::{ISSUER, MediaClaims};
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use linkgate_domain::resource::Resource;
use linkgate_domain::session::{self, Authn};
use linkgate_domain::time::{Clock, Timestamp};

/// Why a degradation rule refused.
const DENIED_BY_RULE: &str = "authorization_denied_by_degradation_rule";

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

/// Who answered a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The MVPD's decision point.
    Mvpd,
    /// The programmer's degradation rule, while the MVPD is down.
    Degradation,
    /// A TempPass MVPD's rules, during the device's window.
    TempPass,
}

/// A cached authorization decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Authz {
    pub resource: String,
    pub user: UserId,
    pub mvpd: String,
    pub authorized: bool,
    pub reason: Option<String>,
    pub source: Source,
    pub expires_at: Timestamp,
    /// How long the cache keeps it (its TTL plus the time it is remembered expired).
    retain: Duration,
}

/// The answer about one resource of a preauthorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preauthorized {
    pub resource: String,
    pub authorized: bool,
    /// Why not, when the decision point could not be asked or a rule refused.
    pub error: Option<&'static str>,
    pub source: Source,
}

/// Whom a device entitles at an MVPD: its user, anyone under an `authnAll` rule, or
/// nobody in particular during its TempPass window.
#[derive(Clone, Debug, PartialEq)]
pub struct Entitled {
    pub user: LinkedUser,
    pub standing: Standing,
}

/// What lets a device in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A person signed in with the MVPD.
    SignedIn,
    /// The MVPD's `authnAll` rule.
    Degraded,
    /// Its window at a TempPass MVPD.
    TempPass,
}

/// The user a device stands for under an `authnAll` rule: nobody signed in.
const DEGRADED_USER: &str = "degraded";

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
    passes: TempPasses,
}

impl Entitlements {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        decisions: DecisionClient,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            passes: TempPasses::new(Arc::clone(&store), Arc::clone(&clock)),
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

    /// Whom `device` entitles, at `asked` when the caller names the MVPD: the device's
    /// authenticated user (there), or, while that MVPD's `authnAll` rule is in force, a
    /// stand-in nobody signed in as.
    pub async fn entitled(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        asked: Option<&str>,
    ) -> Result<Entitled, Error> {
        let signed_in = match self.authn(p, device).await {
            Ok(user) if asked.is_some_and(|m| user.mvpd.as_deref() != Some(m)) => {
                Err(Error::AuthnMissing)
            }
            other => other,
        };
        let Err(not_signed_in) = signed_in else {
            return signed_in.map(|user| Entitled {
                user,
                standing: Standing::SignedIn,
            });
        };
        if let Some(user) = asked.and_then(|m| self.stand_in(p, m)) {
            let standing = Standing::Degraded;
            return Ok(Entitled { user, standing });
        }
        match self.passes.standing(p, device, asked).await? {
            Some(user) => Ok(Entitled {
                user,
                standing: Standing::TempPass,
            }),
            None => Err(not_signed_in),
        }
    }

    /// The devices' TempPass windows.
    pub fn temp_passes(&self) -> &TempPasses {
        &self.passes
    }

    /// The user any device stands for at `mvpd` while its `authnAll` rule is in force.
    pub fn stand_in(&self, p: &RequestorPolicy, mvpd: &str) -> Option<LinkedUser> {
        let mvpd = p.mvpd(mvpd)?;
        let now = self.clock.now();
        (mvpd.degraded(now)? == DegradationRule::AuthnAll).then(|| LinkedUser {
            user: UserId::parse(DEGRADED_USER).expect("a valid user ID"),
            mvpd: Some(mvpd.id.clone()),
            linked_at: now,
            authn_expires_at: mvpd
                .degradation
                .as_ref()
                .and_then(|d| d.until)
                .unwrap_or_else(|| now.after(mvpd.authn_ttl)),
            metadata: Default::default(),
        })
    }

    /// Who answers decisions at `mvpd` now: a degradation rule, or its decision point.
    pub fn source_at(&self, p: &RequestorPolicy, mvpd: &str) -> Source {
        match p.mvpd(mvpd).and_then(|m| m.degraded(self.clock.now())) {
            Some(_) => Source::Degradation,
            None => answered_by(p, mvpd),
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
        self.authorize_at(p, device, resource, None).await
    }

    /// `authorize`, at the MVPD the caller names when it names one. While the MVPD's
    /// degradation rule is in force, the rule answers, and nothing is cached: lifting the
    /// rule takes effect at once.
    pub async fn authorize_at(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resource: &Resource,
        asked: Option<&str>,
    ) -> Result<Arc<Authz>, Error> {
        let user = self.entitled(p, device, asked).await?.user;
        let mvpd = user.mvpd.clone().ok_or_else(|| Error::AuthzDenied {
            reason: "an account link carries no MVPD to ask".into(),
        })?;
        if let Some(rule) = p.mvpd(&mvpd).and_then(|m| m.degraded(self.clock.now())) {
            return self.verdict(p, self.by_rule(p, &user, &resource.id, rule));
        }
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
        // Whom the decision was made for: the signed-in user, or a TempPass window's.
        let user = match self.entitled(p, device, None).await {
            Err(Error::AuthnMissing | Error::AuthnExpired) => Err(Error::AuthnRequired),
            other => other.map(|entitled| entitled.user),
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
        asked: Option<&str>,
    ) -> Result<Vec<Preauthorized>, Error> {
        if resources.len() > p.preauthorize_limit {
            return Err(Error::TooManyResources {
                limit: p.preauthorize_limit,
            });
        }
        let user = self.entitled(p, device, asked).await?.user;
        let mvpd = user
            .mvpd
            .as_deref()
            .and_then(|m| p.mvpd(m))
            .ok_or_else(|| Error::AuthzDenied {
                reason: "an account link carries no MVPD to ask".into(),
            })?;
        let now = self.clock.now();
        if let Some(rule) = mvpd.degraded(now) {
            let authorized = rule != DegradationRule::AuthzNone;
            return Ok(resources
                .iter()
                .map(|resource| {
                    self.metrics.authorization(&p.name, authorized);
                    Preauthorized {
                        resource: resource.clone(),
                        authorized,
                        error: (!authorized).then_some(DENIED_BY_RULE),
                        source: Source::Degradation,
                    }
                })
                .collect());
        }
        let mut answers: Vec<Option<Preauthorized>> = Vec::with_capacity(resources.len());
        let mut missing = Vec::new();
        for resource in resources {
            let key = self.key(p, device, &user.user, resource);
            match self.cache.get(&key).await {
                Some(a) if a.expires_at > now => answers.push(Some(Preauthorized {
                    resource: resource.clone(),
                    authorized: a.authorized,
                    error: None,
                    source: a.source,
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
                        source: answered_by(p, &mvpd.id),
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
                source: entry.source,
            });
            self.cache.insert(key, entry).await;
        }
        out
    }

    /// A signed media token for a resource the device's user is authorized for, at the
    /// MVPD the caller names when it names one.
    pub async fn media_token(
        &self,
        p: &RequestorPolicy,
        device: &DeviceId,
        resource: &Resource,
        asked: Option<&str>,
    ) -> Result<(String, MediaClaims), Error> {
        let authz = self.authorize_at(p, device, resource, asked).await?;
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
        // Nothing reads a decision once its user's authentication has ended (lookups ask
        // for the device's user first), so none is kept past it: under a steady stream of
        // new devices the cache holds the live ones, not a day of the departed.
        let now = self.clock.now();
        let authn_left = now.until(user.authn_expires_at);
        Arc::new(Authz {
            resource: d.resource,
            user: user.user.clone(),
            source: answered_by(p, &mvpd),
            mvpd,
            authorized: d.authorized,
            reason: d.reason,
            expires_at: now.after(ttl.min(authn_left)),
            retain: (ttl + KEEP_EXPIRED).min(authn_left),
        })
    }

    /// The decision a degradation rule gives `user` about `resource`.
    fn by_rule(
        &self,
        p: &RequestorPolicy,
        user: &LinkedUser,
        resource: &str,
        rule: DegradationRule,
    ) -> Arc<Authz> {
        let mvpd = user.mvpd.clone().unwrap_or_default();
        let ttl = p.mvpd(&mvpd).map_or(DENIAL_TTL, |m| m.authz_ttl);
        let authorized = rule != DegradationRule::AuthzNone;
        Arc::new(Authz {
            resource: resource.to_owned(),
            user: user.user.clone(),
            mvpd,
            authorized,
            reason: (!authorized).then(|| DENIED_BY_RULE.to_owned()),
            source: Source::Degradation,
            expires_at: self.clock.now().after(ttl),
            retain: Duration::ZERO,
        })
    }

    fn verdict(&self, p: &RequestorPolicy, authz: Arc<Authz>) -> Result<Arc<Authz>, Error> {
        self.metrics.authorization(&p.name, authz.authorized);
        if authz.authorized {
            Ok(authz)
        } else if authz.source == Source::Degradation {
            Err(Error::DeniedByDegradation)
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

/// Whose rules a decision point's answer at `mvpd` is: the MVPD's, or a TempPass's.
fn answered_by(p: &RequestorPolicy, mvpd: &str) -> Source {
    match p.mvpd(mvpd).is_some_and(|m| m.temp_pass.is_some()) {
        true => Source::TempPass,
        false => Source::Mvpd,
    }
}
