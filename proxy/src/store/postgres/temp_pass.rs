//! TempPass windows as rows of `temp_passes`, one per device and MVPD.

use futures::future::BoxFuture;

use super::super::{LinkKey, Result};
use super::sql::Sql;
use super::transact::{Step, Write};
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Timestamp;

pub async fn of_device(
    sql: Sql<'_>,
    device: &LinkKey,
) -> std::result::Result<Vec<TempPass>, tokio_postgres::Error> {
    let (requestor, device) = device.parts();
    let rows = sql
        .query(
            "SELECT mvpd, started_at, ends_at FROM temp_passes \
             WHERE requestor = $1 AND device = $2",
            &[&requestor, &device],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| TempPass {
            mvpd: row.get(0),
            started_at: Timestamp::from_unix_millis(row.get(1)),
            ends_at: Timestamp::from_unix_millis(row.get(2)),
        })
        .collect())
}

/// A write of one device's window at one MVPD, deciding on the locked row. Two opening
/// one device's window at once both find no row; the second insert breaks the primary key
/// and is decided again (it then finds the first's window).
pub struct PassChange {
    device: LinkKey,
    mvpd: String,
    write: PassWrite,
}

impl PassChange {
    pub fn new(device: LinkKey, mvpd: String, write: PassWrite) -> Self {
        Self {
            device,
            mvpd,
            write,
        }
    }
}

impl Write for PassChange {
    /// The window after the write.
    type Outcome = Option<TempPass>;

    fn run<'a>(
        &'a self,
        sql: Sql<'a>,
    ) -> BoxFuture<'a, std::result::Result<Result<Step<Self::Outcome>>, tokio_postgres::Error>>
    {
        Box::pin(async move {
            let (requestor, id) = self.device.parts();
            let mvpd = self.mvpd.as_str();
            let stored = sql
                .query_opt(
                    "SELECT started_at, ends_at FROM temp_passes \
                     WHERE requestor = $1 AND device = $2 AND mvpd = $3 FOR UPDATE",
                    &[&requestor, &id, &mvpd],
                )
                .await?
                .map(|row| TempPass {
                    mvpd: mvpd.to_owned(),
                    started_at: Timestamp::from_unix_millis(row.get(0)),
                    ends_at: Timestamp::from_unix_millis(row.get(1)),
                });
            let after = match self.write.apply(mvpd, stored.as_ref()) {
                None => return Ok(Ok(Step::Unchanged(stored))),
                Some(Some(pass)) => {
                    // A new window is inserted, never upserted: of two opening at once, the
                    // second breaks the key and then finds the first's.
                    let statement = match stored {
                        None => {
                            "INSERT INTO temp_passes \
                             (requestor, device, mvpd, started_at, ends_at) \
                             VALUES ($1, $2, $3, $4, $5)"
                        }
                        Some(_) => {
                            "UPDATE temp_passes SET started_at = $4, ends_at = $5 \
                             WHERE requestor = $1 AND device = $2 AND mvpd = $3"
                        }
                    };
                    let (start, end) = (pass.started_at.unix_millis(), pass.ends_at.unix_millis());
                    sql.execute(statement, &[&requestor, &id, &mvpd, &start, &end])
                        .await?;
                    Some(pass)
                }
                Some(None) => {
                    sql.execute(
                        "DELETE FROM temp_passes \
                         WHERE requestor = $1 AND device = $2 AND mvpd = $3",
                        &[&requestor, &id, &mvpd],
                    )
                    .await?;
                    None
                }
            };
            Ok(Ok(Step::Write(after)))
        })
    }
}
