//! The objects one peer still has to be sent. It holds keys, not events, and the latest
//! local state is read when pushing, so it is bounded by the number of objects however
//! long a peer is away.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;

pub struct Dirty<K: Resource<DynamicType = ()>> {
    /// Each key with whether the peer must be asked (a resync), rather than trusting
    /// what the object's status records the peer holds.
    keys: Mutex<HashMap<ObjectRef<K>, bool>>,
    wake: Notify,
}

impl<K: Resource<DynamicType = ()>> Default for Dirty<K> {
    fn default() -> Self {
        Self {
            keys: Mutex::default(),
            wake: Notify::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Dirty<K> {
    pub fn mark(&self, key: ObjectRef<K>, check: bool) {
        *self
            .keys
            .lock()
            .expect("unpoisoned")
            .entry(key)
            .or_default() |= check;
        self.wake.notify_one();
    }

    /// Everything marked so far, waiting for a mark when there is none.
    pub async fn take(&self) -> Vec<(ObjectRef<K>, bool)> {
        loop {
            let keys: Vec<_> = self.keys.lock().expect("unpoisoned").drain().collect();
            if !keys.is_empty() {
                return keys;
            }
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use linkgate_crds::DeviceLink;

    use super::*;

    #[tokio::test]
    async fn marks_merge_by_key_and_a_check_is_kept() {
        let dirty = Dirty::<DeviceLink>::default();
        let key = ObjectRef::new("tv").within("ns");
        dirty.mark(key.clone(), true);
        dirty.mark(key.clone(), false);
        dirty.mark(ObjectRef::new("radio").within("ns"), false);
        let mut taken = dirty.take().await;
        taken.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        assert_eq!(
            taken,
            [(ObjectRef::new("radio").within("ns"), false), (key, true)]
        );
        // Drained: the next take waits for the next mark.
        let next = tokio::time::timeout(std::time::Duration::from_millis(50), dirty.take());
        assert!(next.await.is_err());
    }
}
