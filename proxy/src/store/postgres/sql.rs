//! Statements on one connection, each prepared once per connection: preparing is a round
//! trip of its own, and a proxy in another region than its database pays each round trip
//! in full (100 ms between continents).

use deadpool_postgres::StatementCache;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, Row};

pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// A connection, or the transaction open on it, with the connection's prepared statements.
#[derive(Clone, Copy)]
pub struct Sql<'a> {
    client: &'a Client,
    cache: &'a StatementCache,
}

impl<'a> Sql<'a> {
    pub fn of(client: &'a deadpool_postgres::ClientWrapper) -> Self {
        Self {
            client,
            cache: &client.statement_cache,
        }
    }

    /// Statements run through the transaction's connection, inside the transaction.
    pub fn in_transaction(tx: &'a deadpool_postgres::Transaction<'_>) -> Self {
        Self {
            client: tx.client(),
            cache: &tx.statement_cache,
        }
    }

    pub async fn execute(self, statement: &str, params: Params<'_>) -> Result<u64, Error> {
        let prepared = self.cache.prepare(self.client, statement).await?;
        self.client.execute(&prepared, params).await
    }

    pub async fn query(self, statement: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        let prepared = self.cache.prepare(self.client, statement).await?;
        self.client.query(&prepared, params).await
    }

    pub async fn query_one(self, statement: &str, params: Params<'_>) -> Result<Row, Error> {
        let prepared = self.cache.prepare(self.client, statement).await?;
        self.client.query_one(&prepared, params).await
    }

    pub async fn query_opt(
        self,
        statement: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let prepared = self.cache.prepare(self.client, statement).await?;
        self.client.query_opt(&prepared, params).await
    }
}
