//! One way to follow a kind of object from the API server into memory, for every kind the
//! proxy watches: a watch that resumes after errors with backoff and, after any gap, lists
//! everything again into a fresh copy that replaces the old one whole, so objects deleted
//! during the gap do not linger.

use std::fmt::Debug;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::published::Published;

/// Where a watched kind is kept: published as snapshots, so readers take no lock.
pub trait Watched<K>: Clone + Default {
    /// Takes in an object as it is now.
    fn applied(&mut self, object: K);

    /// Forgets a deleted object.
    fn deleted(&mut self, object: K);
}

/// Keeps `into` in step with the objects of `api`; `changed` is told after the first
/// complete list and after every change since. Runs until the watch ends.
pub async fn follow<K, W>(api: Api<K>, into: &Published<W>, mut changed: impl FnMut())
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
    W: Watched<K>,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listing: Option<W> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => listing = Some(W::default()),
            Ok(Event::InitApply(object)) => match listing.as_mut() {
                Some(fresh) => fresh.applied(object),
                None => tracing::debug!(%kind, name = %object.name_any(), "listed outside a list"),
            },
            Ok(Event::InitDone) => {
                into.replace(listing.take().unwrap_or_default());
                changed();
            }
            Ok(Event::Apply(object)) => {
                into.update(|w| w.applied(object));
                changed();
            }
            Ok(Event::Delete(object)) => {
                into.update(|w| w.deleted(object));
                changed();
            }
            Err(e) => tracing::warn!(%kind, error = %e, "watch interrupted; resuming"),
        }
    }
}
