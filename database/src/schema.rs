//! The schema, as versioned migrations embedded in the binary (`migrations/`). A proxy
//! brings an older schema up to date and refuses a newer one: a migration applied that it
//! does not know means a newer proxy has been there.

use std::time::Duration;

use refinery::embed_migrations;
use refinery::error::Kind;

embed_migrations!("migrations");

/// Tries at migrating. Proxies of a rollout start together, and on an empty database all
/// but one lose the race to create the tables; after a short wait they find them made.
/// (Both engines run this without a lock: CockroachDB has no advisory locks.)
const ATTEMPTS: u32 = 5;

pub async fn migrate(client: &mut tokio_postgres::Client) -> anyhow::Result<()> {
    let mut attempt = 1;
    loop {
        let outcome = migrations::runner()
            .set_abort_missing(true)
            .set_abort_divergent(true)
            .set_grouped(true)
            .run_async(client)
            .await;
        match outcome {
            Ok(_) => return Ok(()),
            Err(e) if matches!(e.kind(), Kind::Connection(..)) && attempt < ATTEMPTS => {
                attempt += 1;
                let wait = rand::random_range(50..=250) * u64::from(attempt);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Err(e) if matches!(e.kind(), Kind::Connection(..)) => {
                anyhow::bail!("the database schema could not be brought up to date: {e}")
            }
            Err(e) => anyhow::bail!(
                "the database schema cannot be used by this version of linkgate \
                 (a newer one may have migrated it): {e}"
            ),
        }
    }
}
