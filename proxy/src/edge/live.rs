//! The configuration being served, swapped whole on reload: readers take a snapshot per
//! request without locks, and a request keeps the snapshot it started with.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{EdgePlan, degradations};
use crate::metrics::Metrics;
use linkgate_domain::requestors::Requestors;

/// Everything that changes on reload.
pub struct Snapshot {
    pub requestors: Requestors,
    pub edge: EdgePlan,
}

impl Snapshot {
    pub fn new(requestors: Requestors) -> Self {
        let edge = EdgePlan::new(&requestors, None);
        Self { requestors, edge }
    }
}

pub struct Live {
    current: ArcSwap<Snapshot>,
    metrics: Arc<Metrics>,
}

impl Live {
    pub fn new(snapshot: Snapshot, metrics: Arc<Metrics>) -> Self {
        degradations::audit(None, &snapshot.requestors, &metrics);
        Self {
            current: ArcSwap::from_pointee(snapshot),
            metrics,
        }
    }

    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Serves `requestors` from now on. Limiter state carries over wherever a limit is
    /// unchanged (one writer per mode: the file reloader or the Requestor watch).
    pub fn serve(&self, requestors: Requestors) {
        let before = self.load();
        degradations::audit(Some(&before.requestors), &requestors, &self.metrics);
        let edge = EdgePlan::new(&requestors, Some(&before.edge));
        self.current.store(Arc::new(Snapshot { requestors, edge }));
    }
}
