//! linkgate's operator: reconciles `Requestor` objects (validation and status) against the
//! same rules the gateway applies and makes and rotates their media-token keys, collects
//! expired `DeviceLink`s and reports their phase, replicates both to peer regions, and keeps
//! the postgres store's database when given one; one replica at a time, elected by a Lease.

pub mod context;
pub mod database;
pub mod device_link;
pub mod error;
pub mod key_delivery;
pub mod key_secret;
pub mod keys;
pub mod leader;
pub mod lifecycle;
pub mod metrics;
#[cfg(test)]
mod mock_api;
pub mod readable;
pub mod replication;
pub mod requestor;
pub mod status;

use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource};

/// `K` in `namespace`, or in every namespace.
pub fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}
