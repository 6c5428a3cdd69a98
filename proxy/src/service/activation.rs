//! The second screen's sign-in: a person who typed a valid code and picked an MVPD is sent
//! to that MVPD's provider; what must come back with them (the code, the MVPD, state, nonce
//! and PKCE verifier) travels sealed in their cookie, so any proxy can take the callback.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sign_in::{Pending, SignIn, SignInError, SignedIn};
use linkgate_domain::code::CodeKey;
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use linkgate_domain::sealed::Sealer;
use linkgate_domain::time::Clock;

/// How long a sign-in may take at the provider.
const SIGN_IN_SECONDS: i64 = 600;
const PURPOSE: &str = "activation sign-in";

#[derive(Serialize, Deserialize)]
struct Session {
    requestor: String,
    code: String,
    mvpd: String,
    pending: Pending,
    expires: i64,
    /// Where the person goes once linked (the Adobe v1 second screen), checked at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_to: Option<String>,
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
}

pub struct Activation {
    sign_in: SignIn,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    public_url: Option<url::Url>,
}

impl Activation {
    pub fn new(code_key: &CodeKey, clock: Arc<dyn Clock>, public_url: Option<url::Url>) -> Self {
        Self {
            sign_in: SignIn::default(),
            sealer: Sealer::new(code_key.derive("activation-cookie")),
            clock,
            public_url,
        }
    }

    /// The gateway's configured URL as browsers reach it.
    pub fn public_url(&self) -> Option<&url::Url> {
        self.public_url.as_ref()
    }

    /// Where to send the browser to sign in at `mvpd`, and the cookie value to set;
    /// `return_to`, where the browser goes once the device is linked.
    pub async fn begin(
        &self,
        requestor: &RequestorPolicy,
        code: &str,
        mvpd: &Mvpd,
        redirect: &str,
        return_to: Option<url::Url>,
    ) -> Result<(url::Url, String), ActivationError> {
        let now = self.clock.now();
        let provider = mvpd
            .oidc
            .as_ref()
            .ok_or_else(|| ActivationError::NoSignIn(mvpd.id.clone()))?;
        let (url, pending) = self.sign_in.begin(provider, redirect).await?;
        let session = Session {
            requestor: requestor.name.clone(),
            code: code.to_owned(),
            mvpd: mvpd.id.clone(),
            pending,
            expires: now.unix_secs() + SIGN_IN_SECONDS,
            return_to: return_to.map(String::from),
        };
        Ok((url, self.sealer.seal(PURPOSE, &session)))
    }

    /// Checks the provider's answer against the cookie and redeems its code.
    pub async fn finish(
        &self,
        requestor: &RequestorPolicy,
        cookie: &str,
        state: &str,
        code: &str,
        iss: Option<&str>,
        redirect: &str,
    ) -> Result<Returned, ActivationError> {
        let now = self.clock.now();
        let session: Session = self
            .sealer
            .open(PURPOSE, cookie)
            .filter(|s: &Session| {
                s.requestor == requestor.name
                    && s.pending.state == state
                    && now.unix_secs() < s.expires
            })
            .ok_or(ActivationError::Session)?;
        let mvpd = requestor
            .mvpd(&session.mvpd)
            .ok_or(ActivationError::Session)?;
        let provider = mvpd
            .oidc
            .as_ref()
            .ok_or_else(|| ActivationError::NoSignIn(mvpd.id.clone()))?;
        let user = self
            .sign_in
            .finish(provider, redirect, session.pending, code, iss)
            .await?;
        Ok(Returned {
            code: session.code,
            mvpd: session.mvpd,
            user,
            return_to: session.return_to,
        })
    }
}
