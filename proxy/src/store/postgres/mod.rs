//! The PostgreSQL-protocol backend (PostgreSQL, and CockroachDB, which speaks it): codes and
//! links live in the database; a proxy remembers a bounded number of links (`cache.rs`),
//! which every proxy's writes keep true. A write is one transaction that locks the rows of
//! the device it touches, lets the store's rules decide on them and writes what they
//! decided (a row that did not exist is inserted, never upserted); it is acknowledged once
//! committed (`transact.rs`: what a failover or a concurrent writer does to a write).
//!
//! The SQL keeps to what both engines run, as the schema's does (`linkgate-database`).

mod cache;
mod connect;
mod device;
mod receipt;
mod sql;
mod temp_pass;
mod transact;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool::Runtime;
use tokio::runtime::Handle;

use super::rules::{self, DeviceChange};
use super::{Counts, LinkKey, Result, Store, StoreError, Versioned, new_version};
use crate::metrics::Metrics;
use device::{CodeBy, Device, DeviceWrite, Load};
use linkgate_database::DatabaseUrl;
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Timestamp;
use sql::Sql;
use temp_pass::PassChange;
use transact::{failed, transact, unavailable};

/// How long a request waits for a free connection.
const WAIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Links written per statement of an import.
const IMPORT_BATCH: usize = 10_000;

/// Codes and links in a PostgreSQL-protocol database.
pub struct PgStore {
    pool: connect::Pool,
    metrics: Arc<Metrics>,
    /// The pool's connections and every transaction run here.
    handle: Handle,
    /// Links as last read, dropped when any proxy changes them.
    links: Arc<cache::Links>,
}

impl PgStore {
    /// Connects to `url` with at most `connections` connections, brings the schema up to
    /// date, refuses a schema newer than this build knows, and remembers at most `cached`
    /// links.
    pub fn connect(
        url: &DatabaseUrl,
        connections: usize,
        cached: u64,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let hosts = linkgate_database::Hosts::new(url)?;
        // Every host may be tried, each for its connect timeout, before the next.
        let create_timeout = hosts.connect_timeout();
        let pool = connect::Pool::builder(connect::Primary(hosts))
            .max_size(connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(create_timeout))
            .build()?;
        let handle = crate::io_runtime::start("database")?;
        let links = Arc::new(cache::links(cached));
        let since = handle.block_on(async {
            let mut client = pool.get().await?;
            linkgate_database::migrate(&mut client).await?;
            anyhow::Ok(cache::follow(&client, &links, None).await?.0)
        })?;
        handle.spawn(cache::keep_following(
            pool.clone(),
            Arc::clone(&links),
            since,
            Arc::clone(&metrics),
        ));
        Ok(Self {
            pool,
            metrics,
            handle,
            links,
        })
    }

    /// Adds links in large statements (a migration from another store, a restore), replacing
    /// any stored link of the same device; durable when it returns. Meant for a database no
    /// proxy serves from meanwhile (their caches are not told), with each device once.
    pub fn import(&self, links: impl IntoIterator<Item = DeviceLink>) -> anyhow::Result<usize> {
        let mut imported = 0;
        let mut links = links.into_iter().peekable();
        while links.peek().is_some() {
            let batch: Vec<DeviceLink> = links.by_ref().take(IMPORT_BATCH).collect();
            imported += batch.len();
            let pool = self.pool.clone();
            self.handle.block_on(async move {
                device::import(&**pool.get().await?, &batch).await?;
                anyhow::Ok(())
            })?;
        }
        Ok(imported)
    }

    /// Runs `work` on the store's runtime.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.handle
            .spawn(work)
            .await
            .map_err(|e| StoreError::Backend(format!("the database task failed: {e}")))?
    }

    /// Runs `work` with a connection on the store's runtime.
    async fn with_client<T, F, Fut>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(connect::Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.on_runtime(async move { work(pool.get().await.map_err(unavailable)?).await })
            .await
    }

    async fn code_by(&self, by: CodeBy, hash: CodeHash) -> Result<Option<CodeRecord>> {
        let read = move |client: connect::Client| async move {
            device::code(Sql::of(&client), by, &hash)
                .await
                .map_err(failed)
        };
        self.with_client(read).await
    }

    /// Decides and makes one device's change in a transaction, as `rule` (the store's
    /// rules, deciding again on every round) says from the rows `load` names; `None` when
    /// it found nothing to change, otherwise the version of the link the change put.
    async fn decide(
        &self,
        load: Load,
        rule: impl Fn(&Device) -> Result<Option<DeviceChange>> + Send + Sync + 'static,
    ) -> Result<Option<Option<u64>>> {
        let link = load.changes_link().cloned();
        let (pool, metrics) = (self.pool.clone(), Arc::clone(&self.metrics));
        let write = DeviceWrite::new(load, rule);
        let outcome = self
            .on_runtime(async move { transact(&pool, &metrics, &write).await })
            .await;
        // What this proxy changed, it reads again at once (the others follow the change);
        // so does a link it found changed meanwhile, so that the caller's next round
        // decides on what is stored, not on what was cached.
        if let (Ok(Some(_)) | Err(StoreError::Conflict), Some(key)) = (&outcome, link) {
            self.links.invalidate(&key).await;
        }
        outcome
    }
}

/// Tables the planner thinks have more rows than this are counted by its estimate (kept
/// by autovacuum's analyze), not read row by row: a metrics scrape must not scan ten
/// million links.
const EXACT_COUNT_BELOW: f32 = 100_000.0;

async fn count(
    client: &tokio_postgres::Client,
) -> std::result::Result<Counts, tokio_postgres::Error> {
    Ok(Counts {
        codes: rows(client, "codes").await?,
        links: rows(client, "links").await?,
    })
}

async fn rows(
    client: &tokio_postgres::Client,
    table: &'static str,
) -> std::result::Result<usize, tokio_postgres::Error> {
    let estimate: f32 = client
        .query_opt(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = $1 AND n.nspname = current_schema()",
            &[&table],
        )
        .await?
        .map_or(0.0, |row| row.get(0));
    if estimate >= EXACT_COUNT_BELOW {
        return Ok(estimate as usize);
    }
    // The table name is one of ours, never input.
    let exact: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .get(0);
    Ok(usize::try_from(exact).unwrap_or_default())
}

#[async_trait]
impl Store for PgStore {
    async fn code(&self, hash: &CodeHash) -> Result<Option<CodeRecord>> {
        self.code_by(CodeBy::Hash, *hash).await
    }

    async fn link(&self, key: &LinkKey) -> Result<Option<Versioned>> {
        if let Some(cached) = self.links.get(key).await {
            return Ok(cached);
        }
        let read = {
            let key = key.clone();
            self.with_client(move |client| async move {
                device::link(Sql::of(&client), &key).await.map_err(failed)
            })
        };
        // Concurrent misses of one link share one read.
        self.links
            .try_get_with(key.clone(), read)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn code_by_device_code(&self, device_code: &CodeHash) -> Result<Option<CodeRecord>> {
        self.code_by(CodeBy::DeviceCode, *device_code).await
    }

    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()> {
        let load = Load::code(code.hash);
        let issue = move |d: &Device| rules::issue_code(d, code.clone(), now).map(Some);
        self.decide(load, issue).await.map(drop)
    }

    async fn delete_code(&self, hash: &CodeHash) -> Result<bool> {
        let hash = *hash;
        let done = self.decide(Load::code(hash), move |d| Ok(rules::delete_code(d, &hash)));
        Ok(done.await?.is_some())
    }

    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool> {
        let hash = *hash;
        let set = move |d: &Device| Ok(rules::set_code_state(d, &hash, state, awaiting.clone()));
        Ok(self.decide(Load::code(hash), set).await?.is_some())
    }

    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let (hash, load) = (*hash, Load::code_and_link(*hash, LinkKey::of(&link)));
        let redeem = move |d: &Device| rules::redeem(d, &hash, expected, link.clone()).map(Some);
        new_version(self.decide(load, redeem).await?)
    }

    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let (hash, load) = (*hash, Load::code_and_link(*hash, LinkKey::of(&link)));
        let exchange =
            move |d: &Device| rules::exchange(d, &hash, expected, link.clone()).map(Some);
        new_version(self.decide(load, exchange).await?)
    }

    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64> {
        let load = Load::link(LinkKey::of(&link));
        let put = move |d: &Device| rules::put_link(d, expected, link.clone()).map(Some);
        new_version(self.decide(load, put).await?)
    }

    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()> {
        let (load, key) = (Load::link(key.clone()), key.clone());
        let revoke = move |d: &Device| rules::revoke(d, &key, expected).map(Some);
        self.decide(load, revoke).await.map(drop)
    }

    async fn temp_passes(&self, device: &LinkKey) -> Result<Vec<TempPass>> {
        let device = device.clone();
        self.with_client(move |client| async move {
            temp_pass::of_device(Sql::of(&client), &device)
                .await
                .map_err(failed)
        })
        .await
    }

    async fn write_temp_pass(
        &self,
        device: &LinkKey,
        mvpd: &str,
        write: PassWrite,
    ) -> Result<Option<TempPass>> {
        let (pool, metrics) = (self.pool.clone(), Arc::clone(&self.metrics));
        let change = PassChange::new(device.clone(), mvpd.to_owned(), write);
        self.on_runtime(async move { transact(&pool, &metrics, &change).await })
            .await
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<usize> {
        self.with_client(move |client| async move {
            let collected = linkgate_database::collect_expired(&client, now.unix_millis())
                .await
                .map_err(failed)?;
            Ok(usize::try_from(collected).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn counts(&self) -> Result<Counts> {
        self.with_client(move |client| async move { count(&client).await.map_err(failed) })
            .await
    }
}
