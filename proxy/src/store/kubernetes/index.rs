//! The watched DeviceLinks in memory, indexed by device and by code hash, so that every
//! read on the request path is a map lookup in a published snapshot.

use std::sync::Arc;

use imbl::HashMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::object::{Entry, entry};
use crate::cluster::Watched;
use crate::store::rules::View;
use crate::store::{Counts, LinkKey};
use linkgate_domain::code::{CodeHash, CodeRecord};
use linkgate_domain::time::Timestamp;

/// Cloned in O(1): persistent maps of shared entries.
#[derive(Clone, Default, Debug)]
pub struct Index {
    entries: HashMap<LinkKey, Arc<Entry>>,
    /// Devices by the hash of the code they show. Codes are drawn at random and checked
    /// against this index, but two proxies can still draw the same code for two devices at
    /// once: such a code then matches neither, and both devices draw again.
    codes: HashMap<CodeHash, Arc<[LinkKey]>>,
    device_codes: HashMap<CodeHash, LinkKey>,
}

impl Index {
    pub fn get(&self, key: &LinkKey) -> Option<&Entry> {
        self.entries.get(key).map(Arc::as_ref)
    }

    /// The device showing this code: the one that drew it, or, when several hold it, the
    /// one that drew it after every other's had expired (an expired code waits for the
    /// operator to collect it). Two devices that drew one code at once match neither.
    pub fn by_code(&self, hash: &CodeHash) -> Option<&Entry> {
        let holders = self.codes.get(hash)?;
        let code = |key| {
            let entry = self.get(key)?;
            Some((entry, entry.code.as_ref()?))
        };
        if let [key] = &**holders {
            return self.get(key);
        }
        let (newest, drawn) = holders
            .iter()
            .filter_map(code)
            .max_by_key(|(_, c)| c.issued_at)?;
        let alone = holders
            .iter()
            .filter_map(code)
            .all(|(e, c)| std::ptr::eq(e, newest) || c.expires_at <= drawn.issued_at);
        alone.then_some(newest)
    }

    pub fn by_device_code(&self, hash: &CodeHash) -> Option<&Entry> {
        self.get(self.device_codes.get(hash)?)
    }

    /// Takes in an object's state, unless an equal or newer version is already known (a
    /// write's answer and its watch event arrive in either order).
    pub fn apply(&mut self, entry: Entry) {
        if self
            .entries
            .get(&entry.key)
            .is_some_and(|known| known.version >= entry.version)
        {
            return;
        }
        let key = entry.key.clone();
        self.unindex(&key);
        if let Some(code) = &entry.code {
            let holders = self.codes.get(&code.hash).map(|h| h.to_vec());
            let mut holders = holders.unwrap_or_default();
            holders.push(key.clone());
            self.codes.insert(code.hash, holders.into());
            if let Some(device_code) = code.device_code {
                self.device_codes.insert(device_code, key.clone());
            }
        }
        self.entries.insert(key, Arc::new(entry));
    }

    /// Forgets a deleted object, unless it was written again after the deletion.
    pub fn remove(&mut self, key: &LinkKey, version: u64) {
        if self.entries.get(key).is_some_and(|e| e.version <= version) {
            self.unindex(key);
            self.entries.remove(key);
        }
    }

    fn unindex(&mut self, key: &LinkKey) {
        let Some(code) = self.entries.get(key).and_then(|e| e.code.clone()) else {
            return;
        };
        if let Some(holders) = self.codes.get(&code.hash) {
            let others: Vec<LinkKey> = holders.iter().filter(|k| *k != key).cloned().collect();
            if others.is_empty() {
                self.codes.remove(&code.hash);
            } else {
                self.codes.insert(code.hash, others.into());
            }
        }
        if let Some(device_code) = &code.device_code {
            self.device_codes.remove(device_code);
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            codes: self.codes.len(),
            links: self.entries.values().filter(|e| e.link.is_some()).count(),
        }
    }
}

impl View for Index {
    fn code(&self, hash: &CodeHash) -> Option<&CodeRecord> {
        self.by_code(hash)?.code.as_ref()
    }

    fn code_shown_elsewhere(&self, hash: &CodeHash, device: &LinkKey, now: Timestamp) -> bool {
        let Some(devices) = self.codes.get(hash) else {
            return false;
        };
        devices
            .iter()
            .filter(|k| *k != device)
            .filter_map(|k| self.get(k)?.code.as_ref())
            .any(|c| !c.is_expired(now))
    }

    fn link_version(&self, key: &LinkKey) -> Option<u64> {
        let entry = self.get(key)?;
        entry.link.as_ref().map(|_| entry.version)
    }
}

impl Watched<linkgate_crds::DeviceLink> for Index {
    fn applied(&mut self, object: linkgate_crds::DeviceLink) {
        if let Some(entry) = readable(object) {
            self.apply(entry);
        }
    }

    fn deleted(&mut self, object: linkgate_crds::DeviceLink) {
        if let Some(entry) = readable(object) {
            self.remove(&entry.key, entry.version);
        }
    }

    /// A link that cannot be read is not served: a device is never taken as linked, or
    /// its code as live, on a version older than the one stored.
    fn unreadable(&mut self, metadata: &ObjectMeta, _served: &Self) {
        self.deleted_unreadable(metadata);
    }

    fn deleted_unreadable(&mut self, metadata: &ObjectMeta) {
        // Rare (a version skew), so a scan rather than an index by object name.
        let key = (self.entries.values())
            .find(|e| e.object.metadata.name == metadata.name)
            .map(|e| e.key.clone());
        let version = metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok());
        if let (Some(key), Some(version)) = (key, version) {
            self.remove(&key, version);
        }
    }
}

fn readable(object: linkgate_crds::DeviceLink) -> Option<Entry> {
    entry(object)
        .map_err(|e| tracing::warn!(error = %e, "ignoring a DeviceLink"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kubernetes::object::{code_spec, entry, new_object};
    use linkgate_domain::code::CodeState;
    use linkgate_domain::ids::DeviceId;

    fn at(device: &str, version: u64, code: Option<u8>) -> Entry {
        let device = DeviceId::parse(device).unwrap();
        let mut object = new_object("demo", &device);
        object.metadata.resource_version = Some(version.to_string());
        object.spec.code = code.map(|c| {
            code_spec(&CodeRecord {
                hash: CodeHash::from_bytes([c; 32]),
                id: "id".into(),
                requestor: "demo".into(),
                device: device.clone(),
                issued_at: Timestamp::from_unix_millis(0),
                expires_at: Timestamp::from_unix_millis(1),
                mvpd: None,
                device_type: None,
                requested_from: None,
                session: None,
                device_code: Some(CodeHash::from_bytes([c ^ 0xff; 32])),
                state: CodeState::Pending,
                awaiting: None,
            })
        });
        entry(object).unwrap()
    }

    #[test]
    fn codes_are_found_by_hash_and_by_device_code_until_replaced() {
        let mut index = Index::default();
        index.apply(at("tv", 1, Some(1)));
        let one = CodeHash::from_bytes([1; 32]);
        assert_eq!(index.by_code(&one).unwrap().version, 1);
        assert!(
            index
                .by_device_code(&CodeHash::from_bytes([0xfe; 32]))
                .is_some()
        );
        index.apply(at("tv", 2, Some(2)));
        assert!(index.by_code(&one).is_none());
        assert!(index.by_code(&CodeHash::from_bytes([2; 32])).is_some());
        assert_eq!(index.counts().codes, 1);
    }

    #[test]
    fn older_versions_never_replace_newer_ones() {
        let mut index = Index::default();
        index.apply(at("tv", 5, Some(5)));
        index.apply(at("tv", 4, None));
        assert_eq!(index.get(&at("tv", 5, None).key).unwrap().version, 5);
        // A deletion older than what is known was followed by a new write: keep it.
        index.remove(&at("tv", 5, None).key, 3);
        assert!(index.get(&at("tv", 5, None).key).is_some());
        index.remove(&at("tv", 5, None).key, 6);
        assert!(index.get(&at("tv", 5, None).key).is_none());
        assert!(index.by_code(&CodeHash::from_bytes([5; 32])).is_none());
    }

    #[test]
    fn a_code_two_devices_hold_matches_neither() {
        let mut index = Index::default();
        index.apply(at("tv", 1, Some(7)));
        index.apply(at("box", 2, Some(7)));
        let seven = CodeHash::from_bytes([7; 32]);
        assert!(index.by_code(&seven).is_none());
        let tv = at("tv", 1, None).key;
        let now = Timestamp::from_unix_millis(0);
        assert!(index.code_shown_elsewhere(&seven, &tv, now));
        index.remove(&at("box", 2, None).key, 2);
        assert_eq!(index.by_code(&seven).unwrap().key, tv);
        assert!(!index.code_shown_elsewhere(&seven, &tv, now));
    }
}
