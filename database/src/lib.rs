//! The PostgreSQL-protocol database behind the postgres store, as both binaries know it:
//! the proxies keep codes and links in it, the operator keeps it (its schema, its expired
//! rows). Written for PostgreSQL and CockroachDB alike: plain tables and unique indexes, a
//! sequence, no triggers, no advisory locks, no `LISTEN`, and `DELETE` bounded through a
//! subquery rather than `LIMIT`.

mod collect;
mod schema;
mod url;

pub use collect::{KEEP_CHANGES_MS, collect_expired};
pub use schema::migrate;
pub use url::DatabaseUrl;

use std::time::Duration;

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// No statement runs longer: a stuck database fails requests instead of holding them.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection settings of `url`, with the timeouts every connection of linkgate keeps.
pub fn config(url: &DatabaseUrl) -> anyhow::Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = url
        .expose()
        .parse()
        .map_err(|e| anyhow::anyhow!("the database URL is not valid: {e}"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.options(format!(
        "-c statement_timeout={}",
        STATEMENT_TIMEOUT.as_millis()
    ));
    Ok(config)
}
