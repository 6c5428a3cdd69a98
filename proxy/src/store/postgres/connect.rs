//! The pool's connections, opened on whichever of the database's hosts takes writes. The
//! driver's own walk through several hosts bounds only each TCP connect: a host that
//! accepts connections and never answers (a frozen server, a region lost behind a proxy
//! that still accepts) would hold every new connection until the pool gave up, and the
//! host after it, the new primary, would never be tried. Here each host has its connect
//! timeout for the whole of it (TCP, start-up, the read-write check), and the host that
//! took the last connection is tried first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use linkgate_database::DatabaseUrl;
use tokio_postgres::{Config, NoTls};

pub type Pool = managed::Pool<Primary>;
pub type Client = managed::Object<Primary>;
pub type PoolError = managed::PoolError<ConnectError>;

/// Opens connections on the host that takes writes.
pub struct Primary {
    /// One configuration per host, in the URL's order.
    hosts: Vec<Config>,
    /// The host that took the last connection.
    first: AtomicUsize,
    per_host: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("no host answered within {0:?}")]
    TimedOut(Duration),
}

impl Primary {
    pub fn new(url: &DatabaseUrl) -> anyhow::Result<Self> {
        let urls = url.each_host().unwrap_or_else(|| vec![url.clone()]);
        let hosts = urls
            .iter()
            .map(linkgate_database::config)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let per_host = linkgate_database::connect_timeout(&hosts[0]);
        Ok(Self {
            hosts,
            first: AtomicUsize::new(0),
            per_host,
        })
    }

    /// How long opening one connection may take, every host tried.
    pub fn create_timeout(&self) -> Duration {
        self.per_host * u32::try_from(self.hosts.len()).unwrap_or(u32::MAX)
    }
}

impl managed::Manager for Primary {
    type Type = ClientWrapper;
    type Error = ConnectError;

    async fn create(&self) -> Result<ClientWrapper, ConnectError> {
        let first = self.first.load(Ordering::Relaxed);
        let mut failure = ConnectError::TimedOut(self.per_host);
        for turn in 0..self.hosts.len() {
            let at = (first + turn) % self.hosts.len();
            match tokio::time::timeout(self.per_host, self.hosts[at].connect(NoTls)).await {
                Ok(Ok((client, connection))) => {
                    self.first.store(at, Ordering::Relaxed);
                    // The connection's error, if any, reaches its requests.
                    let task = tokio::spawn(async move { drop(connection.await) });
                    return Ok(ClientWrapper::new(client, task));
                }
                Ok(Err(e)) => failure = ConnectError::Database(e),
                Err(_) => {}
            }
        }
        Err(failure)
    }

    async fn recycle(
        &self,
        client: &mut ClientWrapper,
        _: &Metrics,
    ) -> RecycleResult<ConnectError> {
        match client.is_closed() {
            true => Err(RecycleError::message("the connection is closed")),
            false => Ok(()),
        }
    }
}
