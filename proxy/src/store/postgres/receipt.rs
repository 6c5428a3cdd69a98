//! A write's receipt: how a proxy learns whether a write was stored when the answer to its
//! COMMIT never came (the connection broke, the primary died, the wait ran out).
//!
//! Every write inserts a fresh receipt in its own transaction. To settle a lost answer, a
//! new transaction claims the same receipt: if the write committed, the claim finds its row;
//! if the write is still committing (waiting for a synchronous standby, say), the claim
//! waits on the row's lock until it ends; otherwise the claim inserts the row, and the write
//! can never commit after, its own insert breaking the key. The claim writes either way, so
//! its commit waits, as any write does, until the write it settled is as durable as the
//! database makes writes: a receipt found on a primary that then died unreplicated is never
//! taken for stored.

use tokio_postgres::Error;

use super::sql::Sql;

/// The receipt a write inserts before it commits.
#[derive(Clone, Copy)]
pub struct Receipt([u8; 16]);

/// What became of a write whose commit went unanswered.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    Stored,
    NotStored,
}

impl Receipt {
    pub fn new() -> Self {
        Self(rand::random())
    }

    /// Inserts the receipt in the write's transaction.
    pub async fn record(self, sql: Sql<'_>) -> Result<(), Error> {
        sql.execute(
            "INSERT INTO write_receipts (id, written_at, claimed) \
             VALUES ($1, (extract(epoch FROM now()) * 1000)::BIGINT, FALSE)",
            &[&&self.0[..]],
        )
        .await
        .map(drop)
    }

    /// Claims the receipt in the transaction `sql` runs in (to be committed by the caller
    /// before the answer counts): whether the write that named it was stored.
    pub async fn claim(self, sql: Sql<'_>) -> Result<Settled, Error> {
        // On a conflict the row is updated, not skipped: the update waits for a write still
        // committing, and gives the claim something to commit.
        let row = sql
            .query_one(
                "INSERT INTO write_receipts (id, written_at, claimed) \
                 VALUES ($1, (extract(epoch FROM now()) * 1000)::BIGINT, TRUE) \
                 ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at \
                 RETURNING claimed",
                &[&&self.0[..]],
            )
            .await?;
        Ok(match row.get::<_, bool>(0) {
            true => Settled::NotStored,
            false => Settled::Stored,
        })
    }
}
