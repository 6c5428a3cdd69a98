//! The PostgreSQL-protocol database behind the postgres store, as both binaries know it:
//! the proxies keep codes and links in it, the operator keeps it (its schema, its expired
//! rows). Written for PostgreSQL and CockroachDB alike: plain tables and unique indexes, a
//! sequence, no triggers, no advisory locks, no `LISTEN`, and `DELETE` bounded through a
//! subquery rather than `LIMIT`.

mod collect;
mod hosts;
mod schema;
mod url;

pub use collect::{KEEP_CHANGES_MS, collect_expired};
pub use hosts::{ConnectError, Hosts};
pub use schema::migrate;
pub use url::DatabaseUrl;

use std::time::Duration;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// TCP keepalives on every connection: the first probe after this much silence, then one
/// every interval, the connection dropped after that many unanswered.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent and not acknowledged for this long drops the connection.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening one connection may take, trying each host in turn.
pub fn connect_timeout(config: &tokio_postgres::Config) -> Duration {
    CONNECT_TIMEOUT * u32::try_from(config.get_hosts().len().max(1)).unwrap_or(u32::MAX)
}

/// No statement runs longer: a stuck database fails requests instead of holding them.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection settings of `url`, with the timeouts every connection of linkgate keeps.
pub fn config(url: &DatabaseUrl) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url
        .expose()
        .parse()
        .map_err(|e| anyhow::anyhow!("the database URL is not valid: {e}"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    // A server that vanishes without closing (a crashed host, a lost region) is given up on
    // within seconds, not after the kernel's quarter of an hour, so that the connection is
    // reopened on the next host.
    config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES)
        .tcp_user_timeout(TCP_USER_TIMEOUT);
    config.options(format!(
        "-c statement_timeout={}",
        STATEMENT_TIMEOUT.as_millis()
    ));
    Ok(config)
}
