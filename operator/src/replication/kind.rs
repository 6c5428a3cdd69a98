//! What replication needs of a kind of object: which local copies are pushed, how one is
//! pushed to a peer, and what a peer holds of this region's.

use std::fmt::Debug;
use std::future::Future;

use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource};
use linkgate_crds::RegionSync;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// The outcome of one push to one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The peer had no copy.
    Created,
    /// The peer's copy was older.
    Replaced,
    /// The peer holds this already.
    Skipped,
    /// The peer holds a newer write, now copied here (or overtaken by a newer one here).
    Pulled,
    /// Gone here, and now from the peer too.
    Deleted,
    /// The peer has an object of that name that is not this region's to replace.
    Refused(String),
}

impl Pushed {
    pub fn label(&self) -> &'static str {
        match self {
            Pushed::Created => "created",
            Pushed::Replaced => "replaced",
            Pushed::Skipped => "skipped",
            Pushed::Pulled => "pulled",
            Pushed::Deleted => "deleted",
            Pushed::Refused(_) => "refused",
        }
    }

    /// Whether the peer now holds this region's copy.
    pub fn in_step(&self) -> bool {
        matches!(self, Pushed::Created | Pushed::Replaced | Pushed::Skipped)
    }
}

pub trait Replicated:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// Whether this local copy is this region's to push: written here, not received.
    fn pushed_from(&self, region: &str) -> bool;

    /// What a peer holding this copy holds, as its status entry records it.
    fn version(&self) -> String;

    /// Milliseconds since the write, when the copy tells when it was written.
    fn age_millis(&self) -> Option<i64>;

    /// The status entries of the peers this copy was pushed to.
    fn regions(&self) -> &[RegionSync];

    /// Pushes this copy to `peer`.
    fn push(
        &self,
        local: &Client,
        peer: &Client,
        region: &str,
    ) -> impl Future<Output = Result<Pushed>> + Send;

    /// The object is gone here: what becomes of the peer's copy, if anything is done.
    fn withdraw(
        key: &ObjectRef<Self>,
        peer: &Client,
        region: &str,
    ) -> impl Future<Output = Result<Option<Pushed>>> + Send;

    /// The peer's copies that came from `region`, so that those gone here while the peer
    /// was away are withdrawn too.
    fn copies_from(
        peer: &Client,
        namespace: Option<&str>,
        region: &str,
    ) -> impl Future<Output = Result<Vec<ObjectRef<Self>>>> + Send;
}
