//! Configuration: read, validated and resolved in one place, with typed errors, before
//! anything starts serving.

mod file;
mod secrets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use file::ConfigFile;
pub use file::StoreBackend;
use linkgate_crds::SecretKeyRef;
pub use linkgate_database::DatabaseUrl;
use linkgate_domain::code::MIN_CODE_KEY_BYTES;
use linkgate_domain::requestor::{PolicyError, RequestorPolicy, Secrets};
use linkgate_domain::requestors::Requestors;
use linkgate_domain::tenancy::{Bounds, route_clash};
pub use secrets::SecretSource;

/// The demo configuration the gateway runs with when given none.
pub const DEMO_YAML: &str = include_str!("demo.yaml");

/// How the gateway resolves origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSettings {
    /// Name servers to ask; empty: the system's.
    pub nameservers: Vec<SocketAddr>,
    /// The longest an answer is used, whatever its TTL.
    pub max_ttl: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            max_ttl: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    pub store: StoreBackend,
    pub data_dir: PathBuf,
    /// The `postgres` store's database.
    pub database: Database,
    /// Requestors watched in the cluster (`namespace`), not read from the file.
    pub requestors_from_cluster: bool,
    /// `None`: use (or create) the key kept in the data directory.
    pub code_key: Option<Vec<u8>>,
    pub requestors: Requestors,
    pub dns: DnsSettings,
    /// CA certificates trusted for TLS origins; `None`: the system's. Read at start.
    pub upstream_ca_file: Option<PathBuf>,
    /// Resolves Secret references of Requestors watched from a cluster.
    pub secrets: SecretSource,
    /// The namespace served with the `kubernetes` store.
    pub namespace: String,
    /// The region stamped on DeviceLinks written with the `kubernetes` store.
    pub region: String,
    /// Where the built-in test MVPD listens, and the issuer URL it is reached at.
    pub test_mvpd: Option<(SocketAddr, url::Url)>,
    /// The gateway's URL as browsers reach it, when set.
    pub public_url: Option<url::Url>,
    /// What every requestor is held to, here and in the cluster.
    pub bounds: Bounds,
    /// Special-use networks outbound calls may reach (`outboundAllowedNetworks`).
    pub outbound_allowed_networks: Vec<ipnet::IpNet>,
    /// Proxies every requestor trusts (`trustedProxies`), added to each one's own.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Where the `postgres` store connects, with how many connections and how many links
/// remembered, at most, and whether this proxy collects expired rows.
#[derive(Debug, Clone)]
pub struct Database {
    pub url: Option<DatabaseUrl>,
    pub connections: usize,
    pub cached_links: u64,
    pub collect_expired: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {source}{}", renamed_hint(.source))]
    Syntax {
        origin: String,
        source: serde_yaml_ng::Error,
    },
    #[error("{origin}: requestor {name:?}: {source}")]
    Requestor {
        origin: String,
        name: String,
        source: PolicyError,
    },
    #[error("{origin}: requestor {name:?} is defined twice")]
    DuplicateRequestor { origin: String, name: String },
    #[error(
        "{origin}: {what} refers to secret {name:?} key {key:?}, which the secrets section lacks"
    )]
    MissingSecret {
        origin: String,
        what: String,
        name: String,
        key: String,
    },
    #[error("{origin}: no requestors are configured")]
    NoRequestors { origin: String },
    #[error(
        "{origin}: the code key (codeKeySecretRef) has {len} bytes; at least {MIN_CODE_KEY_BYTES} are required"
    )]
    ShortCodeKey { origin: String, len: usize },
    #[error(
        "{origin}: the code key's Secret {name:?} has a requestor's kind of name (with a dot); name it without one so that no requestor can refer to it"
    )]
    CodeKeyNamedForRequestor { origin: String, name: String },
    #[error("{origin}: kubernetes.region {region:?} must be a lower-case DNS label")]
    BadRegion { origin: String, region: String },
}

/// Keys renamed because YAML 1.1 readers, kubectl's and Helm's among them, take the old
/// spelling for a boolean: the old one is refused, naming the new.
const RENAMED_KEYS: [(&str, &str); 1] = [("off", "disabled")];

fn renamed_hint(error: &serde_yaml_ng::Error) -> String {
    let message = error.to_string();
    RENAMED_KEYS
        .iter()
        .find(|(old, _)| message.contains(&format!("unknown field `{old}`")))
        .map(|(old, new)| {
            format!(" (`{old}` is now spelt `{new}`: YAML 1.1 readers take `{old}` for false)")
        })
        .unwrap_or_default()
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn demo() -> Self {
        Self::parse(DEMO_YAML, "built-in demo configuration")
            .expect("the demo configuration is valid")
    }

    /// Parses and validates a configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let file: ConfigFile =
            serde_yaml_ng::from_str(text).map_err(|source| ConfigError::Syntax {
                origin: origin.to_owned(),
                source,
            })?;
        let secrets = SecretSource {
            inline: file.secrets,
            dir: file.secrets_dir,
        };
        let requestors_from_cluster = match file.store.backend {
            StoreBackend::Kubernetes => true,
            StoreBackend::Postgres => file.kubernetes.requestors,
            StoreBackend::File | StoreBackend::Memory => false,
        };
        if file.requestors.is_empty() && !requestors_from_cluster {
            return Err(ConfigError::NoRequestors {
                origin: origin.to_owned(),
            });
        }
        let bounds = Bounds {
            // Where Requestors come from the cluster, their authors are tenants.
            own_secrets_only: requestors_from_cluster,
            loopback_http: file.insecure_loopback_http,
        };
        let mut policies = policies(&file.requestors, &secrets, bounds, origin)?;
        for policy in &mut policies {
            policy.trust_proxies(&file.trusted_proxies);
        }
        let code_key = code_key(file.code_key_secret_ref.as_ref(), &secrets, origin)?;
        if !linkgate_crds::is_region(&file.kubernetes.region) {
            return Err(ConfigError::BadRegion {
                origin: origin.to_owned(),
                region: file.kubernetes.region,
            });
        }
        let dns = DnsSettings {
            nameservers: file.dns.nameservers,
            max_ttl: file
                .dns
                .max_ttl_seconds
                .map_or(DnsSettings::default().max_ttl, Duration::from_secs),
        };
        Ok(Self {
            dns,
            upstream_ca_file: file.upstream_ca_file,
            listen: file.listen,
            admin: file.admin,
            store: file.store.backend,
            data_dir: file.store.data_dir,
            requestors_from_cluster,
            database: Database {
                url: file.store.url,
                connections: file.store.connections,
                cached_links: file.store.cached_links,
                collect_expired: file.store.collect_expired,
            },
            code_key,
            requestors: policies.into_iter().collect(),
            secrets,
            namespace: file.kubernetes.namespace,
            region: file.kubernetes.region,
            public_url: file.public_url,
            bounds,
            outbound_allowed_networks: file.outbound_allowed_networks,
            trusted_proxies: file.trusted_proxies,
            test_mvpd: file.test_mvpd.map(|t| {
                let issuer = t.issuer.unwrap_or_else(|| {
                    url::Url::parse(&format!("http://{}", t.listen))
                        .expect("a socket address makes a URL")
                });
                (t.listen, issuer)
            }),
        })
    }
}

/// Each requestor of the file checked against `bounds`, under a name of its own and on
/// paths of its own.
fn policies(
    entries: &[file::RequestorEntry],
    secrets: &SecretSource,
    bounds: Bounds,
    origin: &str,
) -> Result<Vec<RequestorPolicy>, ConfigError> {
    let mut policies: Vec<RequestorPolicy> = Vec::with_capacity(entries.len());
    for entry in entries {
        if policies.iter().any(|p| p.name == entry.name) {
            return Err(ConfigError::DuplicateRequestor {
                origin: origin.to_owned(),
                name: entry.name.clone(),
            });
        }
        let refused = |source| ConfigError::Requestor {
            origin: origin.to_owned(),
            name: entry.name.clone(),
            source,
        };
        let policy = RequestorPolicy::from_spec(&entry.name, &entry.spec, secrets, bounds)
            .map_err(refused)?;
        // One file, one author: a path two requestors route is a mistake to point out.
        let earlier = policies.iter().map(|p| {
            (
                p.name.as_str(),
                p.routes.iter().map(|r| r.prefix.as_str()).collect(),
            )
        });
        if let Some(clash) = route_clash(policy.routes.iter().map(|r| r.prefix.as_str()), earlier) {
            return Err(refused(PolicyError::RouteHeld(Box::new(clash))));
        }
        // Likewise an Adobe requestor ID that would name two requestors.
        let ids = |p: &RequestorPolicy| {
            std::iter::once(p.name.clone()).chain(p.adobe.requestor_id.clone())
        };
        if let Some(id) = ids(&policy).find(|id| policies.iter().any(|p| ids(p).any(|i| i == *id)))
        {
            return Err(refused(PolicyError::Adobe(format!(
                "requestorId {id:?} already names another requestor"
            ))));
        }
        policies.push(policy);
    }
    Ok(policies)
}

/// The code key the file names, if it names one: long enough, and in a Secret no
/// requestor can name (client secrets and every token are keyed by it).
fn code_key(
    reference: Option<&SecretKeyRef>,
    secrets: &SecretSource,
    origin: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(r) = reference else {
        return Ok(None);
    };
    if r.name.contains('.') {
        return Err(ConfigError::CodeKeyNamedForRequestor {
            origin: origin.to_owned(),
            name: r.name.clone(),
        });
    }
    let key = secrets.get(r).ok_or_else(|| ConfigError::MissingSecret {
        origin: origin.to_owned(),
        what: "codeKeySecretRef".into(),
        name: r.name.clone(),
        key: r.key.clone(),
    })?;
    // A short key is guessed offline.
    if key.len() < MIN_CODE_KEY_BYTES {
        return Err(ConfigError::ShortCodeKey {
            origin: origin.to_owned(),
            len: key.len(),
        });
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_read_but_never_printed() {
        let yaml = DEMO_YAML.replace(
            "  backend: file\n",
            "  backend: postgres\n  url: postgres://linkgate:s3cret@db:5432/links\n  cachedLinks: 500\n",
        );
        let config = Config::parse(&yaml, "test").unwrap();
        assert_eq!(config.store, StoreBackend::Postgres);
        let url = config.database.url.as_ref().expect("a URL");
        assert_eq!(url.expose(), "postgres://linkgate:s3cret@db:5432/links");
        assert_eq!(config.database.cached_links, 500);
        assert_eq!(config.database.connections, 16, "the default");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn the_demo_configuration_serves_the_demo_requestor() {
        let config = Config::demo();
        let demo = config.requestors.get("demo").expect("demo requestor");
        assert!(demo.accepts_backend_key(b"demo-backend-key"));
        // People sign in at the built-in test MVPD, which the demo runs.
        let (listen, issuer) = config.test_mvpd.clone().expect("the test MVPD");
        assert_eq!(listen.port(), 8081);
        let oidc = demo.mvpd("test-mvpd").and_then(|m| m.oidc.clone());
        assert_eq!(oidc.map(|o| o.issuer), Some(issuer));
        // The demo backend's statement key (beside the demo configuration) registers clients.
        let statement = linkgate_domain::clients::Statement {
            software_id: "demo-backend".into(),
            software_version: None,
            aud: "demo".into(),
            exp: None,
        }
        .sign(include_bytes!("demo-statement-key.pem"))
        .unwrap();
        let keys = &demo.clients.as_ref().expect("clients").statement_keys;
        let now = linkgate_domain::time::Timestamp::from_unix_millis(0);
        assert!(linkgate_domain::clients::Statement::verify(&statement, keys, "demo", now).is_ok());
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.admin.port(), 9090);
        assert_eq!(config.store, StoreBackend::File);
    }

    #[test]
    fn unknown_fields_are_errors_with_a_location() {
        let text = DEMO_YAML.replace("allowMultipleUsers", "allowMultipleUser");
        let err = Config::parse(&text, "test.yaml").unwrap_err().to_string();
        assert!(err.starts_with("test.yaml: "), "{err}");
        assert!(err.contains("allowMultipleUser"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn a_missing_secret_is_named() {
        let text = DEMO_YAML.replace("apiKey: demo-backend-key", "other: x");
        let err = Config::parse(&text, "t").unwrap_err().to_string();
        assert!(err.contains("\"demo-backend\" key \"apiKey\""), "{err}");
    }

    #[test]
    fn a_region_must_be_a_dns_label() {
        let text = format!("kubernetes: {{region: EU_West}}\n{DEMO_YAML}");
        let err = Config::parse(&text, "t").unwrap_err();
        assert!(matches!(err, ConfigError::BadRegion { .. }), "{err}");
        let text = format!("kubernetes: {{region: eu-west}}\n{DEMO_YAML}");
        assert_eq!(Config::parse(&text, "t").unwrap().region, "eu-west");
    }

    #[test]
    fn two_requestors_routing_one_path_are_refused() {
        let text = |second: &str| {
            format!(
                "insecureLoopbackHttp: true\nsecrets: {{b: {{k: x}}}}\nrequestors:\n\
                 - {{name: a, spec: {{backend: {{apiKeySecretRef: {{name: b, key: k}}}}, routes: [{{prefix: /news, upstream: {{host: o, port: 1}}}}]}}}}\n\
                 - {{name: b, spec: {{backend: {{apiKeySecretRef: {{name: b, key: k}}}}, routes: [{{prefix: {second}, upstream: {{host: o, port: 2}}}}]}}}}\n"
            )
        };
        assert!(Config::parse(&text("/newsroom"), "t").is_ok());
        let err = Config::parse(&text("/news/secret"), "t").unwrap_err();
        assert!(
            matches!(&err, ConfigError::Requestor { name, source: PolicyError::RouteHeld(c), .. } if name == "b" && c.holder == "a"),
            "{err}"
        );
    }

    #[test]
    fn an_adobe_requestor_id_names_one_requestor_only() {
        let text = |a: &str, b: &str| {
            format!(
                "secrets: {{b: {{k: x}}}}\nrequestors:\n\
                 - {{name: a, spec: {{backend: {{apiKeySecretRef: {{name: b, key: k}}}}, adobe: {{requestorId: {a}}}}}}}\n\
                 - {{name: b, spec: {{backend: {{apiKeySecretRef: {{name: b, key: k}}}}, adobe: {{requestorId: {b}}}}}}}\n"
            )
        };
        let config = Config::parse(&text("AAA", "BBB"), "t").unwrap();
        assert_eq!(config.requestors.find("BBB").unwrap().name, "b");
        for (a, b) in [("AAA", "AAA"), ("AAA", "a"), ("b", "BBB")] {
            let err = Config::parse(&text(a, b), "t").unwrap_err();
            assert!(
                matches!(&err, ConfigError::Requestor { name, source: PolicyError::Adobe(_), .. } if name == "b"),
                "{a} {b}: {err}"
            );
        }
    }

    #[test]
    fn the_code_key_cannot_be_named_like_a_requestor_s_secret() {
        let text = format!("codeKeySecretRef: {{name: demo.codes, key: k}}\n{DEMO_YAML}");
        let err = Config::parse(&text, "t").unwrap_err();
        assert!(
            matches!(err, ConfigError::CodeKeyNamedForRequestor { .. }),
            "{err}"
        );
    }

    #[test]
    fn invalid_requestors_are_refused() {
        let text = DEMO_YAML.replace("name: demo\n", "name: Demo\n");
        let err = Config::parse(&text, "t").unwrap_err();
        assert!(matches!(err, ConfigError::Requestor { .. }), "{err}");
        let err = Config::parse("requestors: []\n", "t").unwrap_err();
        assert!(matches!(err, ConfigError::NoRequestors { .. }), "{err}");
        assert!(matches!(
            Config::parse("listen: [", "t").unwrap_err(),
            ConfigError::Syntax { .. }
        ));
    }

    #[test]
    fn a_limit_turned_off_with_the_old_spelling_is_refused_naming_the_new_one() {
        let with = |limit: &str| {
            DEMO_YAML.replace(
                "    spec:\n",
                &format!("    spec:\n      throttling: {{perClientIp: {{{limit}: true}}}}\n"),
            )
        };
        let err = Config::parse(&with("off"), "t").unwrap_err().to_string();
        assert!(err.contains("unknown field `off`"), "{err}");
        assert!(err.contains("now spelt `disabled`"), "{err}");
        let config = Config::parse(&with("disabled"), "t").unwrap();
        let demo = config.requestors.find("demo").unwrap();
        assert_eq!(
            demo.throttling.per_client_ip, None,
            "the default limit is off"
        );
        // Another unknown key gets no hint.
        let err = Config::parse(&with("of"), "t").unwrap_err().to_string();
        assert!(!err.contains("spelt"), "{err}");
    }
}
