//! A requestor's configuration, validated once and shaped for the request path.

use crate::degradation::{Degradation, DegradationRule};
use crate::time::Timestamp;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub use linkgate_crds::AdobeV2Callers;
use linkgate_crds::{DeviceDialect, RequestorSpec, SecretKeyRef};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use ipnet::IpNet;

use super::access::{ContentRoute, Throttling, parse_networks};
use super::adobe::AdobeCompat;
use super::branding::Branding;
use super::code::CodeFormat;
use super::ids::{UserId, is_valid_requestor_name};
use super::media_token::MediaKeys;
pub use super::policy_error::{PolicyError, ReadSecret};
use super::saml::SamlProvider;
use super::tenancy::{Bounds, secret_is_for};

/// The longest a registration code may live (Adobe Pass: 36,000 s).
pub const MAX_CODE_TTL: Duration = Duration::from_secs(36_000);

/// A TV provider a requestor works with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvpd {
    pub id: String,
    pub display_name: String,
    /// Its logo in the provider picker (https).
    pub logo_url: Option<url::Url>,
    pub authn_ttl: Duration,
    pub authz_ttl: Duration,
    pub decision: DecisionPoint,
    /// Where its users sign in on the activation page: one of the two, or neither.
    pub oidc: Option<OidcProvider>,
    pub saml: Option<SamlProvider>,
    /// The programmer's rule answering for it while it is down.
    pub degradation: Option<Degradation>,
    /// How long each device's one window lasts, when the MVPD is a TempPass.
    pub temp_pass: Option<Duration>,
}

impl Mvpd {
    /// The degradation rule in force at `now`, if any.
    pub fn degraded(&self, now: Timestamp) -> Option<DegradationRule> {
        self.degradation.as_ref().and_then(|d| d.in_force(now))
    }

    /// Whether people can sign in with it on the activation page.
    pub fn signs_in(&self) -> bool {
        self.oidc.is_some() || self.saml.is_some()
    }
}

/// An MVPD's OpenID Connect provider, and this gateway's client there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProvider {
    pub issuer: url::Url,
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// Where an MVPD's authorization decisions come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionPoint {
    /// An HTTP endpoint, asked with a timeout.
    Webhook(Webhook),
    /// Fixed rules: these resources (or all) are allowed, the rest denied.
    Static {
        allow_all: bool,
        allow: HashSet<String>,
    },
}

/// Everything the request path needs to know about one requestor.
#[derive(Clone, Debug)]
pub struct RequestorPolicy {
    pub name: String,
    pub display_name: String,
    /// Its logo and accent colour on its pages.
    pub branding: Branding,
    pub codes: CodeFormat,
    pub code_ttl: Duration,
    pub allow_multiple_users: bool,
    /// Authentication TTL of account links (made without an MVPD).
    pub authn_ttl: Duration,
    pub mvpds: Vec<Mvpd>,
    /// `None`: every configured MVPD is allowed.
    allowed_mvpds: Option<HashSet<String>>,
    blocked_mvpds: HashSet<String>,
    pub preauthorize_limit: usize,
    pub media_token_ttl: Duration,
    pub media_keys: Arc<MediaKeys>,
    /// Where people enter codes (RFC 8628 `verification_uri`); `None`: the gateway's page.
    pub verification_uri: Option<url::Url>,
    /// The least time between two polls of one device code.
    pub poll_interval: Duration,
    /// How long a device's access token lives (never past its link).
    pub device_access_ttl: Duration,
    /// Dialects whose device-side calls only the backend makes.
    pub backend_only: Vec<DeviceDialect>,
    /// Who makes the Adobe v2 calls.
    pub adobe_v2_callers: AdobeV2Callers,
    pub throttling: Throttling,
    pub trusted_proxies: Vec<IpNet>,
    /// Where backend calls may come from; empty: anywhere.
    pub backend_allow_list: Vec<IpNet>,
    pub routes: Vec<ContentRoute>,
    /// The requestor's backend, asked to resolve the user of every link.
    pub account_webhook: Option<Webhook>,
    /// SHA-256 of the backend's API key, if it has one: equal-length digests compare in
    /// constant time.
    backend_key_digest: Option<[u8; 32]>,
    /// Who may register server-to-server clients, when clients are enabled.
    pub clients: Option<ClientPolicy>,
    /// What its clients written for Adobe Pass REST API v1 need.
    pub adobe: AdobeCompat,
}

/// Resolves secret references (Kubernetes Secrets, or the config file's stand-in).
pub trait Secrets {
    fn get(&self, reference: &SecretKeyRef) -> Option<Vec<u8>>;
}

impl<F: Fn(&SecretKeyRef) -> Option<Vec<u8>>> Secrets for F {
    fn get(&self, reference: &SecretKeyRef) -> Option<Vec<u8>> {
        self(reference)
    }
}

impl RequestorPolicy {
    /// Also trusts `proxies`, those in front of every requestor (the gateway's setting).
    pub fn trust_proxies(&mut self, proxies: &[IpNet]) {
        let new: Vec<IpNet> = proxies
            .iter()
            .filter(|p| !self.trusted_proxies.contains(p))
            .copied()
            .collect();
        self.trusted_proxies.extend(new);
    }

    /// Checks `spec` against the gateway's `bounds` and reads the Secrets it names.
    pub fn from_spec(
        name: &str,
        spec: &RequestorSpec,
        secrets: &dyn Secrets,
        bounds: Bounds,
    ) -> Result<Self, PolicyError> {
        if !is_valid_requestor_name(name) {
            return Err(PolicyError::BadName(name.to_owned()));
        }
        // Checked before reading: a foreign Secret is never even looked at.
        if bounds.own_secrets_only
            && let Some(r) = spec.secret_refs().find(|r| !secret_is_for(name, &r.name))
        {
            return Err(PolicyError::ForeignSecret(r.name.clone()));
        }
        let secret = |what: String, r: &SecretKeyRef| {
            secrets.get(r).ok_or_else(|| PolicyError::MissingSecret {
                what,
                name: r.name.clone(),
                key: r.key.clone(),
            })
        };
        let (codes, code_ttl) = code_format(spec)?;
        let mvpds = mvpds(spec, bounds, &secret)?;
        let (backend_key_digest, clients) = backend(spec, &secret)?;
        let media_keys = media_keys(spec, &secret)?;
        let adobe = AdobeCompat::from_spec(spec.adobe.as_ref(), &secret)?;
        let verification_uri = spec
            .device_flow
            .verification_uri
            .as_deref()
            .map(url::Url::parse)
            .transpose()
            .map_err(|e| PolicyError::VerificationUri(e.to_string()))?;
        let routes = spec
            .routes
            .iter()
            .map(ContentRoute::from_spec)
            .collect::<Result<_, _>>()?;
        let account_webhook = spec
            .account_webhook
            .as_ref()
            .map(|hook| Webhook::from_spec(hook, bounds))
            .transpose()
            .map_err(PolicyError::AccountWebhook)?;
        Ok(Self {
            account_webhook,
            name: name.to_owned(),
            display_name: spec.display_name.clone().unwrap_or_else(|| name.to_owned()),
            branding: Branding::from_spec(spec.branding.as_ref())?,
            codes,
            code_ttl,
            allow_multiple_users: spec.allow_multiple_users,
            authn_ttl: Duration::from_secs(spec.authn_ttl_seconds),
            mvpds,
            allowed_mvpds: (!spec.allowed_mvpds.is_empty())
                .then(|| spec.allowed_mvpds.iter().cloned().collect()),
            blocked_mvpds: spec.blocked_mvpds.iter().cloned().collect(),
            preauthorize_limit: usize::from(spec.preauthorize_limit),
            media_token_ttl: Duration::from_secs(spec.media_tokens.ttl_seconds.into()),
            media_keys: Arc::new(media_keys),
            verification_uri,
            poll_interval: Duration::from_secs(
                spec.device_flow.interval_seconds.unwrap_or(5).into(),
            ),
            device_access_ttl: Duration::from_secs(
                spec.device_auth.access_token_ttl_seconds.into(),
            ),
            backend_only: spec.device_auth.backend_only.clone(),
            adobe_v2_callers: spec.device_auth.adobe_v2,
            throttling: Throttling::from_spec(&spec.throttling)?,
            trusted_proxies: parse_networks("trustedProxies", &spec.trusted_proxies)?,
            backend_allow_list: parse_networks("backendAllowList", &spec.backend_allow_list)?,
            routes,
            backend_key_digest,
            clients,
            adobe,
        })
    }

    /// A configured MVPD, allowed or not.
    pub fn mvpd(&self, id: &str) -> Option<&Mvpd> {
        self.mvpds.iter().find(|m| m.id == id)
    }

    /// Whether users may (still) authenticate through `id`: configured, allowed, not blocked.
    pub fn mvpd_allowed(&self, id: &str) -> bool {
        self.mvpd(id).is_some()
            && self.allowed_mvpds.as_ref().is_none_or(|a| a.contains(id))
            && !self.blocked_mvpds.contains(id)
    }

    /// The MVPDs a device may offer, in configured order.
    pub fn allowed_mvpds(&self) -> impl Iterator<Item = &Mvpd> {
        self.mvpds.iter().filter(|m| self.mvpd_allowed(&m.id))
    }

    /// The allowed MVPD `id`, when people can sign in with it on the activation page.
    pub fn sign_in_mvpd(&self, id: &str) -> Option<&Mvpd> {
        self.allowed_mvpds().find(|m| m.id == id && m.signs_in())
    }

    /// How long a link made through `mvpd` (or an account link) authenticates the device.
    pub fn authn_ttl(&self, mvpd: Option<&Mvpd>) -> Duration {
        mvpd.map_or(self.authn_ttl, |m| m.authn_ttl)
    }

    /// Whether `presented` is the backend's API key, in time independent of where it differs.
    pub fn accepts_backend_key(&self, presented: &[u8]) -> bool {
        let Some(expected) = &self.backend_key_digest else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(expected).into()
    }
}

/// Who may register the requestor's server-to-server clients.
#[derive(Clone)]
pub struct ClientPolicy {
    /// The keys software statements are verified with.
    pub statement_keys: Vec<jsonwebtoken::DecodingKey>,
    pub access_token_ttl_seconds: u32,
    /// Client IDs revoked one by one.
    pub revoked: HashSet<String>,
}

impl std::fmt::Debug for ClientPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPolicy")
            .field("statement_keys", &self.statement_keys.len())
            .field("access_token_ttl_seconds", &self.access_token_ttl_seconds)
            .finish()
    }
}

/// An HTTP endpoint the gateway calls, bounded by its timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub url: url::Url,
    pub timeout: Duration,
}

impl Webhook {
    fn from_spec(spec: &linkgate_crds::WebhookSpec, bounds: Bounds) -> Result<Self, String> {
        let url = url::Url::parse(&spec.url).map_err(|e| format!("webhook url: {e}"))?;
        bounds
            .check_outbound(&url)
            .map_err(|e| format!("webhook url {e}"))?;
        Ok(Self {
            url,
            timeout: Duration::from_millis(spec.timeout_millis.into()),
        })
    }
}

/// The MVPDs, each with its decision point and sign-in, and the allow and block lists
/// naming only those.
/// How the requestor's codes look and how long they live.
fn code_format(spec: &RequestorSpec) -> Result<(CodeFormat, Duration), PolicyError> {
    let format = CodeFormat::new(&spec.codes.alphabet, usize::from(spec.codes.length))?;
    let ttl = Duration::from_secs(spec.codes.ttl_seconds.into());
    if spec.codes.ttl_seconds < 30 || ttl > MAX_CODE_TTL {
        return Err(PolicyError::CodeTtl(spec.codes.ttl_seconds));
    }
    Ok((format, ttl))
}

/// The media-token signing keys, from the Secrets they are kept in.
fn media_keys(spec: &RequestorSpec, secret: &ReadSecret<'_>) -> Result<MediaKeys, PolicyError> {
    let mut pems = Vec::with_capacity(spec.media_tokens.signing_keys.len());
    for key in &spec.media_tokens.signing_keys {
        let pem = secret(
            format!("mediaTokens key {:?}", key.id),
            &key.private_key_secret_ref,
        )?;
        pems.push((key.id.as_str(), pem));
    }
    Ok(MediaKeys::from_private_pems(
        pems.iter().map(|(id, pem)| (*id, pem.as_slice())),
    )?)
}

fn mvpds(
    spec: &RequestorSpec,
    bounds: Bounds,
    secret: &ReadSecret<'_>,
) -> Result<Vec<Mvpd>, PolicyError> {
    let mut mvpds: Vec<Mvpd> = Vec::with_capacity(spec.mvpds.len());
    for m in &spec.mvpds {
        if UserId::parse(&m.id).is_err() {
            return Err(PolicyError::BadMvpdId(m.id.clone()));
        }
        if mvpds.iter().any(|known| known.id == m.id) {
            return Err(PolicyError::DuplicateMvpd(m.id.clone()));
        }
        mvpds.push(Mvpd {
            id: m.id.clone(),
            display_name: m.display_name.clone().unwrap_or_else(|| m.id.clone()),
            logo_url: m
                .logo_url
                .as_deref()
                .map(|u| crate::branding::logo_url(&format!("mvpds[{}].logoUrl", m.id), u))
                .transpose()?,
            authn_ttl: Duration::from_secs(m.authn_ttl_seconds),
            authz_ttl: Duration::from_secs(m.authz_ttl_seconds),
            decision: decision_point(&m.id, &m.decision, bounds)?,
            oidc: m
                .oidc
                .as_ref()
                .map(|o| oidc_provider(&m.id, o, bounds, secret))
                .transpose()?,
            saml: m
                .saml
                .as_ref()
                .map(|s| SamlProvider::from_spec(&m.id, s, bounds, secret))
                .transpose()?,
            degradation: m
                .degradation
                .as_ref()
                .map(|d| Degradation::from_spec(&m.id, d))
                .transpose()?,
            temp_pass: m
                .temp_pass
                .as_ref()
                .map(|t| Duration::from_secs(t.duration_seconds.into())),
        });
        if m.temp_pass.is_some() && (m.oidc.is_some() || m.saml.is_some()) {
            return Err(PolicyError::TempPassSignIn(m.id.clone()));
        }
        if m.oidc.is_some() && m.saml.is_some() {
            return Err(PolicyError::BadSaml {
                id: m.id.clone(),
                reason: "set oidc or saml, not both".into(),
            });
        }
    }
    for (list, ids) in [
        ("allowedMvpds", &spec.allowed_mvpds),
        ("blockedMvpds", &spec.blocked_mvpds),
    ] {
        if let Some(id) = ids.iter().find(|id| !mvpds.iter().any(|m| &m.id == *id)) {
            return Err(PolicyError::UnknownMvpd {
                list,
                id: id.clone(),
            });
        }
    }
    Ok(mvpds)
}

/// How the backend proves itself: its API key's digest, registered clients, or both.
fn backend(
    spec: &RequestorSpec,
    secret: &ReadSecret<'_>,
) -> Result<(Option<[u8; 32]>, Option<ClientPolicy>), PolicyError> {
    let key_digest = match &spec.backend.api_key_secret_ref {
        Some(reference) => {
            let api_key = secret("backend.apiKeySecretRef".into(), reference)?;
            if api_key.is_empty() {
                return Err(PolicyError::EmptyApiKey);
            }
            Some(Sha256::digest(&api_key).into())
        }
        None => None,
    };
    let clients = match &spec.backend.clients {
        Some(clients) => {
            let mut keys = Vec::with_capacity(clients.software_statement_keys.len());
            for reference in &clients.software_statement_keys {
                let pem = secret("backend.clients.softwareStatementKeys".into(), reference)?;
                let key = jsonwebtoken::DecodingKey::from_ed_pem(&pem)
                    .map_err(|_| PolicyError::StatementKey(reference.name.clone()))?;
                keys.push(key);
            }
            Some(ClientPolicy {
                statement_keys: keys,
                access_token_ttl_seconds: clients.access_token_ttl_seconds,
                revoked: clients.revoked_clients.iter().cloned().collect(),
            })
        }
        None if key_digest.is_none() => return Err(PolicyError::NoBackendCredential),
        None => None,
    };
    Ok((key_digest, clients))
}

fn oidc_provider(
    id: &str,
    spec: &linkgate_crds::OidcSpec,
    bounds: Bounds,
    secret: &ReadSecret<'_>,
) -> Result<OidcProvider, PolicyError> {
    let bad = |reason: String| PolicyError::BadOidc {
        id: id.to_owned(),
        reason,
    };
    let issuer = url::Url::parse(&spec.issuer).map_err(|e| bad(format!("issuer: {e}")))?;
    bounds
        .check_outbound(&issuer)
        .map_err(|e| bad(format!("issuer {e}")))?;
    if spec.client_id.is_empty() {
        return Err(bad("clientId is empty".into()));
    }
    let client_secret = spec
        .client_secret_ref
        .as_ref()
        .map(|r| secret(format!("MVPD {id:?} oidc.clientSecretRef"), r))
        .transpose()?
        .map(|s| String::from_utf8(s).map_err(|_| bad("the client secret is not UTF-8".into())))
        .transpose()?;
    Ok(OidcProvider {
        issuer,
        client_id: spec.client_id.clone(),
        client_secret,
    })
}

fn decision_point(
    id: &str,
    spec: &linkgate_crds::DecisionSpec,
    bounds: Bounds,
) -> Result<DecisionPoint, PolicyError> {
    let bad = |reason: String| PolicyError::BadDecision {
        id: id.to_owned(),
        reason,
    };
    match (&spec.webhook, &spec.allow) {
        (Some(_), Some(_)) => Err(bad("set either webhook or allow, not both".into())),
        (Some(hook), None) => Ok(DecisionPoint::Webhook(
            Webhook::from_spec(hook, bounds).map_err(bad)?,
        )),
        (None, allow) => {
            let allow = allow.as_deref().unwrap_or_default();
            Ok(DecisionPoint::Static {
                allow_all: allow.iter().any(|r| r == "*"),
                allow: allow.iter().filter(|r| *r != "*").cloned().collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_token::tests::KEY_A;
    use std::collections::BTreeMap;

    /// The tests' decision points listen on loopback.
    const LOOPBACK: Bounds = Bounds {
        own_secrets_only: false,
        loopback_http: true,
    };

    fn secrets() -> impl Fn(&SecretKeyRef) -> Option<Vec<u8>> {
        let map = BTreeMap::from([
            (("b".to_owned(), "k".to_owned()), b"secret".to_vec()),
            (
                ("keys".to_owned(), "a".to_owned()),
                KEY_A.as_bytes().to_vec(),
            ),
        ]);
        move |r: &SecretKeyRef| map.get(&(r.name.clone(), r.key.clone())).cloned()
    }

    fn spec(extra: &str) -> RequestorSpec {
        let yaml = format!(
            "displayName: Demo TV\nauthnTtlSeconds: 3600\nbackend: {{apiKeySecretRef: {{name: b, key: k}}}}\n\
             mvpds:\n- {{id: test-mvpd, authnTtlSeconds: 60, decision: {{allow: ['*']}}}}\n\
             - {{id: cable, decision: {{webhook: {{url: 'http://127.0.0.1:9/authz'}}}}}}\n{extra}"
        );
        serde_yaml_ng::from_str(&yaml).unwrap()
    }

    fn policy(extra: &str) -> Result<RequestorPolicy, PolicyError> {
        RequestorPolicy::from_spec("demo", &spec(extra), &secrets(), LOOPBACK)
    }

    #[test]
    fn a_backend_has_an_api_key_clients_or_both() {
        let p = policy("").unwrap();
        assert!(p.accepts_backend_key(b"secret") && p.clients.is_none());
        let mut only_clients = spec("");
        only_clients.backend.api_key_secret_ref = None;
        assert_eq!(
            RequestorPolicy::from_spec("demo", &only_clients, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::NoBackendCredential
        );
        only_clients.backend.clients = Some(linkgate_crds::ClientRegistration {
            software_statement_keys: vec![SecretKeyRef {
                name: "keys".into(),
                key: "a".into(),
            }],
            access_token_ttl_seconds: 600,
            revoked_clients: Vec::new(),
        });
        // A private key where a public one belongs is refused, like any non-key.
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &only_clients, &secrets(), LOOPBACK),
            Err(PolicyError::StatementKey(_))
        ));
    }

    #[test]
    fn a_temp_pass_mvpd_lasts_its_duration_and_nobody_signs_in_with_it() {
        let mut with_pass = spec("");
        let preview = "{id: preview, tempPass: {durationSeconds: 600}, decision: {allow: ['*']}}";
        with_pass
            .mvpds
            .push(serde_yaml_ng::from_str(preview).unwrap());
        let p = RequestorPolicy::from_spec("demo", &with_pass, &secrets(), LOOPBACK).unwrap();
        let mvpd = p.mvpd("preview").unwrap();
        assert_eq!(mvpd.temp_pass, Some(Duration::from_secs(600)));
        assert_eq!(p.mvpd("test-mvpd").unwrap().temp_pass, None);
        assert!(p.sign_in_mvpd("preview").is_none());
        let oidc = "{issuer: 'http://127.0.0.1:9', clientId: demo}";
        with_pass.mvpds.last_mut().unwrap().oidc = Some(serde_yaml_ng::from_str(oidc).unwrap());
        assert_eq!(
            RequestorPolicy::from_spec("demo", &with_pass, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::TempPassSignIn("preview".into())
        );
    }

    #[test]
    fn an_account_webhook_is_an_https_url_with_its_timeout() {
        assert_eq!(policy("").unwrap().account_webhook, None);
        let hook =
            policy("accountWebhook: {url: 'https://backend:8080/accounts', timeoutMillis: 750}")
                .unwrap()
                .account_webhook
                .unwrap();
        assert_eq!(hook.url.as_str(), "https://backend:8080/accounts");
        assert_eq!(hook.timeout, Duration::from_millis(750));
        for bad in [
            "http://backend:8080/accounts",
            "ftp://backend/accounts",
            "not a url",
        ] {
            assert!(matches!(
                policy(&format!("accountWebhook: {{url: '{bad}'}}")),
                Err(PolicyError::AccountWebhook(_))
            ));
        }
    }

    #[test]
    fn where_tenants_write_requestors_each_names_only_its_own_secrets() {
        let tenant = Bounds {
            own_secrets_only: true,
            ..LOOPBACK
        };
        let own = |r: &SecretKeyRef| (r.name == "demo.backend").then(|| b"secret".to_vec());
        let mut spec = spec("");
        assert_eq!(
            RequestorPolicy::from_spec("demo", &spec, &own, tenant).unwrap_err(),
            PolicyError::ForeignSecret("b".into())
        );
        spec.backend.api_key_secret_ref = Some(SecretKeyRef {
            name: "demo.backend".into(),
            key: "k".into(),
        });
        assert!(RequestorPolicy::from_spec("demo", &spec, &own, tenant).is_ok());
        // Another requestor naming the same Secret is refused before it is read.
        let unread = |_: &SecretKeyRef| -> Option<Vec<u8>> { panic!("a foreign Secret was read") };
        assert_eq!(
            RequestorPolicy::from_spec("other", &spec, &unread, tenant).unwrap_err(),
            PolicyError::ForeignSecret("demo.backend".into())
        );
    }

    #[test]
    fn outbound_urls_are_https_unless_the_gateway_allows_loopback() {
        let strict = Bounds::default();
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &spec(""), &secrets(), strict),
            Err(PolicyError::BadDecision { reason, .. }) if reason.contains("must be https")
        ));
        let mut spec = spec("");
        spec.mvpds[0].oidc =
            Some(serde_yaml_ng::from_str("{issuer: 'http://idp.example', clientId: c}").unwrap());
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &spec, &secrets(), LOOPBACK),
            Err(PolicyError::BadOidc { reason, .. }) if reason.contains("must be https")
        ));
    }

    #[test]
    fn a_valid_spec_becomes_a_policy() {
        let p = policy("").unwrap();
        assert_eq!(p.display_name, "Demo TV");
        assert_eq!(p.code_ttl, Duration::from_secs(1800));
        let mvpd = p.mvpd("test-mvpd").unwrap();
        assert_eq!(mvpd.display_name, "test-mvpd");
        assert_eq!(p.authn_ttl(Some(mvpd)), Duration::from_secs(60));
        assert_eq!(mvpd.authz_ttl, Duration::from_secs(86_400));
        assert_eq!(p.authn_ttl(None), Duration::from_secs(3600));
        assert!(matches!(
            mvpd.decision,
            DecisionPoint::Static {
                allow_all: true,
                ..
            }
        ));
        assert!(matches!(
            p.mvpd("cable").unwrap().decision,
            DecisionPoint::Webhook(Webhook { timeout, .. }) if timeout == Duration::from_secs(2)
        ));
        assert_eq!(p.preauthorize_limit, 5);
        assert_eq!(p.media_token_ttl, Duration::from_secs(420));
        assert!(!p.media_keys.can_sign());
    }

    #[test]
    fn allow_and_block_lists_decide_which_mvpds_are_usable() {
        let all = policy("").unwrap();
        assert!(all.mvpd_allowed("test-mvpd") && all.mvpd_allowed("cable"));
        assert!(!all.mvpd_allowed("unknown"));
        let allowed = policy("allowedMvpds: [cable]").unwrap();
        assert!(!allowed.mvpd_allowed("test-mvpd"));
        let ids: Vec<&str> = allowed.allowed_mvpds().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["cable"]);
        let blocked = policy("blockedMvpds: [cable]").unwrap();
        assert!(blocked.mvpd_allowed("test-mvpd") && !blocked.mvpd_allowed("cable"));
        assert!(matches!(
            policy("blockedMvpds: [nope]"),
            Err(PolicyError::UnknownMvpd {
                list: "blockedMvpds",
                ..
            })
        ));
    }

    #[test]
    fn signing_keys_load_from_secrets() {
        let p = policy(
            "mediaTokens: {signingKeys: [{id: a, privateKeySecretRef: {name: keys, key: a}}]}",
        )
        .unwrap();
        assert!(p.media_keys.can_sign());
        assert_eq!(p.media_keys.jwks().keys[0].kid, "a");
        assert!(matches!(
            policy("mediaTokens: {signingKeys: [{id: a, privateKeySecretRef: {name: b, key: k}}]}"),
            Err(PolicyError::Key(_))
        ));
    }

    #[test]
    fn backend_key_must_match_exactly() {
        let p = policy("").unwrap();
        assert!(p.accepts_backend_key(b"secret"));
        assert!(!p.accepts_backend_key(b"secreT"));
        assert!(!p.accepts_backend_key(b""));
    }

    #[test]
    fn invalid_specs_are_refused_with_a_reason() {
        assert_eq!(
            RequestorPolicy::from_spec("Demo", &spec(""), &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::BadName("Demo".into())
        );
        assert_eq!(
            policy("codes: {ttlSeconds: 36001}").unwrap_err(),
            PolicyError::CodeTtl(36_001)
        );
        assert!(matches!(
            policy("codes: {length: 2}").unwrap_err(),
            PolicyError::CodeFormat(_)
        ));
        let mut dup = spec("");
        dup.mvpds.push(dup.mvpds[0].clone());
        assert_eq!(
            RequestorPolicy::from_spec("demo", &dup, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::DuplicateMvpd("test-mvpd".into())
        );
        let mut both = spec("");
        both.mvpds[1].decision.allow = Some(vec!["x".into()]);
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &both, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::BadDecision { .. }
        ));
        let mut ftp = spec("");
        ftp.mvpds[1].decision.webhook.as_mut().unwrap().url = "ftp://x/".into();
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &ftp, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::BadDecision { .. }
        ));
        let mut missing = spec("");
        missing.backend.api_key_secret_ref.as_mut().unwrap().name = "nope".into();
        assert!(matches!(
            RequestorPolicy::from_spec("demo", &missing, &secrets(), LOOPBACK).unwrap_err(),
            PolicyError::MissingSecret { .. }
        ));
    }
}
