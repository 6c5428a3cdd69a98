use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};
use linkgate_crds::Requestor;
use linkgate_operator::context::Context;
use linkgate_operator::metrics::Metrics;
use linkgate_operator::requestor::{error_policy, reconcile, secret_refs};

/// linkgate's operator: keeps Requestor status in step with their specs.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Where health, readiness and metrics are served.
    #[arg(long, default_value = "127.0.0.1:9091")]
    admin: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::new());
    let instance = std::env::var("POD_NAME").ok();
    let ctx = Arc::new(Context::new(client.clone(), Arc::clone(&metrics), instance));

    let admin = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(move || async move { metrics.render() }));
    let listener = tokio::net::TcpListener::bind(cli.admin).await?;
    tokio::spawn(async move { axum::serve(listener, admin).await });

    let controller = Controller::new(
        Api::<Requestor>::all(client.clone()),
        watcher::Config::default(),
    );
    // A Secret a requestor refers to changing (or appearing) re-checks that requestor.
    let requestors = controller.store();
    let controller = controller.watches(
        Api::<Secret>::all(client),
        watcher::Config::default(),
        move |secret: Secret| {
            let (ns, name) = (secret.namespace(), secret.name_any());
            requestors
                .state()
                .into_iter()
                .filter(|r| r.namespace() == ns && secret_refs(&r.spec).any(|s| s.name == name))
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        },
    );
    tracing::info!(admin = %cli.admin, "linkgate operator starting");
    controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|outcome| async move {
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "reconcile outcome");
            }
        })
        .await;
    Ok(())
}
