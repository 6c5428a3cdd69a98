//! One peer, one kind: pushes what is marked, as it is marked, and starts over with a full
//! resync whenever the peer answers again after a failure. A peer that is down holds up
//! only its own task.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::dirty::Dirty;
use super::kind::{Pushed, Replicated};
use super::peers::Peer;
use super::region_status;
use crate::error::Result;
use crate::metrics::Metrics;

/// Waits between attempts to reach a peer that failed, doubling up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub struct PeerTask<K: Replicated> {
    pub peer: Peer,
    pub region: String,
    pub namespace: Option<String>,
    pub local: Client,
    pub store: Store<K>,
    pub queue: Arc<Dirty<K>>,
    pub metrics: Arc<Metrics>,
}

impl<K: Replicated> PeerTask<K> {
    pub async fn serve(mut self) {
        let peer = self.peer.region.clone();
        let mut backoff = BACKOFF_MIN;
        // An empty store before the first list would read as everything withdrawn.
        if self.store.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            if let Err(e) = self.resync().await {
                self.metrics.set_peer_up(&peer, false);
                tracing::warn!(%peer, kind = K::kind(&()).as_ref(), error = %e, "peer region unreachable");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                self.peer.refresh().await;
                continue;
            }
            self.metrics.set_peer_up(&peer, true);
            if let Err(e) = self.push_until_failure().await {
                self.metrics.set_peer_up(&peer, false);
                tracing::warn!(%peer, kind = K::kind(&()).as_ref(), error = %e, "push failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                self.peer.refresh().await;
            } else {
                backoff = BACKOFF_MIN;
            }
        }
    }

    /// Marks everything of this region's to be checked against the peer, which may have
    /// missed pushes while away or lost them: its own copies, and the peer's copies of
    /// objects gone here since.
    async fn resync(&self) -> Result<()> {
        let copies = K::copies_from(&self.peer.client, self.namespace.as_deref(), &self.region);
        let copies = copies.await?;
        tracing::info!(peer = %self.peer.region, kind = K::kind(&()).as_ref(), "peer region reachable; resyncing");
        let mut ours = HashSet::new();
        for object in self.store.state() {
            if object.pushed_from(&self.region) {
                let key = ObjectRef::from_obj(&*object);
                ours.insert(key.clone());
                self.queue.mark(key, true);
            }
        }
        for key in copies.into_iter().filter(|k| !ours.contains(k)) {
            self.queue.mark(key, true);
        }
        Ok(())
    }

    /// Pushes what is marked as it is marked; returns the first failure, with what was not
    /// pushed marked again.
    async fn push_until_failure(&self) -> Result<()> {
        loop {
            let mut keys = self.queue.take().await.into_iter();
            while let Some((key, check)) = keys.next() {
                if let Err(e) = self.push_one(&key, check).await {
                    self.queue.mark(key, true);
                    keys.for_each(|(k, c)| self.queue.mark(k, c));
                    return Err(e);
                }
            }
        }
    }

    async fn push_one(&self, key: &ObjectRef<K>, check: bool) -> Result<()> {
        let peer = self.peer.region.as_str();
        let kind = K::kind(&());
        let Some(object) = self.store.get(key) else {
            let withdrawn = K::withdraw(key, &self.peer.client, &self.region).await;
            match &withdrawn {
                Ok(Some(pushed)) => self.metrics.pushed(peer, &kind, pushed.label()),
                Ok(None) => {}
                Err(_) => self.metrics.pushed(peer, &kind, "failed"),
            }
            return withdrawn.map(drop);
        };
        if !object.pushed_from(&self.region) {
            return Ok(());
        }
        // The status records what the peer acknowledged; a resync asks the peer itself.
        if !check && region_status::recorded_in_step(&*object, peer) {
            return Ok(());
        }
        let pushed = object
            .push(&self.local, &self.peer.client, &self.region)
            .await;
        if let Ok(Pushed::Created | Pushed::Replaced) = &pushed
            && let Some(age) = object.age_millis()
        {
            self.metrics.replication_lag(age as f64 / 1000.0);
        }
        if let Ok(Pushed::Refused(why)) = &pushed {
            tracing::warn!(%peer, %kind, name = %key.name, %why, "push refused");
        }
        let why;
        let outcome = match &pushed {
            Ok(pushed) => Ok(pushed),
            Err(e) => {
                why = e.to_string();
                Err(why.as_str())
            }
        };
        if let Some(entry) =
            region_status::next_entry(&*object, peer, outcome, jiff::Timestamp::now())
            && let Err(e) = region_status::record(&self.local, &*object, entry).await
        {
            // The push itself stands; the next change of the object records it.
            tracing::warn!(%peer, name = %object.name_any(), error = %e, "cannot record the region's sync");
        }
        let label = pushed.as_ref().map_or("failed", Pushed::label);
        self.metrics.pushed(peer, &kind, label);
        pushed.map(drop)
    }
}
