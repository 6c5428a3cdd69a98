//! The second screen's sign-in: a person who typed a valid code and picked an MVPD is sent
//! to that MVPD's provider; what must come back with them (the code, the MVPD, and OpenID
//! Connect's state, nonce and PKCE verifier or SAML's request ID) travels sealed, so any
//! proxy can take the answer: in a cookie for OpenID Connect; for SAML as the RelayState,
//! and in a cookie as well (one the provider's cross-site POST carries), so that the answer
//! is taken only from the browser that started the sign-in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::confirmation::Confirmation;
use super::outbound::Outbound;
use super::saml::{self, Endpoints, Saml, SamlError};
use super::sign_in::{Pending, SignIn, SignInError, SignedIn};
use crate::metrics::Metrics;
use linkgate_domain::code::CodeKey;
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use linkgate_domain::sealed::Sealer;
use linkgate_domain::time::{Clock, Timestamp};

/// How long a sign-in may take at the provider.
const SIGN_IN_SECONDS: i64 = 600;
const PURPOSE: &str = "activation sign-in";

#[derive(Serialize, Deserialize)]
struct Session {
    requestor: String,
    code: String,
    mvpd: String,
    pending: Awaiting,
    expires: i64,
    /// Where the person goes once linked (the Adobe v1 second screen), checked at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_to: Option<String>,
}

/// What the provider's answer must match.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Awaiting {
    Oidc(Pending),
    Saml { request: String },
}

/// Where browsers reach this gateway's pages of one requestor (`…/activate/{requestor}`),
/// and so where providers send them back.
pub struct Here(String);

impl Here {
    pub fn new(base: String) -> Self {
        Self(base)
    }

    /// OpenID Connect's redirect URI.
    pub fn callback(&self) -> String {
        format!("{}/callback", self.0)
    }

    /// This gateway as `mvpd`'s SAML service provider.
    pub fn saml(&self, mvpd: &str) -> Endpoints {
        Endpoints {
            entity_id: format!("{}/saml/{mvpd}/metadata", self.0),
            acs: format!("{}/saml/{mvpd}/acs", self.0),
        }
    }
}

/// A sign-in under way: where to send the browser, and the cookie to set.
pub struct Started {
    pub to: url::Url,
    pub cookie: String,
    /// The answer comes as a cross-site POST (SAML): its cookie must be `SameSite=None`.
    pub answer_posted: bool,
}

/// A sign-in that came back: the code to link and who signed in, with which MVPD.
pub struct Returned {
    pub code: String,
    pub mvpd: String,
    pub user: SignedIn,
    pub return_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("this sign-in is unknown or has expired: start again from the code")]
    Session,
    #[error("MVPD {0:?} does not offer sign-in here")]
    NoSignIn(String),
    #[error(transparent)]
    Provider(#[from] SignInError),
    #[error(transparent)]
    Saml(#[from] SamlError),
}

pub struct Activation {
    sign_in: SignIn,
    saml: Saml,
    metrics: Arc<Metrics>,
    sealer: Sealer,
    confirmation: Confirmation,
    clock: Arc<dyn Clock>,
    public_url: Option<url::Url>,
}

impl Activation {
    pub fn new(
        code_key: &CodeKey,
        clock: Arc<dyn Clock>,
        public_url: Option<url::Url>,
        metrics: Arc<Metrics>,
        outbound: Arc<Outbound>,
    ) -> Self {
        Self {
            sign_in: SignIn::new(Arc::clone(&outbound)),
            saml: Saml::new(outbound),
            metrics,
            sealer: Sealer::new(code_key.derive("activation-cookie")),
            confirmation: Confirmation::new(code_key),
            clock,
            public_url,
        }
    }

    /// The person's confirmation, which every sign-in starts from.
    pub fn confirmation(&self) -> &Confirmation {
        &self.confirmation
    }

    /// Whole minutes from `then` to now, for pages that say how long ago something was.
    pub fn minutes_since(&self, then: Timestamp) -> u64 {
        let seconds = self.clock.now().unix_secs() - then.unix_secs();
        u64::try_from(seconds).unwrap_or(0) / 60
    }

    /// The gateway's configured URL as browsers reach it.
    pub fn public_url(&self) -> Option<&url::Url> {
        self.public_url.as_ref()
    }

    /// Where to send the browser to sign in at `mvpd`, and what it carries meanwhile;
    /// `return_to`, where the browser goes once the device is linked.
    pub async fn begin(
        &self,
        requestor: &RequestorPolicy,
        code: &str,
        mvpd: &Mvpd,
        here: &Here,
        return_to: Option<url::Url>,
    ) -> Result<Started, ActivationError> {
        let expires = self.clock.now().unix_secs() + SIGN_IN_SECONDS;
        let return_to = return_to.map(String::from);
        let sealed = |pending: Awaiting| {
            let session = Session {
                requestor: requestor.name.clone(),
                code: code.to_owned(),
                mvpd: mvpd.id.clone(),
                pending,
                expires,
                return_to: return_to.clone(),
            };
            self.sealer.seal(PURPOSE, &session)
        };
        match (&mvpd.oidc, &mvpd.saml) {
            (Some(provider), _) => {
                let (to, pending) = self.sign_in.begin(provider, &here.callback()).await?;
                let cookie = sealed(Awaiting::Oidc(pending));
                Ok(Started {
                    to,
                    cookie,
                    answer_posted: false,
                })
            }
            (None, Some(provider)) => {
                let request = saml::request_id();
                let relay_state = sealed(Awaiting::Saml {
                    request: request.clone(),
                });
                let to = self
                    .saml
                    .begin(provider, &here.saml(&mvpd.id), &request, &relay_state)
                    .await?;
                Ok(Started {
                    to,
                    cookie: relay_state,
                    answer_posted: true,
                })
            }
            (None, None) => Err(ActivationError::NoSignIn(mvpd.id.clone())),
        }
    }

    /// The sign-in `sealed` carries, if it is this requestor's and still good.
    fn open(&self, requestor: &RequestorPolicy, sealed: &str) -> Result<Session, ActivationError> {
        let now = self.clock.now();
        self.sealer
            .open(PURPOSE, sealed)
            .filter(|s: &Session| s.requestor == requestor.name && now.unix_secs() < s.expires)
            .ok_or(ActivationError::Session)
    }

    /// Checks the OpenID Connect provider's answer against the cookie and redeems its code.
    pub async fn finish(
        &self,
        requestor: &RequestorPolicy,
        cookie: &str,
        state: &str,
        code: &str,
        iss: Option<&str>,
        here: &Here,
    ) -> Result<Returned, ActivationError> {
        let session = self.open(requestor, cookie)?;
        let Awaiting::Oidc(pending) = session.pending else {
            return Err(ActivationError::Session);
        };
        if pending.state != state {
            return Err(ActivationError::Session);
        }
        let mvpd = requestor
            .mvpd(&session.mvpd)
            .ok_or(ActivationError::Session)?;
        let provider = mvpd
            .oidc
            .as_ref()
            .ok_or_else(|| ActivationError::NoSignIn(mvpd.id.clone()))?;
        let user = self
            .sign_in
            .finish(provider, &here.callback(), pending, code, iss)
            .await?;
        Ok(Returned {
            code: session.code,
            mvpd: session.mvpd,
            user,
            return_to: session.return_to,
        })
    }

    /// Checks a SAML identity provider's `response`, posted to `mvpd`'s ACS with
    /// `relay_state` by the browser holding `cookie`.
    pub async fn finish_saml(
        &self,
        requestor: &RequestorPolicy,
        mvpd: &str,
        relay_state: &str,
        cookie: Option<&str>,
        response: &str,
        here: &Here,
    ) -> Result<Returned, ActivationError> {
        // Another browser (one an attacker sent straight to the provider) holds no cookie.
        if cookie != Some(relay_state) {
            return Err(ActivationError::Session);
        }
        let session = self.open(requestor, relay_state)?;
        let Awaiting::Saml { request } = &session.pending else {
            return Err(ActivationError::Session);
        };
        if session.mvpd != mvpd {
            return Err(ActivationError::Session);
        }
        let provider = requestor
            .mvpd(mvpd)
            .and_then(|m| m.saml.as_ref())
            .ok_or_else(|| ActivationError::NoSignIn(mvpd.to_owned()))?;
        let user = self
            .saml
            .finish(provider, &here.saml(mvpd), request, response)
            .await
            .inspect_err(|e| {
                if let SamlError::Refused { reason, .. } = e {
                    self.metrics.saml_refused(&requestor.name, reason);
                }
            })?;
        Ok(Returned {
            code: session.code,
            mvpd: session.mvpd,
            user,
            return_to: session.return_to,
        })
    }

    /// This gateway's SAML metadata as `mvpd`'s service provider.
    pub fn saml_metadata(
        &self,
        requestor: &RequestorPolicy,
        mvpd: &str,
        here: &Here,
    ) -> Result<String, ActivationError> {
        let provider = requestor
            .mvpd(mvpd)
            .and_then(|m| m.saml.as_ref())
            .ok_or_else(|| ActivationError::NoSignIn(mvpd.to_owned()))?;
        Ok(Saml::metadata(provider, &here.saml(mvpd))?)
    }
}
