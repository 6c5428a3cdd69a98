//! Signing a person in at their MVPD with OpenID Connect: the authorization code flow with
//! PKCE, state and nonce, against the provider's discovery document, and the ID token
//! checked (signature by the provider's published keys, issuer, audience, nonce, expiry).
//! A provider's discovery document and keys are kept for a few minutes, and fetched again
//! at once when an ID token names a key they lack (the provider rotated its keys).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType,
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::outbound::Outbound;
use super::provider_http::ProviderHttp;
use linkgate_domain::requestor::OidcProvider;

/// What must come back, unchanged, with the browser: kept sealed in its cookie meanwhile.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// Who signed in, and what the provider said of them that the link keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub subject: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the provider cannot be reached or described itself wrongly: {0}")]
    Discovery(String),
    #[error("the provider refused the code: {0}")]
    Exchange(String),
    #[error("the provider's ID token is not valid: {0}")]
    IdToken(String),
    #[error("the sign-in came back from another issuer ({0})")]
    Issuer(String),
}

/// How long a provider's discovery document and keys are used before being fetched again.
const METADATA_TTL: Duration = Duration::from_secs(300);

pub struct SignIn {
    http: ProviderHttp,
    /// By issuer: when fetched, and what.
    metadata: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

impl SignIn {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            http: ProviderHttp::new(outbound),
            metadata: Mutex::default(),
        }
    }

    /// The provider's discovery document and keys: kept ones, unless `fresh` or too old.
    async fn metadata(
        &self,
        provider: &OidcProvider,
        fresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>, SignInError> {
        let issuer = provider.issuer.as_str().trim_end_matches('/').to_owned();
        let kept = self
            .metadata
            .lock()
            .expect("not poisoned")
            .get(&issuer)
            .cloned();
        if let Some((fetched, metadata)) = kept
            && !fresh
            && fetched.elapsed() < METADATA_TTL
        {
            return Ok(metadata);
        }
        let url =
            IssuerUrl::new(issuer.clone()).map_err(|e| SignInError::Discovery(e.to_string()))?;
        let metadata = Arc::new(
            CoreProviderMetadata::discover_async(url, &self.http.scoped(&provider.issuer))
                .await
                .map_err(|e| SignInError::Discovery(e.to_string()))?,
        );
        self.metadata
            .lock()
            .expect("not poisoned")
            .insert(issuer, (Instant::now(), Arc::clone(&metadata)));
        Ok(metadata)
    }

    async fn client(
        &self,
        provider: &OidcProvider,
        redirect: &str,
        fresh: bool,
    ) -> Result<Client, SignInError> {
        let metadata = self.metadata(provider, fresh).await?;
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            (*metadata).clone(),
            ClientId::new(provider.client_id.clone()),
            provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser, and what it must bring back.
    pub async fn begin(
        &self,
        provider: &OidcProvider,
        redirect: &str,
    ) -> Result<(url::Url, Pending), SignInError> {
        let client = self.client(provider, redirect, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        };
        Ok((url, pending))
    }

    /// Redeems the code the provider sent back and checks the ID token it answers with.
    /// `iss`, when the provider sent one back (RFC 9207), must be its own.
    pub async fn finish(
        &self,
        provider: &OidcProvider,
        redirect: &str,
        pending: Pending,
        code: &str,
        iss: Option<&str>,
    ) -> Result<SignedIn, SignInError> {
        let issuer = provider.issuer.as_str().trim_end_matches('/');
        if let Some(iss) = iss.filter(|iss| iss.trim_end_matches('/') != issuer) {
            return Err(SignInError::Issuer(iss.to_owned()));
        }
        let client = self.client(provider, redirect, false).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http.scoped(&provider.issuer))
            .await
            .map_err(|e| SignInError::Exchange(e.to_string()))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::IdToken("none was given".into()))?;
        let nonce = Nonce::new(pending.nonce);
        match verify(&client, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let client = self.client(provider, redirect, true).await?;
                verify(&client, id_token, &nonce)
            }
            verified => verified,
        }
        .map_err(|e| SignInError::IdToken(e.to_string()))
    }
}

/// Who the ID token names, once its signature, issuer, audience, nonce and expiry are good.
fn verify(
    client: &Client,
    id_token: &CoreIdToken,
    nonce: &Nonce,
) -> Result<SignedIn, ClaimsVerificationError> {
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ]);
    let claims: &CoreIdTokenClaims = id_token.claims(&verifier, nonce)?;
    Ok(SignedIn {
        subject: claims.subject().as_str().to_owned(),
        metadata: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| [("name".to_owned(), n.as_str().to_owned())].into())
            .unwrap_or_default(),
    })
}
