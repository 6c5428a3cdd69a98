//! One write, carried through what a database cluster does to it: a transaction that the
//! database aborts for a concurrent one is decided again; one whose connection breaks
//! before COMMIT (a primary gone, a failover) is run again on a new connection, which the
//! pool opens on whichever host now takes writes; one whose COMMIT goes unanswered is
//! settled through its receipt (`receipt.rs`) before anything is answered, so a write is
//! never acknowledged unstored, nor run twice.

use std::time::Duration;

use super::connect::{Client, Pool, PoolError};
use futures::future::BoxFuture;
use tokio_postgres::IsolationLevel;
use tokio_postgres::error::SqlState;

use super::receipt::{Receipt, Settled};
use super::sql::Sql;
use crate::metrics::Metrics;
use crate::store::{Result, StoreError};

/// Rounds of one write (aborted for a concurrent one, connection lost, not stored) before
/// giving up.
const WRITE_ROUNDS: u32 = 8;
/// How long a COMMIT may wait for its answer, a synchronous standby's included (the
/// database's statement timeout does not cover a COMMIT's wait for a standby).
const COMMIT_WAIT: Duration = Duration::from_secs(5);
/// How long a proxy keeps trying to learn what became of an unanswered COMMIT, and the
/// pause between tries (no primary, during a failover).
const SETTLE_WITHIN: Duration = Duration::from_secs(5);
const SETTLE_PAUSE: Duration = Duration::from_millis(200);

/// What a write decided in its transaction.
pub enum Step<T> {
    /// Nothing to write: the transaction is rolled back.
    Unchanged(T),
    /// Written: the transaction is committed.
    Write(T),
}

/// A write's reading, deciding and writing, run in each round's transaction.
pub trait Write: Send + Sync {
    type Outcome: Send;

    /// The outer error is the database's; the inner one the store's rules refusing.
    fn run<'a>(
        &'a self,
        sql: Sql<'a>,
    ) -> BoxFuture<'a, std::result::Result<Result<Step<Self::Outcome>>, tokio_postgres::Error>>;
}

/// How a round ended without an answer.
enum Failure<T> {
    Database(tokio_postgres::Error),
    /// COMMIT was sent and its answer lost: the write, which would have given `T`, may or
    /// may not be stored.
    Unanswered(T),
}

/// Runs `write` until it is stored or refused, or the database is unavailable.
pub async fn transact<W: Write>(pool: &Pool, metrics: &Metrics, write: &W) -> Result<W::Outcome> {
    let mut client = pool.get().await.map_err(unavailable)?;
    let mut round = 0;
    loop {
        let receipt = Receipt::new();
        let failure = match attempt(&mut client, write, receipt).await {
            Ok(decided) => return decided,
            Err(failure) => failure,
        };
        round += 1;
        let last = round >= WRITE_ROUNDS;
        match failure {
            Failure::Database(e) if retryable(&e) => {
                if last {
                    return Err(StoreError::Conflict);
                }
                metrics.database_write_retried("conflict");
                let backoff = rand::random_range(1..=5) << round.min(5);
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            // Nothing was committed: the same write goes to the server now taking writes.
            Failure::Database(e) if connection_lost(&e, &client) && !last => {
                discard(client);
                metrics.database_write_retried("connection_lost");
                client = pool.get().await.map_err(unavailable)?;
            }
            Failure::Database(e) => return Err(failed(e)),
            Failure::Unanswered(outcome) => {
                discard(client);
                let (settled, fresh) = settle(pool, receipt, metrics).await?;
                if settled == Settled::Stored {
                    return Ok(outcome);
                }
                if last {
                    return Err(StoreError::Backend(
                        "the database lost every try at a write".into(),
                    ));
                }
                metrics.database_write_retried("not_stored");
                client = fresh;
            }
        }
    }
}

/// One round, in a transaction deciding on locked rows.
async fn attempt<W: Write>(
    client: &mut Client,
    write: &W,
    receipt: Receipt,
) -> std::result::Result<Result<W::Outcome>, Failure<W::Outcome>> {
    // Read committed, deciding on locked rows: serializable isolation would do too, but
    // PostgreSQL's predicate locks cover index pages, so writers of neighbouring new keys
    // abort each other (measured: 32 clients linking new devices exhausted every retry).
    // CockroachDB may run it serializable: its aborts are retried like these.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(Failure::Database)?;
    let sql = Sql::in_transaction(&tx);
    // The receipt goes first, sent with the write's first reads: no round trip of its own
    // (a write that decides on nothing rolls it back).
    let (recorded, ran) = tokio::join!(receipt.record(sql), write.run(sql));
    recorded.map_err(Failure::Database)?;
    let outcome = match ran.map_err(Failure::Database)? {
        Err(refused) => return Ok(Err(refused)),
        Ok(Step::Unchanged(outcome)) => return Ok(Ok(outcome)),
        Ok(Step::Write(outcome)) => outcome,
    };
    match tokio::time::timeout(COMMIT_WAIT, tx.commit()).await {
        Ok(Ok(())) => Ok(Ok(outcome)),
        Ok(Err(e)) if rolled_back(&e) => Err(Failure::Database(e)),
        Ok(Err(_)) | Err(_) => Err(Failure::Unanswered(outcome)),
    }
}

/// Learns whether the write that recorded `receipt` was stored, on a new connection, trying
/// for a bounded time; with the connection, on which the write may be run again.
async fn settle(pool: &Pool, receipt: Receipt, metrics: &Metrics) -> Result<(Settled, Client)> {
    let tries = async {
        loop {
            match claim(pool, receipt).await {
                Some(settled) => return settled,
                None => tokio::time::sleep(SETTLE_PAUSE).await,
            }
        }
    };
    match tokio::time::timeout(SETTLE_WITHIN, tries).await {
        Ok((settled, client)) => {
            metrics.database_commit_unanswered(match settled {
                Settled::Stored => "stored",
                Settled::NotStored => "not_stored",
            });
            Ok((settled, client))
        }
        Err(_) => {
            metrics.database_commit_unanswered("unsettled");
            Err(StoreError::Backend(
                "the database did not say whether a write was stored".into(),
            ))
        }
    }
}

/// One claim of `receipt`, committed (and so as durable as the write it settles).
async fn claim(pool: &Pool, receipt: Receipt) -> Option<(Settled, Client)> {
    let mut client = pool.get().await.ok()?;
    let claimed = async {
        let tx = client.transaction().await?;
        let settled = receipt.claim(Sql::in_transaction(&tx)).await?;
        tx.commit().await?;
        Ok::<_, tokio_postgres::Error>(settled)
    };
    match tokio::time::timeout(SETTLE_WITHIN, claimed).await {
        Ok(Ok(settled)) => Some((settled, client)),
        _ => {
            discard(client);
            None
        }
    }
}

/// Closes a connection whose state is in doubt, instead of giving it back to the pool.
fn discard(client: Client) {
    drop(deadpool::managed::Object::take(client));
}

/// Aborted for a concurrent transaction: deciding again may succeed.
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(
            &SqlState::T_R_SERIALIZATION_FAILURE
                | &SqlState::T_R_DEADLOCK_DETECTED
                | &SqlState::UNIQUE_VIOLATION
        )
    )
}

/// The connection, or the server's will to take writes on it, is gone: a primary that
/// died, was shut down, or was demoted to a standby.
fn connection_lost(e: &tokio_postgres::Error, client: &Client) -> bool {
    client.is_closed()
        || e.is_closed()
        || e.code().is_some_and(|code| {
            code.code().starts_with("08")
                || code.code().starts_with("57P")
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        })
}

/// The server answered COMMIT by rolling the transaction back: nothing was stored.
fn rolled_back(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|code| code.code().starts_with("40") || code.code().starts_with("23"))
}

pub fn failed(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("database: {e}"))
}

pub fn unavailable(e: PoolError) -> StoreError {
    StoreError::Backend(format!("no database connection: {e}"))
}
