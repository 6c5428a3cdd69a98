//! What a proxy remembers of the database's links: a bounded cache (the proxy's memory
//! follows its size, never the number of links), kept true by following `link_changes`.
//!
//! Every link write records the link's key there (and the version it put) in the same
//! transaction. Each proxy reads
//! the rows changed since its last look, by the database's clock and with an overlap
//! (a transaction may commit a little after the time it records), every `FOLLOW_EVERY`;
//! what a change names is dropped from the cache, unless the cached link is at least as new
//! as the change (the proxy wrote it), and read again on its next use. So a link
//! revoked through one proxy is refused by every other within `FOLLOW_EVERY` plus a query.
//! While the database cannot be read, what is cached keeps answering; a proxy that missed
//! more than the changes kept drops everything. A link is forgotten once it has ended.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio_postgres::Client;

use super::super::{LinkKey, Versioned};
use crate::metrics::Metrics;
use linkgate_database::KEEP_CHANGES_MS;
use linkgate_domain::time::{Clock, SystemClock};

/// How often a proxy looks for links changed elsewhere.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// Changes are read again for this long after their time, for transactions that committed
/// after others with later times (the statement timeout bounds how long one can take).
const OVERLAP_MS: i64 = 10_000;

/// A link as last read (`None`: there was none), by its key.
pub type Links = Cache<LinkKey, Option<Versioned>>;

/// How long the memory of a device without a link lasts (its next read asks again).
const NO_LINK_KEPT: Duration = Duration::from_secs(60);

pub fn links(capacity: u64) -> Links {
    Cache::builder()
        .max_capacity(capacity)
        .expire_after(UntilLinkEnds)
        .build()
}

/// Evicts a link once its last user's sign-in has ended: reading it again from the
/// database answers the same, and devices that have gone do not fill the cache.
struct UntilLinkEnds;

impl moka::Expiry<LinkKey, Option<Versioned>> for UntilLinkEnds {
    fn expire_after_create(
        &self,
        _key: &LinkKey,
        value: &Option<Versioned>,
        _at: std::time::Instant,
    ) -> Option<Duration> {
        let ends = value.as_ref().and_then(|v| v.link.expires_at());
        Some(ends.map_or(NO_LINK_KEPT, |ends| SystemClock.now().until(ends)))
    }
}

/// Drops from `links` what changed since `since` (database milliseconds, `None` at start);
/// returns where the next look starts, and the server that answered (its address and
/// port), read in the same statement as the time.
pub async fn follow(
    client: &Client,
    links: &Links,
    since: Option<i64>,
) -> Result<(i64, String), tokio_postgres::Error> {
    let looked = client
        .query_one(
            "SELECT (extract(epoch FROM now()) * 1000)::BIGINT, \
             coalesce(host(inet_server_addr()), 'local') || ':' || current_setting('port')",
            &[],
        )
        .await?;
    let (now, server): (i64, String) = (looked.get(0), looked.get(1));
    match since {
        // Nothing was cached before the first look.
        None => {}
        Some(since) if now - since > KEEP_CHANGES_MS - OVERLAP_MS => links.invalidate_all(),
        Some(since) => {
            let rows = client
                .query(
                    "SELECT requestor, device, version FROM link_changes WHERE changed_at >= $1",
                    &[&(since - OVERLAP_MS)],
                )
                .await?;
            for row in rows {
                let (requestor, device): (&str, &str) = (row.get(0), row.get(1));
                if let Ok(device) = linkgate_domain::ids::DeviceId::parse(device) {
                    let put: Option<i64> = row.get(2);
                    forget_older(links, LinkKey::new(requestor, &device), put).await;
                }
            }
        }
    }
    Ok((now, server))
}

/// Drops the cached link of `key` unless it is at least as new as the version a change
/// `put` (`None`: the link was removed): a link this proxy wrote and read again is kept,
/// though the change is read again for the overlap's length.
async fn forget_older(links: &Links, key: LinkKey, put: Option<i64>) {
    let current = match (put, links.get(&key).await) {
        (Some(put), Some(Some(cached))) => i64::try_from(cached.version).is_ok_and(|v| v >= put),
        _ => false,
    };
    if !current {
        links.invalidate(&key).await;
    }
}

/// Follows changes from `since` for as long as the cache is used; a failed look is tried
/// again (what is cached keeps answering meanwhile). Each look also tells `metrics` whether
/// the database answered, and from which server: another than before is a failover.
pub async fn keep_following(
    pool: super::connect::Pool,
    links: Arc<Links>,
    since: i64,
    metrics: Arc<Metrics>,
) {
    let mut since = Some(since);
    let mut server: Option<String> = None;
    let mut tick = tokio::time::interval(FOLLOW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Arc::strong_count(&links) == 1 {
            return;
        }
        let looked = match pool.get().await {
            Ok(client) => follow(&client, &links, since)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match looked {
            Ok((now, answering)) => {
                since = Some(now);
                let changed = server.as_ref().is_some_and(|s| *s != answering);
                metrics.database_seen(true, changed);
                server = Some(answering);
            }
            Err(e) => {
                metrics.database_seen(false, false);
                tracing::warn!(error = %e, "cannot read the links changed by other proxies");
            }
        }
    }
}
