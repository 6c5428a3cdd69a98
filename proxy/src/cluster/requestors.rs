//! Requestors watched from the API server and served live: each change swaps in a new
//! snapshot, as a reload of the configuration file does in standalone mode. The Secrets a
//! Requestor names are mounted files the kubelet updates on its own schedule, so they are
//! looked at again periodically and a changed one rebuilds its requestors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::Api;
use linkgate_crds::{Requestor, RequestorSpec, SecretKeyRef, SigningKeyRef, Stored};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::Cluster;
use super::follow::{Watched, follow};
use crate::config::SecretSource;
use crate::metrics::Metrics;
use crate::published::Published;
use linkgate_domain::requestor::{PolicyError, RequestorPolicy, Secrets};
use linkgate_domain::requestors::Requestors;
use linkgate_domain::tenancy::{Bounds, RouteClash, clash_with_older, id_holder, secret_is_for};

/// How often the Secrets requestors name are read again (and a requestor that could not be
/// served is tried again: its Secret may not have been mounted yet).
const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// Starts serving the namespace's Requestors; returns once the first list is served.
pub fn watch_requestors(
    cluster: &Cluster,
    serve: Serve,
    secrets: SecretSource,
    bounds: Bounds,
    trusted_proxies: Vec<IpNet>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let api: Api<Stored<Requestor>> = Api::namespaced(cluster.client(), cluster.namespace());
    let (synced_tx, synced) = watch::channel(false);
    let tenants = Tenants {
        serve,
        secrets,
        bounds,
        trusted_proxies,
        metrics,
        known: Arc::default(),
        served: HashMap::new(),
        refused: HashMap::new(),
    };
    cluster.spawn(tenants.run(api, synced_tx));
    cluster.wait_synced(synced, "Requestors")
}

/// What a policy is built from: a Requestor's spec generation, its keys (the operator
/// rotates keys in the status, which moves no generation), the contents of the Secrets
/// it names, and the older Requestor routing a path it claims or holding the Adobe
/// requestor ID it declares, if any.
#[derive(Clone, PartialEq)]
struct Source {
    generation: Option<i64>,
    keys: Vec<SigningKeyRef>,
    secrets: [u8; 32],
    clash: Option<RouteClash>,
    id_holder: Option<String>,
}

/// Where each new set of requestors goes to be served (the edge's live snapshot).
pub type Serve = Box<dyn Fn(Requestors) + Send + Sync>;

struct Tenants {
    serve: Serve,
    secrets: SecretSource,
    bounds: Bounds,
    /// Proxies in front of every requestor, trusted by each.
    trusted_proxies: Vec<IpNet>,
    metrics: Arc<Metrics>,
    /// The latest version of every Requestor, served or not.
    known: Arc<HashMap<String, Requestor>>,
    served: HashMap<String, (Source, Arc<RequestorPolicy>)>,
    /// What could not be served, so each refusal is told once.
    refused: HashMap<String, Source>,
}

impl Tenants {
    async fn run(mut self, api: Api<Stored<Requestor>>, synced: watch::Sender<bool>) {
        let known = Published::new(HashMap::new());
        let changed = Notify::new();
        let metrics = Arc::clone(&self.metrics);
        let watch = follow(api, &known, &metrics, || changed.notify_one());
        tokio::pin!(watch);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        let mut listed = false;
        loop {
            tokio::select! {
                () = &mut watch => return,
                () = changed.notified() => listed = true,
                _ = recheck.tick(), if listed => {}
            }
            self.known = known.load_full();
            // A change may free or claim paths of others: all are looked at again.
            let known = Arc::clone(&self.known);
            let before = self.served.len();
            self.served.retain(|name, _| known.contains_key(name));
            self.refused.retain(|name, _| known.contains_key(name));
            let dropped = self.served.len() != before;
            if self.admit_all() | dropped || !*synced.borrow() {
                self.publish();
            }
            synced.send_replace(true);
        }
    }

    /// Admits every known Requestor again; `true` when what is served changed.
    fn admit_all(&mut self) -> bool {
        let names: Vec<String> = self.known.keys().cloned().collect();
        names
            .iter()
            .fold(false, |changed, name| self.admit(name) | changed)
    }

    /// The first path `name` claims that an older Requestor routes.
    fn clash(&self, name: &str, prefixes: &[&str]) -> Option<RouteClash> {
        clash_with_older(self.known.get(name)?, prefixes, self.known.values())
    }

    /// The older Requestor already answering to the requestor ID `name` declares.
    fn id_holder(&self, name: &str, id: Option<&str>) -> Option<String> {
        id_holder(self.known.get(name)?, id, self.known.values())
    }

    /// Why `name` may not hold what `clash` and `id_holder` say an older one holds.
    fn held(
        clash: Option<RouteClash>,
        id: Option<&str>,
        holder: Option<String>,
    ) -> Option<PolicyError> {
        match (clash, id, holder) {
            (Some(clash), _, _) => Some(PolicyError::RouteHeld(Box::new(clash))),
            (None, Some(id), Some(holder)) => Some(PolicyError::RequestorIdHeld {
                id: id.to_owned(),
                holder,
            }),
            _ => None,
        }
    }

    /// Builds the policy of a new or changed Requestor (or one whose Secrets or clashes
    /// changed); `true` when what is served changed. One that does not build keeps its
    /// previous version serving, unless that version routes a path an older one holds.
    fn admit(&mut self, name: &str) -> bool {
        let Some(requestor) = self.known.get(name) else {
            return false;
        };
        let mut spec = requestor.spec.clone();
        spec.media_tokens.signing_keys = requestor.signing_keys();
        let claimed: Vec<&str> = spec.routes.iter().map(|r| r.prefix.as_str()).collect();
        let id = spec.adobe.as_ref().and_then(|a| a.requestor_id.as_deref());
        let source = Source {
            generation: requestor.metadata.generation,
            keys: spec.media_tokens.signing_keys.clone(),
            secrets: secrets_digest(name, &spec, &self.secrets, self.bounds),
            clash: self.clash(name, &claimed),
            id_holder: self.id_holder(name, id),
        };
        if self.served.get(name).is_some_and(|(s, _)| *s == source) {
            self.refused.remove(name);
            return false;
        }
        if self.refused.get(name) == Some(&source) {
            return false;
        }
        let built = match Self::held(source.clash.clone(), id, source.id_holder.clone()) {
            Some(held) => Err(held),
            None => RequestorPolicy::from_spec(name, &spec, &self.secrets, self.bounds),
        };
        match built {
            Ok(mut policy) => {
                policy.trust_proxies(&self.trusted_proxies);
                self.refused.remove(name);
                self.served
                    .insert(name.to_owned(), (source, Arc::new(policy)));
                true
            }
            Err(e) => {
                tracing::warn!(requestor = %name, error = %e, "cannot serve this version of the requestor");
                self.metrics.config_reload(false);
                self.refused.insert(name.to_owned(), source);
                self.withdraw_if_clashing(name)
            }
        }
    }

    /// Stops serving `name` when its served version routes a path, or declares a requestor
    /// ID, an older one holds; `true` when it did.
    fn withdraw_if_clashing(&mut self, name: &str) -> bool {
        let Some((_, served)) = self.served.get(name) else {
            return false;
        };
        let prefixes: Vec<&str> = served.routes.iter().map(|r| r.prefix.as_str()).collect();
        let id = served.adobe.requestor_id.as_deref();
        let held = Self::held(self.clash(name, &prefixes), id, self.id_holder(name, id));
        let Some(held) = held else {
            return false;
        };
        tracing::warn!(requestor = %name, error = %held, "no longer served");
        self.served.remove(name);
        true
    }

    fn publish(&self) {
        let requestors = self.served.values().map(|(_, p)| Arc::clone(p)).collect();
        (self.serve)(requestors);
        self.metrics.config_reload(true);
        tracing::info!(
            requestors = self.served.len(),
            "serving the cluster's requestors"
        );
    }
}

/// A digest of the contents of every Secret the spec names (and of which are missing);
/// Secrets not meant for the requestor are never read.
fn secrets_digest(
    requestor: &str,
    spec: &RequestorSpec,
    secrets: &SecretSource,
    bounds: Bounds,
) -> [u8; 32] {
    let mut digest = Sha256::new();
    for reference in spec.secret_refs() {
        let SecretKeyRef { name, key } = reference;
        digest.update(format!("{}:{name}/{}:{key}", name.len(), key.len()));
        if bounds.own_secrets_only && !secret_is_for(requestor, name) {
            digest.update(b"foreign");
            continue;
        }
        match secrets.get(reference) {
            Some(value) => {
                digest.update(value.len().to_be_bytes());
                digest.update(value);
            }
            None => digest.update(b"missing"),
        }
    }
    digest.finalize().into()
}

/// Every Requestor by name.
impl Watched<Requestor> for HashMap<String, Requestor> {
    fn applied(&mut self, requestor: Requestor) {
        self.insert(requestor.name_any(), requestor);
    }

    fn deleted(&mut self, requestor: Requestor) {
        self.remove(&requestor.name_any());
    }

    /// The version served before stays served, as one that does not build does: a field
    /// from a newer version during a rolling upgrade does not take a tenant down.
    fn unreadable(&mut self, metadata: &ObjectMeta, served: &Self) {
        let name = metadata.name.clone().unwrap_or_default();
        if let Some(held) = served.get(&name) {
            self.insert(name, held.clone());
        }
    }

    fn deleted_unreadable(&mut self, metadata: &ObjectMeta) {
        self.remove(metadata.name.as_deref().unwrap_or_default());
    }
}
