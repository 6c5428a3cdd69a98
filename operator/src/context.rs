use std::sync::Arc;

use kube::Client;

use crate::metrics::Metrics;

/// What every reconcile gets: built once in `main`, swapped in tests.
pub struct Context {
    pub client: Client,
    pub metrics: Arc<Metrics>,
}

/// The field manager of everything the operator writes.
pub const MANAGER: &str = "linkgate-operator";
