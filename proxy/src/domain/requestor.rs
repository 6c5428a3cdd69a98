//! A requestor's configuration, validated once and shaped for the request path.

use std::time::Duration;

use linkgate_crds::RequestorSpec;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::code::{CodeFormat, CodeFormatError};
use super::ids::is_valid_requestor_name;

/// The longest a registration code may live (Adobe Pass: 36,000 s).
pub const MAX_CODE_TTL: Duration = Duration::from_secs(36_000);

/// A TV provider a requestor works with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvpd {
    pub id: String,
    pub display_name: String,
    pub authn_ttl: Duration,
}

/// Everything the request path needs to know about one requestor.
#[derive(Clone, Debug)]
pub struct RequestorPolicy {
    pub name: String,
    pub display_name: String,
    pub codes: CodeFormat,
    pub code_ttl: Duration,
    pub allow_multiple_users: bool,
    /// Authentication TTL of account links (made without an MVPD).
    pub authn_ttl: Duration,
    pub mvpds: Vec<Mvpd>,
    /// SHA-256 of the backend's API key: equal-length digests compare in constant time.
    backend_key_digest: [u8; 32],
}

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
    #[error("the backend API key is empty")]
    EmptyApiKey,
}

impl RequestorPolicy {
    pub fn from_spec(
        name: &str,
        spec: &RequestorSpec,
        backend_api_key: &[u8],
    ) -> Result<Self, PolicyError> {
        if !is_valid_requestor_name(name) {
            return Err(PolicyError::BadName(name.to_owned()));
        }
        let codes = CodeFormat::new(&spec.codes.alphabet, usize::from(spec.codes.length))?;
        let code_ttl = Duration::from_secs(spec.codes.ttl_seconds.into());
        if spec.codes.ttl_seconds < 30 || code_ttl > MAX_CODE_TTL {
            return Err(PolicyError::CodeTtl(spec.codes.ttl_seconds));
        }
        let mut mvpds: Vec<Mvpd> = Vec::with_capacity(spec.mvpds.len());
        for m in &spec.mvpds {
            if crate::domain::ids::UserId::parse(&m.id).is_err() {
                return Err(PolicyError::BadMvpdId(m.id.clone()));
            }
            if mvpds.iter().any(|known| known.id == m.id) {
                return Err(PolicyError::DuplicateMvpd(m.id.clone()));
            }
            mvpds.push(Mvpd {
                id: m.id.clone(),
                display_name: m.display_name.clone().unwrap_or_else(|| m.id.clone()),
                authn_ttl: Duration::from_secs(m.authn_ttl_seconds),
            });
        }
        if backend_api_key.is_empty() {
            return Err(PolicyError::EmptyApiKey);
        }
        Ok(Self {
            name: name.to_owned(),
            display_name: spec.display_name.clone().unwrap_or_else(|| name.to_owned()),
            codes,
            code_ttl,
            allow_multiple_users: spec.allow_multiple_users,
            authn_ttl: Duration::from_secs(spec.authn_ttl_seconds),
            mvpds,
            backend_key_digest: Sha256::digest(backend_api_key).into(),
        })
    }

    pub fn mvpd(&self, id: &str) -> Option<&Mvpd> {
        self.mvpds.iter().find(|m| m.id == id)
    }

    /// How long a link made through `mvpd` (or an account link) authenticates the device.
    pub fn authn_ttl(&self, mvpd: Option<&Mvpd>) -> Duration {
        mvpd.map_or(self.authn_ttl, |m| m.authn_ttl)
    }

    /// Whether `presented` is the backend's API key, in time independent of where it differs.
    pub fn accepts_backend_key(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.backend_key_digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_crds::{BackendCredentials, CodePolicy, MvpdSpec, SecretKeyRef};

    fn spec() -> RequestorSpec {
        RequestorSpec {
            display_name: Some("Demo TV".into()),
            codes: CodePolicy::default(),
            allow_multiple_users: false,
            authn_ttl_seconds: 3600,
            mvpds: vec![MvpdSpec {
                id: "test-mvpd".into(),
                display_name: None,
                authn_ttl_seconds: 60,
            }],
            backend: BackendCredentials {
                api_key_secret_ref: SecretKeyRef {
                    name: "demo".into(),
                    key: "apiKey".into(),
                },
            },
        }
    }

    #[test]
    fn a_valid_spec_becomes_a_policy() {
        let p = RequestorPolicy::from_spec("demo", &spec(), b"secret").unwrap();
        assert_eq!(p.display_name, "Demo TV");
        assert_eq!(p.code_ttl, Duration::from_secs(1800));
        let mvpd = p.mvpd("test-mvpd").unwrap();
        assert_eq!(mvpd.display_name, "test-mvpd");
        assert_eq!(p.authn_ttl(Some(mvpd)), Duration::from_secs(60));
        assert_eq!(p.authn_ttl(None), Duration::from_secs(3600));
        assert!(p.mvpd("other").is_none());
    }

    #[test]
    fn backend_key_must_match_exactly() {
        let p = RequestorPolicy::from_spec("demo", &spec(), b"secret").unwrap();
        assert!(p.accepts_backend_key(b"secret"));
        assert!(!p.accepts_backend_key(b"secreT"));
        assert!(!p.accepts_backend_key(b""));
    }

    #[test]
    fn invalid_specs_are_refused_with_a_reason() {
        assert_eq!(
            RequestorPolicy::from_spec("Demo", &spec(), b"k").unwrap_err(),
            PolicyError::BadName("Demo".into())
        );
        let mut s = spec();
        s.codes.ttl_seconds = 36_001;
        assert_eq!(
            RequestorPolicy::from_spec("demo", &s, b"k").unwrap_err(),
            PolicyError::CodeTtl(36_001)
        );
        let mut s = spec();
        s.mvpds.push(s.mvpds[0].clone());
        assert_eq!(
            RequestorPolicy::from_spec("demo", &s, b"k").unwrap_err(),
            PolicyError::DuplicateMvpd("test-mvpd".into())
        );
        let mut s = spec();
        s.codes.length = 2;
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &s, b"k").unwrap_err(),
            PolicyError::CodeFormat(_)
        ));
        assert_eq!(
            RequestorPolicy::from_spec("demo", &spec(), b"").unwrap_err(),
            PolicyError::EmptyApiKey
        );
    }
}
