use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::{Controller, WatchStreamExt, reflector, watcher};
use linkgate_crds::Requestor;
use linkgate_database::DatabaseUrl;
use linkgate_domain::tenancy::Bounds;
use linkgate_logging::{self as logging, LogFormat};
use linkgate_operator::context::Context;
use linkgate_operator::database;
use linkgate_operator::device_link;
use linkgate_operator::leader::Elector;
use linkgate_operator::metrics::Metrics;
use linkgate_operator::readable::{Reporting::*, readable};
use linkgate_operator::replication::{self, peers::PeerArg};
use linkgate_operator::requestor::{
    error_policy, reconcile, requestors_sharing_claims, requestors_using,
};
use linkgate_operator::scoped;
use tokio::signal::unix::{SignalKind, signal};

/// linkgate's operator: keeps Requestor status in step with their specs, makes and rotates
/// their media-token keys, collects expired DeviceLinks and replicates them to peer regions,
/// and keeps the postgres store's database. Of several replicas, the one holding the Lease
/// does the work.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Where health, readiness and metrics are served.
    #[arg(long, default_value = "127.0.0.1:9091")]
    admin: SocketAddr,
    /// Watch only this namespace (all namespaces when absent).
    #[arg(long)]
    namespace: Option<String>,
    /// The Lease that elects the active replica.
    #[arg(long, default_value = "linkgate-operator")]
    lease_name: String,
    /// The namespace of the Lease: in a cluster, the operator's own.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's name in the Lease (default: the host name and process ID).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How far proxies' clocks may run ahead of the operator's: a rotated-out media-token
    /// key stays published this long after its last tokens expired.
    #[arg(long, default_value_t = 60)]
    clock_skew_seconds: u64,
    /// This region's name (a DNS label): DeviceLinks whose revision names it were written
    /// here and are pushed to the peers. Without it nothing is replicated.
    #[arg(long, value_parser = parse_region)]
    region: Option<String>,
    /// A peer region, `NAME=SECRET`: the Secret (in the lease namespace) holds the peer API
    /// server's kubeconfig under the key `kubeconfig`. Repeatable.
    #[arg(long = "peer", requires = "region")]
    peers: Vec<PeerArg>,
    /// Lets Requestors call plain-http URLs on loopback, as the proxies'
    /// `insecureLoopbackHttp` does: for tests and demos only.
    #[arg(long)]
    insecure_loopback_http: bool,
    /// The postgres store's database, when the proxies keep links in one: the leader
    /// migrates its schema and collects its expired rows. Best given through the
    /// environment (it may carry a password).
    #[arg(long, env = "LINKGATE_DATABASE_URL")]
    database_url: Option<DatabaseUrl>,
    /// How often the database's expired rows are collected.
    #[arg(long, default_value_t = 60)]
    database_collect_seconds: u64,
    /// Log lines as text or as JSON objects.
    #[arg(long, env = "LINKGATE_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let identity = cli.identity.clone().unwrap_or_else(host_and_pid);
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::new());
    let namespace = cli.namespace.as_deref();
    let (requestors_seen, seen_writer) = reflector::store();
    let watched = readable::<Requestor>(&client, namespace, Arc::clone(&metrics), OnTheObject);
    let controller = Controller::for_stream(
        watched.reflect(seen_writer).applied_objects(),
        requestors_seen,
    );
    let bounds = Bounds {
        own_secrets_only: true,
        loopback_http: cli.insecure_loopback_http,
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        Arc::clone(&metrics),
        Some(identity.clone()),
        Duration::from_secs(cli.clock_skew_seconds),
        cli.region.clone(),
        bounds,
        controller.store(),
    ));

    serve_admin(cli.admin, Arc::clone(&metrics)).await?;
    let shutdown = shutdown_signal()?;

    // A peer Secret that is missing or unusable stops the start, rather than leaving a
    // region silently unreplicated.
    let peers = replication::peers::connect(&client, &cli.lease_namespace, &cli.peers).await?;

    let elector = Elector::new(
        client.clone(),
        &cli.lease_namespace,
        &cli.lease_name,
        &identity,
        metrics,
    );
    tracing::info!(admin = %cli.admin, %identity, lease = %cli.lease_name, "linkgate operator starting");
    let acquired = tokio::select! {
        () = shutdown.clone() => return Ok(()),
        acquired = elector.acquire() => acquired,
    };
    let replicating = async {
        if let Some(region) = cli.region.clone() {
            replication::run(
                client.clone(),
                cli.namespace.clone(),
                region,
                peers,
                Arc::clone(&ctx.metrics),
                shutdown.clone(),
            )
            .await;
        }
    };
    let keeping = async {
        if let Some(url) = cli.database_url.clone() {
            let metrics = Arc::clone(&ctx.metrics);
            let every = Duration::from_secs(cli.database_collect_seconds.max(1));
            database::keep(url, metrics, every, shutdown.clone()).await;
        }
    };
    let controllers = futures::future::join4(
        requestors(
            controller,
            &client,
            namespace,
            Arc::clone(&ctx),
            shutdown.clone(),
        ),
        device_link::run(
            readable(&client, namespace, Arc::clone(&ctx.metrics), OnTheObject),
            Arc::clone(&ctx),
            shutdown.clone(),
        ),
        replicating,
        keeping,
    );
    lead(&elector, acquired, controllers).await
}

/// Runs the controllers while holding the lease: until a signal stops them (the lease is
/// then handed over at once), or until the lease is lost.
async fn lead(
    elector: &Elector,
    acquired: tokio::time::Instant,
    controllers: impl Future,
) -> anyhow::Result<()> {
    tokio::select! {
        _ = controllers => {
            elector.release().await?;
            Ok(())
        }
        lost = elector.hold(acquired) => {
            // Another replica may be leading already: stop now, and start afresh (as a
            // standby) when restarted.
            tracing::error!(error = %lost, "no longer the leader; exiting");
            Err(lost.into())
        }
    }
}

/// The Requestor controller until `shutdown`. A Secret a requestor refers to changing (or
/// appearing) re-checks that requestor, and a Requestor changing re-checks those whose
/// paths it may have taken or freed.
fn requestors(
    controller: Controller<Requestor>,
    client: &Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let (by_secret, by_route) = (controller.store(), controller.store());
    controller
        .watches(
            // Metadata only: which Secret changed is enough, and no Secret's data is
            // listed; the reconcile reads only the Secrets meant for its requestor.
            scoped::<PartialObjectMeta<Secret>>(client, namespace),
            watcher::Config::default(),
            move |secret| requestors_using(&secret, &by_secret.state()),
        )
        .watches_stream(
            readable::<Requestor>(client, namespace, Arc::clone(&ctx.metrics), LogOnly)
                .touched_objects(),
            move |changed| requestors_sharing_claims(&changed, &by_route.state()),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|outcome| async move {
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "reconcile outcome");
            }
        })
}

/// Health and metrics on the admin port. A standby is as healthy as the leader: both
/// answer ready.
async fn serve_admin(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let admin = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(move || async move { metrics.render() }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move { axum::serve(listener, admin).await });
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, for every clone awaiting it.
fn shutdown_signal() -> anyhow::Result<Shared<BoxFuture<'static, ()>>> {
    let (mut interrupt, mut terminate) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    let signalled = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    Ok(signalled.boxed().shared())
}

fn parse_region(s: &str) -> Result<String, String> {
    linkgate_crds::is_region(s)
        .then(|| s.to_owned())
        .ok_or_else(|| format!("{s:?} is not a DNS label"))
}

/// Unique among replicas outside a cluster, where no pod name is given.
fn host_and_pid() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "linkgate-operator".into());
    format!("{host}-{}", std::process::id())
}
