//! Replication to peer regions. Each region pushes what originates in it — DeviceLinks its
//! proxies wrote, Requestors authored there — to every peer, marks each copy with its origin
//! region, and never pushes back what it received. How two copies of one object are
//! ordered is each kind's own (see [`links`] and [`requestors`]).
//!
//! A peer that is down must not hold up the others: each peer has a task of its own per
//! kind, with a bounded set of objects still to push, and a full resync when it answers
//! again. What each peer holds is recorded in the status of the origin object.

pub mod decision;
mod dirty;
mod kind;
mod links;
pub mod peers;
mod region_status;
pub mod requestors;
mod task;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use kube::Client;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef};
use linkgate_crds::{DeviceLink, ORIGIN_REGION_ANNOTATION, Requestor};

use crate::metrics::Metrics;
use crate::readable::{Reporting::LogOnly, readable};
use dirty::Dirty;
use kind::Replicated;
use peers::Peer;
use task::PeerTask;

/// The field manager of what replication writes in a peer region (and, suffixed with the
/// peer's name, of each peer's entry in the origin's status).
pub const MANAGER: &str = "linkgate-replication";

/// The annotations marking a copy as received from `region`.
fn origin(region: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(ORIGIN_REGION_ANNOTATION.to_owned(), region.to_owned())])
}

/// The metadata of a new copy in a peer: the object's name and labels, marked with the region
/// it comes from.
fn copy_meta(meta: &ObjectMeta, region: &str) -> ObjectMeta {
    ObjectMeta {
        name: meta.name.clone(),
        labels: meta.labels.clone(),
        annotations: Some(origin(region)),
        ..ObjectMeta::default()
    }
}

/// A copy is created by the replication field manager, as it is later applied.
fn create_params() -> PostParams {
    PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    }
}

/// Replicates what originates in `region` (in `namespace`, or all) to `peers` until
/// `shutdown`.
pub async fn run(
    local: Client,
    namespace: Option<String>,
    region: String,
    peers: Vec<Peer>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let links = replicate::<DeviceLink>(&local, &namespace, &region, &peers, &metrics);
    let requestors = replicate::<Requestor>(&local, &namespace, &region, &peers, &metrics);
    tokio::select! {
        _ = futures::future::join(links, requestors) => {}
        () = shutdown => {}
    }
}

/// Watches the local objects of kind `K` and serves one task per peer.
async fn replicate<K: Replicated>(
    local: &Client,
    namespace: &Option<String>,
    region: &str,
    peers: &[Peer],
    metrics: &Arc<Metrics>,
) {
    let (store, writer) = reflector::store();
    let queues: Vec<Arc<Dirty<K>>> = peers.iter().map(|_| Arc::default()).collect();
    // Deleted objects too: a Requestor deleted at its origin is withdrawn from its peers.
    // The controllers report what cannot be read; here it is only skipped.
    let watched = readable::<K>(local, namespace.as_deref(), Arc::clone(metrics), LogOnly);
    let watch = watched.reflect(writer).touched_objects().for_each(|event| {
        match event {
            Ok(object) if object.pushed_from(region) => {
                let key = ObjectRef::from_obj(&object);
                queues.iter().for_each(|q| q.mark(key.clone(), false));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "watching what to replicate"),
        }
        futures::future::ready(())
    });
    let tasks = futures::future::join_all(peers.iter().zip(&queues).map(|(peer, queue)| {
        PeerTask {
            peer: peer.clone(),
            region: region.to_owned(),
            namespace: namespace.clone(),
            local: local.clone(),
            store: store.clone(),
            queue: Arc::clone(queue),
            metrics: Arc::clone(metrics),
        }
        .serve()
    }));
    futures::future::join(watch, tasks).await;
}
