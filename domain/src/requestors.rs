use std::collections::HashMap;
use std::sync::Arc;

use super::requestor::RequestorPolicy;

/// The requestors the gateway serves, by name.
#[derive(Clone, Debug, Default)]
pub struct Requestors(HashMap<String, Arc<RequestorPolicy>>);

impl Requestors {
    pub fn get(&self, name: &str) -> Option<&Arc<RequestorPolicy>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<RequestorPolicy>> {
        self.0.values()
    }
}

impl FromIterator<RequestorPolicy> for Requestors {
    fn from_iter<I: IntoIterator<Item = RequestorPolicy>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
        )
    }
}

impl FromIterator<Arc<RequestorPolicy>> for Requestors {
    fn from_iter<I: IntoIterator<Item = Arc<RequestorPolicy>>>(iter: I) -> Self {
        Self(iter.into_iter().map(|p| (p.name.clone(), p)).collect())
    }
}
