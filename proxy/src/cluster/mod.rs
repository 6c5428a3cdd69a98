//! Kubernetes mode: the connection to the API server, on a runtime of its own so that
//! watches and writes keep running whatever Pingora's runtimes do, and the Requestors
//! watched from it.

mod follow;
mod requestors;

use std::future::Future;
use std::time::Duration;

use kube::Client;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use follow::{Watched, follow};
pub use requestors::watch_requestors;

/// How long start-up waits for a watch's first complete list.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// The API server and the namespace this proxy serves.
pub struct Cluster {
    handle: Handle,
    client: Client,
    namespace: String,
}

impl Cluster {
    /// Connects with the ambient configuration (`KUBECONFIG`, or the pod's service
    /// account), on a runtime thread that lives as long as the process.
    pub fn connect(namespace: String) -> anyhow::Result<Self> {
        Self::start(namespace, None)
    }

    /// Connects with `config` rather than the ambient configuration.
    pub fn connect_with(namespace: String, config: kube::Config) -> anyhow::Result<Self> {
        Self::start(namespace, Some(config))
    }

    fn start(namespace: String, config: Option<kube::Config>) -> anyhow::Result<Self> {
        let handle = crate::io_runtime::start("kubernetes")?;
        // The client's connection tasks belong on the cluster's runtime.
        let client = handle.block_on(async move {
            match config {
                Some(config) => Client::try_from(config),
                None => Client::try_default().await,
            }
        })?;
        Ok(Self {
            handle,
            client,
            namespace,
        })
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// For start-up, before the server runs.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Waits, at start-up, until the watch of `what` has listed everything once.
    pub fn wait_synced(&self, mut synced: watch::Receiver<bool>, what: &str) -> anyhow::Result<()> {
        self.block_on(async {
            tokio::time::timeout(SYNC_TIMEOUT, synced.wait_for(|s| *s))
                .await
                .map_err(|_| anyhow::anyhow!("{what} did not list within {SYNC_TIMEOUT:?}"))?
                .map_err(|_| anyhow::anyhow!("the {what} watch stopped"))?;
            anyhow::Ok(())
        })
    }
}
