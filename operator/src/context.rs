use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use linkgate_crds::Requestor;
use linkgate_domain::tenancy::Bounds;

use crate::metrics::Metrics;

/// What every reconcile gets: built once in `main`, swapped in tests.
pub struct Context {
    pub client: Client,
    pub metrics: Arc<Metrics>,
    /// Publishes Events on the objects reconciled.
    pub recorder: Recorder,
    /// How far a proxy's clock may run ahead of ours: rotated-out keys stay this much
    /// longer than their tokens.
    pub clock_skew: Duration,
    /// This region's name, when replicating: Requestors received from another region have
    /// their keys managed there.
    pub region: Option<String>,
    /// What each Requestor is checked against, as the proxies check it.
    pub bounds: Bounds,
    /// Every Requestor watched, to tell which one holds a path two of them claim.
    pub requestors: Store<Requestor>,
}

impl Context {
    /// `instance` tells replicas apart in Events (the pod name, in a cluster).
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        instance: Option<String>,
        clock_skew: Duration,
        region: Option<String>,
        bounds: Bounds,
        requestors: Store<Requestor>,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            clock_skew,
            region,
            bounds,
            requestors,
        }
    }
}

/// The field manager of everything the operator writes.
pub const MANAGER: &str = "linkgate-operator";
