//! The rows of one device a write decides on, and how the change the rules decided
//! becomes statements.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_postgres::Client;
use tokio_postgres::types::Json;

use super::super::rules::{DeviceChange, Slot, View};
use super::super::{LinkKey, Result, Versioned};
use super::sql::Sql;
use super::transact::{Step, Write};
use linkgate_domain::code::{CodeHash, CodeRecord};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::time::Timestamp;

/// What a write reads before it decides: a code by its hash, a device's link.
pub struct Load {
    code: Option<CodeHash>,
    link: Option<LinkKey>,
}

impl Load {
    pub fn code(hash: CodeHash) -> Self {
        Self {
            code: Some(hash),
            link: None,
        }
    }

    pub fn link(key: LinkKey) -> Self {
        Self {
            code: None,
            link: Some(key),
        }
    }

    pub fn code_and_link(hash: CodeHash, key: LinkKey) -> Self {
        Self {
            code: Some(hash),
            link: Some(key),
        }
    }

    /// The link the write may change.
    pub fn changes_link(&self) -> Option<&LinkKey> {
        self.link.as_ref()
    }
}

/// The rows read, as the rules see a store.
pub struct Device {
    code: Option<CodeRecord>,
    /// The link asked for and its version, when there is one.
    link: Option<(LinkKey, u64)>,
}

impl Device {
    /// Reads (and locks) the code and the link `load` names, in one round trip.
    pub async fn load(
        sql: Sql<'_>,
        load: &Load,
    ) -> std::result::Result<Self, tokio_postgres::Error> {
        let code = async {
            match &load.code {
                Some(hash) => code(sql, CodeBy::HashForUpdate, hash).await,
                None => Ok(None),
            }
        };
        let link = async {
            let Some(key) = &load.link else {
                return Ok(None);
            };
            let (requestor, device) = key.parts();
            let row = sql
                .query_opt(
                    "SELECT version FROM links WHERE requestor = $1 AND device = $2 FOR UPDATE",
                    &[&requestor, &device],
                )
                .await?;
            Ok(row.map(|row| (key.clone(), version(row.get(0)))))
        };
        // Sent in this order (code, then link), as every writer locks them.
        let (code, link) = tokio::try_join!(code, link)?;
        Ok(Self { code, link })
    }
}

impl View for Device {
    fn code(&self, hash: &CodeHash) -> Option<&CodeRecord> {
        self.code.as_ref().filter(|c| c.hash == *hash)
    }

    fn code_shown_elsewhere(&self, hash: &CodeHash, device: &LinkKey, now: Timestamp) -> bool {
        View::code(self, hash)
            .is_some_and(|c| !c.is_expired(now) && LinkKey::new(&c.requestor, &c.device) != *device)
    }

    fn link_version(&self, key: &LinkKey) -> Option<u64> {
        self.link
            .as_ref()
            .filter(|(loaded, _)| loaded == key)
            .map(|(_, version)| *version)
    }
}

/// A write of one device's rows: loads them, lets `rule` decide, writes what it decided.
pub struct DeviceWrite<R> {
    load: Load,
    rule: R,
}

impl<R> DeviceWrite<R> {
    pub fn new(load: Load, rule: R) -> Self {
        Self { load, rule }
    }
}

impl<R> Write for DeviceWrite<R>
where
    R: Fn(&Device) -> Result<Option<DeviceChange>> + Send + Sync,
{
    /// `None` when the rule found nothing to change, else the version of the link it put.
    type Outcome = Option<Option<u64>>;

    fn run<'a>(
        &'a self,
        sql: Sql<'a>,
    ) -> BoxFuture<'a, std::result::Result<Result<Step<Self::Outcome>>, tokio_postgres::Error>>
    {
        Box::pin(async move {
            let device = Device::load(sql, &self.load).await?;
            let change = match (self.rule)(&device) {
                Ok(Some(change)) => change,
                Ok(None) => return Ok(Ok(Step::Unchanged(None))),
                Err(refused) => return Ok(Err(refused)),
            };
            let version = write(sql, &device, change).await?;
            Ok(Ok(Step::Write(Some(version))))
        })
    }
}

/// Writes `change`, decided on `loaded`; returns the version of the link it puts, if it
/// puts one. Rows `loaded` found are locked; a row it did not find is inserted, so that a
/// writer that inserted it meanwhile makes this a unique violation, decided again. The
/// statements are sent together, in order, and answered in one round trip: should one
/// fail, the transaction is aborted and never committed.
pub async fn write(
    sql: Sql<'_>,
    loaded: &Device,
    change: DeviceChange,
) -> std::result::Result<Option<u64>, tokio_postgres::Error> {
    let stored_version = loaded.link_version(&change.device);
    let DeviceChange { device, code, link } = change;
    let (requestor, id) = device.parts();
    // Each statement's answer: the version of the link it put, if it put one.
    let mut statements: Vec<BoxFuture<'_, std::result::Result<Option<i64>, _>>> = Vec::new();
    match &code {
        Slot::Keep => {}
        Slot::Clear => statements.push(Box::pin(delete_of_device(
            sql,
            "DELETE FROM codes WHERE requestor = $1 AND device = $2",
            requestor,
            id,
        ))),
        Slot::Put(code) => {
            // A device shows one code, and a hash names one code: the device's previous
            // code goes, and so does an expired one of another device with this hash
            // (the rules refused the write while it was live).
            let hash = &code.hash.as_bytes()[..];
            statements.push(Box::pin(async move {
                let statement =
                    "DELETE FROM codes WHERE (requestor = $1 AND device = $2) OR hash = $3";
                sql.execute(statement, &[&requestor, &id, &hash])
                    .await
                    .map(|_| None)
            }));
            statements.push(Box::pin(async move {
                let device_code = code.device_code.map(|h| h.as_bytes().to_vec());
                sql.execute(
                    "INSERT INTO codes (hash, requestor, device, device_code, expires_at, record) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &hash,
                        &requestor,
                        &id,
                        &device_code,
                        &code.expires_at.unix_millis(),
                        &Json(code),
                    ],
                )
                .await
                .map(|_| None)
            }));
        }
    }
    match &link {
        Slot::Keep => {}
        Slot::Clear => statements.push(Box::pin(delete_of_device(
            sql,
            "DELETE FROM links WHERE requestor = $1 AND device = $2",
            requestor,
            id,
        ))),
        Slot::Put(link) => statements.push(Box::pin(async move {
            let expires_at = link.expires_at().map(Timestamp::unix_millis);
            let row = match stored_version {
                Some(stored) => {
                    let stored = i64::try_from(stored).unwrap_or(i64::MAX);
                    sql.query_one(
                        "UPDATE links SET version = nextval('link_versions'), \
                         expires_at = $3, link = $4 \
                         WHERE requestor = $1 AND device = $2 AND version = $5 \
                         RETURNING version",
                        &[&requestor, &id, &expires_at, &Json(link), &stored],
                    )
                    .await?
                }
                None => {
                    sql.query_one(
                        "INSERT INTO links (requestor, device, version, expires_at, link) \
                         VALUES ($1, $2, nextval('link_versions'), $3, $4) RETURNING version",
                        &[&requestor, &id, &expires_at, &Json(link)],
                    )
                    .await?
                }
            };
            Ok(Some(row.get(0)))
        })),
    }
    if !matches!(link, Slot::Keep) {
        let put = matches!(link, Slot::Put(_));
        statements.push(Box::pin(changed(sql, requestor, id, put)));
    }
    let answers = futures::future::try_join_all(statements).await?;
    Ok(answers.into_iter().flatten().next().map(version))
}

/// Writes `links` in one statement, each with a new version.
pub async fn import(
    client: &Client,
    links: &[DeviceLink],
) -> std::result::Result<(), tokio_postgres::Error> {
    let mut requestors = Vec::with_capacity(links.len());
    let mut devices = Vec::with_capacity(links.len());
    let mut expiries = Vec::with_capacity(links.len());
    let mut bodies = Vec::with_capacity(links.len());
    for link in links {
        requestors.push(link.requestor.as_str());
        devices.push(link.device.as_str());
        expiries.push(link.expires_at().map(Timestamp::unix_millis));
        bodies.push(Json(link));
    }
    client
        .execute(
            "INSERT INTO links (requestor, device, version, expires_at, link) \
             SELECT r, d, nextval('link_versions'), e, l \
             FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::JSONB[]) AS t (r, d, e, l) \
             ON CONFLICT (requestor, device) DO UPDATE SET version = excluded.version, \
             expires_at = excluded.expires_at, link = excluded.link",
            &[&requestors, &devices, &expiries, &bodies],
        )
        .await
        .map(drop)
}

/// Runs `statement`, a deletion of the device's rows of one table.
async fn delete_of_device(
    sql: Sql<'_>,
    statement: &'static str,
    requestor: &str,
    device: &str,
) -> std::result::Result<Option<i64>, tokio_postgres::Error> {
    sql.execute(statement, &[&requestor, &device])
        .await
        .map(|_| None)
}

/// Records that the device's link changed, for the other proxies' caches (`cache.rs`):
/// with the version it `put` (the sequence's value this transaction drew last, the link
/// statement sent before this one), or none for a link removed.
async fn changed(
    sql: Sql<'_>,
    requestor: &str,
    device: &str,
    put: bool,
) -> std::result::Result<Option<i64>, tokio_postgres::Error> {
    let statement = match put {
        true => {
            "INSERT INTO link_changes (requestor, device, changed_at, version) \
             VALUES ($1, $2, (extract(epoch FROM now()) * 1000)::BIGINT, \
             currval('link_versions'))"
        }
        false => {
            "INSERT INTO link_changes (requestor, device, changed_at) \
             VALUES ($1, $2, (extract(epoch FROM now()) * 1000)::BIGINT)"
        }
    };
    sql.execute(statement, &[&requestor, &device])
        .await
        .map(|_| None)
}

/// The column a code is found by.
#[derive(Clone, Copy)]
pub enum CodeBy {
    Hash,
    /// The hash, locking the row for the transaction that decides on it.
    HashForUpdate,
    /// The hash of the RFC 8628 device code polling for it.
    DeviceCode,
}

pub async fn code(
    sql: Sql<'_>,
    by: CodeBy,
    hash: &CodeHash,
) -> std::result::Result<Option<CodeRecord>, tokio_postgres::Error> {
    let statement = match by {
        CodeBy::Hash => "SELECT record FROM codes WHERE hash = $1",
        CodeBy::HashForUpdate => "SELECT record FROM codes WHERE hash = $1 FOR UPDATE",
        CodeBy::DeviceCode => "SELECT record FROM codes WHERE device_code = $1",
    };
    let row = sql.query_opt(statement, &[&&hash.as_bytes()[..]]).await?;
    Ok(row.map(|row| row.get::<_, Json<CodeRecord>>(0).0))
}

pub async fn link(
    sql: Sql<'_>,
    key: &LinkKey,
) -> std::result::Result<Option<Versioned>, tokio_postgres::Error> {
    let (requestor, device) = key.parts();
    let row = sql
        .query_opt(
            "SELECT version, link FROM links WHERE requestor = $1 AND device = $2",
            &[&requestor, &device],
        )
        .await?;
    Ok(row.map(|row| Versioned {
        version: version(row.get(0)),
        link: Arc::new(row.get::<_, Json<DeviceLink>>(1).0),
    }))
}

/// Versions come from a sequence starting at 1.
fn version(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or_default()
}
