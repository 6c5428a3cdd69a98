//! The pool's connections, each opened on the host that takes writes
//! (`linkgate_database::Hosts`).

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use linkgate_database::{ConnectError, Hosts};

pub type Pool = managed::Pool<Primary>;
pub type Client = managed::Object<Primary>;
pub type PoolError = managed::PoolError<ConnectError>;

/// Opens the pool's connections on the host that takes writes.
pub struct Primary(pub Hosts);

impl managed::Manager for Primary {
    type Type = ClientWrapper;
    type Error = ConnectError;

    async fn create(&self) -> Result<ClientWrapper, ConnectError> {
        let (client, connection) = self.0.connect().await?;
        // The connection's error, if any, reaches its requests.
        let task = tokio::spawn(async move { drop(connection.await) });
        Ok(ClientWrapper::new(client, task))
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
