//! Requestors watched from the API server and served live: each change swaps in a new
//! snapshot, as a reload of the configuration file does in standalone mode.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use linkgate_crds::{Requestor, SigningKeyRef};
use tokio::sync::watch;

use super::Cluster;
use crate::config::SecretSource;
use crate::domain::requestor::RequestorPolicy;
use crate::live::{Live, Snapshot};
use crate::metrics::Metrics;

/// How often a Requestor that could not be served is tried again (its Secret may not be
/// mounted yet).
const RETRY_EVERY: Duration = Duration::from_secs(10);

/// Starts serving the namespace's Requestors; returns once the first list is served.
pub fn watch_requestors(
    cluster: &Cluster,
    live: Arc<Live>,
    secrets: SecretSource,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let api: Api<Requestor> = Api::namespaced(cluster.client(), cluster.namespace());
    let (synced_tx, synced) = watch::channel(false);
    let tenants = Tenants {
        live,
        secrets,
        metrics,
        served: HashMap::new(),
        refused: HashMap::new(),
    };
    cluster.spawn(tenants.run(api, synced_tx));
    cluster.wait_synced(synced, "Requestors")
}

/// What a served policy was built from: a Requestor's spec generation and its keys (the
/// operator rotates keys in the status, which moves no generation).
#[derive(PartialEq)]
struct Source {
    generation: Option<i64>,
    keys: Vec<SigningKeyRef>,
}

struct Tenants {
    live: Arc<Live>,
    secrets: SecretSource,
    metrics: Arc<Metrics>,
    served: HashMap<String, (Source, Arc<RequestorPolicy>)>,
    /// Requestors whose latest version could not be served (an earlier one may be).
    refused: HashMap<String, Requestor>,
}

impl Tenants {
    async fn run(mut self, api: Api<Requestor>, synced: watch::Sender<bool>) {
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut relist: Option<Vec<Requestor>> = None;
        let mut retry = tokio::time::interval(RETRY_EVERY);
        loop {
            tokio::select! {
                event = events.next() => {
                    let Some(event) = event else { return };
                    match event {
                        Ok(Event::Init) => relist = Some(Vec::new()),
                        Ok(Event::InitApply(requestor)) => {
                            if let Some(all) = relist.as_mut() {
                                all.push(requestor);
                            }
                        }
                        Ok(Event::InitDone) => {
                            let all = relist.take().unwrap_or_default();
                            let before = self.served.len();
                            self.served
                                .retain(|name, _| all.iter().any(|r| r.name_any() == *name));
                            self.refused.clear();
                            let mut changed = self.served.len() != before;
                            for requestor in all {
                                changed |= self.admit(requestor);
                            }
                            if changed || !*synced.borrow() {
                                self.publish();
                            }
                            synced.send_replace(true);
                        }
                        Ok(Event::Apply(requestor)) => {
                            if self.admit(requestor) {
                                self.publish();
                            }
                        }
                        Ok(Event::Delete(requestor)) => {
                            let name = requestor.name_any();
                            self.refused.remove(&name);
                            if self.served.remove(&name).is_some() {
                                self.publish();
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "Requestor watch interrupted; resuming"),
                    }
                }
                _ = retry.tick() => {
                    let refused = std::mem::take(&mut self.refused);
                    let mut changed = false;
                    for requestor in refused.into_values() {
                        changed |= self.admit(requestor);
                    }
                    if changed {
                        self.publish();
                    }
                }
            }
        }
    }

    /// Builds the policy of a new or changed Requestor; `true` when what is served changed.
    /// A Requestor that does not build keeps its previous version serving.
    fn admit(&mut self, requestor: Requestor) -> bool {
        let name = requestor.name_any();
        let source = Source {
            generation: requestor.metadata.generation,
            keys: requestor.signing_keys(),
        };
        if self.served.get(&name).is_some_and(|(s, _)| *s == source) {
            self.refused.remove(&name);
            return false;
        }
        let mut spec = requestor.spec.clone();
        spec.media_tokens.signing_keys.clone_from(&source.keys);
        match RequestorPolicy::from_spec(&name, &spec, &self.secrets) {
            Ok(policy) => {
                self.refused.remove(&name);
                self.served.insert(name, (source, Arc::new(policy)));
                true
            }
            Err(e) => {
                tracing::warn!(requestor = %name, error = %e, "cannot serve this version of the requestor");
                self.metrics.config_reload(false);
                self.refused.insert(name, requestor);
                false
            }
        }
    }

    fn publish(&self) {
        let requestors = self.served.values().map(|(_, p)| Arc::clone(p)).collect();
        self.live.store(Snapshot::new(requestors));
        self.metrics.config_reload(true);
        tracing::info!(
            requestors = self.served.len(),
            "serving the cluster's requestors"
        );
    }
}
