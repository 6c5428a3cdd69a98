//! Wiring: configuration in, a Pingora server with the API, admin and housekeeping
//! services out, its listening addresses settled and reported before it serves.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::proxy::HttpProxy;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};
use pingora::services::listening::Service;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::admin::Admin;
use crate::api::{Api, Services};
use crate::cluster::{Cluster, watch_requestors};
use crate::config::{Config, StoreBackend};
use crate::edge::{Gateway, Live, Snapshot, Upstreams};
use crate::listen::Listen;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::service::{
    Activation, Clients, DecisionClient, DeviceFlow, DeviceTokens, Entitlements, Linking, Outbound,
    SignedCalls,
};
use crate::store::{FileStore, KubeStore, MemoryStore, PgStore, Store};
use crate::test_mvpd::TestMvpd;
use linkgate_domain::code::{CodeKey, MIN_CODE_KEY_BYTES};
use linkgate_domain::time::{Clock, SystemClock};

/// The code key's file in the data directory, when the configuration names none.
const CODE_KEY_FILE: &str = "code-hash.key";
/// How often expired codes and links are dropped from the store.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often rate limiters forget clients whose buckets are full again.
const RETAIN_EVERY: Duration = Duration::from_secs(5);

/// How the process runs and shuts down.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    /// After SIGTERM, how long listeners keep accepting before the server stops.
    pub grace_period: Duration,
    /// The configuration file to reload on change or SIGHUP, if there is one.
    pub config_file: Option<std::path::PathBuf>,
}

/// Where the gateway listens, as bound: a port asked for as 0 is the port chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Addresses {
    pub api: SocketAddr,
    pub admin: SocketAddr,
    pub test_mvpd: Option<SocketAddr>,
}

/// A gateway built, its store open and its listeners settled, not yet serving.
pub struct App {
    server: Server,
    addresses: Addresses,
    /// Keeps ports chosen for port 0 from being taken until the process ends.
    _listens: Vec<Listen>,
}

impl App {
    /// Opens the store, builds the services and settles every listening address.
    pub fn build(config: Config, lifecycle: Lifecycle) -> anyhow::Result<Self> {
        let mut listens = vec![
            Listen::settle(config.listen)?,
            Listen::settle(config.admin)?,
        ];
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let metrics = Arc::new(Metrics::new());
        let opened = open_store(&config, &clock, &metrics)?;
        let snapshot = Snapshot::new(config.requestors.clone());
        let live = Arc::new(Live::new(snapshot, Arc::clone(&metrics)));
        if let Some(cluster) = &opened.cluster {
            let served = Arc::clone(&live);
            watch_requestors(
                cluster,
                Box::new(move |requestors| served.serve(requestors)),
                config.secrets.clone(),
                config.bounds,
                config.trusted_proxies.clone(),
                Arc::clone(&metrics),
            )?;
        }
        let mut server = server(&config, &lifecycle);
        let mut gateway = gateway(&server, &config, &opened, &clock, &metrics, &live)?;
        listens[0].add_to(&mut gateway);
        let admin = Admin::new(
            Arc::clone(&metrics),
            Arc::clone(&opened.store),
            Arc::clone(&live),
        );
        let mut admin = Service::new("linkgate admin".into(), admin);
        listens[1].add_to(&mut admin);
        // In a cluster the requestors come from the API server, not from the file.
        if let Some(path) = lifecycle.config_file.filter(|_| opened.cluster.is_none()) {
            let reloader = Reloader {
                path,
                live: Arc::clone(&live),
                metrics: Arc::clone(&metrics),
            };
            server.add_service(background_service("config reload", reloader));
        }
        if let Some((listen, issuer)) = &config.test_mvpd {
            let listen = Listen::settle(*listen)?;
            let mut mvpd = Service::new(
                "linkgate test MVPD".into(),
                TestMvpd::new(issuer, Arc::clone(&clock)),
            );
            listen.add_to(&mut mvpd);
            server.add_service(mvpd);
            tracing::warn!(listen = %listen.addr, %issuer, "serving the test MVPD: anyone signs in as anyone");
            listens.push(listen);
        }
        let housekeeping = Housekeeping {
            store: opened.store,
            purge: config.database.collect_expired || config.store != StoreBackend::Postgres,
            clock,
            live,
        };
        server.add_service(gateway);
        server.add_service(admin);
        server.add_service(background_service("housekeeping", housekeeping));
        let addresses = Addresses {
            api: listens[0].addr,
            admin: listens[1].addr,
            test_mvpd: listens.get(2).map(|l| l.addr),
        };
        tracing::info!(api = %addresses.api, admin = %addresses.admin, store = ?config.store, "linkgate proxy starting");
        Ok(Self {
            server,
            addresses,
            _listens: listens,
        })
    }

    pub fn addresses(&self) -> Addresses {
        self.addresses
    }

    /// Writes the addresses to `path` as JSON, whole or not at all: how a supervisor or a
    /// test learns a port chosen for port 0.
    pub fn write_addresses(&self, path: &Path) -> anyhow::Result<()> {
        write_atomically(path, &serde_json::to_vec(&self.addresses)?)
    }

    /// Serves until shut down.
    pub fn run(self) {
        self.server.run(RunArgs::default());
    }
}

/// The API and the edge, as one Pingora proxy service.
fn gateway(
    server: &Server,
    config: &Config,
    opened: &Opened,
    clock: &Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
    live: &Arc<Live>,
) -> anyhow::Result<Service<HttpProxy<Gateway>>> {
    let code_key = CodeKey::new(&opened.code_key);
    let services = services(&opened.store, clock, &code_key, metrics, config);
    let gateway = Gateway::new(
        Arc::new(Api::new(services)),
        Arc::clone(live),
        Arc::new(Upstreams::new(&config.dns)?),
        Arc::clone(clock),
        Arc::clone(metrics),
    );
    Ok(pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        gateway,
        "linkgate",
    ))
}

/// The store the configuration names, the key codes are hashed under, and the cluster
/// connection in Kubernetes mode.
struct Opened {
    store: Arc<dyn Store>,
    code_key: Vec<u8>,
    cluster: Option<Arc<Cluster>>,
}

fn open_store(
    config: &Config,
    clock: &Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Opened> {
    let opened = match config.store {
        StoreBackend::File => Opened {
            store: Arc::new(FileStore::open(&config.data_dir)?),
            code_key: match &config.code_key {
                Some(key) => key.clone(),
                None => load_or_create_code_key(&config.data_dir)?,
            },
            cluster: None,
        },
        StoreBackend::Memory => Opened {
            store: Arc::new(MemoryStore::new()),
            code_key: config
                .code_key
                .clone()
                .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec()),
            cluster: None,
        },
        StoreBackend::Kubernetes => {
            let code_key = shared_code_key(config, "kubernetes")?;
            let cluster = Arc::new(Cluster::connect(config.namespace.clone())?);
            let region = config.region.clone();
            let store = KubeStore::start(
                Arc::clone(&cluster),
                region,
                Arc::clone(clock),
                Arc::clone(metrics),
            )?;
            Opened {
                store: Arc::new(store),
                code_key,
                cluster: Some(cluster),
            }
        }
        StoreBackend::Postgres => {
            let url = config.database.url.as_ref().ok_or_else(|| {
                anyhow::anyhow!("the postgres store needs store.url or LINKGATE_DATABASE_URL")
            })?;
            // Requestors may still come from the cluster, links staying in the database.
            let cluster = match config.requestors_from_cluster {
                true => Some(Arc::new(Cluster::connect(config.namespace.clone())?)),
                false => None,
            };
            Opened {
                store: Arc::new(PgStore::connect(
                    url,
                    config.database.connections,
                    config.database.cached_links,
                    Arc::clone(metrics),
                )?),
                code_key: shared_code_key(config, "postgres")?,
                cluster,
            }
        }
    };
    Ok(opened)
}

/// The code key of a store several proxies share: every proxy must hash a code alike, or a
/// code issued by one is unknown to the others.
fn shared_code_key(config: &Config, store: &str) -> anyhow::Result<Vec<u8>> {
    config.code_key.clone().ok_or_else(|| {
        anyhow::anyhow!("the {store} store needs codeKeySecretRef, shared by every proxy")
    })
}

/// The use cases, over one store, clock, code key and metrics registry.
fn services(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    code_key: &CodeKey,
    metrics: &Arc<Metrics>,
    config: &Config,
) -> Services {
    let outbound = Arc::new(Outbound {
        loopback: config.bounds.loopback_http,
        allowed: config.outbound_allowed_networks.clone(),
    });
    let linking = Arc::new(Linking::new(
        Arc::clone(store),
        Arc::clone(clock),
        code_key.clone(),
        StdRng::from_os_rng(),
        Arc::clone(metrics),
        Arc::clone(&outbound),
    ));
    let entitlements = Arc::new(Entitlements::new(
        Arc::clone(store),
        Arc::clone(clock),
        DecisionClient::new(Arc::clone(&outbound)),
        Arc::clone(metrics),
    ));
    let device_tokens = Arc::new(DeviceTokens::new(
        code_key,
        Arc::clone(store),
        Arc::clone(clock),
        Arc::clone(metrics),
    ));
    let device_flow = Arc::new(DeviceFlow::new(
        Arc::clone(&linking),
        Arc::clone(&entitlements),
        Arc::clone(&device_tokens),
        Arc::clone(store),
        Arc::clone(clock),
        code_key.clone(),
    ));
    Services {
        activation: Arc::new(Activation::new(
            code_key,
            Arc::clone(clock),
            config.public_url.clone(),
            Arc::clone(metrics),
            outbound,
        )),
        clients: Arc::new(Clients::new(
            code_key,
            Arc::clone(clock),
            StdRng::from_os_rng(),
        )),
        linking,
        entitlements,
        device_flow,
        device_tokens,
        signed_calls: Arc::new(SignedCalls::new(Arc::clone(clock))),
    }
}

/// A Pingora server with the shutdown and upstream trust the configuration asks for.
fn server(config: &Config, lifecycle: &Lifecycle) -> Server {
    let conf = ServerConf {
        grace_period_seconds: Some(lifecycle.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(10),
        ca_file: config
            .upstream_ca_file
            .as_ref()
            .map(|p| p.display().to_string()),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    server
}

/// The code key must survive restarts, or every live code would stop matching. A key file
/// too short to be one (empty after a crash, truncated, edited) stops the start: a fresh
/// key would silently orphan every code and token, a short one is guessed offline.
fn load_or_create_code_key(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(CODE_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = hex::decode(text.trim())
                .map_err(|e| anyhow::anyhow!("{} is not a hex key: {e}", path.display()))?;
            if key.len() < MIN_CODE_KEY_BYTES {
                anyhow::bail!(
                    "{} holds a {}-byte key; at least {MIN_CODE_KEY_BYTES} bytes ({} hex digits) are required",
                    path.display(),
                    key.len(),
                    MIN_CODE_KEY_BYTES * 2
                );
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            write_atomically(&path, hex::encode(key).as_bytes())?;
            Ok(key.to_vec())
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Writes `bytes` to `path` (mode 0600) so that a crash leaves the old file or the whole new
/// one, never a part: a temporary file, synced, renamed over, and the directory synced.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let staged = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staged, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Periodic chores: expired codes and links leave the store (unless the operator collects
/// them from the database); rate limiters forget idle clients, so memory follows recent
/// traffic.
struct Housekeeping {
    store: Arc<dyn Store>,
    purge: bool,
    clock: Arc<dyn Clock>,
    live: Arc<Live>,
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut purge = tokio::time::interval(PURGE_EVERY);
        let mut retain = tokio::time::interval(RETAIN_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = retain.tick() => self.live.load().edge.retain_recent(),
                _ = purge.tick(), if self.purge => match self.store.purge_expired(self.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(dropped = n, "purged expired codes and links"),
                    Err(e) => tracing::warn!(error = %e, "purging expired entries failed"),
                },
            }
        }
    }
}
