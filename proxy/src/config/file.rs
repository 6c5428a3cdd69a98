//! The configuration file's shape. The requestor section reuses the Requestor CRD's spec,
//! so a file and a cluster are configured with one schema.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use linkgate_crds::{RequestorSpec, SecretKeyRef};
use linkgate_database::DatabaseUrl;
use serde::Deserialize;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the API (and later the content edge) listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where health, readiness and metrics are served.
    #[serde(default = "default_admin")]
    pub admin: SocketAddr,
    #[serde(default)]
    pub store: StoreSection,
    /// Secrets referenced by `SecretKeyRef`s, by Secret name then key: the standalone
    /// stand-in for Kubernetes Secrets.
    #[serde(default)]
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Mounted Secrets (`<dir>/<secret>/<key>`), for references the section above lacks.
    #[serde(default)]
    pub secrets_dir: Option<PathBuf>,
    /// Where Requestors and DeviceLinks are, with the `kubernetes` store.
    #[serde(default)]
    pub kubernetes: KubernetesSection,
    /// How origins are resolved.
    #[serde(default)]
    pub dns: DnsSection,
    /// CA certificates (PEM) trusted for TLS origins instead of the system's.
    #[serde(default)]
    pub upstream_ca_file: Option<PathBuf>,
    /// The key registration codes are hashed under. Absent: generated once and kept in the
    /// data directory.
    #[serde(default)]
    pub code_key_secret_ref: Option<SecretKeyRef>,
    /// The requestors served; with the `kubernetes` store they come from the cluster.
    #[serde(default)]
    pub requestors: Vec<RequestorEntry>,
    /// The gateway's URL as people's browsers reach it (`https://tv.example.com`): sign-in
    /// redirect URIs are made from it, never from a request's `Host`, and an `https` one
    /// marks the sign-in cookie `Secure`.
    #[serde(default)]
    pub public_url: Option<url::Url>,
    /// Proxies in front of every requestor (the ingress, a load balancer): their
    /// `X-Forwarded-For` and `X-Forwarded-Proto` are believed for all requestors, on top of
    /// each one's own `trustedProxies`.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Special-use networks (private, link-local…) the gateway may call all the same: where
    /// an MVPD's decision point or a requestor's webhook lives inside the network. Without
    /// them, every outbound call goes to public addresses only.
    #[serde(default)]
    pub outbound_allowed_networks: Vec<ipnet::IpNet>,
    /// Lets requestors call plain-http URLs on loopback (decision points, webhooks, OIDC
    /// issuers): for demos and tests only. Otherwise every outbound URL must be https.
    #[serde(default)]
    pub insecure_loopback_http: bool,
    /// A built-in OpenID Connect provider standing in for an MVPD, for demos and tests.
    #[serde(default)]
    pub test_mvpd: Option<TestMvpdSection>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestMvpdSection {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The URL it is reached at; `http://<listen>` when absent.
    #[serde(default)]
    pub issuer: Option<url::Url>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSection {
    /// The namespace whose Requestors are served and where DeviceLinks are written.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The region this proxy serves in, stamped on the DeviceLinks it writes (a DNS label).
    #[serde(default = "default_region")]
    pub region: String,
    /// Requestors from the cluster while codes and links are in the postgres store (the
    /// kubernetes store always takes them from the cluster).
    #[serde(default)]
    pub requestors: bool,
}

impl Default for KubernetesSection {
    fn default() -> Self {
        Self {
            namespace: default_namespace(),
            region: default_region(),
            requestors: false,
        }
    }
}

fn default_namespace() -> String {
    "default".into()
}

fn default_region() -> String {
    "local".into()
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestorEntry {
    pub name: String,
    pub spec: RequestorSpec,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreSection {
    #[serde(default)]
    pub backend: StoreBackend,
    /// Where the file backend keeps its database.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The postgres backend's database (`LINKGATE_DATABASE_URL` overrides it, and is the
    /// place for a URL that carries a password).
    #[serde(default)]
    pub url: Option<DatabaseUrl>,
    /// The postgres backend's connections, at most.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// The postgres backend's links remembered in memory, at most: a proxy's memory
    /// follows this, never the number of links.
    #[serde(default = "default_cached_links")]
    pub cached_links: u64,
    /// Whether this proxy removes expired codes and links from the postgres backend's
    /// database; `false` where the operator does.
    #[serde(default = "collect_by_default")]
    pub collect_expired: bool,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            backend: StoreBackend::default(),
            data_dir: default_data_dir(),
            url: None,
            connections: default_connections(),
            cached_links: default_cached_links(),
            collect_expired: collect_by_default(),
        }
    }
}

fn default_connections() -> usize {
    16
}

fn default_cached_links() -> u64 {
    100_000
}

fn collect_by_default() -> bool {
    true
}

#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum StoreBackend {
    /// The embedded durable store.
    #[default]
    File,
    /// Nothing survives a restart.
    Memory,
    /// DeviceLink objects through the Kubernetes API server; Requestors from the cluster.
    Kubernetes,
    /// Codes and links in a PostgreSQL-protocol database (PostgreSQL, CockroachDB).
    Postgres,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("linkgate-data")
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsSection {
    /// Name servers (`ip:port`); absent: the system's.
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
    /// The longest a DNS answer is used, whatever its TTL (at most 30 s by default).
    #[serde(default)]
    pub max_ttl_seconds: Option<u64>,
}
