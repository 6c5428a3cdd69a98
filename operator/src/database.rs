//! With the postgres store, the leader keeps the database as it keeps DeviceLinks in
//! Kubernetes mode: it brings the schema up to date as it starts leading (so that a new
//! version's schema is in place while its proxies roll out) and collects expired codes,
//! links and old link changes periodically, so that the proxies need not each do it (the
//! chart turns their collection off).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use linkgate_database::DatabaseUrl;
use tokio_postgres::Client;

use crate::metrics::Metrics;

/// Keeps the database at `url` until `shutdown`, collecting `every` (and opening a lost
/// connection again then).
pub async fn keep(
    url: DatabaseUrl,
    metrics: Arc<Metrics>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut client = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let keeping = async {
        loop {
            tick.tick().await;
            let outcome = collect(&url, &mut client).await;
            metrics.database_collection(outcome.as_ref().ok().copied());
            match outcome {
                Ok(0) => {}
                Ok(n) => tracing::info!(collected = n, "collected expired codes and links"),
                Err(e) => {
                    // Opened again at the next tick.
                    client = None;
                    tracing::warn!(error = %e, "cannot keep the database");
                }
            }
        }
    };
    tokio::select! {
        () = keeping => {}
        () = shutdown => {}
    }
}

/// One collection, on the open connection or a new one (whose schema is then migrated).
async fn collect(url: &DatabaseUrl, client: &mut Option<Client>) -> anyhow::Result<u64> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(connect(url).await?);
    }
    let client = client.as_ref().expect("connected above");
    let now = jiff::Timestamp::now().as_millisecond();
    Ok(linkgate_database::collect_expired(client, now).await?)
}

async fn connect(url: &DatabaseUrl) -> anyhow::Result<Client> {
    // Host by host, each bounded whole, as the proxies connect: a host that never answers
    // does not hold the leader's keeping.
    let (mut client, connection) = linkgate_database::Hosts::new(url)?.connect().await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
    linkgate_database::migrate(&mut client).await?;
    Ok(client)
}
