//! One way to follow a kind of object from the API server into memory, for every kind the
//! proxy watches: a watch that resumes after errors with backoff and, after any gap, lists
//! everything again into a fresh copy that replaces the old one whole, so objects deleted
//! during the gap do not linger. Objects are read tolerantly: one this build cannot read is
//! logged, counted and left to its kind's rule, and never stops the others.

use std::collections::HashMap;
use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Resource, ResourceExt};
use linkgate_crds::{Stored, Unreadable};
use serde::de::DeserializeOwned;

use crate::metrics::Metrics;
use crate::published::Published;

/// Where a watched kind is kept: published as snapshots, so readers take no lock.
pub trait Watched<K>: Clone + Default {
    /// Takes in an object as it is now.
    fn applied(&mut self, object: K);

    /// Forgets a deleted object.
    fn deleted(&mut self, object: K);

    /// Takes in that the object `metadata` names can no longer be read by this build;
    /// `served` is what was served before (when a new list is being made, the old one).
    fn unreadable(&mut self, metadata: &ObjectMeta, served: &Self);

    /// Forgets a deleted object this build could not read.
    fn deleted_unreadable(&mut self, metadata: &ObjectMeta);
}

/// Keeps `into` in step with the objects of `api`; `changed` is told after the first
/// complete list and after every change since. Runs until the watch ends.
pub async fn follow<K, W>(
    api: Api<Stored<K>>,
    into: &Published<W>,
    metrics: &Metrics,
    mut changed: impl FnMut(),
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    W: Watched<K>,
{
    let kind = K::kind(&()).into_owned();
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listing: Option<(W, Skipped)> = None;
    let mut unreadable = Skipped::default();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => listing = Some(Default::default()),
            Ok(Event::InitApply(object)) => match listing.as_mut() {
                Some((fresh, seen)) => match object.into_read() {
                    Ok(object) => fresh.applied(object),
                    Err(lost) => {
                        fresh.unreadable(&lost.metadata, &into.load_full());
                        seen.note(&kind, *lost, &unreadable);
                    }
                },
                None => tracing::debug!(%kind, name = %object.name_any(), "listed outside a list"),
            },
            Ok(Event::InitDone) => {
                let (fresh, seen) = listing.take().unwrap_or_default();
                into.replace(fresh);
                unreadable = seen;
                changed();
            }
            Ok(Event::Apply(object)) => {
                match object.into_read() {
                    Ok(object) => {
                        unreadable.0.remove(&object.name_any());
                        into.update(|w| w.applied(object));
                    }
                    Err(lost) => {
                        let served = into.load_full();
                        into.update(|w| w.unreadable(&lost.metadata, &served));
                        let before = unreadable.clone();
                        unreadable.note(&kind, *lost, &before);
                    }
                }
                changed();
            }
            Ok(Event::Delete(object)) => {
                unreadable.0.remove(&object.name_any());
                match object.into_read() {
                    Ok(object) => into.update(|w| w.deleted(object)),
                    Err(lost) => into.update(|w| w.deleted_unreadable(&lost.metadata)),
                }
                changed();
            }
            Err(e) => tracing::warn!(%kind, error = %e, "watch interrupted; resuming"),
        }
        metrics.set_unreadable(&kind, unreadable.0.len());
    }
}

/// The objects of one kind this build cannot read, by name, with why.
#[derive(Clone, Default)]
struct Skipped(HashMap<String, String>);

impl Skipped {
    /// Records an unreadable object, logging it unless `known` already held it for the same
    /// reason (a new list finds the same objects again).
    fn note(&mut self, kind: &str, lost: Unreadable, known: &Self) {
        let Unreadable { metadata, reason } = lost;
        let name = metadata.name.unwrap_or_default();
        if known.0.get(&name) != Some(&reason) {
            tracing::warn!(%kind, %name, %reason, "cannot read this object; serving every other");
        }
        self.0.insert(name, reason);
    }
}
