//! The watched DeviceLinks in memory, indexed by device and by code hash, so that every
//! read on the request path is a map lookup.

use std::collections::HashMap;

use super::object::Entry;
use crate::store::{Counts, LinkKey};
use linkgate_domain::code::CodeHash;

#[derive(Default, Debug)]
pub struct Index {
    entries: HashMap<LinkKey, Entry>,
    /// Devices by the hash of the code they show. Codes are drawn at random and checked
    /// against this index, but two proxies can still draw the same code for two devices at
    /// once: such a code then matches neither, and both devices draw again.
    codes: HashMap<CodeHash, Vec<LinkKey>>,
    device_codes: HashMap<CodeHash, LinkKey>,
}

impl Index {
    pub fn get(&self, key: &LinkKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// The one device showing this code.
    pub fn by_code(&self, hash: &CodeHash) -> Option<&Entry> {
        match self.codes.get(hash)?.as_slice() {
            [key] => self.entries.get(key),
            _ => None,
        }
    }

    /// Whether any device other than `key`'s shows this code.
    pub fn code_held_elsewhere(&self, hash: &CodeHash, key: &LinkKey) -> Option<&Entry> {
        self.codes
            .get(hash)?
            .iter()
            .filter(|k| *k != key)
            .find_map(|k| self.entries.get(k))
    }

    pub fn by_device_code(&self, hash: &CodeHash) -> Option<&Entry> {
        self.entries.get(self.device_codes.get(hash)?)
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
            self.codes.entry(code.hash).or_default().push(key.clone());
            if let Some(device_code) = code.device_code {
                self.device_codes.insert(device_code, key.clone());
            }
        }
        self.entries.insert(key, entry);
    }

    /// Forgets a deleted object, unless it was written again after the deletion.
    pub fn remove(&mut self, key: &LinkKey, version: u64) {
        if self.entries.get(key).is_some_and(|e| e.version <= version) {
            self.unindex(key);
            self.entries.remove(key);
        }
    }

    fn unindex(&mut self, key: &LinkKey) {
        let Some(code) = self.entries.get(key).and_then(|e| e.code.as_ref()) else {
            return;
        };
        if let Some(keys) = self.codes.get_mut(&code.hash) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.codes.remove(&code.hash);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kubernetes::object::{code_spec, entry, new_object};
    use linkgate_domain::code::{CodeRecord, CodeState};
    use linkgate_domain::ids::DeviceId;
    use linkgate_domain::time::Timestamp;

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
        assert!(index.code_held_elsewhere(&seven, &tv).is_some());
        index.remove(&at("box", 2, None).key, 2);
        assert_eq!(index.by_code(&seven).unwrap().key, tv);
        assert!(index.code_held_elsewhere(&seven, &tv).is_none());
    }
}
