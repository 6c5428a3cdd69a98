//! Why a requestor's configuration was refused, and how its checks read the Secrets it
//! names.

use linkgate_crds::SecretKeyRef;

use super::access::AccessError;
use super::code::CodeFormatError;
use super::media_token::KeyError;
use super::tenancy::RouteClash;

/// Why a requestor's configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("requestor name {0:?} must be a lower-case DNS label (a-z, 0-9, '-', at most 63)")]
    BadName(String),
    #[error("codes: {0}")]
    CodeFormat(#[from] CodeFormatError),
    #[error("codes.ttlSeconds must be between 30 and 36000, not {0}")]
    CodeTtl(u32),
    #[error("MVPD {0:?} is listed twice")]
    DuplicateMvpd(String),
    #[error("MVPD id {0:?} may contain only letters, digits, '_', '-' and '='")]
    BadMvpdId(String),
    #[error("{list} names MVPD {id:?}, which is not configured")]
    UnknownMvpd { list: &'static str, id: String },
    #[error("MVPD {id:?}: decision: {reason}")]
    BadDecision { id: String, reason: String },
    #[error("MVPD {id:?}: oidc: {reason}")]
    BadOidc { id: String, reason: String },
    #[error("MVPD {id:?}: saml: {reason}")]
    BadSaml { id: String, reason: String },
    #[error("MVPD {id:?}: degradation: {reason}")]
    Degradation { id: String, reason: String },
    #[error("MVPD {0:?} is a TempPass, which nobody signs in with: remove its oidc or saml")]
    TempPassSignIn(String),
    #[error("{what} refers to secret {name:?} key {key:?}, which does not exist")]
    MissingSecret {
        what: String,
        name: String,
        key: String,
    },
    #[error("the backend API key is empty")]
    EmptyApiKey,
    #[error("backend: name an apiKeySecretRef, clients, or both")]
    NoBackendCredential,
    #[error("backend.clients: software statement key {0:?} is not an Ed25519 public key (PEM)")]
    StatementKey(String),
    #[error("mediaTokens: {0}")]
    Key(#[from] KeyError),
    #[error("deviceFlow.verificationUri: {0}")]
    VerificationUri(String),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("accountWebhook: {0}")]
    AccountWebhook(String),
    #[error("adobe: {0}")]
    Adobe(String),
    #[error("branding: {0}")]
    Branding(String),
    #[error(
        "Secret {0:?} is not meant for this requestor: the Secrets it names must be called \"<requestor>.<anything>\""
    )]
    ForeignSecret(String),
    #[error(
        "route {:?} overlaps {:?}, which requestor {:?} routes already", .0.prefix, .0.held, .0.holder
    )]
    RouteHeld(Box<RouteClash>),
    #[error("adobe.requestorId {id:?} is already the ID of requestor {holder:?}, an older one")]
    RequestorIdHeld { id: String, holder: String },
}

/// Reads a Secret a spec names; `what` says where, for the error.
pub type ReadSecret<'a> = dyn Fn(String, &SecretKeyRef) -> Result<Vec<u8>, PolicyError> + 'a;
