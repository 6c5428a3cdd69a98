//! Connections opened on whichever of the database's hosts takes writes, for the proxies'
//! pools and the operator alike. The driver's own walk through several hosts bounds only
//! each TCP connect: a host that accepts connections and never answers (a frozen server, a
//! region lost behind a proxy that still accepts) would hold every new connection, and the
//! host after it, the new primary, would never be tried. Here each host has its connect
//! timeout for the whole of it (TCP, start-up, the read-write check), and the host that
//! took the last connection is tried first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls, Socket};

use crate::DatabaseUrl;

/// A URL's hosts, each with its own connection settings.
pub struct Hosts {
    /// One configuration per host, in the URL's order.
    configs: Vec<Config>,
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

impl Hosts {
    pub fn new(url: &DatabaseUrl) -> anyhow::Result<Self> {
        let urls = url.each_host().unwrap_or_else(|| vec![url.clone()]);
        let configs = urls
            .iter()
            .map(crate::config)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let per_host = crate::connect_timeout(&configs[0]);
        Ok(Self {
            configs,
            first: AtomicUsize::new(0),
            per_host,
        })
    }

    /// How long opening one connection may take, every host tried.
    pub fn connect_timeout(&self) -> Duration {
        self.per_host * u32::try_from(self.configs.len()).unwrap_or(u32::MAX)
    }

    /// A connection to the first host, from the last one that answered, that takes it.
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, NoTlsStream>), ConnectError> {
        let first = self.first.load(Ordering::Relaxed);
        let mut failure = ConnectError::TimedOut(self.per_host);
        for turn in 0..self.configs.len() {
            let at = (first + turn) % self.configs.len();
            match tokio::time::timeout(self.per_host, self.configs[at].connect(NoTls)).await {
                Ok(Ok(connected)) => {
                    self.first.store(at, Ordering::Relaxed);
                    return Ok(connected);
                }
                Ok(Err(e)) => failure = ConnectError::Database(e),
                Err(_) => {}
            }
        }
        Err(failure)
    }
}
