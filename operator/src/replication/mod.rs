//! Replication of DeviceLinks to peer regions. Each region pushes the writes made in it
//! (their revision names it) to every peer, and never pushes back what it received; the
//! peer's copy is replaced only by a greater revision (see [`decision`]), so every region
//! ends with the same copy of a link whatever order writes arrive in. Deletions (by each
//! region's collector) are local and never pushed.
//!
//! A peer that is down must not hold up the others: each has a task of its own with a set
//! of links still to push. The set holds keys, not events, and the latest local state is
//! read when pushing, so it is bounded by the number of links however long a peer is away.

pub mod decision;
pub mod peers;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use linkgate_crds::{DeviceLink, Revision};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use decision::{Push, decide};
use peers::Peer;

/// The field manager of what replication writes in a peer region.
pub const MANAGER: &str = "linkgate-replication";
/// Reads and conditional writes tried before a push counts as failed (and is retried later).
const ATTEMPTS: usize = 5;
/// Waits between attempts to reach a peer that failed, doubling up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Replicates the links of `local` written in `region` to `peers` until `shutdown`.
/// `namespace` scopes the peers' reachability probe as `local` is scoped.
pub async fn run(
    local: Api<DeviceLink>,
    namespace: Option<String>,
    region: String,
    peers: Vec<Peer>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let (store, writer) = reflector::store();
    let queues: Vec<Arc<Dirty>> = peers.iter().map(|_| Arc::default()).collect();
    let watch = watcher(local, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .for_each(|event| {
            match event {
                Ok(link) if written_in(&link, &region).is_some() => {
                    let key = ObjectRef::from_obj(&link);
                    queues.iter().for_each(|q| q.mark(key.clone()));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "watching device links to replicate"),
            }
            futures::future::ready(())
        });
    let tasks = futures::future::join_all(peers.into_iter().zip(&queues).map(|(peer, queue)| {
        let task = PeerTask {
            peer,
            region: region.clone(),
            namespace: namespace.clone(),
            store: store.clone(),
            queue: Arc::clone(queue),
            metrics: Arc::clone(&metrics),
        };
        task.serve()
    }));
    tokio::select! {
        _ = futures::future::join(watch, tasks) => {}
        () = shutdown => {}
    }
}

/// The link's revision, if that write was made in `region`.
fn written_in(link: &DeviceLink, region: &str) -> Option<Revision> {
    let revision: Revision = link.spec.revision.as_deref()?.parse().ok()?;
    (revision.region == region).then_some(revision)
}

/// The links one peer still has to be sent.
#[derive(Default)]
struct Dirty {
    keys: Mutex<HashSet<ObjectRef<DeviceLink>>>,
    wake: Notify,
}

impl Dirty {
    fn mark(&self, key: ObjectRef<DeviceLink>) {
        self.keys.lock().expect("unpoisoned").insert(key);
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<ObjectRef<DeviceLink>> {
        self.keys.lock().expect("unpoisoned").drain().collect()
    }
}

struct PeerTask {
    peer: Peer,
    region: String,
    namespace: Option<String>,
    store: Store<DeviceLink>,
    queue: Arc<Dirty>,
    metrics: Arc<Metrics>,
}

impl PeerTask {
    async fn serve(self) {
        let peer = self.peer.region.as_str();
        let mut backoff = BACKOFF_MIN;
        loop {
            // (Re)connect, then resend everything written here: the peer may have missed
            // pushes while away, or restarted without them.
            while let Err(e) = self.probe().await {
                self.metrics.set_peer_up(peer, false);
                tracing::warn!(%peer, error = %e, "peer region unreachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            self.metrics.set_peer_up(peer, true);
            tracing::info!(%peer, "peer region reachable; resyncing");
            for link in self.store.state() {
                if written_in(&link, &self.region).is_some() {
                    self.queue.mark(ObjectRef::from_obj(&*link));
                }
            }
            if self.push_until_failure().await {
                backoff = BACKOFF_MIN;
            } else {
                self.metrics.set_peer_up(peer, false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    /// Pushes what is marked as it is marked; returns on the first failed push, with the
    /// links not pushed marked again.
    async fn push_until_failure(&self) -> bool {
        let peer = self.peer.region.as_str();
        loop {
            let keys = self.queue.take();
            if keys.is_empty() {
                self.queue.wake.notified().await;
                continue;
            }
            let mut keys = keys.into_iter();
            while let Some(key) = keys.next() {
                // Gone here: collected, and the peer's own collector does the same.
                let Some(link) = self.store.get(&key) else {
                    continue;
                };
                // Rewritten by a replica of another region's write since it was marked.
                let Some(ours) = written_in(&link, &self.region) else {
                    continue;
                };
                match push(&self.peer.client, &link, &ours).await {
                    Ok(outcome) => {
                        let label = match outcome {
                            Push::Create => "created",
                            Push::Replace => "replaced",
                            Push::Skip => "skipped",
                        };
                        self.metrics.pushed(peer, label);
                        if outcome != Push::Skip {
                            self.metrics.replication_lag(lag_seconds(&ours));
                        }
                    }
                    Err(e) => {
                        self.metrics.pushed(peer, "failed");
                        let kind = e.metric_label();
                        tracing::warn!(%peer, link = %key, error = %e, kind, "push failed");
                        self.queue.mark(key);
                        keys.for_each(|k| self.queue.mark(k));
                        return false;
                    }
                }
            }
        }
    }

    /// Whether the peer's API server answers for the links replicated to it.
    async fn probe(&self) -> Result<()> {
        let client = self.peer.client.clone();
        let api: Api<DeviceLink> = match &self.namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        api.list_metadata(&ListParams::default().limit(1)).await?;
        Ok(())
    }
}

/// Writes `link` (of revision `ours`) to the peer unless it holds the same or a newer
/// write. Replacing is conditional on the peer's resourceVersion, so a write there in
/// between is decided against afresh; the peer's metadata and status stay its own.
async fn push(client: &Client, link: &DeviceLink, ours: &Revision) -> Result<Push> {
    let ns = link.namespace().ok_or(Error::MissingNamespace)?;
    let name = link.name_any();
    let api: Api<DeviceLink> = Api::namespaced(client.clone(), &ns);
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    for _ in 0..ATTEMPTS {
        let remote = api.get_opt(&name).await?;
        let outcome = decide(ours, remote.as_ref().map(|r| &r.spec));
        let written = match (outcome, remote) {
            (Push::Skip, _) => return Ok(Push::Skip),
            (_, None) => {
                let copy = DeviceLink {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: link.metadata.labels.clone(),
                        ..ObjectMeta::default()
                    },
                    spec: link.spec.clone(),
                    status: None,
                };
                api.create(&params, &copy).await
            }
            (_, Some(mut remote)) => {
                remote.spec = link.spec.clone();
                api.replace(&name, &params, &remote).await
            }
        };
        match written.map_err(Error::from_write) {
            Ok(_) => return Ok(outcome),
            // Written (or created) there since it was read: decide again.
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// Seconds from the write (its revision's clock) to now; never negative.
fn lag_seconds(revision: &Revision) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    now.saturating_sub(u128::from(revision.millis)) as f64 / 1000.0
}
