//! The schema, as versioned migrations embedded in the binary (`migrations/`). A proxy
//! brings an older schema up to date and refuses a newer one: a migration applied that it
//! does not know means a newer proxy has been there.

use refinery::embed_migrations;

embed_migrations!("src/store/postgres/migrations");

pub async fn migrate(client: &mut tokio_postgres::Client) -> anyhow::Result<()> {
    migrations::runner()
        .set_abort_missing(true)
        .set_abort_divergent(true)
        .run_async(client)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the database schema cannot be used by this version of linkgate \
                 (a newer one may have migrated it): {e}"
            )
        })?;
    Ok(())
}
