//! Expired codes and links leave the database, and so do link changes every proxy has
//! read and write receipts no proxy still waits on, in small batches so that a collection
//! never holds long locks.

use tokio_postgres::Client;

/// Rows removed per statement.
const BATCH: i64 = 1000;
/// How long link changes are kept for the proxies following them; a proxy that has not
/// looked for longer drops all it remembers instead.
pub const KEEP_CHANGES_MS: i64 = 10 * 60 * 1000;
/// How long write receipts are kept: far longer than a proxy waits to learn what became of
/// a commit whose answer it lost.
const KEEP_RECEIPTS_MS: i64 = 10 * 60 * 1000;

/// Removes codes and links expired at `now_ms` (Unix milliseconds), and link changes older
/// than `KEEP_CHANGES_MS` and write receipts older than `KEEP_RECEIPTS_MS` by the
/// database's clock; returns how many codes and links went.
pub async fn collect_expired(client: &Client, now_ms: i64) -> Result<u64, tokio_postgres::Error> {
    let mut collected = 0;
    // (statement, time bound, whether what it removes is counted)
    for (statement, bound, counted) in [
        (
            "DELETE FROM codes WHERE hash IN \
             (SELECT hash FROM codes WHERE expires_at <= $1 LIMIT $2)",
            now_ms,
            true,
        ),
        (
            "DELETE FROM links WHERE (requestor, device) IN \
             (SELECT requestor, device FROM links \
              WHERE expires_at IS NULL OR expires_at <= $1 LIMIT $2)",
            now_ms,
            true,
        ),
        (
            "DELETE FROM link_changes WHERE id IN \
             (SELECT id FROM link_changes \
              WHERE changed_at < (extract(epoch FROM now()) * 1000)::BIGINT - $1 LIMIT $2)",
            KEEP_CHANGES_MS,
            false,
        ),
        (
            "DELETE FROM write_receipts WHERE id IN \
             (SELECT id FROM write_receipts \
              WHERE written_at < (extract(epoch FROM now()) * 1000)::BIGINT - $1 LIMIT $2)",
            KEEP_RECEIPTS_MS,
            false,
        ),
    ] {
        loop {
            let removed = client.execute(statement, &[&bound, &BATCH]).await?;
            if counted {
                collected += removed;
            }
            if removed < BATCH.unsigned_abs() {
                break;
            }
        }
    }
    Ok(collected)
}
